"""Published numbers: transcription and the conditions under which they sit beside a study's."""

from __future__ import annotations

import pytest

from sessrec.reporting.published import load_published, match_published


def _record(**over):
    rec = {
        "dataset": "diginetica",
        "dataset_options": {},
        "protocol": {"name": "narm", "params": {"test_days": 7, "keep_file_order": True}},
        "stats": {"train_cases": 719470, "test_cases": 60858},
        "synthetic": False,
        "data_source": {"path": "/data/diginetica/train-item-views.csv", "checksum": "x"},
    }
    rec.update(over)
    return rec


def _by_source(matches):
    return {m.source.key: m for m in matches}


def test_shipped_numbers_are_the_sources_numbers():
    table = load_published()
    got = {(r.source, r.dataset, r.method): r.metrics for r in table.results}
    # NARM Table 3 (percent in the paper, fractions here)
    assert got[("narm-table3", "diginetica", "NARM")] == pytest.approx({"recall@20": 0.6258, "mrr@20": 0.2735})
    assert got[("narm-table3", "yoochoose-1-64", "POP")] == pytest.approx({"recall@20": 0.0671, "mrr@20": 0.0165})
    assert got[("narm-table3", "yoochoose-1-4", "Item-KNN")] == pytest.approx({"recall@20": 0.5231, "mrr@20": 0.2170})
    assert ("narm-table3", "yoochoose-1-4", "FPMC") not in got  # out of memory in the paper
    # GRU4Rec README (fractions)
    assert got[("gru4rec-readme", "diginetica", "GRU4Rec (official, tuned)")] == pytest.approx(
        {"recall@20": 0.4995, "mrr@20": 0.1542}
    )
    assert got[("gru4rec-readme", "yoochoose", "GRU4Rec (official, tuned)")] == pytest.approx(
        {"recall@20": 0.6789, "mrr@20": 0.3024}
    )
    # SR-GNN Table 2: NARM on timeframe-sorted DIGINETICA
    assert got[("srgnn-table2", "diginetica", "NARM")] == pytest.approx({"recall@20": 0.4970, "mrr@20": 0.1617})
    for source in table.sources.values():
        assert source.citation and source.url.startswith("https://")


def test_full_data_in_file_order_matches_narm_table3_only():
    m = _by_source(match_published(_record()))
    assert m["narm-table3"].matched and m["narm-table3"].reasons == ()
    assert not m["srgnn-table2"].matched
    assert m["srgnn-table2"].reasons == ("keep_file_order = true (source: false)",)
    assert not m["gru4rec-readme"].matched
    assert "protocol 'narm' (source: 'gru4rec')" in m["gru4rec-readme"].reasons


def test_unstated_parameters_take_the_recipe_defaults():
    m = _by_source(match_published(_record(protocol={"name": "narm", "params": {}})))
    assert m["srgnn-table2"].matched  # test_days 7 and timeframe order are the defaults
    assert m["narm-table3"].reasons == ("keep_file_order = false (source: true)",)


def test_a_subset_is_different_data_with_every_reason():
    rec = _record(
        protocol={"name": "narm", "params": {"test_days": 1, "keep_file_order": False}},
        stats={"train_cases": 33590, "test_cases": 4804},
        data_source={"path": "../shared/data/diginetica/train-item-views_combined.csv"},
    )
    m = _by_source(match_published(rec))
    assert not any(x.matched for x in m.values())
    assert m["srgnn-table2"].reasons == (
        "test_days = 1 (source: 7)",
        "raw file train-item-views_combined.csv is not the full train-item-views.csv",
        "train_cases = 33,590 (paper: 719,470)",
        "test_cases = 4,804 (paper: 60,858)",
    )


def test_same_file_name_but_other_counts_is_different_data():
    m = _by_source(match_published(_record(stats={"train_cases": 719470, "test_cases": 60000})))
    assert m["narm-table3"].reasons == ("test_cases = 60,000 (paper: 60,858)",)


def test_synthetic_or_unrecorded_source_never_matches():
    m = _by_source(match_published(_record(synthetic=True, data_source=None)))
    assert "the study's data is synthetic" in m["narm-table3"].reasons
    assert "raw file not recorded (source: train-item-views.csv)" in m["narm-table3"].reasons


def test_gru4rec_protocol_matches_the_readme():
    rec = _record(protocol={"name": "gru4rec", "params": {"test_days": 7}}, stats={})
    m = _by_source(match_published(rec))
    assert m["gru4rec-readme"].matched
    assert m["gru4rec-readme"].setting.caveat  # the unchecked part is stated
    assert not m["narm-table3"].matched


def test_datasets_without_published_numbers_get_nothing():
    assert match_published(_record(dataset="synthetic")) == []
