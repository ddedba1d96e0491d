"""Nothing stale, nothing lost: run identity, concurrent writers, killed writers, damaged caches."""

from __future__ import annotations

import multiprocessing as mp
import os
import subprocess
import sys
import time

import numpy as np
import pytest
from raw_files import digi_file

from sessrec.data import prepare
from sessrec.errors import DataError
from sessrec.progress import progress_callback
from sessrec.results import REQUIRED_KEYS, StudyStore
from sessrec.runner import RunSpec, run_study

SMALL = {"n_sessions": 400, "n_items": 80}


def record(run_id: str, value: float = 0.5) -> dict:
    rec = {k: None for k in REQUIRED_KEYS}
    rec.update(run_id=run_id, model="pop", params={}, metrics={"recall@20": value})
    return rec


def collect(fn):
    events: list[tuple[str, dict]] = []
    with progress_callback(lambda kind, info: events.append((kind, info))):
        out = fn()
    return out, events


# ---------------------------------------------------------------------- stale data
def test_edited_raw_file_with_restored_mtime_is_reprepared_and_rerun(tmp_path):
    raw = digi_file(tmp_path / "views.csv", 200)
    specs = [RunSpec(model=m, dataset="diginetica", dataset_options={"path": str(raw)}) for m in ("pop", "spop")]
    first = run_study(specs, tmp_path / "study", data_root=tmp_path)
    assert len(first.ran) == 2
    assert len(run_study(specs, tmp_path / "study", data_root=tmp_path).skipped) == 2
    # one row edited, same size, mtime restored (touch -r): only the content says it changed
    before = raw.stat()
    text = raw.read_text()
    assert "\n2;NA;101;0;2016-05-02\n" in text
    raw.write_text(text.replace("\n2;NA;101;0;2016-05-02\n", "\n2;NA;104;0;2016-05-02\n", 1))
    os.utime(raw, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert raw.stat().st_size == before.st_size and raw.stat().st_mtime_ns == before.st_mtime_ns
    again, events = collect(lambda: run_study(specs, tmp_path / "study", data_root=tmp_path))
    assert len(again.ran) == 2 and not again.skipped
    assert not any(info.get("step", "").endswith(": cached") for _, info in events)
    records = StudyStore(tmp_path / "study").read().records
    assert len({r["data_source"]["checksum"] for r in records}) == 2  # old and new bytes, each recorded


def test_options_spelled_3_or_3_0_are_one_run(tmp_path):
    a = RunSpec(model="pop", dataset_options={"min_item_support": 3}, test_days=1, params={"x": 2})
    b = RunSpec(model="pop", dataset_options={"min_item_support": 3.0}, test_days=1.0, params={"x": 2.0})
    assert a.run_id == b.run_id
    assert a.run_id != RunSpec(model="pop", dataset_options={"min_item_support": 3.5}, test_days=1).run_id
    assert a.with_data("d1").run_id == b.with_data("d1").run_id != a.with_data("d2").run_id
    # through the runner: the second spelling is skipped, not counted as a second seed
    spec = {"model": "pop", "dataset": "synthetic", "dataset_options": {**SMALL, "min_item_support": 3}}
    run_study([RunSpec(**spec)], tmp_path / "s", data_root=tmp_path)
    spec["dataset_options"] = {**SMALL, "min_item_support": 3.0}
    out = run_study([RunSpec(**spec)], tmp_path / "s", data_root=tmp_path)
    assert len(out.skipped) == 1 and not out.ran


def test_empty_test_split_fails_before_any_model_is_fitted(tmp_path):
    # the last day's sessions only click items never seen in training: filtered out of test
    lines = ["sessionId;userId;itemId;timeframe;eventdate"]
    for s in range(60):
        day, item = (1 + s % 9, 100 + s % 5) if s < 50 else (10, 900)
        lines += [f"{s + 1};NA;{item};0;2016-05-{day:02d}", f"{s + 1};NA;{item + 1};1000;2016-05-{day:02d}"]
    raw = tmp_path / "views.csv"
    raw.write_text("\n".join(lines) + "\n")
    specs = [RunSpec(model="pop", dataset="diginetica", dataset_options={"path": str(raw)}, test_days=1)]
    with pytest.raises(DataError, match="test split is empty"):
        run_study(specs, tmp_path / "study", data_root=tmp_path)
    assert not (tmp_path / "study" / "results.jsonl").exists()


# ---------------------------------------------------------------------- concurrent writers
def _appender(path: str, n: int) -> None:
    store = StudyStore(path)
    for i in range(n):
        store.append(record(f"add{i:04d}"), np.full(3, i, dtype=np.int32))


def _forcer(path: str, n: int) -> None:
    store = StudyStore(path)
    for i in range(n):
        store.append(record("forced", value=i), np.full(3, i, dtype=np.int32), replace=True)
        store.drop([f"gone{i % 5}"])


def test_force_beside_an_appender_loses_no_record_and_leaves_no_orphan(tmp_path):
    store = StudyStore(tmp_path)
    for i in range(5):
        store.append(record(f"gone{i}"), np.zeros(1, dtype=np.int32))
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=f, args=(str(tmp_path), 150)) for f in (_appender, _forcer)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    got = store.read()
    ids = [r["run_id"] for r in got.records]
    assert sorted(ids) == sorted([f"add{i:04d}" for i in range(150)] + ["forced"])  # nothing lost, no duplicate
    assert got.skipped == []
    assert next(r for r in got.records if r["run_id"] == "forced")["metrics"]["recall@20"] == 149
    ranks = {p.stem for p in store.ranks_dir.glob("*.npy")}
    assert ranks == set(ids)  # dropped runs took their ranks files with them
    assert not list(tmp_path.rglob("*.tmp"))


