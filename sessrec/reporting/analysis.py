"""The report's analysis: a study folder in, frozen results out (nothing is written here).

How runs become table rows
--------------------------
* A **dataset section** per prepared dataset (data fingerprint): ranks of different
  fingerprints are never paired.
* A **row** per model configuration inside a section: same model name, parameters and tie
  policy. Its runs differ only by seed.
* **Point value**: the metric computed from each seed's ranks (the record's stored metric
  where a run has no ranks), averaged over seeds; with several seeds, ``± std`` is the
  sample standard deviation over seeds (``ddof = 1``).
* **Interval**: the percentile bootstrap over test sessions (:mod:`sessrec.reporting.stats`)
  of the *seed-averaged per-case values* (each case's value averaged over the row's seeds,
  "pooled"): it measures how the value would move with another draw of test sessions,
  for the seed-averaged model. Seed-to-seed spread is the ``± std``, shown apart.
  All rows share the same resamples.
* **Significance**: per metric column, each row's seed-averaged per-case values are compared
  with the best row's (highest value) by a two-sided Wilcoxon signed-rank test paired by
  test case; the p-values of the column are Holm-adjusted over the compared rows, and ``†``
  marks an adjusted p below ``alpha``.
* **Published rows** (:mod:`sessrec.reporting.published`) appear below the study's rows when
  dataset and protocol match the paper's; they are never bold, marked or ranked.

Study folders are shared files: every stored number is checked before use (metrics must be
fractions in ``[0, 1]``, costs in ``[0, 1e9]``, ranks finite and ``>= 1``, the case
table consistent); what fails is left out with a note in its section, never a traceback.
The per-run side of this (loading, cleaning) lives in :mod:`sessrec.reporting.runs`.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sessrec.evaluation.metrics import RANK_METRICS, cutoff_curve, parse_metric
from sessrec.reporting.published import PublishedMatch, PublishedTable, match_published
from sessrec.reporting.runs import CleanRun, SectionInput, clean_run, cutoffs_of, load_case_table, seed_key
from sessrec.reporting.stats import holm, per_case_values, session_bootstrap_ci, wilcoxon_signed_rank
from sessrec.results.record import RunRecord
from sessrec.results.store import CaseTable, StoreContents, StudyStore

__all__ = ["CURVE_MAX_K", "ReportSettings", "RowResult", "SectionResult", "StudyResult", "analyse_study"]

#: Largest K of the Recall@K / MRR@K curves.
CURVE_MAX_K = 50
#: Parameters that vary between runs of one configuration (the seed goes to ``random_state``;
#: ``device`` is where it ran, shown in the cost table): ignored when grouping runs into rows.
_NOT_CONFIG = frozenset({"random_state", "seed", "device"})


@dataclass(frozen=True)
class ReportSettings:
    """Everything that changes the report's numbers (one frozen object).

    Attributes
    ----------
    main_metric : str
        Orders the rows; plotted in the bar chart, the by-prefix-length figure and the summary.
    n_bootstrap, level, random_state : int, float, int
        Bootstrap resamples, confidence level, seed of the resamples.
    alpha : float
        Significance level of the Holm-adjusted tests.
    """

    main_metric: str = "recall@20"
    n_bootstrap: int = 1000
    level: float = 0.95
    alpha: float = 0.05
    random_state: int = 0

    def __post_init__(self) -> None:
        parse_metric(self.main_metric)
        object.__setattr__(self, "main_metric", self.main_metric.strip().lower())

    def as_dict(self) -> dict[str, Any]:
        """The settings as written into ``tables.json``."""
        return {
            "main_metric": self.main_metric,
            "n_bootstrap": self.n_bootstrap,
            "level": self.level,
            "alpha": self.alpha,
            "random_state": self.random_state,
        }


@dataclass(frozen=True)
class RowResult:
    """One model configuration of a section, with its statistics per metric column."""

    label: str
    model: str
    params: Mapping[str, Any]
    ties: str
    runs: tuple[CleanRun, ...]
    values: Mapping[str, float]
    std: Mapping[str, float]
    ci: Mapping[str, tuple[float, float]]
    p_holm: Mapping[str, float]
    significant: Mapping[str, bool]
    best: Mapping[str, bool]
    per_case: np.ndarray | None  # (n_cases, n_metrics), seed-averaged

    @property
    def records(self) -> tuple[RunRecord, ...]:
        return tuple(r.record for r in self.runs)

    @property
    def seeds(self) -> list[Any]:
        return [r.record.seed for r in self.runs]

    @property
    def ranks(self) -> tuple[np.ndarray, ...]:
        """The ranks of the runs that have usable ones."""
        return tuple(r.ranks for r in self.runs if r.ranks is not None)


@dataclass(frozen=True)
class SectionResult:
    """One prepared dataset: its rows, published matches, curves and notes."""

    fingerprint: str
    label: str
    slug: str
    records: tuple[RunRecord, ...]
    metrics: tuple[str, ...]
    cases: CaseTable | None
    n_cases: int | None
    bootstrap_unit: str
    rows: tuple[RowResult, ...]
    published: tuple[PublishedMatch, ...]
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]]  # label -> (recall@K, mrr@K), K = 1…CURVE_MAX_K
    by_prefix: tuple[Mapping[str, np.ndarray], np.ndarray] | None  # (label -> (10,), case counts (10,))
    notes: tuple[str, ...]

    @property
    def representative(self) -> RunRecord:
        """The first record: all records of a section share the dataset facts shown."""
        return self.records[0]


@dataclass(frozen=True)
class StudyResult:
    """The whole analysis of a study folder."""

    name: str
    has_spec: bool
    records: tuple[RunRecord, ...]
    skipped: tuple[tuple[int, str], ...]
    sections: tuple[SectionResult, ...]
    settings: ReportSettings


# =========================================================================== study
def analyse_study(
    store: StudyStore, contents: StoreContents, settings: ReportSettings, published: PublishedTable
) -> StudyResult:
    """Analyse every dataset section of a study (pure: reads files, writes nothing)."""
    records, dup_ids = _last_record_per_id(contents.records)
    by_fp: dict[str, list[RunRecord]] = {}
    for rec in records:
        by_fp.setdefault(str(rec.fingerprint), []).append(rec)
    names = Counter(str(recs[0].dataset) for recs in by_fp.values())
    late_notes = []
    if dup_ids:
        late_notes.append(
            f"run ids recorded more than once (the last record is used): {', '.join(sorted(set(dup_ids)))}"
        )
    sections = tuple(
        _analyse_section(
            SectionInput(store, fp, tuple(recs), names[str(recs[0].dataset)] > 1), settings, published, late_notes
        )
        for fp, recs in by_fp.items()
    )
    return StudyResult(
        name=store.path.resolve().name,
        has_spec=(store.path / "experiment.toml").exists(),
        records=tuple(records),
        skipped=tuple(contents.skipped),
        sections=sections,
        settings=settings,
    )


def _last_record_per_id(records: Sequence[RunRecord]) -> tuple[list[RunRecord], list[str]]:
    """Last record wins per run_id (a rerun without --force appends again)."""
    by_id: dict[str, RunRecord] = {}
    dup_ids: list[str] = []
    for rec in records:
        if rec.run_id in by_id:
            dup_ids.append(rec.run_id)
            del by_id[rec.run_id]
        by_id[rec.run_id] = rec
    return list(by_id.values()), dup_ids


# =========================================================================== section
def _analyse_section(
    given: SectionInput, settings: ReportSettings, published: PublishedTable, late_notes: list[str]
) -> SectionResult:
    notes: list[str] = []
    _, main_k = parse_metric(settings.main_metric)
    metrics = tuple(f"{b}@{k}" for b in RANK_METRICS for k in cutoffs_of(given.records, main_k))
    cases, n_cases, unit = load_case_table(given, notes)
    groups = _group_rows(given.records, notes)
    drafts, n_cases = _drafts(given, groups, metrics, n_cases, notes)
    drafts.sort(key=lambda d: (-_sort_value(d.values.get(settings.main_metric, np.nan)), d.label))
    rows = _statistics(drafts, metrics, cases, n_cases, settings)
    notes += late_notes
    if not any(run.history for row in rows for run in row.runs):
        notes.append("no run recorded a training history, so there is no training-curve figure")
    rep = given.records[0]
    return SectionResult(
        fingerprint=given.fingerprint,
        label=_section_label(given),
        slug=_slugify(str(rep.dataset)) + (f"-{given.fingerprint[:8]}" if given.name_shared else ""),
        records=given.records,
        metrics=metrics,
        cases=cases,
        n_cases=n_cases,
        bootstrap_unit=unit,
        rows=tuple(rows),
        published=tuple(match_published(rep, published)),
        curves=_curves(rows),
        by_prefix=_by_prefix(rows, cases, metrics, settings.main_metric),
        notes=tuple(dict.fromkeys(notes)),
    )


def _section_label(given: SectionInput) -> str:
    rep = given.records[0]
    if not given.name_shared:
        return str(rep.dataset)
    proto = rep.protocol or {}
    return f"{rep.dataset} ({proto.get('name')}; {fmt_params(proto.get('params'))}; {given.fingerprint[:8]})"


def _sort_value(v: float) -> float:
    return v if not math.isnan(v) else -np.inf


def _canon(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, default=str)


RowKey = tuple[str, dict[str, Any], str]  # model, params (without per-run ones), ties


def _group_rows(records: Sequence[RunRecord], notes: list[str]) -> list[tuple[RowKey, list[RunRecord]]]:
    """Records grouped by configuration, in first-appearance order, each group sorted by seed."""
    groups: dict[tuple[str, str, str], tuple[RowKey, list[RunRecord]]] = {}
    for rec in records:
        params = {k: v for k, v in (rec.params or {}).items() if k not in _NOT_CONFIG}
        key = (rec.model, _canon(params), rec.ties)
        groups.setdefault(key, ((rec.model, params, rec.ties), []))[1].append(rec)
    out = list(groups.values())
    for (model, _, _), recs in out:
        recs.sort(key=lambda r: seed_key(r.seed))
        dup = [s for s, c in Counter(str(r.seed) for r in recs).items() if c > 1]
        if dup:
            notes.append(f"{model}: several runs share seed {', '.join(dup)}; all are averaged")
    return out


def _labels(keys: Sequence[RowKey]) -> list[str]:
    """Row labels: the model name, plus the parameters (and tie rule) that differ between its rows."""
    labels = [model for model, _, _ in keys]
    by_model: dict[str, list[int]] = {}
    for i, (model, _, _) in enumerate(keys):
        by_model.setdefault(model, []).append(i)
    for model, idx in by_model.items():
        if len(idx) == 1:
            continue
        names = sorted({k for i in idx for k in keys[i][1]})
        differing = [k for k in names if len({_canon(keys[i][1].get(k)) for i in idx}) > 1]
        ties_differ = len({keys[i][2] for i in idx}) > 1
        for i in idx:
            bits = [f"{k}={keys[i][1].get(k)}" for k in differing] + ([f"ties={keys[i][2]}"] if ties_differ else [])
            labels[i] = f"{model} ({', '.join(bits)})" if bits else model
    seen: Counter[str] = Counter()
    for i, label in enumerate(labels):  # identical labels would merge in figures: number them
        seen[label] += 1
        if seen[label] > 1:
            labels[i] = f"{label} #{seen[label]}"
    return labels


@dataclass
class _RowDraft:
    """A row before the section-wide statistics: its runs, point values and per-case values."""

    label: str
    key: RowKey
    runs: tuple[CleanRun, ...]
    values: dict[str, float]
    std: dict[str, float]
    per_case: np.ndarray | None


def _drafts(
    given: SectionInput,
    groups: Sequence[tuple[RowKey, list[RunRecord]]],
    metrics: Sequence[str],
    n_cases: int | None,
    notes: list[str],
) -> tuple[list[_RowDraft], int | None]:
    """Every row's runs (loaded and checked in order) and values; the first ranks fix ``n_cases`` if unknown."""
    labels = _labels([key for key, _ in groups])
    out = []
    for label, (key, records) in zip(labels, groups):
        per_seed: dict[str, list[float]] = {m: [] for m in metrics}
        stacked, runs = [], []
        for rec in records:
            run = clean_run(given.store, rec, n_cases, notes)
            runs.append(run)
            if run.ranks is None:
                for m in metrics:
                    per_seed[m].append(run.metrics.get(m, np.nan))
                continue
            n_cases = len(run.ranks) if n_cases is None else n_cases
            stacked.append(_per_case(run, label, metrics, per_seed, notes))
        values, std = _mean_and_std(per_seed)
        per_case = np.mean(stacked, axis=0) if stacked else None
        out.append(_RowDraft(label, key, tuple(runs), values, std, per_case))
    return out, n_cases


