"""SR-GNN and GCE-GNN against the authors' code, side by side: accuracy and seconds per epoch.

Split: ``train-item-views_combined.csv`` through the ``narm`` protocol with ``test_days=1``
(5,519 items; 33,590 training and 4,804 test cases). For every seed the authors' code and
sessrec train in turn, each in a fresh process with the same number of torch threads, for the
same ``--epochs``, and both are evaluated once, after the last epoch, on the test cases
(no epoch is chosen on the test data). The table gives Recall@20, MRR@20 and the median
training seconds per epoch (evaluation excluded) of each, then means over seeds.

The authors' code is not part of sessrec. Pass a checkout of ``CRIPAC-DIG/SR-GNN`` (the
directory holding ``pytorch_code/``) or of ``CCIIPLab/GCE-GNN`` (holding ``model.py``)::

    python tests/perf/gnn_vs_official.py --model srgnn --official-dir /tmp/SR-GNN --seeds 0,1,2 --epochs 30
    python tests/perf/gnn_vs_official.py --model gcegnn --official-dir /tmp/GCE-GNN --seeds 0,1,2 --epochs 20

What runs of theirs: their modules, unmodified, imported by a driver written here that does
what their ``main.py`` does with a catalogue of ``n_items + 1`` nodes (their ``main`` hard-codes
the node count per dataset name) and prints the metrics of *every* epoch instead of the best
per metric; we report the last. Our split is written in their pickle format
(``train.txt``/``test.txt`` = (prefixes, targets) with items shifted by one, 0 = padding;
GCE-GNN also ``all_train_seq.txt``, from which their ``build_graph.py`` builds the global
graph). Their metrics: top-20 by ``topk``; ours: conservative ties (equal scores are rare
with float scores). GCE-GNN's per-dataset settings of ``main.py`` for ``diginetica`` are used
(n_iter 2, dropout_gcn 0.2, dropout_local 0). ``tqdm`` is replaced by a pass-through if it is
not installed. Their training sets ``np.random``/``torch`` seeds from ``--seeds``.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import torch
from _common import run_json_worker

RAW = Path(os.environ.get("SESSREC_SHARED", "/work/shared")) / "data/diginetica/train-item-views_combined.csv"

SRGNN_DRIVER = textwrap.dedent(
    """
    import sys, io, contextlib, argparse, pickle, json, re, datetime
    sys.path.insert(0, {code!r})
    import numpy as np, torch
    torch.set_num_threads({threads})
    np.random.seed({seed}); torch.manual_seed({seed})
    from utils import Data
    from model import SessionGraph, train_test, trans_to_cuda
    opt = argparse.Namespace(batchSize=100, hiddenSize=100, epoch={epochs}, lr=0.001, lr_dc=0.1, lr_dc_step=3,
                             l2=1e-5, step=1, patience=10, nonhybrid=False)
    train = Data(pickle.load(open({data!r} + '/train.txt', 'rb')), shuffle=True)
    test = Data(pickle.load(open({data!r} + '/test.txt', 'rb')), shuffle=False)
    model = trans_to_cuda(SessionGraph(opt, {n_node}))
    stamp = re.compile(r"start (training|predicting):\\s+(\\S+ \\S+)")
    for epoch in range(opt.epoch):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            hit, mrr = train_test(model, train, test)
        t = dict((m.group(1), datetime.datetime.fromisoformat(m.group(2))) for m in stamp.finditer(buf.getvalue()))
        secs = (t["predicting"] - t["training"]).total_seconds()
        print(json.dumps({{"epoch": epoch, "seconds": secs, "recall": hit / 100, "mrr": mrr / 100}}), flush=True)
    """
)

GCEGNN_DRIVER = textwrap.dedent(
    """
    import sys, os, io, time, types, contextlib, argparse, pickle, json, runpy
    try:
        import tqdm
    except ImportError:
        import importlib.machinery
        stub = types.ModuleType("tqdm")
        stub.__spec__ = importlib.machinery.ModuleSpec("tqdm", None)
        stub.tqdm = lambda x, **k: x
        sys.modules["tqdm"] = stub
    sys.path.insert(0, {code!r})
    import numpy as np, torch
    torch.set_num_threads({threads})
    np.random.seed({seed}); torch.manual_seed({seed}); torch.cuda.manual_seed_all({seed})
    os.chdir({work!r})
    sys.argv = ["build_graph.py", "--dataset", "diginetica", "--sample_num", "12"]
    with contextlib.redirect_stdout(io.StringIO()):
        runpy.run_path({code!r} + "/build_graph.py", run_name="__main__")
    from utils import Data, handle_adj
    import model as official
    opt = argparse.Namespace(dataset="diginetica", hiddenSize=100, epoch={epochs}, activate="relu", n_sample_all=12,
                             n_sample=12, batch_size=100, lr=0.001, lr_dc=0.1, lr_dc_step=3, l2=1e-5, n_iter=2,
                             dropout_gcn=0.2, dropout_local=0.0, dropout_global=0.5, alpha=0.2, patience=3)
    data = "datasets/diginetica/"
    train = Data(pickle.load(open(data + "train.txt", "rb")))
    test = Data(pickle.load(open(data + "test.txt", "rb")))
    adj = pickle.load(open(data + "adj_12.pkl", "rb"))
    num = pickle.load(open(data + "num_12.pkl", "rb"))
    adj, num = handle_adj(adj, {n_node}, 12, num)
    model = official.trans_to_cuda(official.CombineGraph(opt, {n_node}, adj, num))
    marks = {{}}
    train_mode_end = model.eval
    def eval_and_mark():  # train_test calls model.eval() when its training loop ends
        marks["end"] = time.perf_counter()
        return train_mode_end()
    model.eval = eval_and_mark
    for epoch in range(opt.epoch):
        buf = io.StringIO()
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()):
            hit, mrr = official.train_test(model, train, test)
        print(json.dumps({{"epoch": epoch, "seconds": marks["end"] - t0, "recall": hit / 100, "mrr": mrr / 100}}),
              flush=True)
    """
)


def _split(data_root: str | None):
    from sessrec.data import prepare

    return prepare("diginetica", data_root=data_root, path=str(RAW), test_days=1)


def case_lists(sessions) -> tuple[list[list[int]], list[int]]:
    """All (prefix, target) cases of ``sessions`` in case order, items shifted by one (0 = padding)."""
    session, position = sessions.case_session(), sessions.case_positions()
    starts = sessions.offsets[session]
    items = (sessions.items + 1).tolist()
    prefixes = [items[s:p] for s, p in zip(starts.tolist(), position.tolist())]
    return prefixes, [items[p] for p in position.tolist()]


def write_official_data(ds, folder: Path) -> None:
    """Our split in the authors' pickle format under ``folder`` (and ``folder/datasets/diginetica``)."""
    sub = folder / "datasets" / "diginetica"
    sub.mkdir(parents=True, exist_ok=True)
    train_seq = [(s + 1).tolist() for s in ds.train]
    for target in (folder, sub):
        with open(target / "train.txt", "wb") as fh:
            pickle.dump(case_lists(ds.train), fh)
        with open(target / "test.txt", "wb") as fh:
            pickle.dump(case_lists(ds.test), fh)
        with open(target / "all_train_seq.txt", "wb") as fh:
            pickle.dump(train_seq, fh)


