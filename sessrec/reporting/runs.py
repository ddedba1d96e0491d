"""What the report may use of each stored run: its ranks and numbers, checked.

Study folders are shared, so nothing stored is trusted. A ranks file must be a 1-D numeric
array of finite ranks ``>= 1`` with one entry per test case; a case table must have aligned
1-D columns; stored metrics must be fractions in ``[0, 1]`` (every metric sessrec records
is one), costs in ``[0, 1e9]`` (seconds or MB), training losses finite (``|loss| <= 1e9``) and
validation metrics fractions. Whatever fails is left out and the section gets a note that
says which run, which value and why; the report never stops on it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sessrec.errors import ConfigError
from sessrec.evaluation.metrics import BEYOND_METRICS, METRIC_NAMES, RANK_METRICS, parse_metric
from sessrec.results.record import RunRecord
from sessrec.results.store import CaseTable, StudyStore

__all__ = [
    "COSTS",
    "CleanRun",
    "SectionInput",
    "beyond_names",
    "clean_run",
    "cutoffs_of",
    "load_case_table",
    "metric_key",
    "seed_key",
]

#: Cost fields of a record (finite, non-negative numbers).
COSTS = ("fit_seconds", "eval_seconds", "peak_rss_mb", "peak_gpu_mb")
_MAX_LOSS = 1e9
#: Largest cost accepted: 1e9 seconds (31 years) or MB (a petabyte).
_MAX_COST = 1e9


@dataclass(frozen=True)
class SectionInput:
    """The runs of one prepared dataset, as read from the store."""

    store: StudyStore
    fingerprint: str
    records: tuple[RunRecord, ...]
    name_shared: bool  # another section has the same dataset name


@dataclass(frozen=True)
class CleanRun:
    """One run with only the values the report may use.

    Attributes
    ----------
    record : RunRecord
    ranks : ndarray of shape (n_cases,) or None
        None when the run has no usable ranks file.
    metrics : dict
        Stored metrics that are fractions in ``[0, 1]`` (``"recall@20"`` -> value).
    costs : dict
        :data:`COSTS` -> finite non-negative value, or None.
    history : tuple of dict
        Per-epoch entries with only usable values (``epoch``, ``loss``, ``valid_*``).
    """

    record: RunRecord
    ranks: np.ndarray | None
    metrics: Mapping[str, float]
    costs: Mapping[str, float | None]
    history: tuple[Mapping[str, Any], ...]


def seed_key(seed: Any) -> tuple[int, Any]:
    """Sort key of seeds: numbers first, by value, then the rest by text."""
    return (0, seed) if isinstance(seed, (int, float)) else (1, str(seed))


def cutoffs_of(records: Iterable[RunRecord], main_k: int) -> list[int]:
    """Every K of the records' cutoffs and stored rank metrics, and the main metric's K."""
    ks = {main_k}
    for r in records:
        ks.update(int(k) for k in r.cutoffs or [])
        ks.update(k for base, k in map(metric_key, r.metrics) if base in RANK_METRICS)
    return sorted(ks)


def metric_key(name: str) -> tuple[str, int]:
    """``("recall", 20)`` for a stored key written exactly ``recall@20``; ``("", 0)`` for anything else."""
    try:
        base, k = parse_metric(name, METRIC_NAMES)
    except ConfigError:
        return "", 0
    return (base, k) if name == f"{base}@{k}" else ("", 0)


def clean_run(store: StudyStore, rec: RunRecord, n_cases: int | None, notes: list[str]) -> CleanRun:
    """The usable part of one run; a note for everything left out."""
    return CleanRun(
        record=rec,
        ranks=_load_ranks(store, rec, n_cases, notes),
        metrics=_clean_metrics(rec, notes),
        costs=_clean_costs(rec, notes),
        history=_clean_history(rec, notes),
    )


# --------------------------------------------------------------------------- ranks and cases
def _load_ranks(store: StudyStore, rec: RunRecord, n_cases: int | None, notes: list[str]) -> np.ndarray | None:
    run_id = rec.run_id
    try:
        ranks = np.asarray(store.load_ranks(run_id))
    except FileNotFoundError:
        notes.append(
            f"run {run_id} ({rec.model}, seed {rec.seed}) has no ranks file: its values come from "
            "the stored metrics and it has no interval, test or curve"
        )
        return None
    except (OSError, ValueError, EOFError) as exc:
        notes.append(f"run {run_id}: ranks file unreadable ({exc}); treated as missing")
        return None
    why = _ranks_problem(ranks, n_cases)
    if why:
        notes.append(f"run {run_id}: {why}; treated as missing")
        return None
    return ranks


def _ranks_problem(ranks: np.ndarray, n_cases: int | None) -> str | None:
    if ranks.ndim != 1 or (n_cases is not None and len(ranks) != n_cases):
        return f"ranks have shape {ranks.shape}, expected ({n_cases},)"
    if not (np.issubdtype(ranks.dtype, np.integer) or np.issubdtype(ranks.dtype, np.floating)):
        return f"ranks are stored as {ranks.dtype}, not as numbers"
    if len(ranks) and not np.isfinite(ranks).all():
        return "ranks contain NaN or infinite values"
    if len(ranks) and float(ranks.min()) < 1:
        return f"ranks are 1-based but contain {ranks.min()}"
    return None


def load_case_table(given: SectionInput, notes: list[str]) -> tuple[CaseTable | None, int | None, str]:
    """The section's case table (or None), its number of test cases and the bootstrap unit."""
    fp = given.fingerprint
    stated = {_count((r.stats or {}).get("test_cases")) for r in given.records} - {None}
    try:
        cases = given.store.load_cases(fp)
        why = _cases_problem(cases)
    except (FileNotFoundError, KeyError, ValueError, OSError, EOFError) as exc:
        cases, why = None, None if isinstance(exc, FileNotFoundError) else f"unreadable ({exc})"
    if cases is None or why:
        what = f"case table cases/{fp}.npz is {why}" if why else f"no case table cases/{fp}.npz"
        notes.append(
            f"{what}: the bootstrap resamples single cases instead of test sessions and the by-prefix-length "
            "figure is left out"
        )
        return None, (stated.pop() if len(stated) == 1 else None), "test cases (no case table)"
    n_cases = len(cases.session)
    if stated and stated != {n_cases}:
        notes.append(
            f"the case table has {n_cases:,} test cases but the run records state "
            f"{', '.join(f'{c:,}' for c in sorted(stated))}"
        )
    return cases, n_cases, "test sessions"


