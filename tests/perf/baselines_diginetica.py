"""The classic baselines on the DIGINETICA benchmark split of issue 3: accuracy, seconds, memory.

Split: ``train-item-views_combined.csv`` as the ``diginetica`` raw file through the ``narm``
protocol with ``test_days=1`` (5,519 items; 33,590 training and 4,804 test cases). Full
ranking over all items, conservative ties (rank = #{j: s_j >= s_target}).

Run from the repository root::

    python tests/perf/baselines_diginetica.py                          # pop spop markov iknn bprmf fpmc
    python tests/perf/baselines_diginetica.py --models iknn,fpmc --seeds 0,1,2
    python tests/perf/baselines_diginetica.py --models fpmc --param fpmc:lr=0.05 --param fpmc:epochs=20

Every (model, seed) runs in a fresh child process, so "peak MiB" is that run's own peak RSS
(``ru_maxrss`` of the child: Python + torch + the data + the model, fit and evaluation);
the row "baseline RSS" is the same child's RSS after loading the data, before ``fit``.
Stochastic models (bprmf, fpmc) run once per seed and are summarised as mean ± sd.

Threads: ``--threads 1`` by default. On this 2-core machine shared with other agents (load
average 7-12 while these numbers were taken), torch's OpenMP workers with 2 threads spend
their time waiting at barriers: one BPR-MF epoch on the DIGINETICA split took 25 s with 2
threads and 0.55 s with 1 thread, in back-to-back runs. On a quiet machine use ``--threads 2``.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

RAW = Path(os.environ.get("SESSREC_SHARED", "/work/shared")) / "data/diginetica/train-item-views_combined.csv"
CUTOFFS = (5, 10, 20)
KEYS = ["recall@5", "mrr@5", "recall@10", "mrr@10", "recall@20", "mrr@20"]
STOCHASTIC = {"bprmf", "fpmc"}


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_one(name: str, seed: int, params: dict, threads: int, data_root: str | None) -> dict:
    """Fit and evaluate one model in this process; return a JSON-able record."""
    import torch

    from sessrec.data import prepare
    from sessrec.evaluation import evaluate
    from sessrec.models import param_names
    from sessrec.registry import load_model

    torch.set_num_threads(threads)
    ds = prepare("diginetica", path=str(RAW), test_days=1, data_root=data_root)
    train, test = ds.train, ds.test
    cls = load_model(name)
    kwargs = dict(params)
    names = param_names(cls)
    if "random_state" in names:
        kwargs.setdefault("random_state", seed)
    if "device" in names:
        kwargs.setdefault("device", "cpu")
    base_rss = _rss_mib()
    model = cls(**kwargs)
    t0 = time.perf_counter()
    model.fit(train)
    fit_s = time.perf_counter() - t0
    res = evaluate(model, test, cutoffs=CUTOFFS, ties="conservative", keep_ranks=False)
    per_epoch = None
    if getattr(model, "history_", None):
        per_epoch = statistics.median(h["seconds"] for h in model.history_)
    return {
        "model": name,
        "seed": seed,
        "params": model.get_params(),
        "metrics": {k: float(res.metrics[k]) for k in KEYS},
        "fit_s": fit_s,
        "eval_s": float(res.seconds),
        "epoch_s": per_epoch,
        "base_mib": base_rss,
        "peak_mib": _rss_mib(),
        "n_items": train.n_items,
        "train_cases": train.n_cases,
        "test_cases": test.n_cases,
        "fingerprint": str(ds.fingerprint)[:12],
    }


def _parse_params(items: list[str]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for item in items:
        model, _, kv = item.partition(":")
        key, _, value = kv.partition("=")
        try:
            parsed = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            parsed = value
        out.setdefault(model, {})[key] = parsed
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="pop,spop,markov,iknn,bprmf,fpmc")
    ap.add_argument("--seeds", default="0,1,2", help="seeds of the stochastic models (bprmf, fpmc)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: see the module docstring)")
    ap.add_argument("--param", action="append", default=[], help="MODEL:KEY=VALUE, e.g. fpmc:epochs=20")
    ap.add_argument("--data-root", default=None, help="where prepared splits are cached")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)  # child mode: "name seed json-params"
    args = ap.parse_args(argv)

    if args.one is not None:
        name, seed, params = json.loads(args.one)
        print(json.dumps(run_one(name, seed, params, args.threads, args.data_root)))
        return

    params = _parse_params(args.param)
    seeds = [int(s) for s in args.seeds.split(",")]
    import torch

    print(
        f"# host: {platform.node()} {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"torch {torch.__version__}, {args.threads} threads, load average {os.getloadavg()[0]:.2f} "
        "(machine shared with other agents)"
    )
    print(f"# data: {RAW.name}, narm protocol, test_days=1; full ranking, conservative ties")
    header = "| model | " + " | ".join(k.replace("recall", "R").replace("mrr", "MRR") for k in KEYS)
    print(header + " | fit s | s/epoch | eval s | peak MiB | params |")
    print("|---" * (len(KEYS) + 6) + "|")
    for name in args.models.split(","):
        rows = []
        for seed in seeds if name in STOCHASTIC else [0]:
            cmd = [
                sys.executable,
                __file__,
                "--threads",
                str(args.threads),
                "--one",
                json.dumps([name, seed, params.get(name, {})]),
            ]
            if args.data_root:
                cmd += ["--data-root", args.data_root]
            out = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if out.returncode != 0:
                print(f"| {name} | failed: {out.stderr.strip().splitlines()[-1] if out.stderr else out.returncode} |")
                break
            rec = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append(rec)
            print(
                f"# {name} seed {seed}: "
                + ", ".join(f"{k}={rec['metrics'][k]:.4f}" for k in KEYS)
                + f"; fit {rec['fit_s']:.1f} s, eval {rec['eval_s']:.2f} s, peak {rec['peak_mib']:.0f} MiB "
                f"(after data load {rec['base_mib']:.0f} MiB); data {rec['n_items']} items, "
                f"{rec['train_cases']} train / {rec['test_cases']} test cases, fingerprint {rec['fingerprint']}",
                flush=True,
            )
        if not rows:
            continue

        def cell(key: str, rows: list[dict] = rows) -> str:
            vals = [r["metrics"][key] for r in rows]
            if len(vals) == 1:
                return f"{100 * vals[0]:.2f}"
            return f"{100 * statistics.mean(vals):.2f} ± {100 * statistics.stdev(vals):.2f}"

        epoch = [r["epoch_s"] for r in rows if r["epoch_s"] is not None]
        changed = {k: v for k, v in rows[0]["params"].items() if k in params.get(name, {})}
        epoch_cell = f"{statistics.median(epoch):.2f}" if epoch else "–"
        row = [name, *(cell(k) for k in KEYS)]
        row += [f"{statistics.mean(r['fit_s'] for r in rows):.1f}", epoch_cell]
        row += [f"{statistics.mean(r['eval_s'] for r in rows):.2f}", f"{max(r['peak_mib'] for r in rows):.0f}"]
        row += [str(changed or "defaults")]
        print("| " + " | ".join(row) + " |", flush=True)
    print(
        f"# metrics in %; stochastic models: mean ± sd over seeds {args.seeds}; load average at end "
        f"{os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    sys.exit(main())
