"""Session-kNN models, sessrec against session-rec's own code, side by side on the same split.

For each dataset, model and parameter setting, both implementations are fitted on the same
training sessions and score every test case; the script compares the per-case ranks of the
target (conservative ties: rank = number of items scoring at least the target; items
session-rec does not score count as score 0), Recall@20 and MRR@20, and times fit and scoring.

Datasets (the split is built by sessrec and handed to session-rec as a data frame: session id =
our session position, item id = our ``item_idx``, time = our timestamps in seconds):

* ``diginetica``: ``prepare("diginetica", path=.../train-item-views_combined.csv, test_days=1)``;
* ``retailrocket``: the staged slice through the ``csv`` recipe (views only, ``test_days=1``).

session-rec is not part of sessrec. Pass a checkout of ``rn5l/session-rec``; its classes are
imported from it unmodified, in this process, with three compatibility shims for today's
Python and NumPy (``time.clock`` -> ``time.perf_counter``, ``np.in1d`` -> ``np.isin``, and
empty stand-ins for ``pympler`` and ``psutil``, imported by the files but not used by the
methods called here). Its evaluation loop is replaced by a plain loop over the test events
that calls ``predict_next`` exactly as its ``evaluation_last``/``evaluate_sessions`` do
(``timestamp`` = the time of the target event) with every training item as candidate::

    python tests/perf/knn_vs_sessionrec.py --sessionrec-dir /tmp/session-rec \\
        --datasets diginetica retailrocket --out /tmp/knn_vs_sessionrec.json

``reference_code=True`` is set on our side (session-rec's code, defects included); the
default paper mode is also run and reported as a separate row (its ranks differ by design).

Our timings go through the evaluator's sparse route by default (``score_sessions_sparse``
and ranking from the stored entries); ``--dense`` also times the dense route
(``score_sessions`` and ranking all ``n_items`` per case, as before the sparse route
existed) in the same rounds, alternating with session-rec, and checks that both routes give
identical ranks.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import os
import platform
import statistics
import sys
import time
import types
from pathlib import Path

import numpy as np
import pandas as pd
import torch

SHARED = Path(os.environ.get("SESSREC_SHARED", "/work/shared")) / "data"
CUTOFF = 20

#: (model, label, session-rec parameters). Our parameters are the same names (session-rec's
#: ``lambda_snh`` is in days on both sides).
SETTINGS: list[tuple[str, str, dict]] = [
    ("sknn", "k=100 sample=500 jaccard", dict(k=100, sample_size=500, similarity="jaccard")),
    ("sknn", "code defaults k=100 (sample=1000 jaccard)", dict(k=100)),
    ("sknn", "k=100 sample=500 cosine (umuai digi)", dict(k=100, sample_size=500, similarity="cosine")),
    ("vsknn", "k=100 sample=1000 div/div cosine", dict(k=100, sample_size=1000, similarity="cosine")),
    ("vsknn", "code defaults k=100 (vec div/div)", dict(k=100)),
    (
        "vsknn",
        "k=500 sample=5000 quadratic/div idf 5 vec (umuai digi)",
        dict(k=500, sample_size=5000, weighting="quadratic", weighting_score="div", idf_weighting=5),
    ),
    ("vsknn", "k=100 linear/linear vec", dict(k=100, weighting="linear", weighting_score="linear")),
    ("ssknn", "code defaults k=100 (jaccard div)", dict(k=100)),
    (
        "ssknn",
        "k=100 sample=500 cosine quadratic",
        dict(k=100, sample_size=500, similarity="cosine", weighting="quadratic"),
    ),
    ("sfsknn", "code defaults k=100 (jaccard)", dict(k=100)),
    ("sfsknn", "k=100 sample=500 cosine", dict(k=100, sample_size=500, similarity="cosine")),
    ("sknn", "k=100 remind", dict(k=100, remind=True)),
    ("sfsknn", "k=100 pop_boost=1", dict(k=100, pop_boost=1)),
    ("vsknn", "k=100 remind=False", dict(k=100, remind=False)),
    ("stan", "k=100 code defaults otherwise", dict(k=100)),
    (
        "stan",
        "umuai digi: k=500 sample=10000 spw 1.225 snh 20 inh 4.9",
        dict(k=500, sample_size=10000, lambda_spw=1.225, lambda_snh=20, lambda_inh=4.9),
    ),
    ("vstan", "k=1500 code defaults otherwise", dict(k=1500)),
    (
        "vstan",
        "umuai digi: k=1500 sample=5000 spw 4.9 snh 40 inh 4.9 ipw 1.225 idf 10",
        dict(k=1500, sample_size=5000, lambda_spw=4.9, lambda_snh=40, lambda_inh=4.9, lambda_ipw=1.225, lambda_idf=10),
    ),
]

SESSIONREC_CLASSES = {
    "sknn": ("algorithms/knn/sknn.py", "ContextKNN"),
    "vsknn": ("algorithms/knn/vsknn.py", "VMContextKNN"),
    "stan": ("algorithms/knn/stan.py", "STAN"),
    "vstan": ("algorithms/knn/vstan.py", "VSKNN_STAN"),
    "ssknn": ("backup/algorithms/aware_backup/knn_aware/scknn.py", "SeqContextKNN"),
    "sfsknn": ("backup/algorithms/aware_backup/knn_aware/sfcknn.py", "SeqFilterContextKNN"),
}


# ---------------------------------------------------------------------- data
def load_split(name: str):
    from sessrec.data import prepare

    if name == "diginetica":
        path = SHARED / "diginetica" / "train-item-views_combined.csv"
        return prepare("diginetica", path=str(path), test_days=1)
    path = SHARED / "retailrocket" / "retailrocket_sessions_2015-09-10_2015-09-18.csv"
    return prepare(
        "csv", path=str(path), session="SessionId", item="ItemId", time="Time",
        filter_column="Type", keep_values=["view"], test_days=1,
    )  # fmt: skip


def to_frame(sessions, first_id: int) -> pd.DataFrame:
    session = np.repeat(np.arange(sessions.n_sessions), sessions.lengths) + first_id
    return pd.DataFrame({"SessionId": session, "ItemId": sessions.items, "Time": sessions.timestamps})


# ---------------------------------------------------------------------- session-rec
def install_shims() -> None:
    time.clock = time.perf_counter  # removed in Python 3.8; used by session-rec's jaccard
    if not hasattr(np, "in1d"):
        setattr(np, "in1d", np.isin)  # noqa: B010 - a shim for session-rec's code
    for mod in ("pympler", "psutil"):
        if mod not in sys.modules:
            stub = types.ModuleType(mod)
            stub.asizeof = types.SimpleNamespace(asizeof=lambda *a, **k: 0)
            sys.modules[mod] = stub


def sessionrec_class(checkout: Path, model: str):
    rel, cls = SESSIONREC_CLASSES[model]
    spec = importlib.util.spec_from_file_location(f"sessionrec_{model}", checkout / rel)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, cls)


def run_sessionrec(cls, params: dict, train_df: pd.DataFrame, test, first_id: int, n_items: int, limit: int | None):
    """Fit and score with session-rec's class; returns (conservative ranks, fit s, score s)."""
    model = cls(**params)
    t0 = time.perf_counter()
    model.fit(train_df)
    fit_s = time.perf_counter() - t0
    candidates = np.arange(n_items)
    timed = "timestamp" in inspect.signature(model.predict_next).parameters
    ranks, score_s = [], 0.0
    for s in range(test.n_sessions):
        items = test[s]
        times = test.timestamps[test.offsets[s] : test.offsets[s + 1]]
        for t in range(1, len(items)):
            t0 = time.perf_counter()
            extra = {"timestamp": times[t]} if timed else {}
            preds = model.predict_next(first_id + s, items[t - 1], candidates, **extra)
            score_s += time.perf_counter() - t0
            values = np.nan_to_num(np.asarray(preds.reindex(candidates).values, dtype=np.float64), nan=0.0)
            ranks.append(int((values >= values[items[t]]).sum()))
            if limit is not None and len(ranks) >= limit:
                return np.array(ranks), fit_s, score_s
    return np.array(ranks), fit_s, score_s


