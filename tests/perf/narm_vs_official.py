"""NARM: the authors' Theano code and the ``narm=authors`` preset, side by side on the DIGINETICA 1-day split.

Split: exactly the one of ``narm_diginetica.py`` (``train-item-views_combined.csv`` through the
``narm`` protocol with ``test_days=1``: 5,519 items, 33,590 training and 4,804 test cases).

The authors' code (``lijingsdu/sessionRec_NARM``, ``NARM.py`` and ``data_process.py``) is not
part of sessrec; pass a checkout of it and the interpreter of a separate environment holding
``pytensor`` (the maintained fork of Theano) and ``numpy``::

    git clone <lijingsdu/sessionRec_NARM> /tmp/sessionRec_NARM
    python -m venv /tmp/narm_official_venv && /tmp/narm_official_venv/bin/pip install pytensor numpy
    python tests/perf/narm_vs_official.py --official-dir /tmp/sessionRec_NARM \\
        --official-python /tmp/narm_official_venv/bin/python --seeds 0,1,2 --epochs 30
    python tests/perf/narm_vs_official.py ... --sides official   # only the authors' code

pytensor installed by pip finds no BLAS on a machine without a system BLAS and then runs its
matrix products in plain C loops (a training step took ~10x longer here). Intel's ``mkl`` wheel
in the same environment fixes that without touching the code (``V=/tmp/narm_official_venv``)::

    $V/bin/pip install mkl && ln -s libmkl_rt.so.3 $V/lib/libmkl_rt.so
    PYTENSOR_FLAGS="blas__ldflags=-L$V/lib -lmkl_rt -Wl\\,-rpath\\,$V/lib" python tests/perf/narm_vs_official.py ...

(``PYTENSOR_FLAGS`` given to this script is passed on, after ``floatX=float32``.)

**What runs of theirs.** A copy of their two files in a temporary folder, imported by a driver
written here that calls their ``train_gru`` with its defaults except ``n_items`` (our catalogue
+ 1: their item 0 is padding), ``max_epochs`` (``--epochs``) and ``saveto=None``. Their model,
initialisation, GRU, dropout, attention, Adam, training loop, 10% random hold-out, best-epoch rule
and evaluation run as written. Adaptations, all from outside or by the listed text patches:

* a ``theano`` package generated here re-exports pytensor (``theano.function``, ``shared``,
  ``scan``, ``grad``, ``config``, ``theano.tensor``); pytensor has no ``tensor.nnet`` and no
  ``sandbox.rng_mrg``, so ``T.nnet.softmax`` is pytensor's row softmax, ``T.nnet.hard_sigmoid``
  Theano's formula ``clip(0.2 x + 0.5, 0, 1)``, and ``MRG_RandomStreams(seed).binomial`` draws
  its 0/1 dropout masks from pytensor's ``RandomStream(seed)`` (same distribution, another
  generator);
* :data:`PATCHES`: ``get_minibatches_idx`` returns ``list(zip(...))`` (Python 2's ``zip`` was a
  list; their validation and test index lists are reused every epoch, and a Python 3 iterator
  would be empty after the first), and the two empty data paths of ``load_data`` read ours;
* ``NARM.SEED`` and ``np.random.seed`` are set to ``--seeds`` right after import (their module
  seeds 42 at import; nothing random happens in between);
* their ``theano.function`` calls are wrapped to time the training function and record its
  losses, and to keep ``f_pred_prob`` for a second scoring of their test cases with our
  conservative ties (below);
* float32 (``PYTENSOR_FLAGS=floatX=float32``; Theano's default is float64, sessrec is float32).

**Metrics.** Theirs: Recall@20 / MRR@20 printed by ``train_gru`` after reloading the best
validation epoch (ties count for the target: rank = 1 + #items scored strictly higher; the
candidates include their padding item 0). Also reported: the same model's test scores ranked
with sessrec's conservative ties (rank = 1 + #other items scored at least as high) over items
1..n only. Ours: ``NARM(**named_params("authors"), epochs=--epochs, random_state=seed)``
evaluated by ``sessrec.evaluation.evaluate`` (full ranking, conservative ties). Seconds per
epoch: training only (their training-function calls, excluding ``prepare_data`` and the
per-epoch validation/test scoring; ours ``history_[i]["seconds"]``, validation excluded).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from _common import host_line, run_json_worker
from gnn_vs_official import case_lists
from narm_diginetica import load_split

#: Text patches applied to the copy of the authors' files: (file, old, new, why). Each ``old`` must occur once.
PATCHES = (
    (
        "NARM.py",
        "return zip(range(len(minibatches)), minibatches)",
        "return list(zip(range(len(minibatches)), minibatches))",
        "Python 3: zip is an iterator; their validation/test index lists are reused every epoch",
    ),
    (
        "data_process.py",
        "path_train_data = ''",
        "path_train_data = __import__('os').environ['NARM_OFFICIAL_TRAIN']",
        "their training data path is left empty in the repository",
    ),
    (
        "data_process.py",
        "path_test_data = ''",
        "path_test_data = __import__('os').environ['NARM_OFFICIAL_TEST']",
        "their test data path is left empty in the repository",
    ),
)

#: The ``theano`` compatibility package (file -> text), generated into the work folder.
SHIM = {
    "theano/__init__.py": """
        from pytensor import config, function, grad, scan, shared
        from . import tensor, sandbox
        """,
    "theano/tensor/__init__.py": """
        import pytensor.tensor as _pt
        from . import nnet

        def __getattr__(name):
            return getattr(_pt, name)
        """,
    "theano/tensor/nnet.py": """
        import pytensor.tensor as _pt
        from pytensor.tensor.special import softmax as _softmax

        def softmax(x):
            return _softmax(x, axis=-1)

        def hard_sigmoid(x):
            return _pt.clip(x * 0.2 + 0.5, 0, 1)
        """,
    "theano/sandbox/__init__.py": "from . import rng_mrg\n",
    "theano/sandbox/rng_mrg.py": """
        from pytensor.tensor.random.utils import RandomStream

        class MRG_RandomStreams:
            def __init__(self, seed):
                self._stream = RandomStream(seed)

            def binomial(self, size, p, n=1, dtype="float32"):
                return self._stream.binomial(n, p, size=size).astype(dtype)
        """,
}

DRIVER = """
import contextlib, io, json, re, sys, time
sys.path[:0] = [{shim!r}, {code!r}]
import numpy as np
import theano
compile_function = theano.function
record = {{"loss": [], "seconds": [], "epoch_starts": [], "f_pred_prob": None}}

