"""Study-wide parts of the report beyond the dataset sections.

* **Parameters**: for every model, whether it ran on its defaults, on given parameters, on a
  named (published) parameter set or on a set tuned by ``sessrec tune`` (trials, objective,
  best validation value, the chosen values), a warning when the models compared had unequal
  tuning budgets, and the optimisation histories (``figures/tuning_history.png``).
* **Sliding window**: under the ``window`` protocol every slice is a dataset section of its
  own; this part puts each model's per-slice values side by side with their unweighted mean
  over slices (session-rec's averaging). Within a slice, seeds are averaged first.

Both are pure functions of the run records and the ``tuned/`` files; stored strings are
escaped for Markdown.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sessrec.reporting.escape import md_code, md_text
from sessrec.reporting.tuning import TunedSet, budget_warning, param_source, plot_histories, read_tuned_sets
from sessrec.results.record import RunRecord

__all__ = ["extras_markdown", "parameters_markdown", "window_markdown"]

_WINDOW_METRICS = ("recall@20", "mrr@20")


def _param_set(rec: RunRecord) -> str | None:
    value = (rec.spec or {}).get("param_set") if isinstance(rec.spec, dict) else None
    return value if isinstance(value, str) else None


def _defaults_of(model: str) -> dict[str, Any] | None:
    """The constructor defaults of an installed model (``None`` when it is not installed here)."""
    import inspect

    from sessrec.registry import load_model

    try:
        cls = load_model(model)
        sig = inspect.signature(cls.__init__)
    except Exception:  # a study folder from elsewhere may name a model this machine lacks
        return None
    return {k: p.default for k, p in sig.parameters.items() if k != "self" and p.default is not p.empty}


def _are_defaults(model: str, params: dict[str, Any]) -> bool:
    defaults = _defaults_of(model)
    if defaults is None:
        return False
    canon = lambda v: json.dumps(list(v) if isinstance(v, tuple) else v, sort_keys=True, default=str)  # noqa: E731
    per_run = ("random_state", "device")
    return all(k in per_run or (k in defaults and canon(defaults[k]) == canon(v)) for k, v in params.items())


def parameters_markdown(records: Sequence[RunRecord], tuned: Sequence[TunedSet], figure: Path | None) -> list[str]:
    """The "Parameters" part (empty when every run used its defaults or given parameters only)."""
    rows: dict[tuple[str, str, str], str] = {}
    for rec in records:
        given = {} if _are_defaults(rec.model, rec.params or {}) else (rec.params or {})
        source = param_source(rec.model, str(rec.dataset), _param_set(rec), given, tuned)
        rows.setdefault((str(rec.dataset), rec.model, source), source)
    if not tuned and not any(_param_set(r) for r in records):
        return []
    lines = [
        "## Parameters: defaults, parameter sets, tuned",
        "",
        "| dataset | model | parameters from |",
        "|---|---|---|",
    ]
    lines += [f"| {md_text(d)} | {md_text(m)} | {md_text(s)} |" for (d, m, s) in sorted(rows)]
    for dataset in sorted({d for d, _, _ in rows}):
        sources = {m: s for (d, m, s) in rows if d == dataset}
        warning = budget_warning(sources, [t for t in tuned if t.dataset == dataset])
        if warning:
            lines += ["", f"**{md_text(dataset)}:** {md_text(warning)}"]
    for t in tuned:
        chosen = ", ".join(f"{k}={v!r}" for k, v in sorted(t.params.items()))
        lines += [
            "",
            f"Tuned {md_text(t.model)} on {md_text(t.dataset)}: {md_code(chosen)} "
            f"({t.trials_complete} complete, {t.trials_pruned} pruned, {t.trials_failed} failed trials, "
            f"{t.seconds:.0f} s; validation {md_text(t.objective)} {t.best_value:.4f}"
            + (f" on the last {t.valid_days:g} day(s) of training)" if t.valid_days else ")"),
        ]
    if figure is not None:
        lines += ["", f"![optimisation history](figures/{figure.name})"]
    return [*lines, ""]


def _window_key(rec: RunRecord) -> str | None:
    proto = rec.protocol or {}
    if proto.get("name") != "window" or not isinstance(proto.get("params"), dict):
        return None
    params = {k: v for k, v in proto["params"].items() if k != "slice"}
    return json.dumps([rec.dataset, params], sort_keys=True, default=str)


def _slice_means(recs: Sequence[RunRecord]) -> dict[tuple[str, str], dict[int, dict[str, float]]]:
    """(model, params) -> slice -> metric -> mean over seeds."""
    acc: dict[tuple[str, str], dict[int, dict[str, list[float]]]] = {}
    for rec in recs:
        slice_ = (rec.protocol or {}).get("params", {}).get("slice")
        if not isinstance(slice_, int):
            continue
        row = (rec.model, json.dumps(rec.params or {}, sort_keys=True, default=str))
        cell = acc.setdefault(row, {}).setdefault(slice_, {})
        for m in _WINDOW_METRICS:
            v = (rec.metrics or {}).get(m)
            if isinstance(v, (int, float)) and math.isfinite(v):
                cell.setdefault(m, []).append(float(v))
    return {r: {s: {m: sum(v) / len(v) for m, v in c.items()} for s, c in sl.items()} for r, sl in acc.items()}


def window_markdown(records: Sequence[RunRecord]) -> list[str]:
    """The "Sliding window" part: per-slice values and their mean, per model (empty without ``window``)."""
    groups: dict[str, list[RunRecord]] = {}
    for rec in records:
        key = _window_key(rec)
        if key is not None:
            groups.setdefault(key, []).append(rec)
    lines: list[str] = []
    for key, recs in groups.items():
        dataset, params = json.loads(key)
        table = _slice_means(recs)
        slices = sorted({s for row in table.values() for s in row})
        lines += [
            f"## Sliding window: {md_text(dataset)}, mean over {len(slices)} slices",
            "",
            f"Window parameters: {md_code(json.dumps(params, sort_keys=True))}. Each cell: "
            + " / ".join(m.replace("recall", "Recall").replace("mrr", "MRR") for m in _WINDOW_METRICS)
            + " in %, the mean over seeds within a slice; *mean* is the unweighted mean over slices.",
            "",
        ]
        lines += [
            "| model | " + " | ".join(f"slice {s}" for s in slices) + " | mean |",
            "|---|" + "---|" * (len(slices) + 1),
        ]
        for (model, _), by_slice in sorted(table.items(), key=lambda kv: -_mean(kv[1], _WINDOW_METRICS[-1])):
            cells = [_cell({m: by_slice.get(s, {}).get(m, math.nan) for m in _WINDOW_METRICS}) for s in slices]
            mean = _cell({m: _mean(by_slice, m) for m in _WINDOW_METRICS})
            lines.append(f"| {md_text(model)} | " + " | ".join(cells) + f" | **{mean}** |")
        lines.append("")
    return lines


def _mean(by_slice: dict[int, dict[str, float]], metric: str) -> float:
    values = [c[metric] for c in by_slice.values() if metric in c]
    return sum(values) / len(values) if values else math.nan


def _cell(values: dict[str, float]) -> str:
    return " / ".join("–" if math.isnan(v) else f"{100 * v:.2f}" for v in values.values())


def extras_markdown(study: Path, records: Sequence[RunRecord]) -> tuple[str, list[Path], list[str]]:
    """The study-wide parts as Markdown, the figures they drew, and notes on files left out."""
    tuned, notes = read_tuned_sets(study)
    figure = plot_histories(tuned, study / "figures") if tuned else None
    lines = parameters_markdown(records, tuned, figure) + window_markdown(records)
    return "\n".join(lines), ([figure] if figure else []), notes