def run_official(args: argparse.Namespace, work: Path, n_items: int, seed: int) -> dict:
    if args.model == "srgnn":
        code = str(Path(args.official_dir) / "pytorch_code")
        driver = SRGNN_DRIVER.format(
            code=code, threads=args.threads, seed=seed, epochs=args.epochs, data=str(work), n_node=n_items + 1
        )
    else:
        driver = GCEGNN_DRIVER.format(
            code=str(Path(args.official_dir)),
            threads=args.threads,
            seed=seed,
            epochs=args.epochs,
            work=str(work),
            n_node=n_items + 1,
        )
    proc = subprocess.run([args.official_python, "-c", driver], capture_output=True, text=True, check=False)
    epochs = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or len(epochs) != args.epochs:
        raise SystemExit(
            f"official {args.model} failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
        )
    return {
        "seconds": statistics.median(e["seconds"] for e in epochs),
        "recall": epochs[-1]["recall"],
        "mrr": epochs[-1]["mrr"],
        "per_epoch": [(round(e["recall"], 4), round(e["mrr"], 4)) for e in epochs],
    }


def run_ours(args: argparse.Namespace, seed: int) -> dict:
    cmd = [sys.executable, __file__, "--worker", "--model", args.model, "--epochs", str(args.epochs)]
    cmd += ["--threads", str(args.threads), "--seed", str(seed)]
    if args.data_root:
        cmd += ["--data-root", args.data_root]
    return run_json_worker(cmd, f"sessrec {args.model}", tail=3000)


