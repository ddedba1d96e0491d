"""Data-layer speed: synthetic generation, protocols, and raw-file parsing.

Run: ``python tests/perf/bench_data.py [--repeats 3] [--yoochoose-rows 4000000]``
Prints a table of median seconds (hardware line first). Nothing here is asserted.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from sessrec.data.protocols import gru4rec, narm
from sessrec.data.recipes.synthetic import generate_synthetic
from sessrec.data.recipes.yoochoose import Yoochoose

SIZES = {
    "default (8k sessions, 1.5k items)": {},
    "DIGINETICA-size (200k, 43k)": {"n_sessions": 200_000, "n_items": 43_000},
    "YOOCHOOSE-1/4-size (1.6M, 30k)": {"n_sessions": 1_600_000, "n_items": 30_000},
}


def median_time(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def write_yoochoose(path: Path, rows: int) -> None:
    rng = np.random.default_rng(0)
    sess = np.repeat(np.arange(rows // 4), 4)[:rows] + 1
    base = np.datetime64("2014-04-01T00:00:00.000") + np.sort(rng.integers(0, 183 * 86400_000, size=rows)).astype(
        "timedelta64[ms]"
    )
    stamps = np.datetime_as_string(base, unit="ms")
    items = rng.integers(214_500_000, 214_600_000, size=rows)
    with open(path, "w") as fh:
        for s, t, i in zip(sess.tolist(), stamps.tolist(), items.tolist()):
            fh.write(f"{s},{t}Z,{i},0\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--yoochoose-rows", type=int, default=2_000_000)
    args = ap.parse_args()
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}")
    print(f"{'step':<58} {'clicks':>10} {'median s':>9}")
    for label, kw in SIZES.items():
        t, ev = median_time(lambda kw=kw: generate_synthetic(**kw), args.repeats)
        print(f"{'synthetic generation, ' + label:<58} {len(ev):>10,} {t:>9.2f}")
        t, _ = median_time(lambda ev=ev: narm(ev, test_days=3), args.repeats)
        print(f"{'  narm protocol':<58} {len(ev):>10,} {t:>9.2f}")
        t, _ = median_time(lambda ev=ev: gru4rec(ev, test_days=3), args.repeats)
        print(f"{'  gru4rec protocol':<58} {len(ev):>10,} {t:>9.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "yoochoose-clicks.dat"
        write_yoochoose(path, args.yoochoose_rows)
        t, ev = median_time(lambda: Yoochoose(path=path).load_events(), args.repeats)
        print(f"{'yoochoose-clicks.dat parsing (generated file)':<58} {len(ev):>10,} {t:>9.2f}")
        print(f"# parse rate {len(ev) / t:,.0f} rows/s -> 33 M rows ≈ {33e6 * t / len(ev):.0f} s")


if __name__ == "__main__":
    main()