def run_sessionrec_evaluation(checkout: Path, cls, params: dict, train_df: pd.DataFrame, test, first_id: int,
                              limit: int | None) -> tuple[float, int, tuple[float, float]]:  # fmt: skip
    """session-rec's own evaluation loop (``evaluation.evaluate_sessions`` with ``MRR(20)``, ``HitRate(20)``).

    Per test event it calls ``predict_next`` over every training item, sets NaN scores to 0,
    sorts the scores (``sort_values``) and updates the metrics: the work behind session-rec's
    reported results. Returns (seconds, events evaluated, (HitRate@20, MRR@20)); the metrics
    break ties by pandas' sort order, not conservatively. The backup classes of S-SKNN and
    SF-SKNN take no ``timestamp``, which ``evaluate_sessions`` passes: a wrapper drops it.
    """
    import contextlib
    import io

    if str(checkout) not in sys.path:
        sys.path.insert(0, str(checkout))
    from evaluation import evaluation as sr_eval  # session-rec's module
    from evaluation.metrics import accuracy as sr_acc

    sub = test if limit is None else test.select(np.arange(_sessions_for(test, limit)))
    test_df = to_frame(sub, first_id)
    model = cls(**params)
    model.fit(train_df)
    if "timestamp" not in inspect.signature(model.predict_next).parameters:  # the backup S-SKNN/SF-SKNN classes
        untimed = model.predict_next
        model.predict_next = lambda *a, timestamp=None, **k: untimed(*a, **k)  # evaluate_sessions passes it
    metrics = [sr_acc.HitRate(CUTOFF), sr_acc.MRR(CUTOFF)]
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # its progress lines
        res = sr_eval.evaluate_sessions(model, metrics, test_df, train_df)
    seconds = time.perf_counter() - t0
    return seconds, int((sub.lengths - 1).clip(min=0).sum()), (float(res[0][1]), float(res[1][1]))