def _cases_problem(cases: CaseTable) -> str | None:
    cols = (cases.session, cases.prefix_length, cases.target)
    if any(c.ndim != 1 or not np.issubdtype(c.dtype, np.integer) for c in cols):
        return "not usable (its columns must be 1-D integer arrays)"
    if len({len(c) for c in cols}) != 1:
        return "not usable (its columns differ in length)"
    return None


def _count(v: Any) -> int | None:
    """A stored count as an int, or None when it is not a non-negative whole number."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    if not math.isfinite(v) or v < 0 or v != int(v) or v > 2**53:
        return None
    return int(v)


# --------------------------------------------------------------------------- stored numbers
def _clean_metrics(rec: RunRecord, notes: list[str]) -> dict[str, float]:
    out = {}
    for name, v in rec.metrics.items():
        if not metric_key(name)[0]:
            continue  # a metric this version does not show
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        if not 0 <= v <= 1:
            notes.append(f"run {rec.run_id} ({rec.model}): stored {name} = {v!r} is not a fraction in [0, 1]; ignored")
            continue
        out[name] = float(v)
    return out


def _clean_costs(rec: RunRecord, notes: list[str]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for key in COSTS:
        v = getattr(rec, key)
        if v is not None and not 0 <= v <= _MAX_COST:
            notes.append(f"run {rec.run_id} ({rec.model}): stored {key} = {v!r} is outside [0, {_MAX_COST:g}]; ignored")
            v = None
        out[key] = v
    return out


def _clean_history(rec: RunRecord, notes: list[str]) -> tuple[Mapping[str, Any], ...]:
    out = []
    bad: set[str] = set()
    for i, entry in enumerate(rec.history or []):
        kept = {"epoch": _epoch(entry.get("epoch"), i + 1)}
        for key, v in entry.items():
            if key == "epoch" or not (key == "loss" or _valid_metric(key)):
                continue  # only the loss and validation metrics (``valid_recall@20``) are drawn
            if _usable(key, v):
                kept[key] = float(v)
            elif v is not None:
                bad.add(key)
        out.append(kept)
    if bad:
        notes.append(
            f"run {rec.run_id} ({rec.model}): training history has unusable {', '.join(sorted(bad))} values "
            "(not finite, or a validation metric outside [0, 1]); they are left out of the figure"
        )
    return tuple(out)


def _valid_metric(key: str) -> bool:
    return key.startswith("valid_") and bool(metric_key(key.removeprefix("valid_"))[0])


def _epoch(v: Any, default: int) -> Any:
    if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and abs(v) < 1e9:
        return v
    return default


def _usable(key: str, v: Any) -> bool:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return False
    return abs(v) <= _MAX_LOSS if key == "loss" else 0 <= v <= 1


def beyond_names(runs: Sequence[CleanRun]) -> list[str]:
    """``coverage@K`` / ``popularity@K`` keys stored by any run, by K then name."""
    names = {n for r in runs for n in r.metrics if metric_key(n)[0] in BEYOND_METRICS}
    return sorted(names, key=lambda n: (metric_key(n)[1], n))
