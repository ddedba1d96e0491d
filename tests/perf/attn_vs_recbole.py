"""STAMP, SASRec, CORE and SR-GNN against RecBole 1.2's implementations, side by side on one split.

Split: DIGINETICA ``train-item-views_combined.csv`` through ``sessrec.data.prepare`` with
``test_days=1, valid_days=1`` (validation carved from training by the protocol's rule). Both
sides train on the same training cases for the same number of epochs, keep the epoch of best
validation Recall@20 and are scored on the same test cases (full ranking, all prefixes).

RecBole runs in its own virtualenv (it is not a sessrec dependency)::

    python3 -m venv /tmp/recbole_venv
    /tmp/recbole_venv/bin/pip install torch==2.13.0 && /tmp/recbole_venv/bin/pip install recbole==1.2.0

The split is exported as RecBole benchmark files (one row per case: session, the prefix's
last 50 clicks, target), the format of the CORE repository's datasets, plus an item file with
the whole catalogue, so that RecBole's softmax and ranking cover the same items as ours (without
it RecBole knows only the items of the three case files: on this split 138 fewer, items of the
full training period whose clicks all fall in the validation days, where the protocol removes
clicks on items the training part lacks, and that the test does not contain). Then, per seed, the two
sides alternate (ours, RecBole, ours, ...), each a fresh process with ``--threads`` threads::

    python tests/perf/attn_vs_recbole.py --model stamp --seeds 0,1,2 --epochs 20 --threads 1
    python tests/perf/attn_vs_recbole.py --model sasrec --seeds 0,1,2 --epochs 20 --threads 1
    python tests/perf/attn_vs_recbole.py --model coretrm --seeds 0,1,2 --epochs 20 --threads 1
    python tests/perf/attn_vs_recbole.py --model srgnn --seeds 0,1,2 --epochs 30 --threads 1

``stamp``: RecBole's STAMP attends to the padding after each prefix (its padding item's vector,
which it neither masks nor zeroes), and RecBole pads to the longest prefix of its case files, at
most 50: 30 on this split. Our side's ``recbole`` preset has ``pad_to=50``; the script lowers it
to that longest prefix, as RecBole does (``--ours '{"pad_to": null}'`` runs without the padding).

``srgnn`` gives both sides the SR-GNN authors' hyperparameters (hidden 100, one GGNN step, batch
100, Adam lr 0.001 with L2 1e-5 as weight decay); ours is ``-p srgnn=authors`` with
``keep="best"`` (validation selection, as RecBole) and keeps the authors' learning-rate decay
(x0.1 after every 3 epochs, code timing), which RecBole's trainer has no setting for.

Prints one row per run (Recall@20, MRR@20 on test, best epoch, median s/epoch, eval cases/s)
and the medians per side with the load average. Our side uses the parameter set that
reproduces RecBole's configuration (``-p <model>=recbole``) except where ``--ours`` says otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RAW = Path(os.environ.get("SESSREC_SHARED", "/work/shared")) / "data/diginetica/train-item-views_combined.csv"
EXPORT = Path("/tmp/attn_recbole")
RECBOLE_PY = os.environ.get("RECBOLE_PYTHON", "/tmp/recbole_venv/bin/python")

#: model -> (RecBole model name, RecBole config, our class path, our keyword arguments)
MODELS: dict[str, tuple[str, dict, str, dict]] = {
    "stamp": (
        "STAMP",
        {"embedding_size": 64, "loss_type": "CE"},
        "sessrec_baselines.stamp:STAMP",
        {"preset": "recbole"},
    ),
    "sasrec": ("SASRec", {}, "sessrec_baselines.sasrec:SASRec", {"preset": "recbole"}),
    "coretrm": ("CORE", {"dnn_type": "trm"}, "sessrec_baselines.core:CORE", {"preset": "recbole-trm"}),
    "coreave": ("CORE", {"dnn_type": "ave"}, "sessrec_baselines.core:CORE", {"preset": "ave", "embedding_dim": 64}),
    "srgnn": (
        "SRGNN",
        {"embedding_size": 100, "step": 1, "loss_type": "CE", "train_batch_size": 100, "weight_decay": 1e-5},
        "sessrec_baselines.srgnn:SRGNN",
        {"preset": "authors", "keep": "best"},
    ),
}


# ---------------------------------------------------------------------- export (our venv)
def export_split() -> None:
    """Write the split as RecBole benchmark files ``diginetica1d.{train,valid,test}.inter``."""
    from sessrec.data import prepare

    ds = prepare("diginetica", path=str(RAW), test_days=1, valid_days=1)
    out = EXPORT / "diginetica1d"
    out.mkdir(parents=True, exist_ok=True)
    for part, sessions in (("train", ds.train), ("valid", ds.valid), ("test", ds.test)):
        lines = ["session_id:token\titem_id_list:token_seq\titem_id:token"]
        for s, clicks in enumerate(sessions):
            for k in range(1, len(clicks)):
                prefix = " ".join(str(i) for i in clicks[max(0, k - 50) : k])
                lines.append(f"{part}{s}\t{prefix}\t{clicks[k]}")
        (out / f"diginetica1d.{part}.inter").write_text("\n".join(lines) + "\n")
    # the whole catalogue, so that RecBole trains and ranks the items we do: without this file its vocabulary
    # is the items of the three files, short of those whose clicks validation lost (see the docstring)
    items = "\n".join(str(i) for i in range(ds.train.n_items))
    (out / "diginetica1d.item").write_text("item_id:token\n" + items + "\n")
    print(f"# exported {ds.train.n_cases}/{ds.valid.n_cases}/{ds.test.n_cases} cases to {out}", flush=True)


@dataclass(frozen=True)
class Run:
    """One side's run: model key, seed, epochs, torch threads, batch size and learning rate (None: the
    side's default) and device."""

    model: str
    seed: int
    epochs: int
    threads: int
    batch_size: int | None = None
    lr: float | None = None
    device: str = "cpu"


