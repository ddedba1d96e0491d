"""Tables as data, rendered to Markdown, LaTeX and CSV (every cell escaped for its format).

A :class:`Table` holds cells that know whether they are bold and which mark they carry, so
each renderer emphasises in its own syntax (``**x**`` / ``\\textbf{x}``) and nothing is
parsed back out of strings.

Examples
--------
>>> t = Table(["Model", "R@20"], [["pop", Cell("1.00", bold=True)]], align="lr")
>>> print(to_markdown(t))
| Model | R@20 |
|:--|--:|
| pop | **1.00** |
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field

from sessrec.reporting.escape import latex_text, md_text

__all__ = ["Cell", "Table", "to_csv", "to_latex", "to_markdown"]


@dataclass(frozen=True)
class Cell:
    """One table cell.

    Attributes
    ----------
    value : str
        The main text (a formatted number or a name); the part that is bold when ``bold``.
    bold : bool
    detail : str
        Text after the value that is never bold (``± 0.31 [44.2, 46.0]``).
    mark : str
        A significance mark appended after everything (``†``).
    """

    value: str
    bold: bool = False
    detail: str = ""
    mark: str = ""


@dataclass
class Table:
    """Columns, rows of cells (plain strings allowed) and per-column alignment (``l``/``r``/``c``).

    ``rules_before`` lists row positions that start a new block (drawn as a rule in LaTeX,
    a row of separators in Markdown is not valid, so Markdown relies on the row labels).
    """

    columns: list[str]
    rows: list[list[Cell | str]]
    align: str = ""
    rules_before: set[int] = field(default_factory=set)

    def cell(self, row: int, col: int) -> Cell:
        c = self.rows[row][col]
        return c if isinstance(c, Cell) else Cell(c)


def _md_cell(c: Cell | str) -> str:
    cell = c if isinstance(c, Cell) else Cell(c)
    value = md_text(cell.value)
    if cell.bold and value:
        value = f"**{value}**"
    return f"{value}{md_text(cell.detail)}{cell.mark}"


def to_markdown(table: Table) -> str:
    """GitHub-flavoured Markdown pipe table."""
    align = table.align or "l" * len(table.columns)
    sep = {"l": ":--", "r": "--:", "c": ":-:"}
    lines = [
        "| " + " | ".join(md_text(c) for c in table.columns) + " |",
        "|" + "|".join(sep[a] for a in align) + "|",
    ]
    for row in table.rows:
        lines.append("| " + " | ".join(_md_cell(c) for c in row) + " |")
    return "\n".join(lines)


def _tex_cell(c: Cell | str) -> str:
    cell = c if isinstance(c, Cell) else Cell(c)
    value = latex_text(cell.value)
    if cell.bold and value:
        value = rf"\textbf{{{value}}}"
    detail = latex_text(cell.detail)
    if detail:
        detail = rf"{{\scriptsize{detail}}}"
    return f"{value}{detail}{latex_text(cell.mark)}"


def to_latex(table: Table, *, caption: str = "", label: str = "") -> str:
    """A ``table`` environment with a booktabs ``tabular`` (needs ``\\usepackage{booktabs}``)."""
    align = table.align or "l" * len(table.columns)
    lines = [r"\begin{table}[t]", r"\centering"]
    if caption:
        lines.append(rf"\caption{{{latex_text(caption)}}}")
    if label:
        lines.append(rf"\label{{{label}}}")
    lines += [rf"\begin{{tabular}}{{{align}}}", r"\toprule"]
    lines.append(" & ".join(latex_text(c) for c in table.columns) + r" \\")
    lines.append(r"\midrule")
    for i, row in enumerate(table.rows):
        if i in table.rules_before:
            lines.append(r"\midrule")
        lines.append(" & ".join(_tex_cell(c) for c in row) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines)


def to_csv(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """RFC 4180 CSV text (``\\n`` line ends)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()