def _per_case(
    run: CleanRun, label: str, metrics: Sequence[str], per_seed: dict[str, list[float]], notes: list[str]
) -> np.ndarray:
    """Per-case values (n_cases, n_metrics) of one run; its means go to ``per_seed``."""
    assert run.ranks is not None
    vals = np.column_stack([per_case_values(run.ranks, m) for m in metrics])
    means = vals.mean(axis=0) if len(vals) else np.full(len(metrics), np.nan)
    for j, m in enumerate(metrics):
        v = float(means[j])
        per_seed[m].append(v)
        stored = run.metrics.get(m, np.nan)
        if not math.isnan(stored) and abs(stored - v) > 1e-6:
            notes.append(
                f"run {run.record.run_id} ({label}): {m} from ranks is {v:.6f} but the "
                f"record stores {stored:.6f}; the report uses the ranks"
            )
    return vals


def _mean_and_std(per_seed: Mapping[str, list[float]]) -> tuple[dict[str, float], dict[str, float]]:
    values, std = {}, {}
    for m, seeds in per_seed.items():
        arr = np.array(seeds, dtype=np.float64)
        ok = arr[~np.isnan(arr)]
        values[m] = float(ok.mean()) if ok.size else np.nan
        std[m] = float(ok.std(ddof=1)) if ok.size > 1 else np.nan
    return values, std


