"""The report's tables, built from analysis results, and the LaTeX / CSV / JSON documents.

Table builders return :class:`~sessrec.reporting.tables.Table` objects holding plain text;
each renderer (:func:`~sessrec.reporting.tables.to_markdown`, ``to_latex``) escapes every
cell for its format, so stored strings here stay raw.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from sessrec.evaluation.metrics import metric_label
from sessrec.reporting.analysis import RowResult, SectionResult, StudyResult
from sessrec.reporting.runs import CleanRun, beyond_names, metric_key
from sessrec.reporting.tables import Cell, Table, to_csv, to_latex

__all__ = [
    "beyond_table",
    "cost_table",
    "csv_doc",
    "different_data_table",
    "json_doc",
    "latex_doc",
    "main_table",
    "pct",
    "source_refs",
    "summary_table",
]


def pct(v: float | None, digits: int = 2) -> str:
    """A fraction in percent (``"–"`` when missing)."""
    return "–" if v is None or math.isnan(v) else f"{100 * v:.{digits}f}"


def source_refs(sec: SectionResult) -> dict[str, int]:
    """Reference number ``[n]`` of each published source of a section, in order of appearance."""
    refs: dict[str, int] = {}
    for match in sec.published:
        refs.setdefault(match.source.key, len(refs) + 1)
    return refs


# =========================================================================== tables
def _value_cell(row: RowResult, m: str) -> Cell:
    detail = ""
    if len(row.runs) > 1 and not math.isnan(row.std.get(m, np.nan)):
        detail += f" ± {pct(row.std[m])}"
    if m in row.ci:
        lo, hi = row.ci[m]
        detail += f" [{pct(lo)}, {pct(hi)}]"
    mark = "†" if row.significant.get(m) else ""
    return Cell(pct(row.values.get(m, np.nan)), bold=row.best.get(m, False), detail=detail, mark=mark)


def main_table(sec: SectionResult, *, with_published: bool = True) -> Table:
    """Rows x rank metrics (percent): mean, ± std over seeds, [interval], bold best, † significance."""
    columns = ["Model", "Seeds", *[metric_label(m) + " (%)" for m in sec.metrics]]
    table = Table(columns, [], align="lr" + "r" * len(sec.metrics))
    for row in sec.rows:
        table.rows.append([row.label, str(len(row.runs)), *[_value_cell(row, m) for m in sec.metrics]])
    if with_published:
        refs = source_refs(sec)
        first = True
        for match in (m for m in sec.published if m.matched):
            for res in match.results:
                if first:
                    table.rules_before.add(len(table.rows))
                    first = False
                cells = [f"{res.method} — published [{refs[match.source.key]}]", "–"]
                cells += [pct(res.metrics[m]) if m in res.metrics else "–" for m in sec.metrics]
                table.rows.append(cells)
    return table


def different_data_table(sec: SectionResult) -> Table:
    """Published numbers that describe different data (listed apart, never compared)."""
    refs = source_refs(sec)
    unmatched = [m for m in sec.published if not m.matched]
    pub_metrics = [m for m in sec.metrics if any(m in res.metrics for u in unmatched for res in u.results)]
    table = Table(
        ["Method (different data)", "Source", *[metric_label(m) + " (%)" for m in pub_metrics]],
        [],
        align="ll" + "r" * len(pub_metrics),
    )
    for u in unmatched:
        for res in u.results:
            values = [pct(res.metrics[m]) if m in res.metrics else "–" for m in pub_metrics]
            table.rows.append([res.method, f"[{refs[u.source.key]}]", *values])
    return table


def beyond_table(sec: SectionResult) -> Table | None:
    """Coverage@K (%) and Popularity@K per row from the stored metrics, or None when none was stored."""
    names = beyond_names([run for row in sec.rows for run in row.runs])
    if not names:
        return None
    cols = ["Model", "Seeds"] + [
        f"{metric_label(n)} (%)" if metric_key(n)[0] == "coverage" else metric_label(n) for n in names
    ]
    table = Table(cols, [], align="lr" + "r" * len(names))
    for row in sec.rows:
        cells: list[Cell | str] = [row.label, str(len(row.runs))]
        for n in names:
            vals = np.array([run.metrics[n] for run in row.runs if n in run.metrics])
            if vals.size == 0:
                cells.append("–")
                continue
            scale, digits = (100.0, 2) if metric_key(n)[0] == "coverage" else (1.0, 4)
            detail = f" ± {scale * vals.std(ddof=1):.{digits}f}" if vals.size > 1 else ""
            cells.append(Cell(f"{scale * vals.mean():.{digits}f}", detail=detail))
        table.rows.append(cells)
    return table


def _mean_std(values: Sequence[float | None], digits: int) -> str:
    arr = np.array([v for v in values if v is not None], dtype=np.float64)
    if arr.size == 0:
        return "–"
    text = f"{arr.mean():,.{digits}f}"
    if arr.size > 1:
        text += f" ± {arr.std(ddof=1):,.{digits}f}"
    return text


def _costs(runs: Sequence[CleanRun], key: str) -> list[float | None]:
    return [run.costs[key] for run in runs]


def cost_table(sec: SectionResult) -> Table:
    """Fit and evaluation time, peak memory, device, epochs and plugin per row (mean ± std over seeds)."""
    gpu = any(run.costs["peak_gpu_mb"] is not None for row in sec.rows for run in row.runs)
    columns = ["Model", "Seeds", "Fit (s)", "Evaluation (s)", "Peak RSS (MB)"] + (["Peak GPU (MB)"] if gpu else [])
    table = Table([*columns, "Device", "Epochs", "Plugin"], [], align="lr" + "r" * (len(columns) - 2) + "lrl")
    for row in sec.rows:
        recs = row.records
        epochs = [len(run.history) for run in row.runs]
        cells = [
            row.label,
            str(len(recs)),
            _mean_std(_costs(row.runs, "fit_seconds"), 2),
            _mean_std(_costs(row.runs, "eval_seconds"), 2),
            _mean_std(_costs(row.runs, "peak_rss_mb"), 0),
        ]
        if gpu:
            cells.append(_mean_std(_costs(row.runs, "peak_gpu_mb"), 0))
        cells += [
            ", ".join(sorted({str(r.device) for r in recs})),
            "–" if not any(epochs) else ", ".join(str(e) for e in epochs),
            ", ".join(sorted({str((r.versions or {}).get("plugin") or "–") for r in recs})),
        ]
        table.rows.append(cells)
    return table


def summary_table(sections: Sequence[SectionResult], main_metric: str) -> Table:
    """The main metric per model label (rows) and dataset section (columns)."""
    labels = list(dict.fromkeys(r.label for s in sections for r in s.rows))
    table = Table(["Model", *[s.label for s in sections]], [], align="l" + "r" * len(sections))
    for label in labels:
        cells: list[Cell | str] = [label]
        for s in sections:
            row = next((r for r in s.rows if r.label == label), None)
            if row is None:
                cells.append("–")
                continue
            mark = "†" if row.significant.get(main_metric) else ""
            value = pct(row.values.get(main_metric, np.nan))
            cells.append(Cell(value, bold=row.best.get(main_metric, False), mark=mark))
        table.rows.append(cells)
    return table


# =========================================================================== documents
def _num(v: float | None) -> float | None:
    return None if v is None or math.isnan(v) else float(v)


def _row_json(row: RowResult, sec: SectionResult) -> dict[str, Any]:
    beyond = sorted(beyond_names(row.runs))
    return {
        "label": row.label,
        "model": row.model,
        "params": row.params,
        "ties": row.ties,
        "seeds": row.seeds,
        "run_ids": [r.run_id for r in row.records],
        "metrics": {
            m: {
                "mean": _num(row.values.get(m, np.nan)),
                "std": _num(row.std.get(m, np.nan)),
                "ci_low": _num(row.ci[m][0]) if m in row.ci else None,
                "ci_high": _num(row.ci[m][1]) if m in row.ci else None,
                "p_holm": row.p_holm.get(m),
                "significant": row.significant.get(m, False),
                "best": row.best.get(m, False),
            }
            for m in sec.metrics
        },
        **{key: _costs(row.runs, key) for key in ("fit_seconds", "eval_seconds", "peak_rss_mb")},
        "device": [r.device for r in row.records],
        "beyond": {n: [run.metrics.get(n) for run in row.runs] for n in beyond},
    }


def _section_json(s: SectionResult) -> dict[str, Any]:
    rep = s.representative
    return {
        "label": s.label,
        "dataset": rep.dataset,
        "protocol": rep.protocol,
        "fingerprint": s.fingerprint,
        "stats": rep.stats,
        "bootstrap_unit": s.bootstrap_unit,
        "rows": [_row_json(r, s) for r in s.rows],
        "published": [
            {
                "source": m.source.key,
                "citation": m.source.citation,
                "url": m.source.url,
                "matched": m.matched,
                "reasons": list(m.reasons),
                "rows": [{"method": r.method, "model": r.model, "metrics": r.metrics} for r in m.results],
            }
            for m in s.published
        ],
        "notes": list(s.notes),
    }


def json_doc(study: StudyResult) -> str:
    """``tables.json``: settings, skipped lines and every section's rows with all statistics."""
    doc = {
        "settings": study.settings.as_dict(),
        "skipped_lines": [{"line": n, "reason": why} for n, why in study.skipped],
        "datasets": [_section_json(s) for s in study.sections],
    }
    return json.dumps(_finite(doc), indent=2, default=str, allow_nan=False) + "\n"


