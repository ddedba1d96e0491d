"""Stored strings made inert for each place the report puts them.

Model names, parameters, dataset names, paths and hardware strings come from study folders
that users share, so they are text, never markup:

* :func:`md_text` — Markdown prose and table cells, which viewers render as HTML: line breaks
  become spaces (no injected headings or rows), ``<``, ``>`` and ``&`` become entities (no
  HTML), and the characters that start emphasis, code, links or table cells are
  backslash-escaped (``#`` only where it could start a heading). An underscore inside a word
  (``n_neighbors``) cannot start emphasis and is left as it is, as is a bracket that does not
  start a link.
* :func:`md_code` — inside a code span, where Markdown and HTML are shown literally: only line
  breaks and backticks need care.
* :func:`latex_text` — LaTeX specials and line breaks.
* :func:`mpl_text` — matplotlib text, where ``$`` would start mathtext.

Examples
--------
>>> md_text("<img src=x onerror=alert(1)>\\n# pwned")
'&lt;img src=x onerror=alert(1)&gt; # pwned'
>>> md_text("n_neighbors=100, [1]")
'n_neighbors=100, [1]'
>>> md_code("a`b")
'`` a`b ``'
"""

from __future__ import annotations

import re

__all__ = ["latex_text", "md_code", "md_text", "mpl_text"]

_BREAKS = re.compile(r"[\r\n\u0085\u2028\u2029\v\f]+")
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_ALWAYS = set("\\`*|~")
_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_LATEX_SYMBOLS = {"±": r"$\pm$", "†": r"$^\dagger$", "≥": r"$\geq$", "–": "--", "—": "---", "×": r"$\times$"}


def _one_line(text: object) -> str:
    return _BREAKS.sub(" ", str(text))


def md_text(text: object) -> str:
    """``text`` as literal Markdown (and HTML) text on one line."""
    s = _one_line(text)
    out = []
    for i, ch in enumerate(s):
        before, after = s[i - 1 : i], s[i + 1 : i + 2]
        if ch in _HTML:
            out.append(_HTML[ch])
        elif ch in _ALWAYS or (ch == "#" and i == 0):
            out.append("\\" + ch)
        elif ch == "_" and not (before.isalnum() and after.isalnum()):
            out.append("\\_")
        elif (ch == "]" and after in ("(", "[", ":")) or (ch == "[" and before == "!"):
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def md_code(text: object) -> str:
    """``text`` as a Markdown code span (backticks in the text get a longer fence)."""
    s = _one_line(text)
    if "`" not in s:
        return f"`{s}`"
    fence = "`" * (max(len(run) for run in re.findall(r"`+", s)) + 1)
    return f"{fence} {s} {fence}"


def latex_text(text: object) -> str:
    """LaTeX specials escaped, the report's few symbols mapped, line breaks made spaces."""
    out = []
    for ch in _one_line(text):
        if ch in _LATEX_SPECIAL:
            out.append(_LATEX_SPECIAL[ch])
        elif ch in _LATEX_SYMBOLS:
            out.append(_LATEX_SYMBOLS[ch])
        else:
            out.append(ch)
    return "".join(out)


def mpl_text(text: object) -> str:
    """Text for a matplotlib title, tick or legend: ``$`` escaped (no mathtext), one line."""
    return _one_line(text).replace("$", r"\$")