def _statistics(
    drafts: Sequence[_RowDraft],
    metrics: Sequence[str],
    cases: CaseTable | None,
    n_cases: int | None,
    settings: ReportSettings,
) -> list[RowResult]:
    """Bootstrap intervals (shared resamples), best values and Holm-adjusted tests per column."""
    per_case = [d.per_case for d in drafts]
    ci = _intervals(per_case, metrics, cases, n_cases, settings)
    best, p_holm, significant = _significance([d.values for d in drafts], per_case, metrics, settings.alpha)
    return [
        RowResult(d.label, *d.key, d.runs, d.values, d.std, ci[i], p_holm[i], significant[i], best[i], d.per_case)
        for i, d in enumerate(drafts)
    ]


def _intervals(
    per_case: Sequence[np.ndarray | None],
    metrics: Sequence[str],
    cases: CaseTable | None,
    n_cases: int | None,
    settings: ReportSettings,
) -> list[dict[str, tuple[float, float]]]:
    out: list[dict[str, tuple[float, float]]] = [{} for _ in per_case]
    with_cases = [i for i, pc in enumerate(per_case) if pc is not None]
    if not with_cases or not n_cases:
        return out
    groups = cases.session if cases is not None else np.arange(n_cases)
    matrix = np.concatenate([per_case[i] for i in with_cases], axis=1)
    lo, hi = session_bootstrap_ci(
        matrix, groups, n_resamples=settings.n_bootstrap, level=settings.level, random_state=settings.random_state
    )
    n_m = len(metrics)
    for pos, i in enumerate(with_cases):
        for j, m in enumerate(metrics):
            out[i][m] = (float(lo[pos * n_m + j]), float(hi[pos * n_m + j]))
    return out


