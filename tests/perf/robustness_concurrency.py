"""Concurrent writers on one study: an appender beside a ``--force`` rerun; prints a table.

Each trial starts from a study holding ``pop`` and ``spop`` runs on small synthetic data,
then runs two processes for ``--seconds``:

* the appender stores new runs one after another (``StudyStore.append`` of distinct
  run ids, each with its ranks file) and writes down every id it stored;
* the ``--force`` writer reruns the study's runs with ``run_study(..., force=True)`` in a
  loop, as ``sessrec run --force`` does.

Afterwards it counts the appender's records missing from ``results.jsonl`` (lost), ranks
files without a record (orphans), run ids recorded twice, and ``*.tmp`` files left.

    python tests/perf/robustness_concurrency.py --trials 20 --seconds 3
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import tempfile
import time
from pathlib import Path

import numpy as np

SMALL = {"n_sessions": 300, "n_items": 60}


def specs() -> list:
    from sessrec.runner import RunSpec

    return [RunSpec(model=m, dataset="synthetic", dataset_options=SMALL) for m in ("pop", "spop")]


def appender(study: str, seconds: float, log: str) -> None:
    from sessrec.results import REQUIRED_KEYS, StudyStore

    store = StudyStore(study)
    stored = []
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        rec = {k: None for k in REQUIRED_KEYS}
        rec.update(run_id=f"{i:016x}", model="appended", params={}, metrics={"recall@20": 0.5}, seed=i)
        store.append(rec, np.full(5, i, dtype=np.int32))
        stored.append(rec["run_id"])
        i += 1
    Path(log).write_text("\n".join(stored))


def forcer(study: str, seconds: float, data_root: str) -> None:
    from sessrec.runner import run_study

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        run_study(specs(), study, data_root=data_root, force=True)


def trial(seconds: float) -> dict[str, int]:
    from sessrec.results import StudyStore
    from sessrec.runner import run_study

    with tempfile.TemporaryDirectory() as tmp:
        study, log = Path(tmp) / "study", Path(tmp) / "appended.txt"
        run_study(specs(), study, data_root=tmp)
        ctx = mp.get_context("spawn")
        procs = [
            ctx.Process(target=appender, args=(str(study), seconds, str(log))),
            ctx.Process(target=forcer, args=(str(study), seconds, tmp)),
        ]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        store = StudyStore(study)
        ids = [r["run_id"] for r in store.read().records]
        appended = log.read_text().split()
        ranks = {p.stem for p in store.ranks_dir.glob("*.npy")}
        return {
            "appended": len(appended),
            "lost": len(set(appended) - set(ids)),
            "orphans": len(ranks - set(ids)),
            "duplicates": len(ids) - len(set(ids)),
            "tmp_left": len(list(study.rglob("*.tmp"))),
            "exit_codes_nonzero": sum(p.exitcode != 0 for p in procs),
        }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()
    import sessrec

    print(f"sessrec from {Path(sessrec.__file__).parent}; {args.trials} trials of {args.seconds:g} s")
    print("| trial | records appended | lost | orphan ranks | duplicate ids | temp files left | failed writers |")
    print("|---|---|---|---|---|---|---|")
    total = dict.fromkeys(("appended", "lost", "orphans", "duplicates", "tmp_left", "exit_codes_nonzero"), 0)
    for t in range(1, args.trials + 1):
        got = trial(args.seconds)
        for k in total:
            total[k] += got[k]
        print(f"| {t} | " + " | ".join(str(got[k]) for k in total) + " |", flush=True)
    print("| **all** | " + " | ".join(f"**{total[k]}**" for k in total) + " |")


if __name__ == "__main__":
    main()