# ---------------------------------------------------------------------- our side
def run_ours(run: Run, extra: dict) -> dict:
    import importlib

    import torch

    from sessrec.data import prepare
    from sessrec.evaluation import evaluate

    torch.set_num_threads(run.threads)
    _, _, path, kw = MODELS[run.model]
    mod, cls_name = path.split(":")
    cls = getattr(importlib.import_module(mod), cls_name)
    kw = {**kw, **extra}
    preset = kw.pop("preset", None)
    params = {**(cls.named_params(preset) if preset else {}), **kw, "epochs": run.epochs, "patience": None}
    if run.batch_size is not None:
        params["batch_size"] = run.batch_size
    if run.lr is not None:
        params["lr"] = run.lr
    ds = prepare("diginetica", path=str(RAW), test_days=1, valid_days=1)
    if params.get("pad_to") is not None and "pad_to" not in extra:
        # RecBole pads to the longest prefix of its three case files when that is under 50 (30 here)
        longest = max(int(part.lengths.max()) - 1 for part in (ds.train, ds.valid, ds.test))
        params["pad_to"] = min(params["pad_to"], longest)
    est = cls(**params, device=run.device, random_state=run.seed)
    est.fit(ds.train, valid=ds.valid)
    res = evaluate(est, ds.test, cutoffs=(20,), ties="conservative", keep_ranks=False)
    return {
        "recall@20": float(res.metrics["recall@20"]),
        "mrr@20": float(res.metrics["mrr@20"]),
        "best_epoch": est.best_epoch_ + 1,
        "valid_recall@20": max(h["valid_recall@20"] for h in est.history_),
        "valid_curve": [h["valid_recall@20"] for h in est.history_],
        "s_per_epoch": statistics.median(h["seconds"] for h in est.history_),
        "eval_cases_per_s": ds.test.n_cases / float(res.seconds),
        "n_test": ds.test.n_cases,
    }


# ---------------------------------------------------------------------- RecBole side (its venv)
def _numpy2_aliases() -> None:
    """Let RecBole 1.2 import under NumPy 2 (e.g. a GPU machine's stock environment).

    Its ``Config.compatibility_settings`` reads ``np.float_``, ``np.complex_`` and ``np.unicode_``,
    which NumPy 2 removed; they are restored as the NumPy 1 aliases they were. Under NumPy 1 this
    changes nothing.
    """
    import numpy as np

    for old, new in (("float_", "float64"), ("complex_", "complex128"), ("unicode_", "str_")):
        if old not in np.__dict__:
            setattr(np, old, getattr(np, new))


