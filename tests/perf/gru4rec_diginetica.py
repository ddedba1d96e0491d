"""GRU4Rec on the DIGINETICA benchmark split of issue 4: accuracy (3 seeds) and seconds per epoch.

Split: ``train-item-views_combined.csv`` through the ``narm`` protocol with ``test_days=1``
(5,519 items; 10,835 training sessions / 33,590 cases; 4,804 test cases), training sessions
in the prepared (date) order. Full ranking, conservative ties, through
``sessrec.evaluation.evaluate`` (which uses ``GRU4Rec.score_sessions``).

Parameters: the official Diginetica BPR-max file (``GRU4Rec.from_paramfile("diginetica-bprmax")``:
BPR-max, shared embedding, 512 units, batch 128, 2048 negatives, 10 epochs).

Reference (issue 4): the official hidasib/GRU4Rec_PyTorch_Official on this split, 2 CPU cores,
3 runs: R@20 0.6153 ± 0.0056, MRR@20 0.1938 ± 0.0023; median 8.1 s/epoch (≈ 4,400 events/s).
Seconds per epoch differ between machines: ``gru4rec_vs_official.py`` times the official code
and ours side by side. Measured results: ``gru4rec_diginetica_results.md``.

Run from the repository root::

    python tests/perf/gru4rec_diginetica.py --seeds 0,1,2
    python tests/perf/gru4rec_diginetica.py --seeds 0 --param epochs=2 --threads 1

Prints, per seed, the metrics, median seconds per epoch, training events per second, fit and
evaluation seconds; then mean ± std over seeds, the peak RSS of the process and the load average
(the machine may be shared: compare speeds only with runs made under the same load).
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
from sessrec_baselines.gru4rec import GRU4Rec

from sessrec.data import prepare

RAW = Path(os.environ.get("SESSREC_SHARED", "/work/shared")) / "data/diginetica/train-item-views_combined.csv"
OFFICIAL = {"recall@20": (0.6153, 0.0056), "mrr@20": (0.1938, 0.0023)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--paramfile", default="diginetica-bprmax")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data-root", default=None, help="sessrec data root (cache of the prepared split)")
    ap.add_argument("--param", action="append", default=[], help="GRU4Rec keyword override, e.g. epochs=2")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    extra = parse_params(args.param)

    t0 = time.perf_counter()
    ds = prepare("diginetica", data_root=args.data_root, path=str(RAW), test_days=1)
    train, test = ds.train, ds.test
    print(
        f"# data: prepare('diginetica', test_days=1), fingerprint {str(ds.fingerprint)[:12]}; {train.n_items} items, "
        f"{train.n_sessions} train sessions / {train.n_cases} cases, {test.n_cases} test cases "
        f"({time.perf_counter() - t0:.1f} s)"
    )
    print(host_line(args.threads))
    probe = GRU4Rec.from_paramfile(args.paramfile, device="cpu", **extra)
    print(f"# {probe!r}")
    print(seed_table_header(["s/epoch (median)", "events/s", "fit s", "eval s", "load"]))
    rows = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        model = GRU4Rec.from_paramfile(args.paramfile, device="cpu", random_state=seed, **extra)
        t1 = time.perf_counter()
        model.fit(train)
        fit_s = time.perf_counter() - t1
        per_epoch = statistics.median(h["seconds"] for h in model.history_)
        events_s = train.n_cases / per_epoch
        metrics, eval_s = evaluate_cutoffs(model, test)
        rows.append((metrics, per_epoch, fit_s, eval_s, events_s))
        cells = [f"{per_epoch:.2f}", f"{events_s:,.0f}", f"{fit_s:.0f}", f"{eval_s:.2f}", f"{os.getloadavg()[0]:.1f}"]
        print(seed_row(seed, metrics, cells), flush=True)
    if len(rows) > 1:
        medians = [f"{np.median([r[1] for r in rows]):.2f}", f"{np.median([r[4] for r in rows]):,.0f}"]
        means = [f"{np.mean([r[2] for r in rows]):.0f}", f"{np.mean([r[3] for r in rows]):.2f}"]
        print(mean_row([r[0] for r in rows], medians + means))
    for key, (ref, _) in OFFICIAL.items():
        ours = float(np.mean([r[0][key] for r in rows]))
        print(f"# {key}: ours {ours:.4f} vs official {ref:.4f} -> {100 * (ours / ref - 1):+.1f}% (target within ±3%)")
    peak = peak_rss_gb()
    print(f"# peak RSS {peak:.2f} GB; load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    sys.exit(main())
