"""The one metric core (per-case formulas, curves, names), the ranges helper and the run record, by hand."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from sessrec.data.sessions import concat_ranges
from sessrec.errors import ConfigError
from sessrec.evaluation import cutoff_curve, metric_label, parse_metric, per_case
from sessrec.results import RecordError, RunRecord, StudyStore

STUDY = Path(__file__).resolve().parents[1] / "reports" / "diginetica-mini"


def test_per_case_by_hand_in_numpy_and_torch():
    ranks = [1, 2, 4, 2.5, 11]
    want = {
        "recall": [1, 1, 1, 1, 0],
        "mrr": [1, 1 / 2, 1 / 4, 1 / 2.5, 0],
        "ndcg": [1, 1 / math.log2(3), 1 / math.log2(5), 1 / math.log2(3.5), 0],
    }
    for metric, values in want.items():
        got_np = per_case(np.array(ranks), metric, 5)
        got_t = per_case(torch.tensor(ranks, dtype=torch.float64), metric, 5)
        assert isinstance(got_np, np.ndarray) and isinstance(got_t, torch.Tensor)
        np.testing.assert_allclose(got_np, values, rtol=0, atol=1e-15)
        np.testing.assert_allclose(got_t.numpy(), values, rtol=0, atol=1e-15)


def test_per_case_rejects_bad_input():
    with pytest.raises(ValueError, match="1-based"):
        per_case(np.array([0, 1]), "mrr", 5)
    with pytest.raises(ValueError, match="unknown rank metric"):
        per_case(np.array([1]), "coverage", 5)
    with pytest.raises(ValueError, match="positive integer"):
        per_case(np.array([1]), "recall", 0)


def test_cutoff_curve_by_hand():
    ranks = np.array([1, 3, 3, 30])
    # K = 1: one hit of four; K = 3: three; RR sums: 1, 1, 1 + 2/3
    np.testing.assert_allclose(cutoff_curve(ranks, "recall", 4), [1 / 4, 1 / 4, 3 / 4, 3 / 4])
    np.testing.assert_allclose(cutoff_curve(ranks, "mrr", 3), [1 / 4, 1 / 4, (1 + 2 / 3) / 4])
    np.testing.assert_allclose(cutoff_curve(ranks, "ndcg", 3)[-1], (1 + 2 / math.log2(4)) / 4)


def test_metric_names_come_from_one_table():
    assert [metric_label(m) for m in ("recall@20", "mrr@5", "ndcg@10", "coverage@20", "popularity@20")] == [
        "Recall@20",
        "MRR@5",
        "NDCG@10",
        "Coverage@20",
        "Popularity@20",
    ]
    assert parse_metric("coverage@20", ("coverage", "popularity")) == ("coverage", 20)
    with pytest.raises(ConfigError, match="rank metric"):
        parse_metric("coverage@20")


def test_concat_ranges_matches_a_loop():
    rng = np.random.default_rng(0)
    starts = rng.integers(0, 100, size=50)
    lengths = rng.integers(0, 6, size=50)  # zero-length ranges included
    expect = [v for s, n in zip(starts, lengths) for v in range(s, s + n)]
    got = concat_ranges(starts, lengths)
    assert got.dtype == np.int64 and got.tolist() == expect
    assert concat_ranges(np.array([3]), np.array([0])).tolist() == []


def test_run_records_of_an_existing_study_round_trip_byte_for_byte():
    lines = (STUDY / "results.jsonl").read_text().splitlines()
    contents = StudyStore(STUDY).read()
    assert len(contents.records) == len(lines) == 24 and contents.skipped == []
    for line, rec in zip(lines, contents.records):
        assert json.dumps(rec.to_dict(), sort_keys=True, allow_nan=True) == line
    first = contents.records[0]
    assert first["model"] == first.model and "metrics" in first and first.get("absent", 1) == 1


def test_run_record_keeps_unknown_keys_and_rejects_bad_identifiers():
    line = json.loads((STUDY / "results.jsonl").read_text().splitlines()[0])
    rec = RunRecord.from_dict({**line, "added_later": {"x": 1}})
    assert rec.extra == {"added_later": {"x": 1}} and rec.to_dict()["added_later"] == {"x": 1}
    for bad in ("../x", "a/b", "", "x" * 65, 7):
        with pytest.raises(RecordError, match="is not a run id"):
            RunRecord.from_dict({**line, "run_id": bad})
    with pytest.raises(RecordError, match="is not a fingerprint"):
        RunRecord.from_dict({**line, "fingerprint": "../../etc"})
