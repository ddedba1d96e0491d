"""Acceptance: the narm split of DIGINETICA equals an independent brute-force reference.

The reference (tests/reference_protocol.py) reads the raw rows with the csv module and follows
the protocol text with dicts and lists. The literal numbers are SR-GNN's on the sample (309
items, 1,205 / 99 cases) and the ones documented in the data's PROVENANCE.md for the combined file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from reference_protocol import narm_reference

from sessrec.data import prepare

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "diginetica"  # ../shared/data from the repo root
SAMPLE = DATA / "train-item-views_sample.csv"
COMBINED = DATA / "train-item-views_combined.csv"

pytestmark = pytest.mark.skipif(not SAMPLE.is_file(), reason="staged DIGINETICA files not present")


def case_ids(ds, part):
    sessions = getattr(ds, part)
    to_ids = ds.item_index.to_ids
    return [
        (tuple(to_ids(seq[:i]).tolist()), int(to_ids(seq[i : i + 1])[0]))
        for seq in sessions
        for i in range(1, len(seq))
    ]


def check_against_reference(ds, ref):
    assert ds.stats["n_items"] == len(ref.items) == len(ds.item_index)
    assert ds.item_index.ids.tolist() == ref.items
    assert ds.stats["train_sessions"] == len(ref.train)
    assert ds.stats["test_sessions"] == len(ref.test)
    assert ds.stats["train_cases"] == len(ref.train_cases)
    assert ds.stats["test_cases"] == len(ref.test_cases)
    assert ds.stats["clicks"] == ref.clicks
    total_sessions = len(ref.train) + len(ref.test)
    assert ds.stats["avg_length"] == pytest.approx(ref.clicks / total_sessions, abs=1e-12)
    assert case_ids(ds, "train") == ref.train_cases
    assert case_ids(ds, "test") == ref.test_cases


@pytest.mark.parametrize("keep_file_order", [False, True])
def test_sample_default_7_days(tmp_path, keep_file_order):
    ds = prepare("diginetica", path=SAMPLE, data_root=tmp_path, keep_file_order=keep_file_order)
    ref = narm_reference(str(SAMPLE), 7, keep_file_order=keep_file_order)
    check_against_reference(ds, ref)
    assert ds.protocol == {
        "name": "narm",
        "params": {
            "test_days": 7.0,
            "keep_file_order": keep_file_order,
            "min_item_support": 5,
            "min_session_length": 2,
            "train_fraction": None,
            "valid_days": None,
        },
    }
    assert (ds.stats["n_items"], ds.stats["train_cases"], ds.stats["test_cases"]) == (309, 1205, 99)
    assert ds.synthetic is False and ds.raw_files[0]["path"] == str(SAMPLE)


@pytest.mark.slow
def test_combined_one_test_day(tmp_path):
    ds = prepare("diginetica", path=COMBINED, data_root=tmp_path, test_days=1)
    ref = narm_reference(str(COMBINED), 1)
    check_against_reference(ds, ref)
    s = ds.stats
    assert (s["clicks"], s["n_items"]) == (50_746, 5_519)
    assert (s["train_sessions"], s["train_cases"]) == (10_835, 33_590)
    assert (s["test_sessions"], s["test_cases"]) == (1_517, 4_804)
    # the drop counts add up: every raw click is kept or dropped by exactly one rule
    dropped = sum(v for k, v in s.items() if k.startswith("dropped_") and k.endswith("_clicks"))
    assert s["clicks"] + dropped == s["raw_clicks"] == 98_873
