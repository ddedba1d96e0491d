"""Session-kNN at scale: fit and score with a synthetic training log of one million sessions.

Sessions have 2-10 clicks on a Zipf-popular catalogue (so a few items occur in hundreds of
thousands of sessions, as in YOOCHOOSE), times increase with the session index. The script
fits each model, scores ``--cases`` test cases through ``score_sessions`` in the evaluator's
batch size, and prints fit seconds, cases/s and the peak resident memory of the process::

    python tests/perf/knn_memory.py --sessions 1000000 --items 50000 --cases 3000

The memory bound comes from the design: each item's session list is truncated to
``sample_size`` in ``fit``, and scoring is chunked so that no per-chunk array exceeds
``_knn_core.CHUNK_ENTRIES`` entries besides the dense (batch, n_items) score block itself.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import torch

from sessrec.data.sessions import PrefixBatch, Sessions
from sessrec.evaluation import default_batch_size
from sessrec.registry import load_model

SETTINGS = [
    ("sknn", dict(k=100, sample_size=500)),
    ("vsknn", dict(k=500, sample_size=5000, weighting="quadratic", weighting_score="div", idf_weighting=5)),
    ("stan", dict(k=500, sample_size=10000, lambda_spw=1.225, lambda_snh=20, lambda_inh=4.9)),
    ("vstan", dict(k=1500, sample_size=5000, lambda_spw=4.9, lambda_snh=40, lambda_inh=4.9, lambda_ipw=1.225)),
]


def synthetic(n_sessions: int, n_items: int, seed: int) -> Sessions:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, 11, size=n_sessions)
    items = np.minimum(rng.zipf(1.3, size=int(lengths.sum())) - 1, n_items - 1)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    session = np.repeat(np.arange(n_sessions), lengths)
    times = session * 60.0 + (np.arange(len(items)) - offsets[session]) * 5.0
    return Sessions(items, offsets, times, n_items)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def score_cases(model, test: Sessions, n_cases: int) -> tuple[float, int]:
    rows = np.maximum(test.lengths - 1, 0)
    budget = default_batch_size(test.n_items)
    done, seconds, s = 0, 0.0, 0
    while done < n_cases and s < test.n_sessions:  # one iteration per evaluator-sized batch
        cum = np.cumsum(rows[s:])
        end = s + max(1, int(np.searchsorted(cum, budget, side="right")))
        sess = np.arange(s, end)
        batch = PrefixBatch.from_ranges(test.items, test.offsets[sess], rows[sess], test.timestamps)
        t0 = time.perf_counter()
        model.score_sessions(batch)
        seconds += time.perf_counter() - t0
        done += int(rows[sess].sum())
        s = end
    return seconds, done


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=1_000_000)
    ap.add_argument("--items", type=int, default=50_000)
    ap.add_argument("--cases", type=int, default=3000)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    train = synthetic(args.sessions, args.items, 0)
    test = synthetic(2000, args.items, 1)
    test = Sessions(test.items, test.offsets, test.timestamps + train.timestamps.max(), args.items)
    print(
        f"train: {train}; peak RSS after building it {peak_rss_mib():,.0f} MiB; load {open('/proc/loadavg').read()[:5]}"
    )
    print("| model | parameters | fit s | cases | cases/s | peak RSS MiB |\n|---|---|---|---|---|---|")
    for name, params in SETTINGS:
        model = load_model(name)(**params)
        t0 = time.perf_counter()
        model.fit(train)
        fit_s = time.perf_counter() - t0
        seconds, done = score_cases(model, test, args.cases)
        print(
            f"| {name} | {params} | {fit_s:.1f} | {done} | {done / seconds:,.0f} | {peak_rss_mib():,.0f} |", flush=True
        )
        del model


if __name__ == "__main__":
    main()