def timed_function(*args, **kwargs):
    fn = compile_function(*args, **kwargs)
    if kwargs.get("name") == "f_pred_prob":
        record["f_pred_prob"] = fn
    if not kwargs.get("updates"):
        return fn
    def train_function(*inputs):
        t0 = time.perf_counter()
        loss = fn(*inputs)
        record["seconds"].append(time.perf_counter() - t0)
        record["loss"].append(float(loss))
        return loss
    return train_function

theano.function = timed_function
import NARM
NARM.SEED = {seed}
np.random.seed({seed})
minibatches = NARM.get_minibatches_idx

def marked_minibatches(n, minibatch_size, shuffle=False):
    if shuffle:
        record["epoch_starts"].append(len(record["loss"]))
    return minibatches(n, minibatch_size, shuffle)

NARM.get_minibatches_idx = marked_minibatches
class Tee(io.StringIO):
    def write(self, text):
        sys.stderr.write(text)
        sys.stderr.flush()
        return super().write(text)

out = Tee()
t0 = time.perf_counter()
with contextlib.redirect_stdout(out):
    valid_eval, test_eval = NARM.train_gru(n_items={n_items}, max_epochs={epochs}, saveto=None)
wall = time.perf_counter() - t0
text = out.getvalue()
printed = re.findall(r"Test Recall@20 (\\S+)\\s+Test Mrr@20: (\\S+)", text)[-1]
_, _, test = NARM.data_process.load_data()
hits = rr = ties = 0
for start in range(0, len(test[0]), 512):
    x, mask, y = NARM.data_process.prepare_data(test[0][start:start + 512], test[1][start:start + 512])
    scores = record["f_pred_prob"](x, mask)[:, 1:]
    target = scores[np.arange(len(y)), np.asarray(y) - 1][:, None]
    rank = (scores >= target).sum(axis=1)
    ties += int(((scores == target).sum(axis=1) > 1).sum())
    hits += int((rank <= 20).sum())
    rr += float((1.0 / rank[rank <= 20]).sum())
