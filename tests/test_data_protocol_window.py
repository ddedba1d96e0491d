"""The ``window`` protocol against a brute-force reference written from session-rec's ``split_data_slice``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from reference_protocol import read_diginetica_times, session_rec_filter, window_reference
from test_data_protocol_rsc15 import check_equal, ids

from sessrec.data import prepare
from sessrec.data.protocols import protocol_spec, run_protocol, window, window_slices
from sessrec.data.protocols.clicks import iso
from sessrec.errors import ConfigError, DataError

DAY = 86400.0
SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "diginetica"
DIGINETICA = {"n_slices": 5, "days_train": 25, "days_test": 7, "offset": 45, "shift": 18}


def events(rows):
    s, i, t = zip(*rows)
    return pd.DataFrame({"session_id": s, "item_id": i, "time": np.array(t, dtype=float) * DAY, "date": 0.0})


def test_window_hand_example():
    # first click at day 0; slice 1 of (train 2 days, test 1 day, offset 1, shift 2): [3, 5) train, [5, 6] test
    rows = [
        (1, 1, 0.0), (1, 2, 0.5),  # ends at 0.5: before slice 1
        (2, 1, 2.0), (2, 2, 3.5),  # starts before the window, ends in train: whole session in train
        (3, 2, 4.0), (3, 3, 4.2),  # train
        (4, 3, 4.9), (4, 1, 5.1),  # ends in test: whole session in test
        (5, 9, 5.5), (5, 1, 5.6),  # test; 9 never in train -> removed -> [1] -> dropped
        (6, 1, 6.5), (6, 2, 6.6),  # after the window
        (7, 9, 1.0), (7, 9, 1.1),
    ]  # fmt: skip
    r = window(events(rows), n_slices=2, days_train=2, days_test=1, offset=1, shift=2, slice=1, min_item_support=1)
    assert ids(r, "train") == [[1, 2], [2, 3]] and r.train.session_ids.tolist() == [2, 3]
    assert ids(r, "test") == [[3, 1]]
    assert r.item_index.ids.tolist() == [1, 2, 3]
    s = r.stats
    assert (s["window_start"][:10], s["window_train_end"][:10], s["window_end"][:10]) == (
        "1970-01-04",
        "1970-01-06",
        "1970-01-07",
    )
    assert s["dropped_before_window_sessions"] == 2 and s["dropped_before_window_clicks"] == 4  # sessions 1, 7
    assert s["dropped_after_window_sessions"] == 1 and s["dropped_after_window_clicks"] == 2
    assert s["dropped_test_unseen_clicks"] == 1 and s["dropped_test_short_sessions"] == 1
    assert (s["slice"], s["n_slices"]) == (1, 2)


def test_window_parameters_and_slices():
    assert window_slices(recipe="diginetica") == [{"slice": k} for k in range(5)]
    assert window_slices({"n_slices": 2, "days_test": 3}) == [
        {"n_slices": 2, "days_test": 3, "slice": 0},
        {"n_slices": 2, "days_test": 3, "slice": 1},
    ]
    spec = protocol_spec("window")
    assert spec.defaults("retailrocket")["days_test"] == 2 and spec.defaults("yoochoose")["shift"] == 31
    assert {k: spec.defaults("diginetica")[k] for k in DIGINETICA} == DIGINETICA
    with pytest.raises(ConfigError, match=r"slice must lie in 0 \.\. n_slices - 1 = 4, got 5"):
        run_protocol("window", events([(1, 1, 0)]), slice=5)
    with pytest.raises(ConfigError, match="has no parameter test_days"):
        run_protocol("window", events([(1, 1, 0)]), test_days=1)
    with pytest.raises(DataError, match="window slice 4: no training session ends in"):
        window(events([(1, 1, 0.0), (1, 2, 0.1), (2, 1, 0.2), (2, 2, 0.3)]), min_item_support=1, slice=4)


def synthetic_rows(seed: int) -> list[tuple[str, int, float]]:
    """Sessions over 40 days, some crossing a boundary, with new items appearing over time."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(700):
        start = rng.uniform(0, 40 * DAY)
        length = int(rng.integers(1, 8))
        gaps = rng.choice([30.0, 3_000.0, 40_000.0], size=length)
        for t in start + np.cumsum(gaps):
            drift = int(t // (8 * DAY)) * 25  # the catalogue moves on every 8 days
            item = drift + int(rng.integers(0, 40)) if rng.random() < 0.8 else int(rng.integers(0, 200))
            rows.append((f"s{s}", item, float(t)))
    return [rows[i] for i in rng.permutation(len(rows))] if seed % 2 else rows


PARAMS = {"n_slices": 3, "days_train": 8, "days_test": 3, "offset": 2, "shift": 11}


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("k", [0, 1, 2])
def test_window_equals_reference_on_synthetic_logs(seed, k):
    rows = synthetic_rows(seed)
    ev = pd.DataFrame(rows, columns=["session_id", "item_id", "time"]).assign(date=0.0)
    filtered = session_rec_filter(rows)
    for valid_days in (None, 2.0):
        result = run_protocol("window", ev, slice=k, valid_days=valid_days, **PARAMS)
        ref, bounds = window_reference(filtered, slice=k, valid_days=valid_days, **PARAMS)
        assert result.train.n_sessions > 50 and result.test.n_sessions > 20
        assert result.stats["dropped_test_unseen_clicks"] > 0 and result.stats["dropped_before_window_sessions"] > 0
        check_equal(result, ref)
        got = (result.stats["window_start"], result.stats["window_train_end"], result.stats["window_end"])
        assert got == tuple(iso(b) for b in bounds)


@pytest.mark.parametrize("name", ["train-item-views_sample.csv", "train-item-views_combined.csv"])
def test_window_equals_reference_on_diginetica(tmp_path, name):
    path = SHARED / name
    if not path.exists():
        pytest.skip("shared data not available")
    filtered = session_rec_filter(read_diginetica_times(str(path)))
    for spec in window_slices(recipe="diginetica"):
        ds = prepare("diginetica", path=path, data_root=tmp_path, protocol="window", cache=False, **spec)
        ref, bounds = window_reference(filtered, **DIGINETICA, **spec)
        assert ds.protocol["params"] == {**DIGINETICA, **spec, "min_item_support": 5, "min_session_length": 2,
                                         "valid_days": None}  # fmt: skip
        check_equal(ds, ref)
        got = (ds.stats["window_start"], ds.stats["window_train_end"], ds.stats["window_end"])
        assert got == tuple(iso(b) for b in bounds)