# ---------------------------------------------------------------------- ours
def run_ours(model_name: str, params: dict, reference_code: bool, train, test, limit: int | None, sparse: bool = True):
    """Fit and evaluate ours; returns (ranks, fit s, evaluate s, model-only scoring s, cases scored).

    ``sparse``: the evaluator's sparse route (``score_sessions_sparse``), else the dense one.
    """
    from sessrec.evaluation import evaluate
    from sessrec.registry import load_model

    model = load_model(model_name)(**params, reference_code=reference_code)
    t0 = time.perf_counter()
    model.fit(train)
    fit_s = time.perf_counter() - t0
    sub = test if limit is None else test.select(np.arange(_sessions_for(test, limit)))
    t0 = time.perf_counter()
    res = evaluate(model, sub, cutoffs=(CUTOFF,), ties="conservative", keep_ranks=True, use_sparse=sparse)
    eval_s = time.perf_counter() - t0
    ranks = res.ranks.astype(np.int64)
    model_s = model_only_seconds(model, sub, sparse)
    return (ranks if limit is None else ranks[:limit]), fit_s, eval_s, model_s, len(ranks)


def model_only_seconds(model, test, sparse: bool = True) -> float:
    """Seconds of the scoring method alone over the test sessions, in the evaluator's batch size.

    The method is the one the evaluator calls: ``score_sessions_sparse`` (``sparse``, when the
    model has it) or ``score_sessions``.
    """
    from sessrec.data.sessions import PrefixBatch
    from sessrec.evaluation import default_batch_size

    rows = np.maximum(test.lengths - 1, 0)
    eligible = np.flatnonzero(rows > 0)
    budget = default_batch_size(test.n_items)
    cum = np.cumsum(rows[eligible])
    bounds = np.searchsorted(cum, np.arange(budget, cum[-1] + budget, budget), side="right")
    method = model.score_sessions_sparse if sparse and hasattr(model, "score_sessions_sparse") else model.score_sessions
    total, lo = 0.0, 0
    for hi in np.unique(np.minimum(bounds, len(eligible))):  # one batch per evaluator-sized group of sessions
        sess = eligible[lo:hi]
        batch = PrefixBatch.from_ranges(test.items, test.offsets[sess], rows[sess], test.timestamps)
        t0 = time.perf_counter()
        method(batch)
        total += time.perf_counter() - t0
        lo = hi
    return total


