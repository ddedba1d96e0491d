"""GRU4Rec on a YOOCHOOSE-1/64-shaped log, before and after scoring untrained items ``-inf``.

Under ``yoochoose-1-64`` the catalogue is the full training split's while only the most
recent 1/64 of the training cases is kept, so most catalogue items have no training click.
Before the fix GRU4Rec ranked those items with their random initial output vectors; now it
scores them ``-inf`` (the official code never ranks an item it has no training click for).

The log is synthetic (``prepare("synthetic", ..., train_fraction="1/64")``: the ``narm``
protocol's 1/64 rule on a generated log), so the run needs no raw data. The model is fitted
once with the official Yoochoose cross-entropy parameters (``sample_alpha > 0``, so the
negatives are the same before and after: zero-count items had weight ``0 ** alpha = 0``);
"before" evaluates the same network with the mask removed. Full ranking, conservative ties.

Run from the repository root::

    python tests/perf/gru4rec_untrained_items.py --threads 1
    python tests/perf/gru4rec_untrained_items.py --seeds 0,1,2 --epochs 3 --test-sessions 3000

Prints one row per seed and rule: Recall@20, Recall@100, MRR@20, the mean rank of the target
(1 = first) over all test cases and over the cases whose target has a training click.
Measured results: ``gru4rec_untrained_items_results.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np
import torch
from sessrec_baselines.gru4rec import GRU4Rec

from sessrec.data import prepare
from sessrec.evaluation import evaluate


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--n-sessions", type=int, default=256_000)
    ap.add_argument("--n-items", type=int, default=30_000)
    ap.add_argument("--test-sessions", type=int, default=2_000, help="first N test sessions (0: all)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    ds = prepare("synthetic", n_sessions=args.n_sessions, n_items=args.n_items, train_fraction="1/64", cache=False)
    train, test = ds.train, ds.test
    if args.test_sessions:
        test = test.select(np.arange(min(args.test_sessions, test.n_sessions)))
    trained = train.item_counts() > 0
    targets_trained = trained[test.case_targets()]
    print(
        f"# data: synthetic, narm protocol, train_fraction 1/64 ({time.perf_counter() - t0:.0f} s): "
        f"{train.n_items} catalogue items, {int((~trained).sum())} without a training click; "
        f"{train.n_cases} training cases; {test.n_cases} test cases, {int((~targets_trained).sum())} "
        "with an untrained target"
    )
    print(
        f"# host: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
        f"{args.threads} threads, load average {os.getloadavg()[0]:.2f}; GRU4Rec yoochoose-xe, {args.epochs} epochs"
    )
    print("| seed | rule | R@20 | R@100 | MRR@20 | mean target rank (all) | mean rank (trained targets) |")
    print("|---|---|---|---|---|---|---|")
    for seed in [int(s) for s in args.seeds.split(",")]:
        model = GRU4Rec.from_paramfile("yoochoose-xe", epochs=args.epochs, device="cpu", random_state=seed)
        model.fit(train)
        mask = model.untrained_items_
        for rule, untrained in (("before: untrained items keep their random vectors", np.zeros(0, np.int64)),
                                ("after: untrained items score -inf", mask)):  # fmt: skip
            model.untrained_items_ = untrained
            res = evaluate(model, test, cutoffs=(20, 100), ties="conservative")
            ranks = res.ranks.astype(np.float64)
            m = res.metrics
            print(
                f"| {seed} | {rule} | {m['recall@20']:.4f} | {m['recall@100']:.4f} | {m['mrr@20']:.4f} | "
                f"{ranks.mean():.0f} | {ranks[targets_trained].mean():.0f} |",
                flush=True,
            )
        model.untrained_items_ = mask
    print(f"# load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    sys.exit(main())
