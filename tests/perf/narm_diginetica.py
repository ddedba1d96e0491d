"""NARM on the DIGINETICA benchmark split of issue 5: accuracy (3 seeds) and seconds per epoch.

Split: ``train-item-views_combined.csv`` through the ``narm`` protocol with ``test_days=1``
(5,519 items; 33,590 training and 4,804 test cases). Full ranking, conservative ties.

Run from the repository root::

    python tests/perf/narm_diginetica.py --seeds 0,1,2 --epochs 30
    python tests/perf/narm_diginetica.py --seeds 0,1,2 --training prefixes
    python tests/perf/narm_diginetica.py --seeds 0 --param valid_split=random_cases --verbose
    python tests/perf/narm_diginetica.py --seeds 0 --epochs 2 --param gru=authors   # any NARM keyword
    python tests/perf/narm_diginetica.py --seeds 0,1,2 --selection   # validation split, no test data
    python tests/perf/narm_diginetica.py --seeds 0,1,2 --preset authors   # a named preset (authors, recbole)

Prints, per run, median wall seconds per training epoch (validation excluded), CPU seconds per
epoch (process time of the whole fit, validation included, divided by the epochs), fit and evaluation
seconds, and the metrics; then mean +- std over seeds and the peak RSS of the process.
Data through ``sessrec.data.prepare``, metrics through ``sessrec.evaluation.evaluate``.
Measured results: ``tests/perf/narm_diginetica_results.md``. On a machine shared with other
processes, ``--threads 1`` avoids thread oversubscription.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from _common import evaluate_cutoffs, host_line, mean_row, parse_params, peak_rss_gb, seed_row, seed_table_header
from sessrec_baselines.narm import NARM

from sessrec.data import prepare
from sessrec.data.sessions import Sessions
from sessrec.progress import progress_callback

RAW = Path(os.environ.get("SESSREC_SHARED", "/work/shared")) / "data/diginetica/train-item-views_combined.csv"


# ---------------------------------------------------------------------- data / evaluation
def load_split(selection: bool = False) -> tuple[Sessions, Sessions, str]:
    """The benchmark split; with ``selection``, a validation split carved from its training part.

    Selection mode trains on the 90% of training sessions that end first and evaluates on the
    10% that end last, so configurations can be compared without reading the test days.
    """
    ds = prepare("diginetica", path=str(RAW), test_days=1)
    source = f"sessrec.data.prepare (fingerprint {str(ds.fingerprint)[:12]})"
    if not selection:
        return ds.train, ds.test, source
    early, late = ds.train.split_by_end_time(0.1)
    return ds.train.select(early), ds.train.select(late), source + ", SELECTION: last 10% of training sessions held out"


# ---------------------------------------------------------------------- main
def _print_epoch(kind: str, info: dict) -> None:
    if kind == "epoch":
        extra = " ".join(f"{k}={v:.4f}" for k, v in info.items() if k.startswith("valid"))
        print(f"#   epoch {info['epoch']}: loss {info['loss']:.4f} {extra} ({info['seconds']:.1f} s)", flush=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--training", default=None, choices=["sessions", "prefixes"], help="default: the preset's")
    ap.add_argument("--preset", default=None, choices=NARM.param_set_names(), help="start from a named preset")
    ap.add_argument(
        "--selection",
        action="store_true",
        help="train on the first 90%% of training sessions (by end time), evaluate on the last 10%%; no test data",
    )
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--verbose", action="store_true", help="print every epoch's loss and validation recall")
    ap.add_argument("--param", action="append", default=[], help="extra NARM keyword, e.g. truncate=last")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    extra = dict(NARM.named_params(args.preset)) if args.preset else {}
    extra["epochs"] = args.epochs
    if args.training is not None:
        extra["training"] = args.training
    extra.update(parse_params(args.param))

    t0 = time.perf_counter()
    train, test, source = load_split(args.selection)
    print(
        f"# data: {source}; {train.n_items} items, {train.n_cases} train cases, {test.n_cases} test cases "
        f"({time.perf_counter() - t0:.1f} s)"
    )
    print(host_line(args.threads))
    print(f"# NARM(preset={args.preset!r}, {extra})")
    print(seed_table_header(["s/epoch (median)", "CPU s/epoch", "fit s", "eval s", "best epoch"]))
    rows = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        model = NARM(**{**extra, "device": "cpu", "random_state": seed})
        t1, c1 = time.perf_counter(), time.process_time()
        with progress_callback(_print_epoch if args.verbose else None):
            model.fit(train)
        fit_s, fit_cpu = time.perf_counter() - t1, time.process_time() - c1
        per_epoch = statistics.median(h["seconds"] for h in model.history_)
        metrics, eval_s = evaluate_cutoffs(model, test)
        rows.append((metrics, per_epoch, fit_s, eval_s, fit_cpu / len(model.history_)))
        cells = [f"{per_epoch:.2f}", f"{rows[-1][4]:.2f}", f"{fit_s:.0f}", f"{eval_s:.2f}", f"{model.best_epoch_ + 1}"]
        print(seed_row(seed, metrics, cells), flush=True)
    if len(rows) > 1:
        medians = [f"{np.median([r[1] for r in rows]):.2f}", f"{np.median([r[4] for r in rows]):.2f}"]
        means = [f"{np.mean([r[2] for r in rows]):.0f}", f"{np.mean([r[3] for r in rows]):.2f}"]
        print(mean_row([r[0] for r in rows], medians + means))
    peak = peak_rss_gb()
    print(f"# peak RSS {peak:.2f} GB; load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    sys.exit(main())
