"""Pieces shared by the benchmark scripts (run from the repository root; each script imports this file).

* :func:`parse_params`: ``--param key=value`` options as keyword arguments;
* :func:`host_line`: the ``# host: ...`` header line (machine, CPUs, torch, threads, load);
* :data:`METRIC_COLUMNS`, :func:`metric_cells`, :func:`mean_sd_cells`, :func:`seed_table_header`,
  :func:`seed_row`, :func:`mean_row`, :func:`evaluate_cutoffs`: accuracy tables, one row per seed and a
  mean ± sd row;
* :func:`synthetic_parser`, :func:`synthetic_split`, :func:`eval_probe`: the synthetic speed benchmarks
  (``bench_narm.py``, ``bench_attn.py``);
* :func:`run_json_worker`: a worker process whose last output line is JSON (side-by-side scripts);
* :func:`peak_rss_gb`.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import platform
import resource
import subprocess
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import torch

from sessrec import Sessions
from sessrec.data import prepare
from sessrec.evaluation import evaluate

#: Table header and metric key of every accuracy column, in order.
METRIC_COLUMNS = (
    ("R@5", "recall@5"),
    ("MRR@5", "mrr@5"),
    ("R@10", "recall@10"),
    ("MRR@10", "mrr@10"),
    ("R@20", "recall@20"),
    ("MRR@20", "mrr@20"),
)


def parse_params(pairs: Iterable[str]) -> dict[str, Any]:
    """``["epochs=2", "truncate=last"]`` -> ``{"epochs": 2, "truncate": "last"}`` (Python literals, else text)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, value = pair.split("=", 1)
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value
    return out


def host_line(threads: int, extra: str = "") -> str:
    """``# host: <name> <cpu>, <n> CPUs, torch <version>, <threads> threads<extra>, load average <1 min>``."""
    return (
        f"# host: {platform.node()} {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"torch {torch.__version__}, {threads} threads{extra}, load average {os.getloadavg()[0]:.2f}"
    )


def metric_cells(metrics: Mapping[str, float]) -> str:
    """The :data:`METRIC_COLUMNS` cells of one table row, ``" | "``-joined."""
    return " | ".join(f"{metrics[key]:.4f}" for _, key in METRIC_COLUMNS)


def mean_sd_cells(runs: list[Mapping[str, float]]) -> str:
    """Mean ± sample standard deviation of every :data:`METRIC_COLUMNS` metric over ``runs``."""
    return " | ".join(
        f"{np.mean([m[key] for m in runs]):.4f} ± {np.std([m[key] for m in runs], ddof=1):.4f}"
        for _, key in METRIC_COLUMNS
    )


def seed_table_header(extra: list[str]) -> str:
    """Header and separator lines of a per-seed table: seed, the :data:`METRIC_COLUMNS`, then ``extra``."""
    cols = ["seed"] + [c for c, _ in METRIC_COLUMNS] + extra
    return "| " + " | ".join(cols) + " |\n" + "|---" * len(cols) + "|"


def seed_row(seed: int, metrics: Mapping[str, float], cells: list[str]) -> str:
    """One seed's row: its metrics, then ``cells``."""
    return f"| {seed} | " + metric_cells(metrics) + " | " + " | ".join(cells) + " |"


def mean_row(runs: list[Mapping[str, float]], cells: list[str]) -> str:
    """The ``mean ± sd`` row over ``runs``, then ``cells`` and an empty last cell."""
    return f"| mean ± sd | {mean_sd_cells(runs)} | " + " | ".join(cells) + " | |"


def evaluate_cutoffs(model: Any, test: Sessions) -> tuple[dict[str, float], float]:
    """The :data:`METRIC_COLUMNS` metrics (full ranking, conservative ties) and the evaluation seconds."""
    res = evaluate(model, test, cutoffs=(5, 10, 20), ties="conservative", keep_ranks=False)
    return dict(res.metrics), float(res.seconds)


def peak_rss_gb() -> float:
    """Peak resident memory of this process so far, GB (Linux ``ru_maxrss`` is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def synthetic_parser(doc: str | None, *, fraction: float, fraction_help: str, eval_cases: int, threads: int):
    """Arguments of the synthetic speed benchmarks: size, timed fraction, evaluated cases, device, threads."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-sessions", type=int, default=200_000)
    ap.add_argument("--n-items", type=int, default=43_000)
    ap.add_argument("--fraction", type=float, default=fraction, help=fraction_help)
    ap.add_argument("--eval-cases", type=int, default=eval_cases)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=threads)
    return ap


def synthetic_split(args: argparse.Namespace, extra: str = "") -> tuple[Sessions, Sessions]:
    """Set the threads, prepare the synthetic split, print the header; return train and the evaluated test part.

    The test part is the first test sessions holding ``args.eval_cases`` cases.
    """
    torch.set_num_threads(args.threads)
    ds = prepare("synthetic", n_sessions=args.n_sessions, n_items=args.n_items)
    train, test = ds.train, ds.test
    print(
        f"# synthetic: {train.n_clicks + test.n_clicks:,} clicks, {train.n_items:,} items, "
        f"{train.n_cases:,} train cases, {test.n_cases:,} test cases"
    )
    print(host_line(args.threads, f", device {args.device}{extra}"))
    n_eval_sessions = int(np.searchsorted(np.cumsum(test.lengths - 1), args.eval_cases)) + 1
    return train, test.select(np.arange(min(n_eval_sessions, test.n_sessions)))


def eval_probe(model: Any, test_part: Sessions, device: str) -> tuple[float, float, float]:
    """Evaluate ``model`` on ``test_part`` (R@20 only): test cases/s, peak RSS GB, CUDA peak GB (NaN on CPU)."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    res = evaluate(model, test_part, cutoffs=(20,), keep_ranks=False)
    cuda_peak = torch.cuda.max_memory_allocated() / 1024**3 if device.startswith("cuda") else float("nan")
    return res.n_cases / res.seconds, peak_rss_gb(), cuda_peak


def run_json_worker(cmd: list[str], label: str, tail: int = 2000) -> Any:
    """Run ``cmd`` in a fresh process; return the JSON of its last output line.

    A failure exits with ``"<label> failed (exit N)"`` and the last ``tail`` characters of its stderr.
    """
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{label} failed (exit {proc.returncode}):\n{proc.stderr[-tail:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])