def test_replace_keeps_the_old_record_until_the_new_one_is_stored(tmp_path):
    store = StudyStore(tmp_path)
    store.append(record("a", 0.1), np.array([1], dtype=np.int32))
    store.append(record("b", 0.2), np.array([2], dtype=np.int32))
    assert store.append(record("a", 0.3), np.array([3], dtype=np.int32)) is False  # no duplicate without replace
    assert store.append(record("a", 0.4), np.array([4], dtype=np.int32), replace=True) is True
    recs = store.read().records
    assert [(r["run_id"], r["metrics"]["recall@20"]) for r in recs] == [("b", 0.2), ("a", 0.4)]
    assert store.load_ranks("a").tolist() == [4]


def test_forced_study_interrupted_keeps_the_old_results(tmp_path):
    from sessrec.registry import register_model, unregister_model
    from sessrec.testing.doubles import TransitionModel

    class Interrupting(TransitionModel):
        def fit(self, train, *, valid=None):
            raise KeyboardInterrupt

    specs = [RunSpec(model="pop", dataset="synthetic", dataset_options=SMALL)]
    run_study(specs, tmp_path / "s", data_root=tmp_path)
    register_model("t-interrupt", Interrupting, overwrite=True)
    try:
        with pytest.raises(KeyboardInterrupt):
            run_study(
                [RunSpec(model="t-interrupt", dataset_options=SMALL), *specs],
                tmp_path / "s",
                data_root=tmp_path,
                force=True,
            )
    finally:
        unregister_model("t-interrupt")
    assert [r["model"] for r in StudyStore(tmp_path / "s").read().records] == ["pop"]