def _significance(
    values: Sequence[Mapping[str, float]], per_case: Sequence[np.ndarray | None], metrics: Sequence[str], alpha: float
) -> tuple[list[dict[str, bool]], list[dict[str, float]], list[dict[str, bool]]]:
    n = len(values)
    best: list[dict[str, bool]] = [{} for _ in range(n)]
    p_holm: list[dict[str, float]] = [{} for _ in range(n)]
    significant: list[dict[str, bool]] = [{} for _ in range(n)]
    for j, m in enumerate(metrics):
        vals = np.array([v[m] for v in values])
        if not np.any(~np.isnan(vals)):
            continue
        top = np.nanmax(vals)
        for i, v in enumerate(vals):
            best[i][m] = bool(not math.isnan(v) and abs(v - top) <= 1e-12)
        ref = next(i for i in range(n) if best[i][m])
        others = [i for i in range(n) if i != ref and per_case[i] is not None]
        if per_case[ref] is None or not others:
            continue
        pvals = np.array([wilcoxon_signed_rank(per_case[i][:, j], per_case[ref][:, j]).pvalue for i in others])
        for i, p in zip(others, holm(pvals)):
            p_holm[i][m] = float(p)
            significant[i][m] = bool(p < alpha)
    return best, p_holm, significant


# =========================================================================== curves
def _curves(rows: Sequence[RowResult]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Recall@K and MRR@K for K = 1…CURVE_MAX_K, mean over the row's seeds with ranks."""
    out = {}
    for row in rows:
        ranks = [r for r in row.ranks if len(r)]
        if ranks:
            recall = np.mean([cutoff_curve(r, "recall", CURVE_MAX_K) for r in ranks], axis=0)
            mrr = np.mean([cutoff_curve(r, "mrr", CURVE_MAX_K) for r in ranks], axis=0)
            out[row.label] = (recall, mrr)
    return out


def _by_prefix(
    rows: Sequence[RowResult], cases: CaseTable | None, metrics: Sequence[str], main_metric: str
) -> tuple[dict[str, np.ndarray], np.ndarray] | None:
    """The main metric over the cases of each test-prefix length 1…9, ≥10 (NaN for an empty bucket)."""
    ranked = [r for r in rows if r.ranks]
    if cases is None or not ranked:
        return None
    buckets = np.clip(cases.prefix_length.astype(np.int64), 1, 10) - 1
    counts = np.bincount(buckets, minlength=10)
    j = metrics.index(main_metric)
    series = {}
    for r in ranked:
        assert r.per_case is not None  # a row with ranks has per-case values
        sums = np.bincount(buckets, weights=r.per_case[:, j], minlength=10)
        with np.errstate(invalid="ignore", divide="ignore"):
            series[r.label] = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return series, counts


# =========================================================================== shared text helpers
def fmt_params(params: Mapping[str, Any] | None) -> str:
    """``k=v, …`` sorted by key, values as written in a config; ``none`` when empty."""
    if not params:
        return "none"
    return ", ".join(f"{k}={fmt_value(v)}" for k, v in sorted(params.items()))


def fmt_value(v: Any) -> str:
    """A parameter value as written in a config (no thousands separators)."""
    if isinstance(v, bool) or v is None:
        return str(v).lower() if v is not None else "none"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "dataset"