def recbole_setup(run: Run) -> tuple[Any, Any, Any, Any, Any]:
    """RecBole's config, data loaders and seeded network: ``(config, train, valid, test, net)``."""
    # RecBole 1.2 saves its checkpoint with pickled config objects; torch >= 2.6 loads weights only by default
    os.environ["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] = "1"
    _numpy2_aliases()
    import torch
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.utils import get_model, init_seed

    torch.set_num_threads(run.threads)
    name, cfg, _, _ = MODELS[run.model]
    config = Config(
        model=name,
        dataset="diginetica1d",
        config_dict={
            **cfg,
            "data_path": str(EXPORT),
            "USER_ID_FIELD": "session_id",
            "benchmark_filename": ["train", "valid", "test"],
            "alias_of_item_id": ["item_id_list"],
            "load_col": {"inter": ["session_id", "item_id_list", "item_id"], "item": ["item_id"]},
            "eval_args": {"order": "TO", "split": {"RS": [0.8, 0.1, 0.1]}, "mode": "full"},
            "neg_sampling": None,
            "train_neg_sample_args": None,
            "topk": [20],
            "metrics": ["Recall", "MRR"],
            "valid_metric": "Recall@20",
            "epochs": run.epochs,
            **({"train_batch_size": run.batch_size} if run.batch_size is not None else {}),
            **({"learning_rate": run.lr} if run.lr is not None else {}),
            "stopping_step": run.epochs + 1,
            "seed": run.seed,
            "reproducibility": True,
            "device": run.device,
            "use_gpu": run.device != "cpu",
            "gpu_id": run.device.partition(":")[2] or "0",
            "worker": 0,
            "show_progress": False,
            "checkpoint_dir": str(EXPORT / f"saved_{run.model}_{run.seed}"),
            "log_wandb": False,
        },
    )
    init_seed(config["seed"], config["reproducibility"])
    torch.set_num_threads(run.threads)
    dataset = create_dataset(config)
    train_data, valid_data, test_data = data_preparation(config, dataset)
    net = get_model(config["model"])(config, train_data.dataset).to(config["device"])
    return config, train_data, valid_data, test_data, net


def run_recbole(run: Run) -> dict:
    from recbole.trainer import Trainer

    config, train_data, valid_data, test_data, net = recbole_setup(run)
    trainer = Trainer(config, net)
    epoch_seconds: list[float] = []
    valid_scores: list[float] = []
    original, original_valid = trainer._train_epoch, trainer._valid_epoch

    def timed_valid(*args, **kwargs):
        out = original_valid(*args, **kwargs)
        valid_scores.append(float(out[0]))
        return out

    def timed(*args, **kwargs):
        t0 = time.perf_counter()
        out = original(*args, **kwargs)
        epoch_seconds.append(time.perf_counter() - t0)
        return out

    trainer._train_epoch = timed
    trainer._valid_epoch = timed_valid
    trainer.fit(train_data, valid_data, saved=True, show_progress=False)
    best = valid_scores.index(max(valid_scores))
    out = _recbole_test(trainer, test_data, None, best, max(valid_scores), statistics.median(epoch_seconds))
    return {**out, "valid_curve": valid_scores}


def _recbole_test(trainer, test_data, model_file: str | None, best: int, valid: float, s_per_epoch: float) -> dict:
    """Test Recall@20, MRR@20 and cases/s of the best-validation state (``model_file``: a saved one)."""
    t0 = time.perf_counter()
    result = trainer.evaluate(test_data, load_best_model=True, model_file=model_file, show_progress=False)
    n_test = len(test_data.dataset)
    return {
        "recall@20": float(result["recall@20"]),
        "mrr@20": float(result["mrr@20"]),
        "best_epoch": best + 1,
        "valid_recall@20": valid,
        "n_test": n_test,
        "s_per_epoch": s_per_epoch,
        "eval_cases_per_s": n_test / (time.perf_counter() - t0),
    }


def eval_recbole_checkpoint(model: str, checkpoint: str, threads: int) -> dict:
    """Test metrics of a RecBole checkpoint (the best-validation state RecBole saved while training).

    RecBole's learning rate does not depend on the planned number of epochs, so the checkpoint
    of a run stopped after ``N`` epochs is what an ``N``-epoch run keeps.
    """
    import torch
    from recbole.trainer import Trainer

    config, _, _, test_data, net = recbole_setup(Run(model, 0, 1, threads))
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    trainer = Trainer(config, net)
    return _recbole_test(
        trainer, test_data, checkpoint, int(state["epoch"]), float(state["best_valid_score"]), float("nan")
    )


# ---------------------------------------------------------------------- driver
def _child(side: str, args: argparse.Namespace, seed: int) -> dict:
    py = sys.executable if side == "ours" else RECBOLE_PY
    cmd = [
        py,
        str(Path(__file__).resolve()),
        "--child",
        side,
        "--model",
        args.model,
        "--seeds",
        str(seed),
        "--epochs",
        str(args.epochs),
    ]
    cmd += ["--threads", str(args.threads), "--ours", args.ours, "--device", args.device]
    if args.batch_size is not None:
        cmd += ["--batch-size", str(args.batch_size)]
    if args.lr is not None:
        cmd += ["--lr", str(args.lr)]
    if side == "checkpoint":
        cmd += ["--recbole-checkpoint", args.recbole_checkpoint]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    # RecBole writes log/ and log_tensorboard/ into its working directory: keep them out of the repository
    cwd = Path(__file__).resolve().parents[2] if side == "ours" else EXPORT
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd)
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"{side} seed {seed} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT ") :])


