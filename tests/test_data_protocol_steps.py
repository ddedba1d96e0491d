"""The protocol steps one by one on hand-made tables, and the parameter specs (values worked out by hand)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from sessrec.data.protocols import (
    Drops,
    check_protocol_params,
    coerce_protocol_params,
    narm,
    protocol_params,
    protocol_spec,
    run_protocol,
)
from sessrec.data.protocols.assemble import drop_unseen, index_items, to_sessions
from sessrec.data.protocols.clicks import DAY, order_clicks
from sessrec.data.protocols.filters import filter_iterated, filter_once, remove_repeats
from sessrec.data.protocols.splits import split_by_date, split_by_end, split_by_start
from sessrec.errors import ConfigError, DataError


def table(rows):
    """rows: (session, item, time_in_days[, date_in_days])."""
    rows = [r if len(r) == 4 else (*r, r[2]) for r in rows]
    s, i, t, d = (np.array(c) for c in zip(*rows))
    return pd.DataFrame({"session_id": s, "item_id": i, "time": t * DAY, "date": d.astype(float) * DAY})


def items(clicks):
    """External item ids of every listed session."""
    c = clicks
    return [c.codes.item_ids[c.item[a:b]].tolist() for a, b in zip(c.offsets[:-1], c.offsets[1:])]


def test_order_groups_by_first_appearance_and_sorts_by_time_stably():
    c, raw = order_clicks(table([(9, 1, 0.3), (4, 2, 0.0), (9, 3, 0.1), (9, 4, 0.1)]))
    assert c.codes.session_ids.tolist() == [9, 4]
    assert items(c) == [[3, 4, 1], [2]]  # 3 and 4 tie at 0.1: file order
    assert (raw.clicks, raw.sessions, raw.items) == (4, 2, 4)
    kept, _ = order_clicks(table([(9, 1, 0.3), (4, 2, 0.0), (9, 3, 0.1)]), keep_file_order=True)
    assert items(kept) == [[1, 3], [2]]


def test_filters_report_what_they_removed():
    rows = [(1, 7, 0), (1, 7, 0.1), (1, 8, 0.2), (2, 8, 1), (3, 7, 2), (3, 9, 2.1)]
    c, _ = order_clicks(table(rows))
    no_rep, rep = remove_repeats(c)
    assert items(no_rep) == [[7, 8], [8], [7, 9]] and rep == Drops(clicks=1)
    # one pass, support 2: session 2 (length 1) goes first; then 8 and 9 are rare; session 3 is left [7]
    once, (first, rare, short) = filter_once(c, 2, 2)
    assert items(once) == [[7, 7]]
    assert first == Drops(sessions=1, clicks=1) and rare == Drops(clicks=2, items=2)
    assert short == Drops(sessions=1, clicks=1)
    # iterated on the de-duplicated table: 8 is left with one click after round 1, so session 1 shrinks
    it, drops, rounds = filter_iterated(no_rep, 2, 2)
    assert it.n_clicks == 0 and rounds == 2 and drops == Drops(sessions=3, clicks=5, items=3)


def test_three_splits_on_one_table():
    # session 1: days 0 - 0.5; session 2: days 1 - 3 (straddles 2.5); session 3: days 2.6 - 3.5
    rows = [(1, 1, 0, 0), (1, 2, 0.5, 0), (2, 1, 1, 3), (2, 2, 3, 3), (3, 2, 2.6, 3), (3, 1, 3.5, 3)]
    c, _ = order_clicks(table(rows))
    by_end = split_by_end(c, 1)  # split = 3.5 - 1 = 2.5: sessions 2 and 3 end after it
    assert by_end.split == 2.5 * DAY and items(by_end.train) == [[1, 2]] and items(by_end.test) == [[1, 2], [2, 1]]
    by_start = split_by_start(c, 1)  # session 3 starts after 2.5; session 2 keeps its click at day 1
    assert items(by_start.train) == [[1, 2], [1]] and items(by_start.test) == [[2, 1]]
    assert by_start.dropped == Drops(clicks=1)
    with pytest.raises(DataError, match="before the split"):
        split_by_date(c, 3)  # dates 0, 3, 3: split = 0 -> session 1 is on it, nothing before
    by_date = split_by_date(c, 2)
    assert items(by_date.train) == [[1, 2]] and by_date.test.n_sessions == 2 and by_date.dropped == Drops()


def test_catalogue_unseen_and_sessions():
    c, _ = order_clicks(table([(1, 30, 0), (1, 10, 0.1), (2, 10, 1), (2, 20, 1.1), (2, 30, 1.2), (3, 20, 2)]))
    train = c.keep_sessions(np.array([True, False, False]))
    cat = index_items(train)
    assert cat.index.ids.tolist() == [30, 10]
    test, unseen, short = drop_unseen(c.keep_sessions(np.array([False, True, True])), cat.seen, 2)
    assert items(test) == [[10, 30]] and unseen == Drops(clicks=2) and short == Drops(sessions=1, clicks=0)
    s = to_sessions(test, cat)
    assert s[0].tolist() == [1, 0] and s.session_ids.tolist() == [2] and s.n_items == 2


def test_parameter_specs_check_once_and_reject_text():
    assert protocol_params("narm") == (
        "test_days",
        "keep_file_order",
        "min_item_support",
        "min_session_length",
        "train_fraction",
        "valid_days",
    )
    spec = protocol_spec("narm")
    assert [p.type for p in spec.params] == [float, bool, int, int, Fraction, float]
    full = check_protocol_params("narm", {"test_days": 1, "min_item_support": 5.0, "keep_file_order": np.bool_(True)})
    assert full == {
        "test_days": 1.0,
        "keep_file_order": True,
        "min_item_support": 5,
        "min_session_length": 2,
        "train_fraction": None,
        "valid_days": None,
    }
    assert check_protocol_params("narm", {"train_fraction": 0.25})["train_fraction"] == "1/4"
    for bad, message in [
        ({"keep_file_order": "yes"}, "keep_file_order must be true or false"),
        ({"keep_file_order": 1}, "keep_file_order must be true or false"),
        ({"min_item_support": 2.5}, "min_item_support must be an integer >= 1"),
        ({"min_session_length": 1}, "min_session_length must be an integer >= 2"),
        ({"test_days": "7"}, "test_days must be a positive number of days"),
        ({"valid_days": -1}, "valid_days must be a positive number of days or none"),
        ({"train_fraction": "3/2"}, "train_fraction must be a number in"),
        ({"test_day": 1}, "has no parameter test_day; valid: test_days"),
    ]:
        with pytest.raises(ConfigError, match=message):
            check_protocol_params("narm", bad)
    with pytest.raises(ConfigError, match="protocol 'narm': keep_file_order"):
        narm(table([(1, 1, 0), (1, 2, 0)]), keep_file_order="yes")


def test_coercion_for_the_command_line_layer():
    text = {"keep_file_order": "yes", "min_item_support": "3", "valid_days": "none", "train_fraction": "1/4"}
    assert coerce_protocol_params("narm", text) == {
        "keep_file_order": True,
        "min_item_support": 3,
        "valid_days": None,
        "train_fraction": "1/4",
    }
    assert coerce_protocol_params("gru4rec", {"remove_repeats": "off", "x": "1"}) == {"remove_repeats": False, "x": "1"}
    # text it cannot read stays text, and the check names it
    bad = coerce_protocol_params("gru4rec", {"remove_repeats": "maybe"})
    with pytest.raises(ConfigError, match="remove_repeats must be true or false"):
        run_protocol("gru4rec", table([(1, 1, 0), (1, 2, 0)]), **bad)