def explain(model_name: str, params: dict, train, test, cases: np.ndarray) -> dict[str, int]:
    """Classify differing cases by the tie that explains them (first that applies).

    ``sample_tie``: the candidate pool is larger than ``sample_size`` and the last training
    times at places ``sample_size`` and ``sample_size + 1`` are equal; ``kth_tie``: more than
    ``k`` eligible candidates and the similarities at places ``k`` and ``k + 1`` are equal (to
    1e-12, relative: session-rec sums the weights of shared items in set order);
    ``score_tie``: another item's score equals the target's to 1e-9 (relative) but not exactly
    (sums of the same terms in another order). Anything else is ``unexplained``.
    """
    from sessrec_baselines import _knn_core as core

    from sessrec.data.sessions import PrefixBatch
    from sessrec.registry import load_model

    model = load_model(model_name)(**params, reference_code=True).fit(train)
    sess, pos = test.case_session()[cases], test.case_positions()[cases]
    starts = test.offsets[sess]
    batch = PrefixBatch.from_ranges(test.items, starts, pos - starts, test.timestamps)
    pre = core.prefixes_from_batch(batch, False, model.default_time_, model.n_items_)
    pool = core.candidates(pre, model._prefix_weights(pre), model.index_, 0)
    sim = model._similarity(pre, pool)
    scores = model.score(batch).numpy()
    out = {"sample_tie": 0, "kth_tie": 0, "score_tie": 0, "unexplained": 0}
    size, k = int(model.sample_size), int(model.k)
    for r in range(len(cases)):  # a diagnostic over the few differing cases only
        mine = pool.row == r
        times = model.index_.last_time[pool.rank[mine]]
        if size and len(times) > size and times[size - 1] == times[size]:
            out["sample_tie"] += 1
            continue
        s = sim[mine][:size] if size else sim[mine]
        s = np.sort(s[s > 0] if model.positive_only else s)[::-1]
        if len(s) > k and abs(s[k - 1] - s[k]) <= 1e-12 * abs(s[k - 1]):
            out["kth_tie"] += 1
            continue
        target = scores[r, test.items[pos[r]]]
        near = np.abs(scores[r] - target) <= 1e-9 * abs(target)
        if (near & (scores[r] != target)).any():
            out["score_tie"] += 1
            continue
        out["unexplained"] += 1
    return out


def _sessions_for(test, limit: int) -> int:
    cum = np.cumsum(np.maximum(test.lengths - 1, 0))
    return min(int(np.searchsorted(cum, limit) + 1), test.n_sessions)  # a limit above the split's cases: all


def metrics(ranks: np.ndarray) -> tuple[float, float]:
    hit = ranks <= CUTOFF
    return float(hit.mean()), float(np.where(hit, 1.0 / ranks, 0.0).mean())


