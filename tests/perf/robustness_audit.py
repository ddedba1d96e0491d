"""Bad inputs, edited data and damaged caches tried through the CLI; prints a table: case, outcome.

Each case builds its files in a fresh temporary folder, runs ``sessrec run`` (the CLI's
``main`` in a process forked from this one) with the ``pop`` model and classifies what a
user sees: ``error`` (one line,
exit 2), ``note`` (the run finished and said what it assumed or repaired), ``ok``,
``TRACEBACK``, or ``SILENT`` (finished, but what it did is wrong for this case). The last
column is the first line of the error or note.

    python tests/perf/robustness_audit.py              # the code on the import path
    PYTHONPATH=/tmp/old python tests/perf/robustness_audit.py   # e.g. an older checkout

The cases are the data-side items of the robustness audit (raw files, prepared cache, run
identity, temp files); concurrent writers and kills have their own scripts
(``robustness_concurrency.py``, ``robustness_kills.py``).
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path


# ---------------------------------------------------------------------- data
def digi_text(n: int = 400) -> str:
    rows = ["sessionId;userId;itemId;timeframe;eventdate"]
    for s in range(1, n + 1):
        for k in range(2 + s % 3):
            rows.append(f"{s};NA;{100 + (s + k) % 9};{1000 * k};2016-05-{1 + s % 20:02d}")
    return "\n".join(rows) + "\n"


def csv_text(n: int = 400, unit: float = 1.0, types: bool = False) -> str:
    kinds = ["view", "view", "view", "addtocart", "transaction"]
    rows = ["SessionId,ItemId,Time" + (",Type" if types else "")]
    for s in range(1, n + 1):
        for k in range(2 + s % 3):
            t = int((1442004589 + 3600 * (s // 10) + 60 * k) * unit)
            rows.append(f"{s},{10 + (s + k) % 9},{t}" + (f",{kinds[(s + k) % 5]}" if types else ""))
    return "\n".join(rows) + "\n"


def rr_text(n: int = 2000, unit: float = 1000.0) -> str:
    rows = ["timestamp,visitorid,event,itemid,transactionid"]
    for i in range(n):
        t = int((1442004589 + 400 * i) * unit)
        rows.append(f"{t},{i // 5},view,{10 + i % 11},")  # a visitor: 5 views 400 s apart
    return "\n".join(rows) + "\n"


def yoo_text(n: int = 400) -> str:
    rows = []
    for s in range(1, n + 1):
        for k in range(2 + s % 3):
            rows.append(f"{s},2014-04-{1 + s % 20:02d}T10:{k:02d}:09.277Z,{214536502 + (s + k) % 9},0")
    return "\n".join(rows) + "\n"


def with_line(text: str, line: int, new: str) -> str:
    lines = text.split("\n")
    lines[line - 1] = new
    return "\n".join(lines)


# ---------------------------------------------------------------------- running
def sessrec(tmp: Path, *args: str) -> tuple[int, str]:
    """Exit code and output of ``sessrec run ARGS`` (the CLI's ``main`` in a forked child).

    The parent imported sessrec once; each child inherits it, so a case costs its work only.
    """
    log = tmp / f".out-{time.monotonic_ns()}.txt"
    argv = ["run", "--models", "pop", "--quiet", "--no-report", "--out", str(tmp / "study"), *args]
    pid = os.fork()
    if pid == 0:  # child: behave like `sessrec run ...` started in tmp
        code = 1
        try:
            fd = os.open(log, os.O_WRONLY | os.O_CREAT)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.environ["SESSREC_DATA"] = str(tmp / "data")
            os.chdir(tmp)
            from sessrec.cli import main as cli

            cli.main(args=argv, prog_name="sessrec")
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    rc = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    text = log.read_text(errors="replace")
    log.unlink()
    return rc, text


def outcome(rc: int, text: str, *, expect_note: str | None = None, silent_if: str | None = None) -> tuple[str, str]:
    """(kind, first line) of a CLI result."""
    lines = [x.strip() for x in text.splitlines() if x.strip()]
    if "Traceback" in text:
        return "TRACEBACK", lines[-1][:160]
    if rc != 0:
        err = next((x for x in lines if x.startswith("Error")), lines[-1] if lines else "")
        return "error", err[:160]
    notes = [x for x in lines if x.startswith("note:")]
    if silent_if is not None and re.search(silent_if, text):
        return "SILENT", next((x for x in lines if re.search(silent_if, x)), "")[:160]
    if expect_note is not None:
        hit = [x for x in notes if expect_note in x]
        return ("note", hit[0][:160]) if hit else ("SILENT", "(no note)")
    return "ok", (notes[0] if notes else lines[-1] if lines else "")[:160]


def file_case(name: str, text: str | bytes, *args: str, **kw: str) -> Callable[[Path], tuple[str, str]]:
    def case(tmp: Path) -> tuple[str, str]:
        path = tmp / name
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        return outcome(*sessrec(tmp, *[a.replace("FILE", str(path)) for a in args]), **kw)

    return case


DIGI = ("--dataset", "diginetica", "-o", "path=FILE", "--test-days", "3")
CSV = ("--dataset", "csv", "-o", "path=FILE", "--test-days", "0.5")
RR = ("--dataset", "retailrocket", "-o", "path=FILE", "--test-days", "1")
YOO = ("--dataset", "yoochoose", "-o", "path=FILE", "--test-days", "3")


def edited_raw_file(tmp: Path) -> tuple[str, str]:
    raw = tmp / "views.csv"
    raw.write_text(digi_text())
    args = [a.replace("FILE", str(raw)) for a in DIGI]
    sessrec(tmp, *args)
    st = raw.stat()
    text = raw.read_text()
    raw.write_text(text.replace("\n2;NA;102;0;", "\n2;NA;103;0;", 1))
    os.utime(raw, ns=(st.st_atime_ns, st.st_mtime_ns))  # touch -r: same size, same mtime
    rc, out = sessrec(tmp, *args)
    return outcome(rc, out, silent_if=r"0 run\(s\) finished, 1 skipped")


def spelled_options(tmp: Path) -> tuple[str, str]:
    raw = tmp / "views.csv"
    raw.write_text(digi_text())
    args = [a.replace("FILE", str(raw)) for a in DIGI]
    sessrec(tmp, *args, "-o", "min_item_support=3")
    rc, out = sessrec(tmp, *args, "-o", "min_item_support=3.0")
    return outcome(rc, out, silent_if=r"1 run\(s\) finished")


def temp_files_left(tmp: Path) -> tuple[str, str]:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    import socket

    host = socket.gethostname().replace(".", "-")
    left = [
        tmp / "study" / "ranks" / f".0123456789abcdef.npy.{pid}.tmp",
        tmp / "study" / "cases" / f".fp.npz.{pid}.tmp",
        tmp / "data" / ".cache" / f".synthetic-0.npz.{host}.{pid}.abcd.tmp",
    ]
    for p in left:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"partial")
    rc, out = sessrec(tmp, "-o", "n_sessions=400", "-o", "n_items=80")
    kind, line = outcome(rc, out)
    still = [p.name for p in left if p.exists()]
    return ("SILENT", f"left: {', '.join(still)}") if still else (kind, f"all 3 removed; {line}")


def damaged_cache(size: str) -> Callable[[Path], tuple[str, str]]:
    def case(tmp: Path) -> tuple[str, str]:
        sessrec(tmp, "-o", "n_sessions=400", "-o", "n_items=80")
        (cache,) = (tmp / "data" / ".cache").glob("synthetic-*.npz")
        data = cache.read_bytes()
        cache.write_bytes(b"" if size == "zero" else data[: len(data) // 2])
        rc, out = sessrec(tmp, "-o", "n_sessions=400", "-o", "n_items=80", "--force")
        return outcome(rc, out, expect_note="damaged")

    return case


def empty_test_split(tmp: Path) -> tuple[str, str]:
    rows = ["sessionId;userId;itemId;timeframe;eventdate"]
    for s in range(60):
        day, item = (1 + s % 9, 100 + s % 5) if s < 50 else (10, 900)
        rows += [f"{s + 1};NA;{item};0;2016-05-{day:02d}", f"{s + 1};NA;{item + 1};1000;2016-05-{day:02d}"]
    raw = tmp / "views.csv"
    raw.write_text("\n".join(rows) + "\n")
    return outcome(*sessrec(tmp, "--dataset", "diginetica", "-o", f"path={raw}", "--test-days", "1"))


def a_directory(tmp: Path) -> tuple[str, str]:
    (tmp / "folder.csv").mkdir()
    return outcome(*sessrec(tmp, "--dataset", "diginetica", "-o", f"path={tmp / 'folder.csv'}"))


def mixed_units() -> str:
    lines = csv_text().split("\n")
    return "\n".join(line if i < 100 else re.sub(r",(\d{10})$", r",\g<1>000", line) for i, line in enumerate(lines))


CASES: list[tuple[str, Callable[[Path], tuple[str, str]]]] = [
    ("edited raw file, same size, mtime restored", edited_raw_file),
    ("option 3 then 3.0", spelled_options),
    ("temp files left by a kill", temp_files_left),
    ("zero-byte prepared cache", damaged_cache("zero")),
    ("truncated prepared cache", damaged_cache("half")),
    ("empty test split after filtering", empty_test_split),
    ("epoch column mixing seconds and ms", file_case("log.csv", mixed_units(), *CSV)),
    (
        "item id beyond int64",
        file_case("log.csv", with_line(csv_text(), 40, "13,99999999999999999999,1442008189"), *CSV),
    ),
    ("item id 1e3", file_case("log.csv", with_line(csv_text(), 40, "13,1e3,1442008189"), *CSV)),
    ("row with extra fields", file_case("views.csv", with_line(digi_text(), 50, "17;NA;101;0;2016-05-18;x"), *DIGI)),
    ("bad timestamp on line 101", file_case("views.csv", with_line(digi_text(), 101, "33;NA;101;0;2016-5-x"), *DIGI)),
    ("csv 'auto' time, bad value on line 101", file_case("log.csv", with_line(csv_text(), 101, "33,11,soon"), *CSV)),
    ("UTF-8 BOM", file_case("views.csv", "\ufeff" + digi_text(), *DIGI)),
    ("gzip .csv.gz", file_case("views.csv.gz", gzip.compress(digi_text().encode()), *DIGI)),
    ("gzip .dat.gz (yoochoose)", file_case("clicks.dat.gz", gzip.compress(yoo_text().encode()), *YOO)),
    ("bz2 .csv.bz2", file_case("views.csv.bz2", bz2.compress(digi_text().encode()), *DIGI)),
    (
        "non-UTF-8 byte on line 77",
        file_case("views.csv", with_line(digi_text(), 77, "27;NA;1\xe90;0;2016-05-08").encode("latin-1"), *DIGI),
    ),
    ("retailrocket timestamps in seconds", file_case("events.csv", rr_text(unit=1.0), *RR)),
    ("retailrocket in milliseconds", file_case("events.csv", rr_text(), *RR)),
    (
        "csv log with several event types",
        file_case("log.csv", csv_text(types=True), *CSV, expect_note="kept every event type"),
    ),
    (
        "csv log filtered to views",
        file_case(
            "log.csv",
            csv_text(types=True),
            *CSV,
            "-o",
            "filter_column=Type",
            "-o",
            'keep_values=["view"]',
            expect_note="dropped",
        ),
    ),
    ("session-format file given to retailrocket", file_case("s.csv", csv_text(types=True), *RR)),
    ("raw file path is a folder", a_directory),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", help="run only cases whose name contains this text")
    ap.add_argument("--start", type=int, default=0, help="skip the first START cases")
    args = ap.parse_args()
    os.environ["COLUMNS"] = "400"  # before rich reads the terminal size
    import sessrec
    import sessrec.cli  # imported once, inherited by every forked case

    print(f"sessrec from {Path(sessrec.__file__).parent}")
    print("| case | outcome | what the user sees |")
    print("|---|---|---|")
    for name, case in CASES[args.start :]:
        if args.only and args.only not in name:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            try:
                kind, line = case(Path(tmp))
            except Exception as exc:  # a case that cannot even be set up is reported, not hidden
                kind, line = "TRACEBACK", f"{type(exc).__name__}: {exc}"
        line = line.replace(tmp, "<tmp>").replace("|", "\\|")
        print(f"| {name} | {kind} | {line} |", flush=True)


if __name__ == "__main__":
    main()