bounds = record["epoch_starts"] + [len(record["loss"])]
epochs = list(zip(bounds[:-1], bounds[1:]))
best = [i for i, part in enumerate(re.split(r"Seen \\d+ samples", text)) if "Best perfomance updated" in part]
print(json.dumps({{
    "recall": float(test_eval[0]), "mrr": float(test_eval[1]),
    "printed": [float(printed[0]), float(printed[1])],
    "recall_conservative": hits / len(test[0]), "mrr_conservative": rr / len(test[0]), "tied_targets": ties,
    "valid_recall": [float(v) for v in re.findall(r"Valid Recall@20: (\\S+)", text)[:-1]],
    "loss": [float(np.mean(record["loss"][a:b])) for a, b in epochs],
    "seconds": [float(np.sum(record["seconds"][a:b])) for a, b in epochs],
    "best_epoch": best[-1] + 1 if best else None, "wall": wall,
    "counts": {{kind: int(n) for n, kind in re.findall(r"(\\d+) (train|valid|test) examples", text)}},
}}))
"""


def prepare_official(official_dir: Path, work: Path, train, test) -> tuple[Path, Path]:
    """Copy and patch the authors' files, write the shim and the data; return (code folder, shim folder)."""
    code, shim = work / "code", work / "shim"
    code.mkdir()
    for name in ("NARM.py", "data_process.py"):
        shutil.copy(official_dir / name, code / name)
    for name, old, new, _ in PATCHES:
        text = (code / name).read_text()
        if text.count(old) != 1:
            raise SystemExit(f"{name}: expected the text {old!r} once, found it {text.count(old)} times")
        (code / name).write_text(text.replace(old, new))
    for name, text in SHIM.items():
        (shim / name).parent.mkdir(parents=True, exist_ok=True)
        (shim / name).write_text(textwrap.dedent(text).lstrip())
    for name, sessions in (("train.pkl", train), ("test.pkl", test)):
        with open(work / name, "wb") as fh:
            pickle.dump(case_lists(sessions), fh)
    return code, shim