# ---------------------------------------------------------------------- killed writers
def test_temp_files_of_dead_writers_are_removed_on_the_next_run(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    study = tmp_path / "study"
    (study / "ranks").mkdir(parents=True)
    (study / "cases").mkdir()
    left = [study / "ranks" / f".abc.npy.{dead_pid}.tmp", study / "cases" / f".fp.npz.{dead_pid}.tmp"]
    cache = tmp_path / ".cache"
    cache.mkdir()
    import socket

    host = socket.gethostname().replace(".", "-")
    cache_dead = cache / f".synthetic-x.npz.{host}.{dead_pid}.k2j3.tmp"
    cache_alive = cache / f".synthetic-y.npz.{host}.{os.getpid()}.k2j3.tmp"
    for p in [*left, cache_dead, cache_alive]:
        p.write_bytes(b"partial")
    out, events = collect(lambda: run_study([RunSpec(model="pop", dataset_options=SMALL)], study, data_root=tmp_path))
    assert len(out.ran) == 1
    assert not any(p.exists() for p in [*left, cache_dead])
    assert cache_alive.exists()  # its writer (this process) is alive: not ours to remove
    notes = [info["text"] for kind, info in events if kind == "note"]
    assert sum("interrupted run" in n for n in notes) == 3


@pytest.mark.parametrize("damage", ["zero", "truncated"])
def test_damaged_prepared_cache_is_rebuilt_with_a_note(tmp_path, damage):
    a = prepare("synthetic", data_root=tmp_path, **SMALL)
    (cache,) = (tmp_path / ".cache").glob("synthetic-*.npz")
    data = cache.read_bytes()
    cache.write_bytes(b"" if damage == "zero" else data[: len(data) // 2])
    b, events = collect(lambda: prepare("synthetic", data_root=tmp_path, **SMALL))
    assert b.fingerprint == a.fingerprint and b.data_id == a.data_id
    notes = [info["text"] for kind, info in events if kind == "note"]
    assert len(notes) == 1 and "is damaged" in notes[0] and "rebuilding" in notes[0]
    assert cache.read_bytes() == data  # rewritten whole
    _, events = collect(lambda: prepare("synthetic", data_root=tmp_path, **SMALL))
    assert not [e for e in events if e[0] == "note"]


def test_prepared_cache_is_fsynced_before_it_replaces(tmp_path, monkeypatch):
    import sessrec.data.dataset as dataset

    order: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(dataset.os, "fsync", lambda fd: (order.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(dataset.os, "replace", lambda a, b: (order.append("replace"), real_replace(a, b))[1])
    prepare("synthetic", data_root=tmp_path, **SMALL)
    assert order == ["fsync", "replace"]


def test_killed_study_resumes_without_loss(tmp_path):
    """A ``kill -9`` in the middle of a run: the rerun finishes the study and cleans up."""
    study = tmp_path / "study"
    code = (
        "import sys; from sessrec.runner import RunSpec, run_study;"
        f"run_study([RunSpec(model=m, dataset_options={SMALL!r}) for m in ('pop', 'spop', 'markov')],"
        f" {str(study)!r}, data_root={str(tmp_path)!r})"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (study / "results.jsonl").exists():
        time.sleep(0.01)
    proc.kill()
    proc.wait()
    out = run_study(
        [RunSpec(model=m, dataset_options=SMALL) for m in ("pop", "spop", "markov")], study, data_root=tmp_path
    )
    assert len(out.ran) + len(out.skipped) == 3
    assert sorted(r["model"] for r in StudyStore(study).read().records) == ["markov", "pop", "spop"]
    assert not list(tmp_path.rglob("*.tmp"))


def test_summary_lists_every_model_and_dataset_of_every_invocation(tmp_path):
    study = tmp_path / "s"
    run_study([RunSpec(model="pop", dataset_options=SMALL)], study, data_root=tmp_path)
    run_study([RunSpec(model="spop", dataset_options={**SMALL, "seed": 1}, seed=3)], study, data_root=tmp_path)
    summary = StudyStore(study).summary()
    assert summary["models"] == ["pop", "spop"] and summary["seeds"] == [0, 3]
    assert [d["dataset_options"].get("seed") for d in summary["datasets"]] == [None, 1]
    assert len({d["fingerprint"] for d in summary["datasets"]}) == 2


def test_unwritable_data_root_costs_only_the_cache_and_unreadable_raw_file_is_one_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    ds, events = collect(lambda: prepare("synthetic", data_root=blocker / "root", **SMALL))
    assert ds.test.n_cases > 0
    notes = [info["text"] for kind, info in events if kind == "note"]
    assert len(notes) == 1 and notes[0].startswith("cannot write the prepared-data cache")
    folder = tmp_path / "views.csv"
    folder.mkdir()
    from sessrec.data.recipes.base import file_sha256

    with pytest.raises(DataError, match=r"views\.csv: cannot read the raw file"):
        file_sha256(folder)
