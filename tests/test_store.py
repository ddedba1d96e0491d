"""Study store: atomic appends, skipping broken lines, crash recovery."""

import json

import numpy as np
import pytest

from sessrec.results import REQUIRED_KEYS, CaseTable, StudyStore


def record(run_id: str, **extra):
    rec = {k: None for k in REQUIRED_KEYS}
    rec.update(run_id=run_id, model="pop", params={}, metrics={"recall@20": 0.5}, **extra)
    return rec


def test_append_and_read_back(tmp_path):
    store = StudyStore(tmp_path / "study")
    store.append(record("a"), np.array([1, 2, 3], dtype=np.int32))
    store.append(record("b"), np.array([4], dtype=np.int32))
    got = store.read()
    assert [r["run_id"] for r in got.records] == ["a", "b"]
    assert got.skipped == []
    assert store.load_ranks("a").tolist() == [1, 2, 3]
    assert store.completed_ids() == {"a", "b"}


def test_half_written_line_is_skipped_and_sealed(tmp_path):
    store = StudyStore(tmp_path)
    store.append(record("a"), np.zeros(1, dtype=np.int32))
    with open(store.results_path, "ab") as fh:  # a crash in the middle of a write
        fh.write(b'{"run_id": "b", "mod')
    got = store.read()
    assert [r["run_id"] for r in got.records] == ["a"]
    assert got.skipped == [(2, "incomplete last line (a run was interrupted while writing)")]
    store.append(record("c"), np.zeros(1, dtype=np.int32))  # the next append still lands whole
    got = store.read()
    assert [r["run_id"] for r in got.records] == ["a", "c"]
    assert got.skipped[0][0] == 2


def test_garbage_and_incomplete_records_are_reported(tmp_path):
    store = StudyStore(tmp_path)
    lines = [json.dumps(record("a")), "not json", json.dumps([1, 2]), json.dumps({"run_id": "x"})]
    store.results_path.write_text("\n".join(lines) + "\n")
    got = store.read()
    assert [r["run_id"] for r in got.records] == ["a"]
    assert [no for no, _ in got.skipped] == [2, 3, 4]
    assert "not valid JSON" in got.skipped[0][1]
    assert "expected a JSON object" in got.skipped[1][1]
    assert got.skipped[2][1].startswith("record lacks model")


def test_record_without_ranks_file_is_not_complete(tmp_path):
    store = StudyStore(tmp_path)
    store.append(record("a"))
    assert store.completed_ids() == set()


def test_drop_removes_only_named_runs(tmp_path):
    store = StudyStore(tmp_path)
    for rid in "abc":
        store.append(record(rid), np.zeros(1, dtype=np.int32))
    store.drop(["b"])
    assert [r["run_id"] for r in store.read().records] == ["a", "c"]


def test_cases_round_trip(tmp_path):
    store = StudyStore(tmp_path)
    cases = CaseTable(np.array([0, 0, 1]), np.array([1, 2, 1]), np.array([5, 6, 7]), np.array([3, 0, 1]))
    store.save_cases("fp", cases)
    back = store.load_cases("fp")
    assert back.session.tolist() == [0, 0, 1] and back.item_counts.tolist() == [3, 0, 1]


def test_append_refuses_incomplete_records(tmp_path):
    with pytest.raises(ValueError, match="lacks"):
        StudyStore(tmp_path).append({"run_id": "a"})