def _finite(obj: Any) -> Any:
    """NaN and infinities become ``null`` (JSON has no NaN)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


_CSV_HEADER = [
    "dataset",
    "fingerprint",
    "kind",
    "label",
    "model",
    "seeds",
    "metric",
    "mean",
    "std",
    "ci_low",
    "ci_high",
    "p_holm",
    "significant",
    "best",
    "source",
]


def _csv_num(v: float | None) -> str:
    return "" if v is None or math.isnan(v) else repr(float(v))


def _csv_rows(s: SectionResult) -> list[list[object]]:
    rows: list[list[object]] = []
    for r in s.rows:
        for m in s.metrics:
            ci = r.ci.get(m)
            lo, hi = (ci[0], ci[1]) if ci else (None, None)
            stats = [r.values.get(m), r.std.get(m), lo, hi, r.p_holm.get(m)]
            flags = [int(r.significant.get(m, False)), int(r.best.get(m, False))]
            rows.append([s.label, s.fingerprint, "model", r.label, r.model, len(r.runs), m, *map(_csv_num, stats)])
            rows[-1] += [*flags, ""]
    for match in s.published:
        kind = "published" if match.matched else "published-different-data"
        for res in match.results:
            for m, v in res.metrics.items():
                head = [s.label, s.fingerprint, kind, res.method, res.model or "", "", m, _csv_num(v)]
                rows.append([*head, "", "", "", "", "", "", match.source.key])
    return rows


def csv_doc(study: StudyResult) -> str:
    """``tables.csv``: one line per section x row x metric (long format), published rows included."""
    return to_csv(_CSV_HEADER, [line for s in study.sections for line in _csv_rows(s)])


def latex_doc(study: StudyResult) -> str:
    """``tables.tex``: each section's main table and, with several sections, the summary."""
    settings = study.settings
    parts = [
        "% Tables written by sessrec report; needs \\usepackage{booktabs}.",
        f"% Values in percent; bold = best; [a, b] = {round(100 * settings.level)}% bootstrap interval "
        "(see report.md);",
        f"% dagger = differs from the best (Wilcoxon signed-rank, Holm, p < {settings.alpha:g}).",
        "",
    ]
    for s in study.sections:
        parts.append(to_latex(main_table(s), caption=f"{s.label}: accuracy (%)", label=f"tab:{s.slug}-main"))
        parts.append("")
    if len(study.sections) > 1:
        summary = summary_table(study.sections, settings.main_metric)
        caption = f"{metric_label(settings.main_metric)} (%) per dataset"
        parts.append(to_latex(summary, caption=caption, label="tab:summary"))
    return "\n".join(parts) + "\n"
