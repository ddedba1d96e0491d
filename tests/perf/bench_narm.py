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

import os
import statistics
import time

import numpy as np
from _common import eval_probe, synthetic_parser, synthetic_split
from sessrec_baselines.narm import NARM


def main() -> None:
    ap = synthetic_parser(
        __doc__, fraction=0.03, fraction_help="share of training sessions timed per repeat", eval_cases=5_000, threads=2
    )
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--modes", default="sessions,prefixes")
    args = ap.parse_args()
    train, test_part = synthetic_split(args)
    rng = np.random.default_rng(0)

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
        cases_s, rss, cuda_peak = eval_probe(model, test_part, args.device)
        print(
            f"| {mode} | {statistics.median(walls):.1f} | {statistics.median(cpus):.1f} | "
            f"{cases_s:,.0f} | {rss:.2f} | {cuda_peak:.2f} |",
            flush=True,
        )
    print(f"# load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
