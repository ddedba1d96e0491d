"""Evaluator throughput against the bare matmul + rank lower bound (full ranking).

Usage::

    python tests/perf/bench_evaluator.py                 # 40,000 items, d=100, ~4,000 cases
    python tests/perf/bench_evaluator.py --runs 7 --threads 2 --device cpu

The model is a factor model: a prefix is embedded as its last click's input vector and the
scores are ``prefix_embedding @ item_matrix.T`` over all ``n_items`` items. Rows:

``bound``
    The least any full-ranking evaluator must do: the matmul producing the score chunk
    (into a reused buffer, prefix embeddings precomputed) and the conservative rank
    ``sum(scores >= target_score, dim=1)`` — nothing else (no metrics, no top lists, no
    validation, no batching of sessions).
``evaluate (fast path)``
    ``sessrec.evaluation.evaluate`` with cutoffs 5, 10, 20, every metric (recall, MRR, NDCG,
    coverage, popularity), per-case ranks kept, scores from ``score_sessions``.
``evaluate (per prefix)``
    The same through ``model.score`` on padded prefix batches.

Two more rows explain the gap between the bound and the evaluator: the bound with the
score chunk allocated afresh each time (as any model's ``score`` returns a new tensor, and
large fresh allocations cost page faults) and, on top, the ``torch.topk`` pass that the
top-K lists for coverage and popularity need.

Both use the evaluator's default chunk size for the catalogue. Each row reports the
median (and min/max) over ``--runs`` timed runs after one warm-up, runs interleaved so
background load hits all rows alike. The ratio is bound throughput / evaluator throughput
(the goal: <= 2).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from sessrec import PrefixBatch, Sessions
from sessrec.evaluation import default_batch_size, evaluate
from sessrec.runner import cpu_name


class FactorModel:
    """Scores = input vector of the prefix's last click @ item matrix^T."""

    def __init__(self, n_items: int, dim: int, seed: int, device: torch.device) -> None:
        g = torch.Generator().manual_seed(seed)
        self.inputs = (torch.randn(n_items, dim, generator=g) / dim**0.5).to(device)
        self.item_matrix = torch.randn(n_items, dim, generator=g).to(device)
        self.n_items_ = n_items
        self.device_ = device

    def score(self, batch: PrefixBatch) -> torch.Tensor:
        return self.inputs[batch.last_items] @ self.item_matrix.T

    def score_sessions(self, batch: PrefixBatch) -> torch.Tensor:
        return self.inputs[batch.items[batch.mask]] @ self.item_matrix.T


def make_test(n_items: int, n_sessions: int, seed: int) -> tuple[Sessions, np.ndarray]:
    """Random sessions (lengths 2 + geometric, mean ~5, at most 40) and Zipf-like popularity."""
    rng = np.random.default_rng(seed)
    lengths = np.minimum(2 + rng.geometric(0.3, size=n_sessions) - 1, 40)
    popularity = rng.zipf(1.3, size=n_items).clip(max=10**6).astype(np.int64)
    items = rng.integers(0, n_items, size=int(lengths.sum()))
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    return Sessions(items, offsets, np.arange(len(items), dtype=np.float64), n_items), popularity


def bound_ranks(
    model: FactorModel, queries: torch.Tensor, targets: torch.Tensor, batch: int, *, reuse: bool = True, top: int = 0
) -> torch.Tensor:
    """matmul + conservative rank per chunk, fewest ops.

    ``reuse``: write scores into one reused buffer (the bound) or allocate them afresh per
    chunk, as a model's ``score`` does. ``top > 0`` adds ``torch.topk(scores, top + 1)`` (the
    top lists coverage and popularity need). The last two exist only to explain the gap.
    """
    n = len(targets)
    out = torch.empty(n, dtype=torch.int32, device=queries.device)
    buffer = torch.empty((min(batch, n), model.n_items_), device=queries.device) if reuse else None
    item_t = model.item_matrix.T
    for lo in range(0, n, batch):
        q = queries[lo : lo + batch]
        s = torch.mm(q, item_t, out=buffer[: len(q)]) if buffer is not None else q @ item_t
        out[lo : lo + batch] = torch.sum(s >= s.gather(1, targets[lo : lo + batch, None]), dim=1, dtype=torch.int32)
        if top:
            torch.topk(s, top + 1, dim=1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=40_000)
    ap.add_argument("--dim", type=int, default=100)
    ap.add_argument("--sessions", type=int, default=1_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch-size", type=int, default=None, help="rows per chunk (default: the evaluator's)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    sync: Callable[[], None] = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    model = FactorModel(args.items, args.dim, seed=0, device=device)
    test, popularity = make_test(args.items, args.sessions, seed=1)
    batch = args.batch_size or default_batch_size(args.items)
    n_cases = test.n_cases

    last_clicks = torch.from_numpy(test.items[test.case_positions() - 1]).to(device)
    queries = model.inputs[last_clicks].contiguous()  # precomputed: not part of the bound
    targets = torch.from_numpy(test.case_targets()).to(device)

    def run_bound(reuse: bool = True, top: int = 0) -> Callable[[], np.ndarray]:
        def go() -> np.ndarray:
            r = bound_ranks(model, queries, targets, batch, reuse=reuse, top=top)
            sync()
            return r.cpu().numpy()

        return go

    def run_eval(fast: bool) -> Callable[[], np.ndarray]:
        def go() -> np.ndarray:
            res = evaluate(
                model, test, cutoffs=(5, 10, 20), item_popularity=popularity, use_fast_path=fast, batch_size=batch
            )
            sync()
            assert res.ranks is not None
            return res.ranks

        return go

    rows = {
        "bound (matmul + rank)": run_bound(),
        "  + fresh score allocation": run_bound(reuse=False),
        "  + fresh allocation + topk(21)": run_bound(reuse=False, top=20),
        "evaluate (fast path)": run_eval(True),
        "evaluate (per prefix)": run_eval(False),
    }
    ranks = {name: fn() for name, fn in rows.items()}  # warm-up, and the ranks to compare
    times: dict[str, list[float]] = {name: [] for name in rows}
    for _ in range(args.runs):
        for name, fn in rows.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)

    base = ranks["bound (matmul + rank)"]
    print(f"# Evaluator throughput, full ranking over {args.items:,} items (d={args.dim} factor model)")
    print()
    print(f"hardware : {cpu_name()}, {os.cpu_count()} logical CPUs, torch.get_num_threads()={torch.get_num_threads()}")
    if device.type == "cuda":
        print(f"device   : {torch.cuda.get_device_name(device)}")
    print(f"software : torch {torch.__version__}, numpy {np.__version__}, python {platform.python_version()}")
    print(f"load avg : {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1/5/15 min, at the end)")
    print(f"workload : {test.n_sessions:,} sessions, {n_cases:,} test cases, chunk {batch:,} rows, {args.runs} runs")
    print()
    print("| method | cases/s (median) | min | max | time/run (s) | bound / method | ranks = bound |")
    print("|---|---|---|---|---|---|---|")
    bound_rate = n_cases / statistics.median(times["bound (matmul + rank)"])
    for name, ts in times.items():
        med = statistics.median(ts)
        rate = n_cases / med
        same = "yes" if np.array_equal(ranks[name], base) else f"{int((ranks[name] != base).sum())} differ"
        print(
            f"| {name} | {rate:,.0f} | {n_cases / max(ts):,.0f} | {n_cases / min(ts):,.0f} | {med:.3f} | "
            f"{bound_rate / rate:.2f}x | {same} |"
        )


if __name__ == "__main__":
    main()
