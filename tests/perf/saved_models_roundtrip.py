"""Every installed model, fitted on the DIGINETICA 1-day split, saved and reloaded: identical scores?

For each model: fit (neural models 1 epoch, the rest their defaults), ``save_model``, a fresh
``load_model``, then score the first 1,000 test prefixes with both and print the largest
absolute difference (over finite scores; ``-inf`` positions must match too), the file size and
the seconds to save and to load. A corrupted copy of each file must give one clear error.

    python tests/perf/saved_models_roundtrip.py --threads 1 [--models narm,iknn]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch

from sessrec.data import prepare
from sessrec.errors import SessrecError
from sessrec.models import TorchModel
from sessrec.models.saving import load_model, save_model
from sessrec.registry import load_model as model_class
from sessrec.registry import model_names

RAW = Path(os.environ.get("SESSREC_SHARED", Path(__file__).resolve().parents[3] / "shared")) / (
    "data/diginetica/train-item-views_combined.csv"
)


def first_prefixes(sessions, n):
    """Score batches covering the first ``n`` test cases."""
    out, seen = [], 0
    for batch, _ in sessions.prefix_batches(250):
        out.append(batch)
        seen += len(batch.lengths)
        if seen >= n:
            break
    return out


def scores(model, batches, n):
    return torch.cat([model.score(b).cpu() for b in batches])[:n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--models", default=",".join(model_names()))
    ap.add_argument("--cases", type=int, default=1000)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    data = prepare("diginetica", path=str(RAW), test_days=1, data_root=tempfile.mkdtemp())
    batches = first_prefixes(data.test, args.cases)
    folder = Path(tempfile.mkdtemp(prefix="sessrec-saved-"))
    print(f"# DIGINETICA 1-day: {data.train.n_cases} training cases, first {args.cases} test prefixes scored")
    print("| model | max abs diff | -inf equal | file MB | save s | load s | corrupted file |")
    print("|---|---|---|---|---|---|---|")
    for name in args.models.split(","):
        cls = model_class(name)
        params = {"epochs": 1} if issubclass(cls, TorchModel) else {}
        model = cls(**params).fit(data.train)
        before = scores(model, batches, args.cases)
        path = folder / f"{name}.pt"
        t0 = time.perf_counter()
        save_model(model, path)
        t1 = time.perf_counter()
        loaded = load_model(path)
        t2 = time.perf_counter()
        after = scores(loaded, batches, args.cases)
        same_inf = bool(torch.equal(before.isneginf(), after.isneginf()))
        finite = before.isfinite()
        diff = float((before[finite] - after[finite]).abs().max()) if finite.any() else 0.0
        bad = path.with_name(f"{name}-bad.pt")
        blob = bytearray(path.read_bytes())
        blob[len(blob) // 2 : len(blob) // 2 + 64] = os.urandom(64)
        bad.write_bytes(bytes(blob))
        try:
            load_model(bad)
            corrupted = "LOADED (no error)"
        except SessrecError as exc:
            corrupted = "one SessrecError: " + str(exc).split(";")[0][:60].replace("|", "/")
        size = path.stat().st_size / 2**20
        cells = [name, f"{diff:g}", same_inf, f"{size:.1f}", f"{t1 - t0:.2f}", f"{t2 - t1:.2f}", corrupted]
        print("| " + " | ".join(map(str, cells)) + " |", flush=True)


if __name__ == "__main__":
    main()
