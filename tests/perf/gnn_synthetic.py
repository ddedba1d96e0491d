"""SR-GNN and GCE-GNN at full DIGINETICA size on synthetic data: s/epoch, eval cases/s, peak memory.

Data: ``prepare("synthetic", n_sessions=200_000, n_items=43_000)`` (about 1 M clicks, narm
protocol). One training epoch with the authors' defaults (batch 100) on ``--train-fraction``
of the training sessions (drawn at random; the full epoch's seconds are that time divided by
the fraction, printed as "extrapolated" when the fraction is below 1), then scoring of
``--eval-cases`` test cases in batches of 500. Peak RSS of the process at the end::

    python tests/perf/gnn_synthetic.py --model srgnn --train-fraction 1 --threads 1
    python tests/perf/gnn_synthetic.py --model gcegnn --train-fraction 0.05 --eval-cases 5000
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

import numpy as np
import torch

from sessrec.data import prepare
from sessrec.registry import load_model


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=["srgnn", "gcegnn"], default="srgnn")
    ap.add_argument("--n-sessions", type=int, default=200_000)
    ap.add_argument("--n-items", type=int, default=43_000)
    ap.add_argument("--train-fraction", type=float, default=1.0)
    ap.add_argument("--eval-cases", type=int, default=20_000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data-root", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    ds = prepare("synthetic", n_sessions=args.n_sessions, n_items=args.n_items, data_root=args.data_root)
    train, test = ds.train, ds.test
    rng = np.random.default_rng(0)
    if args.train_fraction < 1.0:
        keep = np.sort(rng.permutation(train.n_sessions)[: max(1, round(train.n_sessions * args.train_fraction))])
        part = train.select(keep)
    else:
        part = train
    print(
        f"# synthetic: {train.n_clicks:,} training clicks, {train.n_cases:,} training cases, {train.n_items:,} items; "
        f"epoch on {part.n_cases:,} cases; {args.threads} thread(s); load {os.getloadavg()[0]:.2f}"
    )
    model = load_model(args.model)(epochs=1, keep="last", device="cpu", random_state=0).fit(part)
    seconds = model.history_[0]["seconds"] * train.n_cases / part.n_cases
    cases = np.sort(rng.permutation(test.n_cases)[: args.eval_cases])
    t0 = time.perf_counter()
    n = 0
    for batch, _ in test.prefix_batches(500, cases=cases):
        model.score(batch)
        n += batch.batch_size
    eval_rate = n / (time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    label = "extrapolated from the fraction" if part.n_cases < train.n_cases else "measured"
    print("| model | s/epoch (full training set) | eval cases/s | peak RSS MiB | load |")
    print("|---|---|---|---|---|")
    print(f"| {args.model} | {seconds:,.0f} ({label}) | {eval_rate:,.0f} | {peak:,.0f} | {os.getloadavg()[0]:.2f} |")


if __name__ == "__main__":
    sys.exit(main())
