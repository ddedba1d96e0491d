"""STAMP, SASRec and CORE throughput on a SYNTHETIC log of DIGINETICA size (about 1 M clicks, 43 k items).

Run from the repository root::

    python tests/perf/bench_attn.py --threads 1
    python tests/perf/bench_attn.py --models sasrec,coretrm --fraction 0.1 --device cuda

Seconds per epoch are extrapolated: one epoch is trained on a random ``--fraction`` of the
training sessions (the catalogue stays the full 43 k items, so the cost per case is the real
one: the full-softmax loss dominates) and the time is divided by the share of training cases
it covered. Evaluation: the common evaluator (``score_sessions`` fast path, full ranking) over
up to ``--eval-cases`` test cases, as cases per second. Peak memory: the process's peak RSS
after that model (and the CUDA peak on a GPU). Models run with their default parameters.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time

import numpy as np
import torch
from sessrec_baselines.core import CORE
from sessrec_baselines.sasrec import SASRec
from sessrec_baselines.stamp import STAMP

from sessrec.data import prepare
from sessrec.evaluation import evaluate

MODELS = {
    "stamp": (STAMP, {}),
    "sasrec": (SASRec, {}),
    "coretrm": (CORE, {"variant": "trm"}),
    "coreave": (CORE, {"variant": "ave"}),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-sessions", type=int, default=200_000)
    ap.add_argument("--n-items", type=int, default=43_000)
    ap.add_argument("--fraction", type=float, default=0.02, help="share of training sessions timed")
    ap.add_argument("--eval-cases", type=int, default=3_000)
    ap.add_argument("--models", default="stamp,sasrec,coretrm,coreave")
    ap.add_argument("--training", default="sessions", choices=["sessions", "prefixes"])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    ds = prepare("synthetic", n_sessions=args.n_sessions, n_items=args.n_items)
    train, test = ds.train, ds.test
    print(
        f"# synthetic: {train.n_clicks + test.n_clicks:,} clicks, {train.n_items:,} items, "
        f"{train.n_cases:,} train cases, {test.n_cases:,} test cases"
    )
    print(
        f"# host: {platform.node()}, {os.cpu_count()} CPUs, torch {torch.__version__}, {args.threads} threads, "
        f"device {args.device}, training={args.training}, load average {os.getloadavg()[0]:.2f}"
    )
    rng = np.random.default_rng(0)
    n_eval_sessions = int(np.searchsorted(np.cumsum(test.lengths - 1), args.eval_cases)) + 1
    test_part = test.select(np.arange(min(n_eval_sessions, test.n_sessions)))
    chosen = np.sort(rng.choice(train.n_sessions, int(train.n_sessions * args.fraction), replace=False))
    part = train.select(chosen)
    share = part.n_cases / train.n_cases
    print("| model | s/epoch (extrapolated) | CPU s/epoch | eval cases/s | peak RSS GB | CUDA peak GB | load |")
    print("|---|---|---|---|---|---|---|")
    for name in args.models.split(","):
        cls, kw = MODELS[name]
        model = cls(**kw, epochs=1, training=args.training, device=args.device, random_state=0)
        c0 = time.process_time()
        model.fit(part)
        cpu = (time.process_time() - c0) / share
        wall = model.history_[0]["seconds"] / share
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        res = evaluate(model, test_part, cutoffs=(20,), keep_ranks=False)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
        cuda_peak = torch.cuda.max_memory_allocated() / 1024**3 if args.device.startswith("cuda") else float("nan")
        print(
            f"| {name} | {wall:.0f} | {cpu:.0f} | {res.n_cases / res.seconds:,.0f} | {rss:.2f} | {cuda_peak:.2f} | "
            f"{os.getloadavg()[0]:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
