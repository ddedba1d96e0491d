"""The ``window`` and ``gru4rec-rsc15`` protocols side by side with the reference code that defines them.

Run::

    python tests/perf/protocols_side_by_side.py --session-rec PATH/TO/session-rec --gru4rec PATH/TO/GRU4Rec

* ``--session-rec``: session-rec's own ``filter_data`` + ``slice_data``
  (``preprocessing/session_based/preprocess_diginetica.py``, DIGINETICA window settings 5 / 25 / 7
  / 45 / 18) on the staged DIGINETICA files, against sessrec's ``window`` protocol on the same
  event times (session-rec's: the row's ``eventdate`` + ``timeframe``) and through the
  ``diginetica`` recipe (the session's first ``eventdate`` + ``timeframe``).
* ``--gru4rec``: the official ``examples/rsc15/preprocess.py`` (its four output files) on a
  generated YOOCHOOSE-layout file, against ``prepare("yoochoose", protocol="gru4rec-rsc15",
  valid_days=1)``.

Neither reference is copied into sessrec: the script imports or executes it from the checkout
given. Both run with ``TZ=UTC`` (the references parse dates in local time). Prints one line per
comparison; nothing is asserted (the unit tests compare against brute-force references).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

os.environ["TZ"] = "UTC"
time.tzset()
if not hasattr(np, "in1d"):  # removed in numpy 2.4; the references use it with isin's meaning
    np.in1d = np.isin  # noqa: NPY201 - restores the name for the reference code, 1-d inputs only

from sessrec.data import prepare  # noqa: E402
from sessrec.data.protocols import window  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "diginetica"
WINDOW = {"n_slices": 5, "days_train": 25, "days_test": 7, "offset": 45, "shift": 18}


def by_session(df: pd.DataFrame) -> dict[int, list[int]]:
    return {int(s): g.ItemId.tolist() for s, g in df.groupby("SessionId", sort=False)}


def sessions_of(result, part: str) -> dict[int, list[int]]:
    s = getattr(result, part)
    return {int(i): result.item_index.to_ids(seq).tolist() for i, seq in zip(s.session_ids, s)}


def session_rec_window(checkout: Path) -> None:
    sys.path.insert(0, str(checkout / "preprocessing" / "session_based"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import preprocess_diginetica as sr  # session-rec's own module
    for name in ("train-item-views_sample.csv", "train-item-views_combined.csv"):
        path = DATA / name
        raw = pd.read_csv(path, sep=";")
        raw.columns = ["SessionId", "UserId", "ItemId", "timeframe", "eventdate"]
        day = (pd.to_datetime(raw.eventdate) - pd.Timestamp("1970-01-01")).dt.total_seconds()
        data = pd.DataFrame({"SessionId": raw.SessionId, "Time": raw.timeframe / 1000 + day, "ItemId": raw.ItemId})
        data = data.sort_values(["SessionId", "Time"], kind="stable")
        times = raw.timeframe / 1000 + day
        events = pd.DataFrame({"session_id": raw.SessionId, "item_id": raw.ItemId, "time": times, "date": 0.0})
        with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
            filtered = sr.filter_data(data, 5, 2)
            sr.slice_data(filtered, f"{tmp}/d", WINDOW["n_slices"], 45, 18, 25, 7)
            outs = [
                (pd.read_csv(f"{tmp}/d_train_full.{k}.txt", sep="\t"), pd.read_csv(f"{tmp}/d_test.{k}.txt", sep="\t"))
                for k in range(WINDOW["n_slices"])
            ]
        for k, (tr, te) in enumerate(outs):
            same = window(events, slice=k, **WINDOW)
            rec = prepare("diginetica", path=path, protocol="window", slice=k, cache=False)
            ref_tr, ref_te = by_session(tr), by_session(te)
            diff_tr = len(set(sessions_of(rec, "train")) ^ set(ref_tr))
            diff_te = len(set(sessions_of(rec, "test")) ^ set(ref_te))
            print(
                f"{name} slice {k}: session-rec train {len(ref_tr)} sessions / {len(tr)} clicks, test {len(ref_te)} / "
                f"{len(te)}; sessrec on the same times: train identical {sessions_of(same, 'train') == ref_tr}, "
                f"test identical {sessions_of(same, 'test') == ref_te}; via the recipe: sessions differing "
                f"train {diff_tr}, test {diff_te}"
            )


def write_yoochoose(path: Path, n_sessions: int = 6000, seed: int = 0) -> None:
    """A YOOCHOOSE-layout click file: 10 days, repeats, rare items, items that appear late."""
    rng = np.random.default_rng(seed)
    lines = []
    t0 = np.datetime64("2014-09-20T00:00:00.000")
    for s in range(1, n_sessions + 1):
        start = rng.uniform(0, 10 * 86400)
        gaps = np.cumsum(rng.exponential(120.0, size=int(rng.integers(1, 10))))
        for t in start + gaps:
            item = 214_500_000 + (int(rng.zipf(1.4)) % 3000 if rng.random() < 0.9 else int(rng.integers(0, 8000)))
            if t > 9.3 * 86400 and rng.random() < 0.2:
                item = 214_900_000 + int(rng.integers(0, 30))
            if lines and rng.random() < 0.1:
                item = int(lines[-1].split(",")[2])  # an immediate repeat
            stamp = np.datetime_as_string(t0 + np.timedelta64(int(t * 1000), "ms"), unit="ms")
            lines.append(f"{s},{stamp}Z,{item},0")
    path.write_text("\n".join(lines) + "\n")


def gru4rec_rsc15(checkout: Path) -> None:
    source = (checkout / "examples" / "rsc15" / "preprocess.py").read_text()
    with tempfile.TemporaryDirectory() as tmp:
        write_yoochoose(Path(tmp) / "yoochoose-clicks.dat")
        source = re.sub(r"PATH_TO_ORIGINAL_DATA = .*", f"PATH_TO_ORIGINAL_DATA = {tmp + '/'!r}", source)
        source = re.sub(r"PATH_TO_PROCESSED_DATA = .*", f"PATH_TO_PROCESSED_DATA = {tmp + '/'!r}", source)
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(source, "preprocess.py", "exec"), {"__name__": "__main__"})  # the official script
        clicks = Path(tmp) / "yoochoose-clicks.dat"
        ds = prepare("yoochoose", path=clicks, protocol="gru4rec-rsc15", valid_days=1, cache=False)
        full = prepare("yoochoose", path=clicks, protocol="gru4rec-rsc15", cache=False)
        for label, part, result, file in [
            ("train_full", "train", full, "rsc15_train_full.txt"),
            ("test", "test", full, "rsc15_test.txt"),
            ("train_tr", "train", ds, "rsc15_train_tr.txt"),
            ("train_valid", "valid", ds, "rsc15_train_valid.txt"),
        ]:
            ref = pd.read_csv(Path(tmp) / file, sep="\t").sort_values(["SessionId", "Time"], kind="stable")
            ref_sessions = by_session(ref)
            got = sessions_of(result, part)
            print(
                f"rsc15 {label}: official {len(ref_sessions)} sessions / {len(ref)} events / {ref.ItemId.nunique()} "
                f"items; sessrec {len(got)} / {sum(map(len, got.values()))}; identical {got == ref_sessions}"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--session-rec", type=Path, help="a checkout of rn5l/session-rec")
    ap.add_argument("--gru4rec", type=Path, help="a checkout of hidasib/GRU4Rec")
    args = ap.parse_args()
    print(f"numpy {np.__version__}, pandas {pd.__version__}")
    if args.session_rec:
        session_rec_window(args.session_rec)
    if args.gru4rec:
        gru4rec_rsc15(args.gru4rec)


if __name__ == "__main__":
    main()
