"""NARM throughput on a SYNTHETIC log of DIGINETICA size (about 1 M clicks, 43 k items).

Run from the repository root::

    python tests/perf/bench_narm.py                       # defaults below, both training modes
    python tests/perf/bench_narm.py --fraction 0.1 --repeats 3 --device cuda

Seconds per epoch are extrapolated: one epoch is trained on a random ``--fraction`` of the
training sessions (the catalogue stays the full 43 k items, so the cost per case is the real
one) and the time is divided by the fraction of training cases it covered; this is the
median over ``--repeats`` runs. Evaluation: the common evaluator (``score_sessions`` fast
path, full ranking, conservative ties) over up to ``--eval-cases`` test cases, reported as
cases per second. Peak memory is the process's peak RSS (and the CUDA peak on a GPU).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import time

import numpy as np
import torch
from sessrec_baselines.narm import NARM

from sessrec.data import prepare
from sessrec.evaluation import evaluate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-sessions", type=int, default=200_000)
    ap.add_argument("--n-items", type=int, default=43_000)
    ap.add_argument("--fraction", type=float, default=0.03, help="share of training sessions timed per repeat")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--eval-cases", type=int, default=5_000)
    ap.add_argument("--modes", default="sessions,prefixes")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    ds = prepare("synthetic", n_sessions=args.n_sessions, n_items=args.n_items)
    train, test = ds.train, ds.test
    print(
        f"# synthetic: {train.n_clicks + test.n_clicks:,} clicks, {train.n_items:,} items, "
        f"{train.n_cases:,} train cases, {test.n_cases:,} test cases"
    )
    print(
        f"# host: {platform.node()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
        f"{args.threads} threads, device {args.device}, load average {os.getloadavg()[0]:.2f}"
    )
    rng = np.random.default_rng(0)
    n_eval_sessions = int(np.searchsorted(np.cumsum(test.lengths - 1), args.eval_cases)) + 1
    test_part = test.select(np.arange(min(n_eval_sessions, test.n_sessions)))

    print("| training | s/epoch (extrapolated, median) | CPU s/epoch | eval cases/s | peak RSS GB | CUDA peak GB |")
    print("|---|---|---|---|---|---|")
    for mode in args.modes.split(","):
        walls, cpus = [], []
        model = None
        for _ in range(args.repeats):
            chosen = np.sort(rng.choice(train.n_sessions, int(train.n_sessions * args.fraction), replace=False))
            part = train.select(chosen)
            share = part.n_cases / train.n_cases
            model = NARM(epochs=1, training=mode, valid_split=None, device=args.device, random_state=0)
            c0 = time.process_time()
            model.fit(part)
            cpus.append((time.process_time() - c0) / share)
            walls.append(model.history_[0]["seconds"] / share)
        assert model is not None
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        res = evaluate(model, test_part, cutoffs=(20,), keep_ranks=False)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
        cuda_peak = torch.cuda.max_memory_allocated() / 1024**3 if args.device.startswith("cuda") else float("nan")
        print(
            f"| {mode} | {statistics.median(walls):.1f} | {statistics.median(cpus):.1f} | "
            f"{res.n_cases / res.seconds:,.0f} | {rss:.2f} | {cuda_peak:.2f} |",
            flush=True,
        )
    print(f"# load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
