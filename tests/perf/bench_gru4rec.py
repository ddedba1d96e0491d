"""GRU4Rec speed and memory at full DIGINETICA size (synthetic log).

Data: ``prepare("synthetic", n_sessions=230_000, n_items=80_000)``, narm protocol (test = last
3 of 30 days): ≈ 43.5 k items and ≈ 1.06 M clicks after filtering, the size of DIGINETICA in
the NARM paper's Table 1 (43,097 items, 982,961 clicks); see ``bench_baselines.py``.

Model: the official Diginetica BPR-max parameters (``GRU4Rec.from_paramfile("diginetica-bprmax")``:
512 units, batch 128, 2048 shared negatives, shared embedding), so the output matrix is
43.5 k x 512.

Run from the repository root::

    python tests/perf/bench_gru4rec.py                       # 5% of an epoch, extrapolated
    python tests/perf/bench_gru4rec.py --fraction 1 --threads 2   # a whole epoch (quiet machine)

What is measured:

``s/epoch``
    A GRU4Rec epoch costs the same per training event whatever the session subset (every step
    touches batch inputs + targets + 2048 negatives of the full catalogue), so one epoch is
    trained on the first ``--fraction`` of the training sessions (time order) over the *full*
    catalogue and its seconds are scaled by ``all train events / subset events``. The printed
    line says which fraction was run. ``--fraction 1`` runs the whole epoch.
``events/s``
    training events (next-item cases) per second in that epoch.
``eval cases/s``
    ``sessrec.evaluation.evaluate`` (full ranking over all items, conservative ties, cutoffs
    5/10/20) on the first ``--eval-sessions`` test sessions, through ``score_sessions``.
``peak RSS``
    of the whole process (data + model + optimizer state + sample cache).

Threads: ``--threads 1`` by default; on the shared 2-core machine torch's OpenMP workers with
2 threads mostly wait at barriers (see ``bench_baselines.py``). Use 2 on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time

import numpy as np
import torch
from sessrec_baselines.gru4rec import GRU4Rec

from sessrec.data import prepare
from sessrec.evaluation import evaluate


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fraction", type=float, default=0.05, help="share of the training sessions trained")
    ap.add_argument("--eval-sessions", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--n-sessions", type=int, default=230_000)
    ap.add_argument("--n-items", type=int, default=80_000)
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    t0 = time.perf_counter()
    ds = prepare("synthetic", data_root=args.data_root, n_sessions=args.n_sessions, n_items=args.n_items)
    train, test = ds.train, ds.test
    print(
        f"# data: synthetic {args.n_sessions:,} sessions / {args.n_items:,} generated items -> {train.n_items:,} "
        f"items, {train.n_clicks:,} train clicks ({train.n_cases:,} events), {test.n_cases:,} test cases "
        f"({time.perf_counter() - t0:.1f} s)"
    )
    print(
        f"# host: {platform.node()} {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"torch {torch.__version__}, {args.threads} threads, device {args.device}, "
        f"load average {os.getloadavg()[0]:.2f}"
    )

    n_sub = max(1, round(args.fraction * train.n_sessions))
    sub = train.select(np.arange(n_sub)) if n_sub < train.n_sessions else train
    model = GRU4Rec.from_paramfile("diginetica-bprmax", epochs=1, device=args.device, random_state=args.seed)
    t1 = time.perf_counter()
    model.fit(sub)
    fit_s = time.perf_counter() - t1
    epoch_s = float(model.history_[0]["seconds"])
    events_s = sub.n_cases / epoch_s
    full_epoch = epoch_s * train.n_cases / sub.n_cases
    print(
        f"# trained 1 epoch on {n_sub:,} of {train.n_sessions:,} sessions ({sub.n_cases:,} of {train.n_cases:,} "
        f"events): {epoch_s:.1f} s (fit incl. setup {fit_s:.1f} s)"
    )

    n_eval = min(args.eval_sessions, test.n_sessions)
    part = test.select(np.arange(n_eval))
    res = evaluate(model, part, cutoffs=(5, 10, 20), ties="conservative", keep_ranks=False)
    eval_cps = part.n_cases / float(res.seconds)

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print("| s/epoch (extrapolated from fraction) | events/s | eval cases/s | peak RSS GB | load |")
    print("|---|---|---|---|---|")
    print(
        f"| {full_epoch:.0f} (fraction {sub.n_cases / train.n_cases:.3f}) | {events_s:,.0f} | {eval_cps:,.0f} "
        f"| {peak:.2f} | {os.getloadavg()[0]:.1f} |"
    )
    print(
        f"# eval: {part.n_cases:,} cases in {res.seconds:.2f} s; recall@20 {res.metrics['recall@20']:.4f} "
        f"(after {args.fraction:g} epoch, not a quality figure)"
    )


if __name__ == "__main__":
    sys.exit(main())