def worker(args: argparse.Namespace) -> None:
    from sessrec.evaluation import evaluate
    from sessrec.registry import load_model

    torch.set_num_threads(args.threads)
    ds = _split(args.data_root)
    params = dict(epochs=args.epochs, keep="last", device="cpu", random_state=args.seed)
    model = load_model(args.model)(**params).fit(ds.train)
    t0 = time.perf_counter()
    res = evaluate(model, ds.test, cutoffs=(20,), ties="conservative", keep_ranks=False)
    seconds = [h["seconds"] for h in model.history_]
    print(
        json.dumps(
            {
                "seconds": statistics.median(seconds),
                "recall": float(res.metrics["recall@20"]),
                "mrr": float(res.metrics["mrr@20"]),
                "eval_seconds": time.perf_counter() - t0,
            }
        )
    )


def _summary(rows: list[tuple[dict, dict]]) -> None:
    def mean(side: int, key: str) -> float:
        return statistics.mean(r[side][key] for r in rows)

    off_r, our_r, off_m, our_m = mean(0, "recall"), mean(1, "recall"), mean(0, "mrr"), mean(1, "mrr")
    off_s = statistics.median(r[0]["seconds"] for r in rows)
    our_s = statistics.median(r[1]["seconds"] for r in rows)
    print(
        f"| mean | {off_r:.4f} | {our_r:.4f} | {off_m:.4f} | {our_m:.4f} | {off_s:.2f} | {our_s:.2f} "
        f"| {our_s / off_s:.3f} | |"
    )
    print(f"# sessrec / official: Recall@20 {our_r / off_r - 1:+.2%}, MRR@20 {our_m / off_m - 1:+.2%}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=["srgnn", "gcegnn"], default="srgnn")
    ap.add_argument("--official-dir", help="checkout of CRIPAC-DIG/SR-GNN or CCIIPLab/GCE-GNN")
    ap.add_argument("--official-python", default=sys.executable)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--data-root", default=None, help="sessrec data root (cache of the prepared split)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker(args)
    if not args.official_dir or not Path(args.official_dir).is_dir():
        ap.error("--official-dir must be a checkout of the authors' repository")

    ds = _split(args.data_root)
    print(
        f"# {args.model}: {ds.train.n_cases} training / {ds.test.n_cases} test cases, {ds.train.n_items} items; "
        f"{args.epochs} epochs, last epoch evaluated, {args.threads} torch threads"
    )
    print(f"# host: {platform.machine()} {os.cpu_count()} CPUs, torch {torch.__version__}")
    print(
        "| seed | official R@20 | sessrec R@20 | official MRR@20 | sessrec MRR@20 | official s/epoch "
        "| sessrec s/epoch | ratio | load |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        write_official_data(ds, work)
        for seed in (int(s) for s in args.seeds.split(",")):
            off = run_official(args, work, ds.train.n_items, seed)
            ours = run_ours(args, seed)
            rows.append((off, ours))
            print(
                f"| {seed} | {off['recall']:.4f} | {ours['recall']:.4f} | {off['mrr']:.4f} | {ours['mrr']:.4f} "
                f"| {off['seconds']:.2f} | {ours['seconds']:.2f} | {ours['seconds'] / off['seconds']:.3f} "
                f"| {os.getloadavg()[0]:.2f} |",
                flush=True,
            )
            print(f"#   official per epoch (R@20, MRR@20): {off['per_epoch']}", flush=True)
    _summary(rows)


if __name__ == "__main__":
    sys.exit(main())
