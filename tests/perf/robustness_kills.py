"""``kill -9`` at random moments of a small study, each followed by a rerun; prints a table.

The study: ``sessrec run --models pop,spop,markov`` on small synthetic data (the CLI's
``main`` in a process forked from this one, which has imported sessrec already), with a fresh
data root and study folder per trial (so a kill can land while the prepared cache, a ranks
file, a case table or a record is being written). One uninterrupted run gives the reference,
the moment W it first writes (its data root appears; before that it only imports) and its
end T; each trial kills the command at a uniformly random moment in [W - 1 s, T], reruns
the same command, and compares:

``--targeted N`` adds N kills timed the moment any ``*.tmp`` file appears (a write in
flight), which random moments rarely hit. Per trial:

* runs lost: reference runs missing from the store after the rerun;
* temp files left: ``*.tmp`` anywhere under the data root or the study after the rerun;
* identical: every record equal to the reference's, in the same order, with the timing
  fields (``fit_seconds``, ``eval_seconds``, ``peak_rss_mb``, ``started_at``,
  ``finished_at``) blanked, and every ranks and case file byte-identical.

    python tests/perf/robustness_kills.py --trials 30 --seed 0
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import tempfile
import time
from pathlib import Path

TIMINGS = ("fit_seconds", "eval_seconds", "peak_rss_mb", "started_at", "finished_at")
ARGS = ["run", "--models", "pop,spop,markov", "-o", "n_sessions=20000", "-o", "n_items=2000", "--quiet", "--no-report"]


def start(base: Path) -> int:
    """Fork a child that runs ``sessrec run`` (the CLI's ``main``) on ``base``; return its pid.

    The parent imported sessrec and torch once; forking skips their import in every child,
    so kill moments land in the work, not in the imports.
    """
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        os.environ["SESSREC_DATA"] = str(base / "data")
        os.chdir(base)
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(null, 2)
        from sessrec.cli import main as cli

        cli.main(args=[*ARGS, "--out", str(base / "study")], standalone_mode=False)
        code = 0
    finally:
        os._exit(code)


def wait(pid: int) -> int:
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def run(base: Path) -> tuple[float, float]:
    """Seconds until the command first writes (the data root appears) and until it ends."""
    t0 = time.perf_counter()
    pid = start(base)
    first = None
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        if first is None and (base / "data").exists():
            first = time.perf_counter() - t0
        time.sleep(0.005)
    end = time.perf_counter() - t0
    if not (base / "study" / "results.jsonl").exists():
        raise SystemExit("the uninterrupted run failed")
    return (end if first is None else first), end


def snapshot(study: Path) -> tuple[list[str], dict[str, bytes]]:
    """Records (timings blanked, canonical JSON) and the bytes of every ranks/case file."""
    records = []
    for line in (study / "results.jsonl").read_text().splitlines():
        rec = json.loads(line)
        rec.update(dict.fromkeys(TIMINGS))
        records.append(json.dumps(rec, sort_keys=True))
    files = {str(p.relative_to(study)): p.read_bytes() for d in ("ranks", "cases") for p in (study / d).glob("*")}
    return records, files


def count_records(study: Path) -> int:
    path = study / "results.jsonl"
    return sum(1 for line in path.read_bytes().split(b"\n") if line.strip()) if path.exists() else 0


def temp_files(base: Path) -> bool:
    """Whether a writer has a temp file open right now (the folders sessrec writes into)."""
    for d in (base / "data" / ".cache", base / "study", base / "study" / "ranks", base / "study" / "cases"):
        try:
            if any(e.name.endswith(".tmp") for e in os.scandir(d)):
                return True
        except OSError:
            continue
    return False


def kill_at(base: Path, pid: int, at: float | None) -> float:
    """SIGKILL ``pid`` after ``at`` seconds, or (``at`` None) the moment a temp file appears."""
    t0 = time.perf_counter()
    if at is not None:
        time.sleep(at)
    else:
        while not temp_files(base) and os.waitpid(pid, os.WNOHANG) == (0, 0):
            pass
    os.kill(pid, signal.SIGKILL)  # no cleanup handler runs
    return time.perf_counter() - t0


def trial(base: Path, at: float | None, reference: tuple[list[str], dict[str, bytes]]) -> dict[str, object]:
    pid = start(base)
    killed = kill_at(base, pid, at)
    wait(pid)
    before = count_records(base / "study")
    tmp_at_kill = len(list(base.rglob("*.tmp")))
    rerun_rc = wait(start(base))
    records, files = snapshot(base / "study")
    ref_records, ref_files = reference
    ref_ids = [json.loads(r)["run_id"] for r in ref_records]
    ids = {json.loads(r)["run_id"] for r in records}
    return {
        "killed": killed,
        "records_at_kill": before,
        "tmp_at_kill": tmp_at_kill,
        "rerun_rc": rerun_rc,
        "lost": sum(i not in ids for i in ref_ids),
        "tmp_left": len(list(base.rglob("*.tmp"))),
        "identical": records == ref_records and files == ref_files,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--targeted", type=int, default=0, help="then N kills the moment a temp file appears")
    args = ap.parse_args()
    import torch

    import sessrec
    import sessrec.cli  # imported once here, inherited by every forked run

    torch.set_num_threads(1)
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        ref_base = Path(tmp) / "reference"
        ref_base.mkdir()
        first_write, duration = run(ref_base)
        reference = snapshot(ref_base / "study")
        print(
            f"sessrec from {Path(sessrec.__file__).parent}; uninterrupted run {duration:.1f} s, first write at "
            f"{first_write:.1f} s; load {open('/proc/loadavg').read().split()[:3]}"
        )
        print(
            "| trial | killed at (s) | records at kill | temp files at kill | rerun exit | runs lost | "
            "temp files after rerun | identical to uninterrupted |"
        )
        print("|---|---|---|---|---|---|---|---|")
        totals = {"lost": 0, "tmp_left": 0, "identical": 0, "tmp_at_kill": 0}
        for t in range(1, args.trials + args.targeted + 1):
            base = Path(tmp) / f"t{t}"
            base.mkdir()
            at = rng.uniform(max(first_write - 1.0, 0.0), duration) if t <= args.trials else None
            got = trial(base, at, reference)
            for k in totals:
                totals[k] += int(got[k])  # type: ignore[call-overload]
            when = f"{got['killed']:.1f}" + ("" if at is not None else " (temp file seen)")
            cells = [when, got["records_at_kill"], got["tmp_at_kill"], got["rerun_rc"], got["lost"], got["tmp_left"]]
            print(f"| {t} | " + " | ".join(map(str, cells)) + f" | {'yes' if got['identical'] else 'NO'} |", flush=True)
            shutil.rmtree(base)
        print(
            f"| **all** | | | **{totals['tmp_at_kill']}** | | **{totals['lost']}** | **{totals['tmp_left']}** | "
            f"**{totals['identical']}/{args.trials + args.targeted}** |"
        )


if __name__ == "__main__":
    main()
