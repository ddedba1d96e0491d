"""The narm and gru4rec protocols on hand-made event tables (expected values worked out by hand)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from sessrec.data import gru4rec, narm, run_protocol
from sessrec.data.protocols import coerce_protocol_params
from sessrec.errors import ConfigError, DataError

DAY = 86400.0


def events(rows):
    """rows: (session, item, time_in_days, date_in_days)."""
    s, i, t, d = zip(*rows)
    return pd.DataFrame(
        {
            "session_id": np.array(s, dtype=np.int64),
            "item_id": np.array(i, dtype=np.int64),
            "time": np.array(t, dtype=float) * DAY,
            "date": np.array(d, dtype=float) * DAY,
        }
    )


def ids(result, part):
    sessions = getattr(result, part)
    return [result.item_index.to_ids(seq).tolist() for seq in sessions]


# ---------------------------------------------------------------------------------- narm
NARM_ROWS = [
    # session 10: rows out of time order; ties at t=0.1 keep file order (7 before 8)
    (10, 5, 0.3, 0),
    (10, 7, 0.1, 0),
    (10, 8, 0.1, 0),
    # session 11: last row (file order) dated day 1 although a row says day 2 -> date 1
    (11, 8, 1.0, 2),
    (11, 5, 1.1, 1),
    # session 12: length 1 -> dropped by rule 2
    (12, 5, 1.5, 1),
    # session 13: item 99 is rare (seen once) -> removed; session left [7, 5]
    (13, 7, 3.0, 3),
    (13, 99, 3.1, 3),
    (13, 5, 3.2, 3),
    # session 14: dated exactly on the split (max 5 - test_days 2 = 3)? no: day 3 == split -> dropped
    # session 15: test, day 5: item 77 unseen in train (but frequent overall) -> removed
    (15, 77, 5.0, 5),
    (15, 8, 5.1, 5),
    (15, 7, 5.2, 5),
    # session 16: test, day 4: [77, 77, 5] -> [5] after removing 77 -> dropped (< 2)
    (16, 77, 4.0, 4),
    (16, 77, 4.1, 4),
    (16, 5, 4.2, 4),
    # session 17: test day 4, all 77 -> dropped
    (17, 77, 4.5, 4),
    (17, 77, 4.6, 4),
    # session 18: train, day 0 (same date as session 10, appears later in the file)
    (18, 8, 0.5, 0),
    (18, 7, 0.6, 0),
]


def test_narm_hand_example():
    r = narm(events(NARM_ROWS), test_days=2, min_item_support=2)
    # split = 5 - 2 = 3: session 13 (day 3) is on the split and dropped
    # train by date, ties by first appearance: 10 (day 0), 18 (day 0), 11 (day 1)
    assert ids(r, "train") == [[7, 8, 5], [8, 7], [8, 5]]
    assert r.train.session_ids.tolist() == [10, 18, 11]
    assert r.item_index.ids.tolist() == [7, 8, 5]
    # test by date: 16 (day 4, dropped), 17 (dropped), 15 (day 5) -> [8, 7]
    assert ids(r, "test") == [[8, 7]]
    s = r.stats
    assert (s["train_sessions"], s["train_cases"], s["test_sessions"], s["test_cases"]) == (3, 4, 1, 1)
    assert s["n_items"] == 3 and s["clicks"] == 9
    assert s["dropped_length1_sessions"] == 1 and s["dropped_length1_clicks"] == 1
    assert s["dropped_rare_items"] == 1 and s["dropped_rare_item_clicks"] == 1
    assert s["dropped_split_date_sessions"] == 1 and s["dropped_split_date_clicks"] == 2
    assert s["dropped_test_unseen_clicks"] == 1 + 2 + 2
    assert s["dropped_test_short_sessions"] == 2
    assert r.params["test_days"] == 2 and r.params["keep_file_order"] is False


def test_narm_keep_file_order():
    r = narm(events(NARM_ROWS), test_days=2, min_item_support=2, keep_file_order=True)
    assert ids(r, "train")[0] == [5, 7, 8]


def test_narm_one_pass_not_iterated():
    # support 2: D is rare -> s4 = [C] dropped, but C (now seen once) is NOT removed again
    rows = [(1, 1, 0, 0), (1, 2, 0.1, 0), (2, 1, 0.2, 0), (2, 2, 0.3, 0), (3, 2, 0.4, 0), (3, 3, 0.5, 0)]
    rows += [(4, 3, 0.6, 0), (4, 4, 0.7, 0), (5, 1, 3, 3), (5, 2, 3.1, 3)]
    r = narm(events(rows), test_days=1, min_item_support=2)
    assert ids(r, "train") == [[1, 2], [1, 2], [2, 3]]
    g = gru4rec(events(rows), test_days=1, min_item_support=2)
    assert ids(g, "train") == [[1, 2], [1, 2]]  # iterated: C falls below 2, then s3 = [B] goes


def test_narm_train_fraction_keeps_shortest_prefixes_of_boundary_session():
    rows = []
    for s, (seq, day) in enumerate([([1, 2, 3, 4, 5], 0), ([1, 2, 3], 1), ([2, 3, 4, 5], 2), ([1, 2], 9)]):
        rows += [(s, item, day + k / 100, day) for k, item in enumerate(seq)]
    # train cases listed last target first: s0 [4 cases], s1 [2], s2 [3] -> 9 cases
    r = narm(events(rows), test_days=1, min_item_support=1, train_fraction=Fraction(1, 4))
    assert ids(r, "train") == [[2, 3, 4]]  # 9 // 4 = 2 cases: [2,3]->4 and [2]->3
    assert r.train.n_cases == 2 and r.stats["dropped_fraction_cases"] == 7
    assert r.train.n_items == 5 and len(r.item_index) == 5  # catalogue of the full split
    assert ids(r, "test") == [[1, 2]]
    half = narm(events(rows), test_days=1, min_item_support=1, train_fraction="1/2")
    assert ids(half, "train") == [[1, 2], [2, 3, 4, 5]]  # 4 cases: s2 whole + s1's shortest
    with pytest.raises(DataError, match="keeps none"):
        narm(events(rows), test_days=1, min_item_support=1, train_fraction="1/64")
    with pytest.raises(ConfigError):
        narm(events(rows), test_days=1, train_fraction=2)


def test_narm_validation_split():
    rows = []
    plan = [([1, 2, 3], 0), ([1, 2], 1), ([2, 3, 9], 5), ([9, 1], 5), ([1, 2, 3], 8)]
    for s, (seq, day) in enumerate(plan):
        rows += [(s, item, day + k / 100, day) for k, item in enumerate(seq)]
    r = narm(events(rows), test_days=2, min_item_support=1, valid_days=3)
    # test split 8 - 2 = 6: train sessions 0, 1, 2, 3; vsplit = 5 - 3 = 2: train part 0, 1; valid 2, 3
    assert ids(r, "train") == [[1, 2, 3], [1, 2]]
    assert ids(r, "valid") == [[2, 3]]  # 9 is not in the train part; [1] alone is dropped
    assert ids(r, "test") == [[1, 2, 3]]
    assert r.train.n_items == len(r.item_index) == 4  # same item index (9 included)
    assert r.stats["valid_sessions"] == 1 and r.stats["dropped_valid_unseen_clicks"] == 2
    assert r.stats["dropped_valid_short_sessions"] == 1


def test_narm_nothing_left():
    with pytest.raises(DataError, match="nothing is left"):
        narm(events([(1, 1, 0, 0), (2, 2, 0, 0), (3, 1, 1, 1)]), test_days=1)
    with pytest.raises(DataError, match="before the split"):
        narm(events([(1, 1, 0, 0), (1, 2, 0, 0)]), test_days=1, min_item_support=1)


# ---------------------------------------------------------------------------------- gru4rec
def test_gru4rec_hand_example():
    rows = [
        (1, 1, 0.0, 0),  # session 1: A A B C -> repeat removed -> A B C
        (1, 1, 0.01, 0),
        (1, 2, 0.02, 0),
        (1, 3, 0.03, 0),
        (2, 2, 0.5, 0),  # session 2: B C D
        (2, 3, 0.51, 0),
        (2, 4, 0.52, 0),
        (3, 4, 1.5, 0),  # session 3 starts before the split (2), straddles: D | C after the split
        (3, 3, 2.5, 0),
        (3, 2, 2.6, 0),
        (4, 1, 2.2, 0),  # session 4 starts after the split: test; E (5) unseen in train -> removed
        (4, 5, 2.3, 0),
        (4, 2, 2.4, 0),
        (5, 5, 2.9, 0),  # session 5: [E, E] -> repeat removed -> [E] -> dropped by the filter
        (5, 5, 3.0, 0),
        (6, 3, 2.7, 0),  # session 6: test [C, B]
        (6, 2, 2.8, 0),
        (7, 5, 1.0, 0),  # session 7 makes E frequent enough: [E, D]
        (7, 4, 1.1, 0),
    ]
    r = gru4rec(events(rows), test_days=1, min_item_support=1)
    # t_max = 3.0 is session 5's last click, which the filter removes: t_max = 2.9? no - session 5 is
    # [E] after the repeat removal and goes in round 1, so the last time is 2.8 and split = 1.8
    assert r.stats["split_time"].startswith("1970-01-02T19:12")  # 1.8 days
    assert r.stats["dropped_repeat_clicks"] == 2
    # train: sessions by start: 1 (0.0), 2 (0.5), 7 (1.0), 3 (1.5: only D before 1.8 -> length 1 -> dropped)
    assert ids(r, "train") == [[1, 2, 3], [2, 3, 4], [5, 4]]
    assert r.item_index.ids.tolist() == [1, 2, 3, 4, 5]
    assert r.stats["dropped_straddling_clicks"] == 2
    assert r.stats["dropped_train_short_sessions"] == 1
    # test: sessions starting >= 1.8 ordered by start: 4 (2.2) [A, E, B], 6 (2.7) [C, B]
    assert ids(r, "test") == [[1, 5, 2], [3, 2]]
    assert r.test.n_cases == 3  # every event after the first


def test_gru4rec_keeps_repeats_when_asked_and_valid_split():
    rows = [(1, 1, 0.0, 0), (1, 1, 0.1, 0), (1, 2, 0.2, 0), (2, 1, 1.0, 0), (2, 3, 1.1, 0)]
    rows += [(3, 2, 2.0, 0), (3, 1, 2.1, 0), (4, 1, 3.0, 0), (4, 2, 3.1, 0)]
    r = gru4rec(events(rows), test_days=1, min_item_support=1, remove_repeats=False, valid_days=1.5)
    # split = 3.1 - 1 = 2.1: session 3 straddles (B at 2.0 only -> too short); test = session 4
    # vsplit = 2.1 - 1.5 = 0.6: train part = session 1; valid = session 2 -> [A, C]: C unseen -> dropped
    assert ids(r, "train") == [[1, 1, 2]]
    assert r.valid is not None and r.valid.n_sessions == 0
    assert r.stats["dropped_valid_unseen_clicks"] == 1
    assert ids(r, "test") == [[1, 2]]


def test_run_protocol_rejects_unknown_names():
    ev = events([(1, 1, 0, 0), (1, 2, 0, 0)])
    with pytest.raises(ConfigError, match="gru4rec, narm"):
        run_protocol("sasrec", ev)
    with pytest.raises(ConfigError, match="valid: test_days"):
        run_protocol("narm", ev, test_dayz=1)
    with pytest.raises(ConfigError, match="positive"):
        narm(ev, test_days=0)


def test_protocols_do_not_modify_input():
    ev = events(NARM_ROWS)
    before = ev.copy()
    narm(ev, test_days=2, min_item_support=2)
    gru4rec(ev, test_days=2, min_item_support=1)
    pd.testing.assert_frame_equal(ev, before)


def test_session_order_equals_stable_lexsort():
    from sessrec.data.protocols import _session_order

    rng = np.random.default_rng(0)
    for _ in range(300):
        code = rng.integers(0, 5, size=int(rng.integers(0, 30)))
        t = rng.integers(0, 4, size=len(code)).astype(float)
        for c in (code, np.sort(code)):
            np.testing.assert_array_equal(_session_order(c, t), np.lexsort((t, c)))
            np.testing.assert_array_equal(_session_order(c), np.argsort(c, kind="stable"))


def test_parameters_from_a_command_line_are_coerced_or_rejected():
    # text is turned into values by the command-line/config layer, never inside the protocols
    ev = events(NARM_ROWS)
    text = {"test_days": "2", "min_item_support": "2", "keep_file_order": "false"}
    a = narm(ev, **coerce_protocol_params("narm", text))
    b = narm(ev, test_days=2, min_item_support=2, keep_file_order=False)
    assert a.params == b.params and ids(a, "train") == ids(b, "train")
    with pytest.raises(ConfigError, match="keep_file_order must be true or false"):
        narm(ev, test_days=2, keep_file_order="maybe")
    with pytest.raises(ConfigError, match="min_item_support must be an integer"):
        gru4rec(ev, test_days=2, min_item_support="five")
