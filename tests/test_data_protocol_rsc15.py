"""``gru4rec-rsc15`` against a brute-force reference written from hidasib/GRU4Rec ``examples/rsc15/preprocess.py``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from reference_protocol import gru4rec_rsc15_reference, read_diginetica_times

from sessrec.data import prepare
from sessrec.data.protocols import gru4rec, gru4rec_rsc15, run_protocol

DAY = 86400.0
SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "diginetica"


def events(rows):
    """rows: (session, item, time_in_days)."""
    s, i, t = zip(*rows)
    return pd.DataFrame({"session_id": s, "item_id": i, "time": np.array(t, dtype=float) * DAY, "date": 0.0})


def ids(result, part):
    return [result.item_index.to_ids(seq).tolist() for seq in getattr(result, part)]


def test_rsc15_differs_from_gru4rec_where_the_script_does():
    rows = [
        (1, 1, 0.0), (1, 1, 0.1), (1, 2, 0.2),  # repeat kept by rsc15, removed by gru4rec
        (2, 2, 0.5), (2, 3, 0.6),
        (3, 3, 1.5), (3, 1, 2.6),  # starts before the split (1.8), ends after it
        (4, 1, 2.7), (4, 3, 2.8),  # test under both rules
    ]  # fmt: skip
    r = gru4rec_rsc15(events(rows), min_item_support=1)
    # split = 2.8 - 1 = 1.8: session 3 *ends* after it -> a whole test session
    assert ids(r, "train") == [[1, 1, 2], [2, 3]]
    assert ids(r, "test") == [[3, 1], [1, 3]]  # listed by start time
    g = gru4rec(events(rows), min_item_support=1, test_days=1)
    assert ids(g, "train") == [[1, 2], [2, 3]]  # session 3 keeps one click before the split -> dropped
    assert ids(g, "test") == [[1, 3]]
    assert r.params == {"test_days": 1.0, "min_item_support": 1, "min_session_length": 2, "valid_days": None}


def synthetic_rows(seed: int) -> list[tuple[str, int, float]]:
    """Sessions over 12 days with repeats, equal times and items of every support."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(400):
        start = rng.uniform(0, 12 * DAY)
        length = int(rng.integers(1, 9))
        novel = start > 11.2 * DAY and rng.random() < 0.3
        times = start + np.sort(rng.integers(0, 5, size=length)) * rng.choice([60.0, 20_000.0])
        for t in rng.permutation(times) if rng.random() < 0.2 else times:
            item = int(rng.zipf(1.3)) % 90 if rng.random() < 0.5 else int(rng.integers(0, 70))
            if t > 11.2 * DAY and (novel or rng.random() < 0.3):
                item = 200 + int(rng.integers(0, 8))  # new in the test days
            elif t > 10.1 * DAY and rng.random() < 0.3:
                item = 100 + int(rng.integers(0, 8))  # new in the validation day
            rows.append((f"s{s}", item, float(t)))
    return [rows[i] for i in rng.permutation(len(rows))] if seed % 2 else rows


def check_equal(result, ref):
    assert [str(s) for s in result.train.session_ids] == ref.train_ids
    assert ids(result, "train") == ref.train
    assert [str(s) for s in result.test.session_ids] == ref.test_ids
    assert ids(result, "test") == ref.test
    assert result.item_index.ids.tolist() == ref.items
    if ref.valid is None:
        assert result.valid is None
    else:
        assert ids(result, "valid") == ref.valid
    for key, value in ref.stats.items():
        assert result.stats[key] == value, key
    clicks = sum(map(len, ref.train + ref.test + (ref.valid or [])))
    assert result.stats["clicks"] == clicks
    assert result.stats["test_cases"] == sum(len(s) - 1 for s in ref.test)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("valid_days", [None, 1.0])
def test_rsc15_equals_reference_on_synthetic_logs(seed, valid_days):
    rows = synthetic_rows(seed)
    ev = pd.DataFrame(rows, columns=["session_id", "item_id", "time"]).assign(date=0.0)
    result = run_protocol("gru4rec-rsc15", ev, test_days=2, valid_days=valid_days)
    ref = gru4rec_rsc15_reference(rows, 2, valid_days)
    assert result.test.n_sessions > 20 and result.train.n_sessions > 100
    assert result.stats["dropped_rare_items"] > 0 and result.stats["dropped_length1_sessions"] > 0
    assert result.stats["dropped_test_unseen_clicks"] > 0 and result.stats["dropped_test_short_sessions"] > 0
    check_equal(result, ref)


@pytest.mark.parametrize("name", ["train-item-views_sample.csv", "train-item-views_combined.csv"])
def test_rsc15_equals_reference_on_diginetica(tmp_path, name):
    path = SHARED / name
    if not path.exists():
        pytest.skip("shared data not available")
    ds = prepare("diginetica", path=path, data_root=tmp_path, protocol="gru4rec-rsc15", valid_days=1, cache=False)
    ref = gru4rec_rsc15_reference(read_diginetica_times(str(path)), 1, 1)
    assert ds.protocol["params"]["test_days"] == 1.0  # the script's one day, not the recipe's 7
    check_equal(ds, ref)