def _child_result(args: argparse.Namespace, seed: int) -> dict:
    """The result of one side's run in this (child) process."""
    run = Run(args.model, seed, args.epochs, args.threads, args.batch_size, args.lr, args.device)
    if args.child == "ours":
        extra = json.loads(args.ours)
        return run_ours(run, extra)
    if args.child == "recbole":
        return run_recbole(run)
    return eval_recbole_checkpoint(args.model, args.recbole_checkpoint, args.threads)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=sorted(MODELS), required=True)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--sides", default="ours,recbole")
    ap.add_argument(
        "--batch-size", type=int, help="training batch size of both sides (default: each side's 2048; srgnn: 100)"
    )
    ap.add_argument("--lr", type=float, help="learning rate of both sides (default: each side's 0.001)")
    ap.add_argument("--ours", default="{}", help="JSON of extra keyword arguments for our model")
    ap.add_argument("--device", default="cpu", help="torch device of both sides (cpu, cuda, cuda:N)")
    ap.add_argument(
        "--recbole-checkpoint",
        help="only evaluate this checkpoint of a RecBole run on the test cases (e.g. of a run stopped early)",
    )
    ap.add_argument("--child", choices=["ours", "recbole", "checkpoint"], help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.child is not None:
        print("RESULT " + json.dumps(_child_result(args, seeds[0])))
        return
    if args.recbole_checkpoint:  # one evaluation; the seed column is the --seeds given
        args.sides, seeds = "checkpoint", seeds[:1]
    if not (EXPORT / "diginetica1d" / "diginetica1d.item").exists():
        export_split()
    print(
        f"# {args.model}, {args.epochs} epochs, batch {args.batch_size or 'preset'}, lr {args.lr or 'preset'}, "
        f"{args.threads} thread(s), device {args.device}, "
        f"ours extra {args.ours}, start load {os.getloadavg()[0]:.1f}"
    )
    print("| side | seed | R@20 | MRR@20 | best epoch | valid R@20 (best) | s/epoch | eval cases/s | load |")
    print("|---|---|---|---|---|---|---|---|---|")
    rows: dict[str, list[dict]] = {}
    for seed in seeds:
        for side in args.sides.split(","):
            r = _child(side, args, seed)
            rows.setdefault(side, []).append(r)
            print(
                f"| {side} | {seed} | {r['recall@20']:.4f} | {r['mrr@20']:.4f} | {r['best_epoch']} | "
                f"{r.get('valid_recall@20', float('nan')):.4f} | {r['s_per_epoch']:.2f} | "
                f"{r['eval_cases_per_s']:.0f} | {os.getloadavg()[0]:.1f} |",
                flush=True,
            )
            if "valid_curve" in r:
                print(f"# {side} seed {seed}, valid R@20 per epoch: " + " ".join(f"{v:.4f}" for v in r["valid_curve"]))
    for side, rs in rows.items():
        mean = {k: statistics.mean(r[k] for r in rs) for k in ("recall@20", "mrr@20")}
        sd = {k: statistics.stdev(r[k] for r in rs) if len(rs) > 1 else 0.0 for k in ("recall@20", "mrr@20")}
        print(
            f"| {side} mean ± sd | | {mean['recall@20']:.4f} ± {sd['recall@20']:.4f} | "
            f"{mean['mrr@20']:.4f} ± {sd['mrr@20']:.4f} | | | "
            f"{statistics.median(r['s_per_epoch'] for r in rs):.2f} (median) | "
            f"{statistics.median(r['eval_cases_per_s'] for r in rs):.0f} (median) | |"
        )


if __name__ == "__main__":
    sys.exit(main())
