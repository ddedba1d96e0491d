"""STAMP, SASRec and CORE throughput on a SYNTHETIC log of DIGINETICA size (about 1 M clicks, 43 k items).

Run from the repository root::

    python tests/perf/bench_attn.py --threads 1
    python tests/perf/bench_attn.py --models sasrec,coretrm --fraction 0.1 --device cuda --epochs 3 [--amp]

Seconds per epoch are extrapolated: one epoch is trained on a random ``--fraction`` of the
training sessions (the catalogue stays the full 43 k items, so the cost per case is the real
one: the full-softmax loss dominates) and the time is divided by the share of training cases
it covered; with ``--epochs N`` > 1 the median of epochs 2..N (the first one pays a GPU's
warm-up). ``--amp``: bfloat16 mixed-precision training (CUDA only). Evaluation: the common
evaluator (``score_sessions`` fast path, full ranking) over up to ``--eval-cases`` test cases,
as cases per second. Peak memory: the process's peak RSS
after that model (and that model's CUDA peak on a GPU). Models run with their default parameters.
"""

from __future__ import annotations

import os
import time

import numpy as np
import torch
from _common import eval_probe, synthetic_parser, synthetic_split
from sessrec_baselines.core import CORE
from sessrec_baselines.sasrec import SASRec
from sessrec_baselines.stamp import STAMP

MODELS = {
    "stamp": (STAMP, {}),
    "sasrec": (SASRec, {}),
    "coretrm": (CORE, {"variant": "trm"}),
    "coreave": (CORE, {"variant": "ave"}),
}


def main() -> None:
    ap = synthetic_parser(
        __doc__, fraction=0.02, fraction_help="share of training sessions timed", eval_cases=3_000, threads=1
    )
    ap.add_argument("--models", default="stamp,sasrec,coretrm,coreave")
    ap.add_argument("--training", default="sessions", choices=["sessions", "prefixes"])
    ap.add_argument("--epochs", type=int, default=1, help="epochs trained; > 1: median of all but the first")
    ap.add_argument("--amp", action="store_true", help="bfloat16 mixed-precision training (CUDA)")
    args = ap.parse_args()
    train, test_part = synthetic_split(args, f", training={args.training}")
    rng = np.random.default_rng(0)
    chosen = np.sort(rng.choice(train.n_sessions, int(train.n_sessions * args.fraction), replace=False))
    part = train.select(chosen)
    share = part.n_cases / train.n_cases
    print(f"# device {args.device}, amp {args.amp}, epochs {args.epochs}, fraction {args.fraction}")
    print("| model | s/epoch (extrapolated) | CPU s/epoch | eval cases/s | peak RSS GB | CUDA peak GB | load |")
    print("|---|---|---|---|---|---|---|")
    for name in args.models.split(","):
        cls, kw = MODELS[name]
        model = cls(**kw, epochs=args.epochs, training=args.training, amp=args.amp, device=args.device, random_state=0)
        if args.device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        c0 = time.process_time()
        model.fit(part)
        cpu = (time.process_time() - c0) / share / args.epochs
        timed = [h["seconds"] for h in model.history_[1:]] or [model.history_[0]["seconds"]]
        wall = float(np.median(timed)) / share
        cases_s, rss, cuda_peak = eval_probe(model, test_part, args.device)
        print(
            f"| {name} | {wall:.0f} | {cpu:.0f} | {cases_s:,.0f} | {rss:.2f} | {cuda_peak:.2f} | "
            f"{os.getloadavg()[0]:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
