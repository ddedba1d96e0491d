"""The main table of each dataset as a rich table that fits the terminal (what the CLI prints).

Same units as the files (percent), the column's best in bold, ``†`` for values that differ
significantly from the best, ``± x`` (standard deviation over seeds) on a second line. When
every metric does not fit the console's width, the metrics at the main cutoff are kept
first, then the larger cutoffs; the caption says how many were left to ``report.md``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich import box
from rich.table import Table
from rich.text import Text

from sessrec.evaluation.metrics import metric_label, parse_metric
from sessrec.reporting.analysis import RowResult, SectionResult, StudyResult
from sessrec.reporting.render_tables import pct, source_refs

__all__ = ["terminal_legend", "terminal_tables"]

_MODEL_WIDTH = 24
_VALUE_WIDTH = 7  # "100.00†"


def _metric_order(metrics: Sequence[str], main: str) -> list[str]:
    """The metrics by how much they matter on a narrow screen: the main one, its cutoff, then larger cutoffs."""
    _, main_k = parse_metric(main)

    def rank(m: str) -> tuple[int, int, int]:
        _, k = parse_metric(m)
        return (m != main, k != main_k, -k)

    return sorted(metrics, key=rank)


def _shown_metrics(sec: SectionResult, main: str, width: int) -> list[str]:
    model_width = min(_MODEL_WIDTH, max([len("Model"), *(len(r.label) for r in sec.rows)]))
    room = width - (model_width + 3) - (len("Seeds") + 3) - 2
    keep: list[str] = []
    for m in _metric_order(sec.metrics, main):
        need = max(_VALUE_WIDTH, len(metric_label(m))) + 3
        if room < need and keep:
            break
        keep.append(m)
        room -= need
    return [m for m in sec.metrics if m in keep]


def _cell(row: RowResult, m: str) -> Text:
    value = row.values.get(m, math.nan)
    text = Text(pct(value), style="bold" if row.best.get(m, False) else "")
    if row.significant.get(m):
        text.append("†")
    std = row.std.get(m, math.nan)
    if len(row.runs) > 1 and not math.isnan(std):
        text.append(f"\n±{pct(std)}", style="dim")
    return text


def terminal_tables(study: StudyResult, width: int) -> list[Table]:
    """One rich table per dataset section, fitted to ``width`` columns."""
    main = study.settings.main_metric
    tables = []
    for sec in study.sections:
        shown = _shown_metrics(sec, main, width)
        left = len(sec.metrics) - len(shown)
        caption = (
            f"{left} more metric(s) and the confidence intervals in report.md"
            if left
            else ("confidence intervals in report.md")
        )
        table = Table(title=f"{sec.label} — values in %", caption=caption, box=box.SIMPLE_HEAD, padding=(0, 1))
        table.add_column("Model", max_width=_MODEL_WIDTH, overflow="fold")
        table.add_column("Seeds", justify="right")
        for m in shown:
            table.add_column(metric_label(m), justify="right", no_wrap=True)
        for row in sec.rows:
            table.add_row(row.label, str(len(row.runs)), *[_cell(row, m) for m in shown])
        refs = source_refs(sec)
        for match in (m for m in sec.published if m.matched):
            for res in match.results:
                cells = [pct(res.metrics[m]) if m in res.metrics else "–" for m in shown]
                table.add_row(f"{res.method} [{refs[match.source.key]}]", "pub.", *cells, style="dim")
        tables.append(table)
    return tables


def terminal_legend(study: StudyResult) -> str:
    """What bold, † and ± mean (rich markup)."""
    st = study.settings
    return (
        "[bold]bold[/]: best in the column.  †: differs from the column's best (Wilcoxon signed-rank on per-case "
        f"values, Holm-corrected, p < {st.alpha:g}).  ±: standard deviation over seeds.  "
        "[dim]dim[/]: published figures (not ranked or tested)."
    )
