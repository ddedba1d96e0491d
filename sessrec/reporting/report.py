"""``write_report``: a study folder in, ``report.md`` + ``figures/*.png`` (+ tables) out.

The reporter is pure. It reads ``results.jsonl`` (:meth:`StudyStore.read`), the per-case
ranks ``ranks/<run_id>.npy`` and the case tables ``cases/<fingerprint>.npz``; it trains and
evaluates nothing. Every number in the report derives from those files.

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
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sessrec.errors import ConfigError, SessrecError
from sessrec.evaluation.metrics import cutoff_curve, metric_label
from sessrec.evaluation.ranks import TIE_RULES
from sessrec.reporting import plots
from sessrec.reporting.published import PublishedMatch, load_published, match_published
from sessrec.reporting.stats import (
    RANK_METRICS,
    holm,
    parse_metric,
    per_case_values,
    session_bootstrap_ci,
    wilcoxon_signed_rank,
)
from sessrec.reporting.tables import Cell, Table, to_csv, to_latex, to_markdown
from sessrec.results.store import CaseTable, StudyStore

__all__ = ["FORMATS", "ReportResult", "write_report"]

#: Table formats beside ``report.md``: name -> file written.
FORMATS = {"md": "report.md", "latex": "tables.tex", "csv": "tables.csv", "json": "tables.json"}
_FORMAT_ALIASES = {"markdown": "md", "tex": "latex"}
#: Largest K of the Recall@K / MRR@K curves.
CURVE_MAX_K = 50
#: Parameters that vary between runs of one configuration (the seed goes to ``random_state``;
#: ``device`` is where it ran, shown in the cost table): ignored when grouping runs into rows.
_NOT_CONFIG = frozenset({"random_state", "seed", "device"})
_STAT_ORDER = (
    ("clicks", "clicks"),
    ("n_items", "items"),
    ("train_sessions", "train sessions"),
    ("train_cases", "train cases"),
    ("valid_sessions", "validation sessions"),
    ("valid_cases", "validation cases"),
    ("test_sessions", "test sessions"),
    ("test_cases", "test cases"),
    ("avg_length", "average session length"),
)


@dataclass(frozen=True)
class ReportResult:
    """What :func:`write_report` wrote.

    Attributes
    ----------
    report_path : Path
        ``<study>/report.md``.
    figure_paths : tuple of Path
        ``<study>/figures/*.png``, in the order the report shows them.
    table_paths : dict
        Format name (``"latex"``, ``"csv"``, ``"json"``) -> file written.
    main_table : str
        The main table of every dataset section as Markdown (what the CLI prints).
    n_runs : int
        Run records read.
    skipped : tuple of (line number, reason)
        Lines of ``results.jsonl`` that could not be used.
    """

    report_path: Path
    figure_paths: tuple[Path, ...]
    table_paths: dict[str, Path]
    main_table: str
    n_runs: int
    skipped: tuple[tuple[int, str], ...]

    @property
    def paths(self) -> tuple[Path, ...]:
        """Every file written."""
        return (self.report_path, *self.figure_paths, *self.table_paths.values())


# =========================================================================== analysis
@dataclass
class _Row:
    key: tuple[str, str, str]
    model: str
    params: dict[str, Any]
    ties: str
    records: list[dict[str, Any]]
    label: str = ""
    seeds: list[Any] = field(default_factory=list)
    ranks: list[np.ndarray | None] = field(default_factory=list)
    values: dict[str, float] = field(default_factory=dict)
    std: dict[str, float] = field(default_factory=dict)
    ci: dict[str, tuple[float, float]] = field(default_factory=dict)
    p_holm: dict[str, float] = field(default_factory=dict)
    significant: dict[str, bool] = field(default_factory=dict)
    best: dict[str, bool] = field(default_factory=dict)
    per_case: np.ndarray | None = None  # (n_cases, n_metrics), seed-averaged


@dataclass
class _Section:
    fingerprint: str
    records: list[dict[str, Any]]
    label: str = ""
    slug: str = ""
    metrics: list[str] = field(default_factory=list)
    cutoffs: list[int] = field(default_factory=list)
    cases: CaseTable | None = None
    n_cases: int | None = None
    rows: list[_Row] = field(default_factory=list)
    published: list[PublishedMatch] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    figures: list[tuple[str, Path]] = field(default_factory=list)
    bootstrap_unit: str = "test sessions"


def _canon(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, default=str)


def _cutoffs_of(records: Iterable[dict[str, Any]], main_k: int) -> list[int]:
    ks = {main_k}
    for r in records:
        for k in r.get("cutoffs") or []:
            ks.add(int(k))
        for name in r.get("metrics") or {}:
            m = re.match(r"^(recall|mrr|ndcg)@(\d+)$", name)
            if m:
                ks.add(int(m.group(2)))
    return sorted(ks)


def _seed_key(seed: Any) -> tuple[int, Any]:
    return (0, seed) if isinstance(seed, (int, float)) else (1, str(seed))


def _label_rows(rows: list[_Row]) -> None:
    by_model: dict[str, list[_Row]] = {}
    for row in rows:
        by_model.setdefault(row.model, []).append(row)
    for same in by_model.values():
        if len(same) == 1:
            same[0].label = same[0].model
            continue
        keys = sorted({k for r in same for k in r.params})
        differing = [k for k in keys if len({_canon(r.params.get(k)) for r in same}) > 1]
        ties_differ = len({r.ties for r in same}) > 1
        for r in same:
            bits = [f"{k}={r.params.get(k)}" for k in differing]
            if ties_differ:
                bits.append(f"ties={r.ties}")
            r.label = f"{r.model} ({', '.join(bits)})" if bits else r.model
    seen: Counter[str] = Counter()
    for r in rows:  # identical labels would merge in figures: number them
        seen[r.label] += 1
        if seen[r.label] > 1:
            r.label = f"{r.label} #{seen[r.label]}"


def _load_ranks(store: StudyStore, rec: dict[str, Any], n_cases: int | None, notes: list[str]) -> np.ndarray | None:
    run_id = rec["run_id"]
    try:
        ranks = np.asarray(store.load_ranks(run_id))
    except FileNotFoundError:
        notes.append(
            f"run {run_id} ({rec['model']}, seed {rec['seed']}) has no ranks file: its values come from "
            "the stored metrics and it has no interval, test or curve"
        )
        return None
    except (OSError, ValueError) as exc:
        notes.append(f"run {run_id}: ranks file unreadable ({exc}); treated as missing")
        return None
    if ranks.ndim != 1 or (n_cases is not None and len(ranks) != n_cases):
        notes.append(f"run {run_id}: ranks have shape {ranks.shape}, expected ({n_cases},); treated as missing")
        return None
    if len(ranks) and float(ranks.min()) < 1:
        notes.append(f"run {run_id}: ranks are 1-based but contain {ranks.min()}; treated as missing")
        return None
    return ranks


def _analyse(
    store: StudyStore,
    fingerprint: str,
    records: list[dict[str, Any]],
    *,
    main_metric: str,
    n_bootstrap: int,
    level: float,
    alpha: float,
    random_state: int,
) -> _Section:
    sec = _Section(fingerprint, records)
    _, main_k = parse_metric(main_metric)
    sec.cutoffs = _cutoffs_of(records, main_k)
    sec.metrics = [f"{b}@{k}" for b in RANK_METRICS for k in sec.cutoffs]
    # ---- case table
    try:
        sec.cases = store.load_cases(fingerprint)
        sec.n_cases = len(sec.cases.session)
    except (FileNotFoundError, KeyError, ValueError, OSError):
        sec.notes.append(
            f"no case table cases/{fingerprint}.npz: the bootstrap resamples single cases instead of "
            "test sessions and the by-prefix-length figure is left out"
        )
        sec.bootstrap_unit = "test cases (no case table)"
        stated = {r.get("stats", {}).get("test_cases") for r in records} - {None}
        sec.n_cases = int(stated.pop()) if len(stated) == 1 else None
    stated_cases = {r.get("stats", {}).get("test_cases") for r in records} - {None}
    if sec.cases is not None and stated_cases and stated_cases != {sec.n_cases}:
        sec.notes.append(
            f"the case table has {sec.n_cases:,} test cases but the run records state "
            f"{', '.join(f'{int(c):,}' for c in sorted(stated_cases))}"
        )
    # ---- rows
    groups: dict[tuple[str, str, str], _Row] = {}
    for rec in records:
        ties = str(rec.get("ties") or "conservative")
        params = {k: v for k, v in (rec.get("params") or {}).items() if k not in _NOT_CONFIG}
        key = (str(rec["model"]), _canon(params), ties)
        if key not in groups:
            groups[key] = _Row(key, str(rec["model"]), params, ties, [])
        groups[key].records.append(rec)
    rows = list(groups.values())
    for row in rows:
        row.records.sort(key=lambda r: _seed_key(r.get("seed")))
        row.seeds = [r.get("seed") for r in row.records]
        dup = [s for s, c in Counter(map(str, row.seeds)).items() if c > 1]
        if dup:
            sec.notes.append(f"{row.model}: several runs share seed {', '.join(dup)}; all are averaged")
    _label_rows(rows)
    metric_index = {m: i for i, m in enumerate(sec.metrics)}
    for row in rows:
        per_seed: dict[str, list[float]] = {m: [] for m in sec.metrics}
        stacked = []
        for rec in row.records:
            ranks = _load_ranks(store, rec, sec.n_cases, sec.notes)
            if ranks is not None and sec.n_cases is None:
                sec.n_cases = len(ranks)
            row.ranks.append(ranks)
            stored = rec.get("metrics") or {}
            if ranks is not None:
                vals = np.column_stack([per_case_values(ranks, m) for m in sec.metrics])
                stacked.append(vals)
                means = vals.mean(axis=0) if len(vals) else np.full(len(sec.metrics), np.nan)
                for m in sec.metrics:
                    v = float(means[metric_index[m]])
                    per_seed[m].append(v)
                    s = stored.get(m)
                    if isinstance(s, (int, float)) and not math.isnan(float(s)) and abs(float(s) - v) > 1e-6:
                        sec.notes.append(
                            f"run {rec['run_id']} ({row.label}): {m} from ranks is {v:.6f} but the "
                            f"record stores {float(s):.6f}; the report uses the ranks"
                        )
            else:
                for m in sec.metrics:
                    s = stored.get(m)
                    per_seed[m].append(float(s) if isinstance(s, (int, float)) else np.nan)
        for m in sec.metrics:
            arr = np.array(per_seed[m], dtype=np.float64)
            ok = arr[~np.isnan(arr)]
            row.values[m] = float(ok.mean()) if ok.size else np.nan
            row.std[m] = float(ok.std(ddof=1)) if ok.size > 1 else np.nan
        if stacked:
            row.per_case = np.mean(stacked, axis=0)
    # ---- order: main metric, best first
    rows.sort(
        key=lambda r: (
            -(r.values.get(main_metric) if not math.isnan(r.values.get(main_metric, np.nan)) else -np.inf),
            r.label,
        )
    )
    sec.rows = rows
    # ---- bootstrap (shared resamples)
    with_cases = [r for r in rows if r.per_case is not None]
    if with_cases and sec.n_cases:
        groups_arr = sec.cases.session if sec.cases is not None else np.arange(sec.n_cases)
        matrix = np.concatenate([r.per_case for r in with_cases], axis=1)
        lo, hi = session_bootstrap_ci(
            matrix, groups_arr, n_resamples=n_bootstrap, level=level, random_state=random_state
        )
        n_m = len(sec.metrics)
        for i, r in enumerate(with_cases):
            for j, m in enumerate(sec.metrics):
                r.ci[m] = (float(lo[i * n_m + j]), float(hi[i * n_m + j]))
    # ---- best and significance, per column
    for j, m in enumerate(sec.metrics):
        vals = np.array([r.values[m] for r in rows])
        if not np.any(~np.isnan(vals)):
            continue
        top = np.nanmax(vals)
        for r, v in zip(rows, vals):
            r.best[m] = bool(not math.isnan(v) and abs(v - top) <= 1e-12)
        ref = next(r for r in rows if r.best[m])
        if ref.per_case is None:
            continue
        others = [r for r in rows if r is not ref and r.per_case is not None]
        if not others:
            continue
        pvals = np.array([wilcoxon_signed_rank(r.per_case[:, j], ref.per_case[:, j]).pvalue for r in others])
        for r, p in zip(others, holm(pvals)):
            r.p_holm[m] = float(p)
            r.significant[m] = bool(p < alpha)
    return sec


# =========================================================================== rendering helpers
def _pct(v: float, digits: int = 2) -> str:
    return "–" if v is None or math.isnan(v) else f"{100 * v:.{digits}f}"


def _metric_header(m: str) -> str:
    parse_metric(m)
    return metric_label(m)


def _fmt_num(v: Any) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:,.2f}" if abs(v) < 1e6 else f"{v:,.0f}"
    return str(v)


def _fmt_params(params: dict[str, Any] | None) -> str:
    if not params:
        return "none"
    return ", ".join(f"{k}={_fmt_value(v)}" for k, v in sorted(params.items()))


def _fmt_value(v: Any) -> str:
    """A parameter value as written in a config (no thousands separators)."""
    if isinstance(v, bool) or v is None:
        return str(v).lower() if v is not None else "none"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _source_refs(sec: _Section) -> dict[str, int]:
    refs: dict[str, int] = {}
    for match in sec.published:
        refs.setdefault(match.source.key, len(refs) + 1)
    return refs


def _main_table(sec: _Section, *, with_published: bool = True) -> Table:
    columns = ["Model", "Seeds", *[_metric_header(m) + " (%)" for m in sec.metrics]]
    table = Table(columns, [], align="lr" + "r" * len(sec.metrics))
    for row in sec.rows:
        cells: list[Cell | str] = [row.label, str(len(row.records))]
        for m in sec.metrics:
            v = row.values.get(m, np.nan)
            detail = ""
            if len(row.records) > 1 and not math.isnan(row.std.get(m, np.nan)):
                detail += f" ± {_pct(row.std[m])}"
            if m in row.ci:
                lo, hi = row.ci[m]
                detail += f" [{_pct(lo)}, {_pct(hi)}]"
            cells.append(
                Cell(_pct(v), bold=row.best.get(m, False), detail=detail, mark="†" if row.significant.get(m) else "")
            )
        table.rows.append(cells)
    if with_published:
        refs = _source_refs(sec)
        first = True
        for match in sec.published:
            if not match.matched:
                continue
            for res in match.results:
                if first:
                    table.rules_before.add(len(table.rows))
                    first = False
                cells = [f"{res.method} — published [{refs[match.source.key]}]", "–"]
                cells += [_pct(res.metrics[m]) if m in res.metrics else "–" for m in sec.metrics]
                table.rows.append(cells)
    return table


def _beyond_table(sec: _Section) -> Table | None:
    names = sorted(
        {n for r in sec.records for n in (r.get("metrics") or {}) if re.match(r"^(coverage|popularity)@\d+$", n)},
        key=lambda n: (int(n.split("@")[1]), n),
    )
    if not names:
        return None
    cols = ["Model", "Seeds"] + [
        (f"Coverage@{n.split('@')[1]} (%)" if n.startswith("coverage") else f"Popularity@{n.split('@')[1]}")
        for n in names
    ]
    table = Table(cols, [], align="lr" + "r" * len(names))
    for row in sec.rows:
        cells: list[Cell | str] = [row.label, str(len(row.records))]
        for n in names:
            vals = np.array(
                [float(r["metrics"][n]) for r in row.records if isinstance(r["metrics"].get(n), (int, float))]
            )
            if vals.size == 0:
                cells.append("–")
                continue
            scale, digits = (100.0, 2) if n.startswith("coverage") else (1.0, 4)
            mean = f"{scale * vals.mean():.{digits}f}"
            detail = f" ± {scale * vals.std(ddof=1):.{digits}f}" if vals.size > 1 else ""
            cells.append(Cell(mean, detail=detail))
        table.rows.append(cells)
    return table


def _mean_std(values: Sequence[Any], digits: int) -> str:
    arr = np.array([float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)])
    if arr.size == 0:
        return "–"
    text = f"{arr.mean():,.{digits}f}"
    if arr.size > 1:
        text += f" ± {arr.std(ddof=1):,.{digits}f}"
    return text


def _cost_table(sec: _Section) -> Table:
    gpu = any(isinstance(r.get("peak_gpu_mb"), (int, float)) for r in sec.records)
    columns = ["Model", "Seeds", "Fit (s)", "Evaluation (s)", "Peak RSS (MB)"]
    columns += ["Peak GPU (MB)"] if gpu else []
    table = Table([*columns, "Device", "Epochs", "Plugin"], [], align="lr" + "r" * (len(columns) - 2) + "lrl")
    for row in sec.rows:
        recs = row.records
        devices = ", ".join(sorted({str(r.get("device")) for r in recs}))
        epochs = [len(r.get("history") or []) for r in recs]
        epochs_text = "–" if not any(epochs) else ", ".join(str(e) for e in epochs)
        plugin = ", ".join(sorted({str((r.get("versions") or {}).get("plugin") or "–") for r in recs}))
        cells = [
            row.label,
            str(len(recs)),
            _mean_std([r.get("fit_seconds") for r in recs], 2),
            _mean_std([r.get("eval_seconds") for r in recs], 2),
            _mean_std([r.get("peak_rss_mb") for r in recs], 0),
        ]
        if gpu:
            cells.append(_mean_std([r.get("peak_gpu_mb") for r in recs], 0))
        table.rows.append([*cells, devices, epochs_text, plugin])
    return table


def _slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "dataset"


# =========================================================================== figures
def _curves(ranks_list: Sequence[np.ndarray], max_k: int) -> tuple[np.ndarray, np.ndarray]:
    recall = [cutoff_curve(r, "recall", max_k) for r in ranks_list if len(r)]
    mrr = [cutoff_curve(r, "mrr", max_k) for r in ranks_list if len(r)]
    return np.mean(recall, axis=0), np.mean(mrr, axis=0)


def _make_figures(sec: _Section, fig_dir: Path, main_metric: str, level: float) -> None:
    labels = [r.label for r in sec.rows]
    styles = plots.styles_for(labels)
    ranked = [r for r in sec.rows if any(x is not None for x in r.ranks)]
    tag = sec.slug
    main_slug = main_metric.replace("@", "")
    if ranked:
        rec_curves, mrr_curves = {}, {}
        for r in ranked:
            rc, mc = _curves([x for x in r.ranks if x is not None], CURVE_MAX_K)
            rec_curves[r.label], mrr_curves[r.label] = rc, mc
        p = plots.plot_cutoff_curves(
            rec_curves,
            "recall",
            fig_dir / f"{tag}-recall-at-k.png",
            styles=styles,
            title=f"{sec.label}: Recall@K, K = 1…{CURVE_MAX_K}",
        )
        sec.figures.append((f"Recall@K for K = 1…{CURVE_MAX_K} (from the per-case ranks, mean over seeds)", p))
        p = plots.plot_cutoff_curves(
            mrr_curves,
            "mrr",
            fig_dir / f"{tag}-mrr-at-k.png",
            styles=styles,
            title=f"{sec.label}: MRR@K, K = 1…{CURVE_MAX_K}",
        )
        sec.figures.append((f"MRR@K for K = 1…{CURVE_MAX_K}", p))
    shown = [r for r in sec.rows if not math.isnan(r.values.get(main_metric, np.nan))]
    if shown:
        p = plots.plot_metric_bars(
            [r.label for r in shown],
            [r.values[main_metric] for r in shown],
            [r.ci.get(main_metric) for r in shown],
            main_metric,
            fig_dir / f"{tag}-{main_slug}-ci.png",
            styles=styles,
            level=level,
            title=f"{sec.label}: {_metric_header(main_metric)} with {round(100 * level)}% bootstrap intervals",
        )
        sec.figures.append((f"{_metric_header(main_metric)} per model with its {round(100 * level)}% interval", p))
    if sec.cases is not None and ranked:
        buckets = np.clip(sec.cases.prefix_length.astype(np.int64), 1, 10) - 1
        counts = np.bincount(buckets, minlength=10)
        j = sec.metrics.index(main_metric)
        series = {}
        for r in ranked:
            sums = np.bincount(buckets, weights=r.per_case[:, j], minlength=10)
            with np.errstate(invalid="ignore", divide="ignore"):
                series[r.label] = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
        p = plots.plot_by_prefix_length(
            series,
            counts,
            main_metric,
            fig_dir / f"{tag}-{main_slug}-by-prefix-length.png",
            styles=styles,
            title=f"{sec.label}: {_metric_header(main_metric)} by test-prefix length",
        )
        sec.figures.append((f"{_metric_header(main_metric)} by test-prefix length (1…9, ≥10 clicks)", p))
    histories = {r.label: [rec.get("history") or [] for rec in r.records] for r in sec.rows}
    p2 = plots.plot_training_curves(
        histories, fig_dir / f"{tag}-training.png", styles=styles, title=f"{sec.label}: training curves"
    )
    if p2 is not None:
        sec.figures.append(("Training loss and validation metric per epoch (one line per seed)", p2))
    else:
        sec.notes.append("no run recorded a training history, so there is no training-curve figure")


# =========================================================================== markdown
def _section_md(
    sec: _Section, study: Path, main_metric: str, level: float, alpha: float, n_bootstrap: int
) -> list[str]:
    rep = sec.records[0]
    proto = rep.get("protocol") or {}
    out = [f"## {sec.label}", ""]
    if any(r.get("synthetic") for r in sec.records):
        out += ["> **Synthetic data.** These numbers say nothing about real recommendation quality.", ""]
    source = dict(rep.get("data_source") or {})
    if not source.get("path") and (rep.get("dataset_options") or {}).get("path"):
        source["path"] = rep["dataset_options"]["path"]
    out += [
        f"* Dataset recipe: `{rep.get('dataset')}`; options: {_fmt_params(rep.get('dataset_options'))}",
        f"* Protocol: `{proto.get('name')}`; parameters: {_fmt_params(proto.get('params'))}",
        f"* Raw data: `{source.get('path', 'not recorded')}`"
        + (f" (sha256 `{source['checksum']}`)" if source.get("checksum") else ""),
        f"* Data fingerprint: `{sec.fingerprint}`",
        "* Ties: " + "; ".join(f"{t} ({TIE_RULES.get(t, 'as recorded')})" for t in sorted({r.ties for r in sec.rows})),
        "",
    ]
    stats = rep.get("stats") or {}
    known = [(k, name) for k, name in _STAT_ORDER if k in stats]
    extra = sorted(k for k in stats if k not in dict(_STAT_ORDER))
    if known:
        out += ["| " + " | ".join(name for _, name in known) + " |"]
        out += ["|" + "|".join(["--:"] * len(known)) + "|"]
        out += ["| " + " | ".join(_fmt_num(stats[k]) for k, _ in known) + " |", ""]
    if extra:
        out += ["Preparation: " + ", ".join(f"{k} {_fmt_num(stats[k])}" for k in extra) + ".", ""]
    # main table
    out += [f"### Main table (rows ordered by {_metric_header(main_metric)})", ""]
    out += [to_markdown(_main_table(sec)), ""]
    unit = sec.bootstrap_unit
    out += [
        f"Values in percent. **Bold**: best in the column. `± x`: standard deviation over seeds. `[a, b]`: "
        f"{round(100 * level)}% percentile bootstrap interval over {unit} ({n_bootstrap} resamples, seed-averaged "
        f"per-case values). **†**: differs from the column's best model (two-sided Wilcoxon signed-rank test on "
        f"per-case values, paired by test case, Holm-corrected over the models compared in the column, "
        f"adjusted p < {alpha:g}); a value without † and not bold is not significantly different from the best."
        " Published rows are not ranked, bolded or tested.",
        "",
    ]
    refs = _source_refs(sec)
    matched = [m for m in sec.published if m.matched]
    unmatched = [m for m in sec.published if not m.matched]
    if matched:
        out += [
            "Published rows: the recipe, the protocol and its parameters, the raw file and (where the source "
            "gives them) the dataset statistics match the source's.",
            "",
        ]
        for m in matched:
            out.append(f"* [{refs[m.source.key]}] {m.source.citation}. <{m.source.url}>. {m.source.note}".rstrip())
            if m.setting.caveat:
                out.append(f"  Not checked: {m.setting.caveat}")
        out.append("")
    if unmatched:
        out += [
            "Published numbers for this recipe exist but describe **different data**, so they are not placed beside "
            "ours (for orientation only, not comparable):",
            "",
        ]
        for m in unmatched:
            out.append(f"* [{refs[m.source.key]}] {m.source.citation}: {'; '.join(m.reasons)}.")
        out.append("")
        pub_metrics = [m for m in sec.metrics if any(m in res.metrics for u in unmatched for res in u.results)]
        t = Table(
            ["Method (different data)", "Source", *[_metric_header(m) + " (%)" for m in pub_metrics]],
            [],
            align="ll" + "r" * len(pub_metrics),
        )
        for u in unmatched:
            for res in u.results:
                t.rows.append(
                    [
                        res.method,
                        f"[{refs[u.source.key]}]",
                        *[_pct(res.metrics[m]) if m in res.metrics else "–" for m in pub_metrics],
                    ]
                )
        out += [to_markdown(t), ""]
    # beyond accuracy
    beyond = _beyond_table(sec)
    out += ["### Beyond accuracy", ""]
    if beyond is None:
        out += ["No run stored coverage@K or popularity@K.", ""]
    else:
        out += [
            to_markdown(beyond),
            "",
            "Coverage@K: share of the catalogue that appears in at least one top-K list (%). Popularity@K: mean over "
            "cases of the mean training popularity of the top-K items, divided by the most popular item's count "
            "(1 = only the top item). Mean ± std over seeds, from the run records.",
            "",
        ]
    out += [
        "### Cost",
        "",
        to_markdown(_cost_table(sec)),
        "",
        "Mean ± std over seeds. Fit includes training and any validation; evaluation is full ranking over the "
        "catalogue; peak RSS is the process's resident-memory high-water mark.",
        "",
    ]
    if sec.figures:
        out += ["### Figures", ""]
        for caption, path in sec.figures:
            rel = path.relative_to(study).as_posix()
            out += [f"**{caption}** (`{rel}`)", "", f"![{caption}]({rel})", ""]
    if sec.notes:
        out += ["### Notes on this section", ""] + [f"* {n}" for n in dict.fromkeys(sec.notes)] + [""]
    return out


def _env_lines(records: Sequence[dict[str, Any]]) -> list[str]:
    out = []
    started = sorted(str(r["started_at"]) for r in records if r.get("started_at"))
    finished = sorted(str(r["finished_at"]) for r in records if r.get("finished_at"))
    if started or finished:
        out.append(f"* Runs: {started[0] if started else '?'} → {finished[-1] if finished else '?'}")
    versions = Counter(
        ", ".join(f"{k} {v}" for k, v in sorted((r.get("versions") or {}).items()) if k != "plugin") for r in records
    )
    for text, n in versions.items():
        out.append(f"* Versions ({n} run{'s' if n > 1 else ''}): {text or 'not recorded'}")
    hardware = Counter(
        ", ".join(f"{k}: {v}" for k, v in sorted((r.get("hardware") or {}).items()) if v not in (None, ""))
        for r in records
    )
    for text, n in hardware.items():
        out.append(f"* Hardware ({n} run{'s' if n > 1 else ''}): {text or 'not recorded'}")
    commits = sorted({str(r.get("git_commit")) for r in records if r.get("git_commit")})
    out.append(f"* Git commit: {', '.join(f'`{c}`' for c in commits) if commits else 'not recorded'}")
    return out


def _summary_table(sections: Sequence[_Section], main_metric: str) -> Table:
    labels = list(dict.fromkeys(r.label for s in sections for r in s.rows))
    table = Table(["Model", *[s.label for s in sections]], [], align="l" + "r" * len(sections))
    for label in labels:
        cells: list[Cell | str] = [label]
        for s in sections:
            row = next((r for r in s.rows if r.label == label), None)
            if row is None:
                cells.append("–")
                continue
            cells.append(
                Cell(
                    _pct(row.values.get(main_metric, np.nan)),
                    bold=row.best.get(main_metric, False),
                    mark="†" if row.significant.get(main_metric) else "",
                )
            )
        table.rows.append(cells)
    return table


# =========================================================================== machine-readable
def _row_json(row: _Row, sec: _Section) -> dict[str, Any]:
    def num(v: float) -> float | None:
        return None if v is None or math.isnan(v) else float(v)

    return {
        "label": row.label,
        "model": row.model,
        "params": row.params,
        "ties": row.ties,
        "seeds": row.seeds,
        "run_ids": [r["run_id"] for r in row.records],
        "metrics": {
            m: {
                "mean": num(row.values.get(m, np.nan)),
                "std": num(row.std.get(m, np.nan)),
                "ci_low": num(row.ci[m][0]) if m in row.ci else None,
                "ci_high": num(row.ci[m][1]) if m in row.ci else None,
                "p_holm": row.p_holm.get(m),
                "significant": row.significant.get(m, False),
                "best": row.best.get(m, False),
            }
            for m in sec.metrics
        },
        "fit_seconds": [r.get("fit_seconds") for r in row.records],
        "eval_seconds": [r.get("eval_seconds") for r in row.records],
        "peak_rss_mb": [r.get("peak_rss_mb") for r in row.records],
        "device": [r.get("device") for r in row.records],
        "beyond": {
            n: [r["metrics"].get(n) for r in row.records]
            for n in sorted({n for r in row.records for n in r["metrics"] if re.match(r"^(coverage|popularity)@", n)})
        },
    }


def _json_doc(sections: Sequence[_Section], skipped: Sequence[tuple[int, str]], settings: dict[str, Any]) -> str:
    doc = {
        "settings": settings,
        "skipped_lines": [{"line": n, "reason": why} for n, why in skipped],
        "datasets": [
            {
                "label": s.label,
                "dataset": s.records[0].get("dataset"),
                "protocol": s.records[0].get("protocol"),
                "fingerprint": s.fingerprint,
                "stats": s.records[0].get("stats"),
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
                "notes": list(dict.fromkeys(s.notes)),
            }
            for s in sections
        ],
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


def _csv_doc(sections: Sequence[_Section]) -> str:
    header = [
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
    rows: list[list[object]] = []

    def num(v: float | None) -> str:
        return "" if v is None or math.isnan(v) else repr(float(v))

    for s in sections:
        for r in s.rows:
            for m in s.metrics:
                ci = r.ci.get(m)
                rows.append(
                    [
                        s.label,
                        s.fingerprint,
                        "model",
                        r.label,
                        r.model,
                        len(r.records),
                        m,
                        num(r.values.get(m)),
                        num(r.std.get(m)),
                        num(ci[0] if ci else None),
                        num(ci[1] if ci else None),
                        num(r.p_holm.get(m)),
                        int(r.significant.get(m, False)),
                        int(r.best.get(m, False)),
                        "",
                    ]
                )
        for match in s.published:
            kind = "published" if match.matched else "published-different-data"
            for res in match.results:
                for m, v in res.metrics.items():
                    rows.append(
                        [
                            s.label,
                            s.fingerprint,
                            kind,
                            res.method,
                            res.model or "",
                            "",
                            m,
                            num(v),
                            "",
                            "",
                            "",
                            "",
                            "",
                            "",
                            match.source.key,
                        ]
                    )
    return to_csv(header, rows)


def _latex_doc(sections: Sequence[_Section], main_metric: str, level: float, alpha: float) -> str:
    parts = [
        "% Tables written by sessrec report; needs \\usepackage{booktabs}.",
        f"% Values in percent; bold = best; [a, b] = {round(100 * level)}% bootstrap interval (see report.md);",
        f"% dagger = differs from the best (Wilcoxon signed-rank, Holm, p < {alpha:g}).",
        "",
    ]
    for s in sections:
        parts.append(to_latex(_main_table(s), caption=f"{s.label}: accuracy (%)", label=f"tab:{s.slug}-main"))
        parts.append("")
    if len(sections) > 1:
        parts.append(
            to_latex(
                _summary_table(sections, main_metric),
                caption=f"{_metric_header(main_metric)} (%) per dataset",
                label="tab:summary",
            )
        )
    return "\n".join(parts) + "\n"


# =========================================================================== entry point
def _check_formats(formats: Iterable[str]) -> list[str]:
    out = []
    for f in formats:
        name = _FORMAT_ALIASES.get(str(f).lower(), str(f).lower())
        if name not in FORMATS:
            raise ConfigError(f"unknown report format {f!r}; choose from {', '.join(sorted(FORMATS))}")
        if name not in out:
            out.append(name)
    return out


def write_report(
    study_dir: str | Path,
    *,
    formats: Iterable[str] = ("md",),
    main_metric: str = "recall@20",
    n_bootstrap: int = 1000,
    level: float = 0.95,
    alpha: float = 0.05,
    random_state: int = 0,
    published_path: str | Path | None = None,
) -> ReportResult:
    """Render a study folder into ``report.md`` and ``figures/*.png`` (and tables).

    Parameters
    ----------
    study_dir : path
        A study folder with ``results.jsonl`` (and ``ranks/``, ``cases/``).
    formats : iterable of str
        Extra table files beside ``report.md`` (always written): ``"latex"`` -> ``tables.tex``,
        ``"csv"`` -> ``tables.csv`` (long format), ``"json"`` -> ``tables.json``.
    main_metric : str
        Orders the rows and is plotted in the bar chart, the by-prefix-length figure and the
        summary table (``"recall@20"``, ``"mrr@20"``, ...).
    n_bootstrap, level, random_state : int, float, int
        Bootstrap resamples, confidence level and the seed that draws the resamples.
    alpha : float
        Significance level of the Holm-adjusted tests (the ``†`` mark).
    published_path : path, optional
        Published-results file (default: the one shipped with sessrec).

    Returns
    -------
    ReportResult
        The paths written and the main table(s) as Markdown.

    Raises
    ------
    SessrecError
        When the folder has no ``results.jsonl``.
    ConfigError
        On an unknown format or metric.

    Examples
    --------
    >>> result = write_report("reports/diginetica-mini", formats=("latex",))  # doctest: +SKIP
    >>> print(result.main_table)  # doctest: +SKIP
    """
    study = Path(study_dir)
    store = StudyStore(study)
    if not store.results_path.exists():
        raise SessrecError(
            f"no study in {study}: expected {store.results_path} (written by `sessrec run --out {study}`)"
        )
    fmts = _check_formats(formats)
    parse_metric(main_metric)
    main_metric = main_metric.strip().lower()
    contents = store.read()
    table = load_published(published_path)
    # last record wins per run_id (a rerun without --force appends again)
    by_id: dict[str, dict[str, Any]] = {}
    dup_ids: list[str] = []
    for rec in contents.records:
        rid = str(rec["run_id"])
        if rid in by_id:
            dup_ids.append(rid)
            del by_id[rid]
        by_id[rid] = rec
    records = list(by_id.values())
    by_fp: dict[str, list[dict[str, Any]]] = {}
    for rec in records:
        by_fp.setdefault(str(rec["fingerprint"]), []).append(rec)
    sections = [
        _analyse(
            store,
            fp,
            recs,
            main_metric=main_metric,
            n_bootstrap=n_bootstrap,
            level=level,
            alpha=alpha,
            random_state=random_state,
        )
        for fp, recs in by_fp.items()
    ]
    name_count = Counter(str(s.records[0].get("dataset")) for s in sections)
    for s in sections:
        rep = s.records[0]
        name = str(rep.get("dataset"))
        proto = rep.get("protocol") or {}
        s.label = name
        if name_count[name] > 1:
            s.label = f"{name} ({proto.get('name')}; {_fmt_params(proto.get('params'))}; {s.fingerprint[:8]})"
        s.slug = _slugify(name) + (f"-{s.fingerprint[:8]}" if name_count[name] > 1 else "")
        s.published = match_published(rep, table)
    if dup_ids:
        sections_note = f"run ids recorded more than once (the last record is used): {', '.join(sorted(set(dup_ids)))}"
        for s in sections:
            s.notes.append(sections_note)
    fig_dir = study / "figures"
    for s in sections:
        _make_figures(s, fig_dir, main_metric, level)

    # ---- report.md
    md = [f"# Study report: {study.resolve().name}", ""]
    md += [
        f"{len(records)} run record{'s' if len(records) != 1 else ''} read from `results.jsonl`"
        f" ({len(contents.skipped)} line{'s' if len(contents.skipped) != 1 else ''} skipped, listed at the end);"
        f" {len(sections)} dataset section{'s' if len(sections) != 1 else ''}. Written by `sessrec report` from the "
        "stored records and per-case ranks; nothing was trained or evaluated to make it.",
        "",
    ]
    if (study / "experiment.toml").exists():
        md += ["Study specification: [`experiment.toml`](experiment.toml).", ""]
    if records:
        md += [*_env_lines(records), ""]
    main_tables = []
    for s in sections:
        md += _section_md(s, study, main_metric, level, alpha, n_bootstrap)
        main_tables.append(f"### {s.label}\n\n{to_markdown(_main_table(s))}")
    if len(sections) > 1:
        md += [
            f"## Summary: {_metric_header(main_metric)} (%) per model and dataset",
            "",
            to_markdown(_summary_table(sections, main_metric)),
            "",
            "Bold and † as in each dataset's main table (they are per dataset, not across datasets).",
            "",
        ]
    if not records:
        md += ["No usable run record: nothing to tabulate.", ""]
    md += ["## Skipped lines of results.jsonl", ""]
    if contents.skipped:
        md += [f"* line {n}: {why}" for n, why in contents.skipped]
    else:
        md += ["None: every line was read."]
    md += [
        "",
        "## How the numbers were computed",
        "",
        "* Every accuracy value comes from the stored per-case ranks: Recall@K = share of test cases whose target "
        "ranks ≤ K; MRR@K = mean of 1/rank over cases ranked ≤ K (0 otherwise); NDCG@K = mean of 1/log2(rank + 1) "
        "over cases ranked ≤ K. A run without ranks falls back to its stored metrics.",
        "* Several seeds: the value is the mean over seeds and `±` the standard deviation over seeds (ddof = 1). "
        "The interval and the test use each case's value averaged over the seeds.",
        f"* Intervals: percentile bootstrap, {n_bootstrap} resamples (seed {random_state}), drawing whole test "
        "sessions with replacement so that the cases (prefixes) of one session stay together; the same resamples "
        "serve every model.",
        "* Tests: per column, each model against the best one, two-sided Wilcoxon signed-rank test on the paired "
        "per-case values (zero differences dropped, normal approximation with tie correction; on Recall@K it is "
        "a sign test on the cases where the models disagree), Holm step-down correction over the models of the "
        "column. The test treats cases as independent, which prefixes of one session are not; read p-values near "
        "the threshold with care and prefer the session-bootstrap intervals.",
        "* Published numbers are shown beside ours only when the recipe, the protocol and its parameters, the raw "
        "file and (where the paper gives them) the dataset statistics all match the source's.",
        "",
    ]
    report_path = study / "report.md"
    report_path.write_text("\n".join(md), encoding="utf-8")

    table_paths: dict[str, Path] = {}
    settings = {
        "main_metric": main_metric,
        "n_bootstrap": n_bootstrap,
        "level": level,
        "alpha": alpha,
        "random_state": random_state,
    }
    for f in fmts:
        if f == "md":
            continue
        path = study / FORMATS[f]
        if f == "json":
            path.write_text(_json_doc(sections, contents.skipped, settings), encoding="utf-8")
        elif f == "csv":
            path.write_text(_csv_doc(sections), encoding="utf-8")
        else:
            path.write_text(_latex_doc(sections, main_metric, level, alpha), encoding="utf-8")
        table_paths[f] = path
    figures = tuple(p for s in sections for _, p in s.figures)
    return ReportResult(
        report_path=report_path,
        figure_paths=figures,
        table_paths=table_paths,
        main_table="\n\n".join(main_tables),
        n_runs=len(records),
        skipped=tuple(contents.skipped),
    )