# ---------------------------------------------------------------------- main
def compare(args: argparse.Namespace) -> list[dict]:
    install_shims()
    torch.set_num_threads(args.threads)
    rows = []
    for ds in args.datasets:
        split = load_split(ds)
        train, test = split.train, split.test
        train_df = to_frame(train, 0)
        first_id = train.n_sessions + 1
        print(
            f"# {ds}: {train.n_sessions} train sessions, {test.n_cases} test cases, {train.n_items} items", flush=True
        )
        for model_name, label, params in SETTINGS:
            if args.models and model_name not in args.models:
                continue
            if args.match and not any(m in label for m in args.match):
                continue
            row = compare_setting(args, ds, model_name, label, params, train, test, train_df, first_id)
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def compare_setting(args, ds, model_name, label, params, train, test, train_df, first_id) -> dict:
    """Alternate session-rec and ours ``--repeats`` times; ranks from the first round, medians of the times."""
    cls = sessionrec_class(Path(args.sessionrec_dir), model_name)
    keys = ("ref_fit", "ref_score", "fit", "eval", "model", "dense_eval", "dense_model", "ref_eval")
    times: dict[str, list[float]] = {key: [] for key in keys}
    run_ours(model_name, params, True, train, test, 50)  # untimed: loads the compiled kernels (Numba's disk cache)
    for rnd in range(args.repeats):
        ref, ref_fit, ref_score = run_sessionrec(cls, params, train_df, test, first_id, train.n_items, args.limit)
        ours, fit, eval_s, model_s, n_scored = run_ours(model_name, params, True, train, test, args.limit)
        for key, value in zip(keys, (ref_fit, ref_score, fit, eval_s, model_s)):
            times[key].append(value)
        if args.dense:
            dense = run_ours(model_name, params, True, train, test, args.limit, sparse=False)
            if not np.array_equal(dense[0], ours):
                raise AssertionError(f"{model_name} {label}: the dense and sparse routes rank differently")
            times["dense_eval"].append(dense[2])
            times["dense_model"].append(dense[3])
        if args.end_to_end:
            ref_eval_s, ref_events, ref_metrics = run_sessionrec_evaluation(
                Path(args.sessionrec_dir), cls, params, train_df, test, first_id, args.limit
            )
            times["ref_eval"].append(ref_eval_s)
        if rnd == 0:
            first_ref, first_ours = ref, ours
    ref, ours = first_ref, first_ours
    paper = run_ours(model_name, params, False, train, test, args.limit)[0] if not args.no_paper else ours
    row = summarise(ds, model_name, label, ref, ours, paper)
    differ = np.flatnonzero(ref != ours[: len(ref)])
    row.update(explain(model_name, params, train, test, differ) if len(differ) else {})
    med = {key: statistics.median(v) for key, v in times.items() if v}
    row.update(
        ref_fit_s=med["ref_fit"], ref_score_s=med["ref_score"], ref_cases_per_s=len(ref) / med["ref_score"],
        ours_fit_s=med["fit"], ours_eval_s=med["eval"], ours_model_s=med["model"],
        ours_cases_per_s=n_scored / med["eval"], ours_model_cases_per_s=n_scored / med["model"],
        repeats=args.repeats, loadavg=open("/proc/loadavg").read().split()[0],
    )  # fmt: skip
    if args.end_to_end:
        row.update(ref_eval_s=med["ref_eval"], ref_eval_cases_per_s=ref_events / med["ref_eval"],
                   ref_eval_recall=ref_metrics[0], ref_eval_mrr=ref_metrics[1])  # fmt: skip
        row["speedup_end_to_end"] = row["ours_cases_per_s"] / row["ref_eval_cases_per_s"]
    row["speedup"] = row["ours_cases_per_s"] / row["ref_cases_per_s"]
    row["speedup_model"] = row["ours_model_cases_per_s"] / row["ref_cases_per_s"]
    if args.dense:
        row.update(
            dense_eval_s=med["dense_eval"], dense_model_s=med["dense_model"],
            dense_cases_per_s=n_scored / med["dense_eval"], dense_model_cases_per_s=n_scored / med["dense_model"],
        )  # fmt: skip
        row["dense_speedup"] = row["dense_cases_per_s"] / row["ref_cases_per_s"]
        row["dense_speedup_model"] = row["dense_model_cases_per_s"] / row["ref_cases_per_s"]
    return row


def summarise(ds: str, model: str, label: str, ref: np.ndarray, ours: np.ndarray, paper: np.ndarray) -> dict:
    n = min(len(ref), len(ours))
    ref, ours, paper = ref[:n], ours[:n], paper[:n]
    r_ref, m_ref = metrics(ref)
    r_our, m_our = metrics(ours)
    r_pap, m_pap = metrics(paper)
    differ = ref != ours
    in_top = (ref <= CUTOFF) | (ours <= CUTOFF)
    return dict(
        dataset=ds, model=model, setting=label, cases=n,
        equal_ranks=float(1 - differ.mean()), differ=int(differ.sum()), differ_top20=int((differ & in_top).sum()),
        ref_recall=r_ref, ref_mrr=m_ref, ours_recall=r_our, ours_mrr=m_our,
        d_recall=r_our - r_ref, d_mrr=m_our - m_ref, paper_recall=r_pap, paper_mrr=m_pap,
    )  # fmt: skip


