"""GRU4Rec training speed, sessrec against the official implementation, side by side.

Both train on the issue-4 split (``train-item-views_combined.csv``, ``narm`` protocol,
``test_days=1``: 10,835 training sessions, 5,519 items) with the official Diginetica BPR-max
parameters (BPR-max, shared embedding, 512 units, batch 128, 2048 negatives, lr 0.05,
momentum 0.15). Each round trains the official code, then ours, for ``--epochs`` epochs, each
in a fresh process with the same number of torch threads; the table shows each round's
median seconds per epoch and their ratio, then the median over rounds. Alternating the two
in one run is what makes the ratio fair on a machine whose load changes.

The official code is not part of sessrec. Pass a checkout of
``hidasib/GRU4Rec_PyTorch_Official`` (the directory holding ``gru4rec_pytorch.py``) and a
Python interpreter that can run it: it needs ``numpy<2`` (under NumPy 2 its float32
initialisation is promoted to float64 and training stops with a dtype error)::

    python -m venv /tmp/official-venv
    /tmp/official-venv/bin/pip install torch==2.13.0 "numpy<2" "pandas<3"
    python tests/perf/gru4rec_vs_official.py --official-dir ~/GRU4Rec_PyTorch_Official \\
        --official-python /tmp/official-venv/bin/python --rounds 3 --epochs 3 --threads 2

The official code is run unmodified: its own ``GRU4Rec.fit`` on a data frame of the training
sessions (session ids in our time order), its per-epoch times read from what it prints.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from _common import run_json_worker

RAW = Path(os.environ.get("SESSREC_SHARED", "/work/shared")) / "data/diginetica/train-item-views_combined.csv"

# diginetica_bprmax_shared_best.py of the official repository, in its own parameter names.
OFFICIAL_PARAMS = dict(
    loss="bpr-max",
    constrained_embedding=True,
    embedding=0,
    elu_param=1,
    layers=[512],
    batch_size=128,
    dropout_p_embed=0.5,
    dropout_p_hidden=0.3,
    learning_rate=0.05,
    momentum=0.15,
    n_sample=2048,
    sample_alpha=0.3,
    bpreg=0.9,
    logq=0.0,
)

OFFICIAL_DRIVER = textwrap.dedent(
    """
    import sys, json, torch, pandas as pd
    sys.path.insert(0, {dir!r})
    from gru4rec_pytorch import GRU4Rec
    torch.set_num_threads({threads})
    torch.manual_seed({seed})
    data = pd.read_csv({tsv!r}, sep="\\t")
    model = GRU4Rec(device=torch.device("cpu"), n_epochs={epochs}, **json.loads({params!r}))
    model.fit(data)
    """
)

EPOCH_LINE = re.compile(r"Epoch(\d+) --> loss: (\S+)\s+\(([0-9.]+)s\)")


def _split(data_root: str | None):
    from sessrec.data import prepare

    return prepare("diginetica", data_root=data_root, path=str(RAW), test_days=1)


def _write_tsv(train, path: Path) -> None:
    session = np.repeat(np.arange(train.n_sessions), train.lengths)
    position = np.arange(train.n_clicks) - train.offsets[session]
    # Time orders sessions as sessrec's training order and clicks within each session.
    frame = pd.DataFrame({"SessionId": session, "ItemId": train.items, "Time": session * 10_000 + position})
    frame.to_csv(path, sep="\t", index=False)


def run_official(python: str, directory: str, tsv: Path, epochs: int, threads: int, seed: int) -> list[float]:
    code = OFFICIAL_DRIVER.format(
        dir=directory, threads=threads, seed=seed, tsv=str(tsv), epochs=epochs, params=json.dumps(OFFICIAL_PARAMS)
    )
    proc = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
    times = [float(m.group(3)) for m in EPOCH_LINE.finditer(proc.stdout)]
    if proc.returncode != 0 or len(times) != epochs:
        raise SystemExit(
            f"official GRU4Rec failed (exit {proc.returncode}, {len(times)} of {epochs} epochs timed):\n"
            f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        )
    return times


def run_ours(data_root: str | None, epochs: int, threads: int, seed: int) -> list[float]:
    cmd = [sys.executable, __file__, "--worker", "--epochs", str(epochs), "--threads", str(threads)]
    cmd += ["--seed", str(seed)]
    if data_root:
        cmd += ["--data-root", data_root]
    return run_json_worker(cmd, "sessrec GRU4Rec")


def worker(args: argparse.Namespace) -> None:
    from sessrec_baselines.gru4rec import GRU4Rec

    torch.set_num_threads(args.threads)
    train = _split(args.data_root).train
    model = GRU4Rec.from_paramfile("diginetica-bprmax", device="cpu", random_state=args.seed, epochs=args.epochs)
    model.fit(train)
    print(json.dumps([h["seconds"] for h in model.history_]))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--official-dir", help="checkout of hidasib/GRU4Rec_PyTorch_Official")
    ap.add_argument("--official-python", default=sys.executable, help="interpreter with numpy<2 for the official code")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-root", default=None, help="sessrec data root (cache of the prepared split)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker(args)
    if not args.official_dir or not (Path(args.official_dir) / "gru4rec_pytorch.py").is_file():
        ap.error("--official-dir must be a directory holding the official gru4rec_pytorch.py")

    train = _split(args.data_root).train
    print(
        f"# data: {train.n_sessions} training sessions, {train.n_cases} events, {train.n_items} items; "
        f"{args.epochs} epochs per run, {args.threads} torch threads, seed {args.seed}"
    )
    print(
        f"# host: {platform.machine()} {os.cpu_count()} CPUs, torch {torch.__version__}, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print("| round | official s/epoch | sessrec s/epoch | sessrec / official | load |")
    print("|---|---|---|---|---|")
    ratios, off_all, ours_all = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        tsv = Path(tmp) / "train.tsv"
        _write_tsv(train, tsv)
        for r in range(args.rounds):
            off = statistics.median(
                run_official(args.official_python, args.official_dir, tsv, args.epochs, args.threads, args.seed)
            )
            ours = statistics.median(run_ours(args.data_root, args.epochs, args.threads, args.seed))
            ratios.append(ours / off)
            off_all.append(off)
            ours_all.append(ours)
            print(f"| {r + 1} | {off:.2f} | {ours:.2f} | {ours / off:.3f} | {os.getloadavg()[0]:.2f} |", flush=True)
    print(
        f"| median | {statistics.median(off_all):.2f} | {statistics.median(ours_all):.2f} | "
        f"{statistics.median(ratios):.3f} | |"
    )
    print(
        f"# events/s at the medians: official {train.n_cases / statistics.median(off_all):,.0f}, "
        f"sessrec {train.n_cases / statistics.median(ours_all):,.0f}"
    )


if __name__ == "__main__":
    sys.exit(main())