def run_official(args: argparse.Namespace, work: Path, n_items: int, seed: int) -> dict:
    """One seed of the authors' code in a fresh process of ``--official-python``; the driver's JSON."""
    code, shim = work / "code", work / "shim"
    driver = DRIVER.format(shim=str(shim), code=str(code), seed=seed, n_items=n_items + 1, epochs=args.epochs)
    env = dict(os.environ, NARM_OFFICIAL_TRAIN=str(work / "train.pkl"), NARM_OFFICIAL_TEST=str(work / "test.pkl"))
    threads = str(args.threads)
    env.update(OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
    if args.threads == 1:
        env["MKL_THREADING_LAYER"] = "SEQUENTIAL"
    env["PYTENSOR_FLAGS"] = ",".join(filter(None, ["floatX=float32", os.environ.get("PYTENSOR_FLAGS")]))
    proc = subprocess.run([args.official_python, "-c", driver], stdout=subprocess.PIPE, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"authors' code failed (exit {proc.returncode}); its output is above")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_ours(args: argparse.Namespace, seed: int) -> dict:
    """One seed of ``narm=authors`` in a fresh process of this interpreter; the worker's JSON."""
    cmd = [sys.executable, __file__, "--worker", "--epochs", str(args.epochs), "--threads", str(args.threads)]
    return run_json_worker([*cmd, "--seed", str(seed)], "sessrec NARM", tail=3000)


def worker(args: argparse.Namespace) -> None:
    """``--worker``: fit ``narm=authors`` for one seed and print its figures as one JSON line."""
    import torch
    from _common import evaluate_cutoffs
    from sessrec_baselines.narm import NARM

    torch.set_num_threads(args.threads)
    train, test, _ = load_split()
    params = {**NARM.named_params("authors"), "epochs": args.epochs, "device": "cpu", "random_state": args.seed}
    t0 = time.perf_counter()
    model = NARM(**params).fit(train)
    wall = time.perf_counter() - t0
    metrics, _ = evaluate_cutoffs(model, test)
    out = {
        "recall": metrics["recall@20"],
        "mrr": metrics["mrr@20"],
        "valid_recall": [h.get("valid_recall@20") for h in model.history_],
        "loss": [h["loss"] for h in model.history_],
        "seconds": [h["seconds"] for h in model.history_],
        "best_epoch": model.best_epoch_ + 1,
        "wall": wall,
        "counts": {"train": train.n_cases - len(model.valid_cases_), "valid": len(model.valid_cases_)},
    }
    print(json.dumps(out))


def _row(label: str, seed: int, res: dict) -> str:
    conservative = (
        f"{res['recall_conservative']:.4f} / {res['mrr_conservative']:.4f}" if "recall_conservative" in res else ""
    )
    return (
        f"| {seed} | {label} | {res['recall']:.4f} | {res['mrr']:.4f} | {conservative} "
        f"| {statistics.median(res['seconds']):.2f} | {res['best_epoch']} | {res['wall']:.0f} "
        f"| {os.getloadavg()[0]:.2f} |"
    )


def _epochs_line(label: str, res: dict) -> str:
    pairs = ", ".join(f"{loss:.3f}/{v:.3f}" for loss, v in zip(res["loss"], res["valid_recall"]))
    return f"#   {label} per epoch (training loss / valid R@20): {pairs}"


def _sd(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else float("nan")


def _summary(results: dict[str, list[dict]]) -> None:
    print("\n| side | Recall@20 mean ± sd | MRR@20 mean ± sd | s/epoch (median) | seeds |")
    print("|---|---|---|---|---|")
    means = {}
    for side, runs in results.items():
        if not runs:
            continue
        rec, mrr = [r["recall"] for r in runs], [r["mrr"] for r in runs]
        secs = statistics.median(s for r in runs for s in r["seconds"])
        print(
            f"| {side} | {statistics.mean(rec):.4f} ± {_sd(rec):.4f} | {statistics.mean(mrr):.4f} ± {_sd(mrr):.4f} "
            f"| {secs:.2f} | {len(runs)} |"
        )
        means[side] = (statistics.mean(rec), statistics.mean(mrr))
    if len(means) == 2:
        (off_r, off_m), (our_r, our_m) = means["official"], means["sessrec"]
        print(
            f"# sessrec / authors' code: Recall@20 {our_r / off_r - 1:+.2%}, MRR@20 {our_m / off_m - 1:+.2%} "
            f"(the issue asks for within ±3%)"
        )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--official-dir", help="checkout of lijingsdu/sessionRec_NARM (holding NARM.py)")
    ap.add_argument("--official-python", default=sys.executable, help="interpreter with pytensor and numpy")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--sides", default="official,sessrec", help="comma-separated: official, sessrec")
    ap.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker(args)
    sides = args.sides.split(",")
    if not set(sides) <= {"official", "sessrec"}:
        ap.error(f"--sides takes official and/or sessrec, got {args.sides!r}")
    if "official" in sides and not (Path(args.official_dir or "") / "NARM.py").is_file():
        ap.error("--official-dir must be a checkout of lijingsdu/sessionRec_NARM (a folder holding NARM.py)")

    train, test, source = load_split()
    print(f"# data: {source}; {train.n_items} items, {train.n_cases} train cases, {test.n_cases} test cases")
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(host_line(args.threads) + f"; {args.epochs} epochs; started {started}")
    print(
        "| seed | side | R@20 | MRR@20 | R@20 / MRR@20, conservative ties, items 1..n | train s/epoch (median) "
        "| best epoch | wall s | load |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    results: dict[str, list[dict]] = {side: [] for side in sides}
    with tempfile.TemporaryDirectory(prefix="narm_official_") as tmp:
        work = Path(tmp)
        if "official" in sides:
            prepare_official(Path(args.official_dir), work, train, test)
        for seed in (int(s) for s in args.seeds.split(",")):
            for side in sides:
                res = run_official(args, work, train.n_items, seed) if side == "official" else run_ours(args, seed)
                results[side].append(res)
                print(_row(side, seed, res), flush=True)
                print(_epochs_line(side, res) + f"; cases {res['counts']}", flush=True)
    _summary(results)


if __name__ == "__main__":
    sys.exit(main())