def render(rows: list[dict]) -> str:
    out = [
        "| dataset | model | setting | cases | equal ranks | differ (top-20) | tie at sample / k-th / score, "
        "unexplained | session-rec R@20 / MRR@20 "
        "| ours (code) R@20 / MRR@20 | ΔR / ΔMRR | ours (paper) R@20 / MRR@20 |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['dataset']} | {r['model']} | {r['setting']} | {r['cases']} | {r['equal_ranks']:.4f} "
            f"| {r['differ']} ({r['differ_top20']}) | {r.get('sample_tie', 0)} / {r.get('kth_tie', 0)} / "
            f"{r.get('score_tie', 0)}, {r.get('unexplained', 0)} | {r['ref_recall']:.4f} / {r['ref_mrr']:.4f} "
            f"| {r['ours_recall']:.4f} / {r['ours_mrr']:.4f} | {r['d_recall']:+.5f} / {r['d_mrr']:+.5f} "
            f"| {r['paper_recall']:.4f} / {r['paper_mrr']:.4f} |"
        )
    out += ["", "| dataset | model | setting | session-rec fit s | ours fit s | session-rec cases/s "
            "| ours cases/s (model) | ours cases/s (with evaluator) | speed-up model / with evaluator | load |",
            "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        out.append(
            f"| {r['dataset']} | {r['model']} | {r['setting']} | {r['ref_fit_s']:.2f} | {r['ours_fit_s']:.2f} "
            f"| {r['ref_cases_per_s']:,.0f} | {r.get('ours_model_cases_per_s', float('nan')):,.0f} "
            f"| {r['ours_cases_per_s']:,.0f} | {r.get('speedup_model', float('nan')):.0f}x / {r['speedup']:.0f}x "
            f"| {r['loadavg']} |"
        )
    both = [r for r in rows if "ref_eval_cases_per_s" in r]
    if both:
        out += ["", "End to end, each tool's own evaluation loop (session-rec: `evaluate_sessions`, predict + sort + "
                "metrics per event; ours: `evaluate`, scores + ranks + metrics):", "",
                "| dataset | model | setting | session-rec cases/s | ours cases/s | speed-up "
                "| session-rec HitRate@20 / MRR@20 (its tie order) | load |",
                "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in both:
        out.append(
            f"| {r['dataset']} | {r['model']} | {r['setting']} | {r['ref_eval_cases_per_s']:,.0f} "
            f"| {r['ours_cases_per_s']:,.0f} | {r['speedup_end_to_end']:.0f}x "
            f"| {r['ref_eval_recall']:.4f} / {r['ref_eval_mrr']:.4f} | {r['loadavg']} |"
        )
    dense = [r for r in rows if "dense_cases_per_s" in r]
    if dense:
        out += [
            "",
            "| dataset | model | setting | session-rec cases/s | dense route: model / with evaluator cases/s "
            "| sparse route: model / with evaluator cases/s | speed-up dense: model / with evaluator "
            "| speed-up sparse: model / with evaluator | load |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
    for r in dense:
        out.append(
            f"| {r['dataset']} | {r['model']} | {r['setting']} | {r['ref_cases_per_s']:,.0f} "
            f"| {r['dense_model_cases_per_s']:,.0f} / {r['dense_cases_per_s']:,.0f} "
            f"| {r['ours_model_cases_per_s']:,.0f} / {r['ours_cases_per_s']:,.0f} "
            f"| {r['dense_speedup_model']:.0f}x / {r['dense_speedup']:.0f}x "
            f"| {r['speedup_model']:.0f}x / {r['speedup']:.0f}x | {r['loadavg']} |"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessionrec-dir", required=True, help="checkout of rn5l/session-rec")
    ap.add_argument(
        "--datasets", nargs="+", default=["diginetica", "retailrocket"], choices=["diginetica", "retailrocket"]
    )
    ap.add_argument("--models", nargs="*", default=None, help="subset of sknn vsknn ssknn sfsknn stan vstan")
    ap.add_argument("--limit", type=int, default=None, help="score only the first N test cases (quick checks)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=1, help="alternate the two implementations this many times")
    ap.add_argument("--match", nargs="*", default=None, help="only settings whose label contains one of these")
    ap.add_argument("--no-paper", action="store_true", help="skip our default (paper) mode")
    ap.add_argument("--dense", action="store_true", help="also time our dense route, alternating in the same rounds")
    ap.add_argument(
        "--end-to-end",
        action="store_true",
        help="also time session-rec's own evaluation loop (evaluate_sessions), alternating in the rounds",
    )
    ap.add_argument("--out", default=None, help="write the rows as JSON here")
    args = ap.parse_args(argv)
    print(f"# {platform.platform()}, python {platform.python_version()}, torch threads {args.threads}")
    rows = compare(args)
    print(render(rows))
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
