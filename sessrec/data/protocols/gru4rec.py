"""The ``gru4rec`` protocol: hidasib/GRU4Rec (``gru4rec_third_party_comparison/*_preproc.py``).

::

    1. order      clicks inside a session by time (stable); remove immediate repeats
                  (same item twice in a row) when ``remove_repeats``
    2. filter     drop sessions < 2 and items seen < 5 times, iterated until nothing changes
    3. split by start time:

            split = last timestamp - test_days                    last timestamp
       ───────────────────────────────────────────┬──────────────────────┤
        train: every event with time < split      │ test: sessions that *start*
        (later events of straddling sessions      │ at or after split, whole
         are dropped; train sessions < 2 dropped) │

       with valid_days: vsplit = split - valid_days, the same rule inside train.

    4. sessions listed by start time; item_idx in order of first appearance in train; test
       clicks on items absent from train removed, test sessions < 2 dropped; every event
       after the first in a test session is a case.

Deviation, said here once: hidasib's scripts break ties of equal time by item id (they
sort on ``[SessionId, Time, ItemId]`` after truncating YOOCHOOSE times to seconds); sessrec
keeps the full time resolution and breaks ties by file order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from sessrec.data.protocols.clicks import Clicks, iso, order_clicks
from sessrec.data.protocols.compose import carve_if_asked, catalogue_and_test, finish
from sessrec.data.protocols.counts import Drops
from sessrec.data.protocols.filters import filter_iterated, filter_length, remove_repeats, require_clicks
from sessrec.data.protocols.params import VALID_DAYS, Param, check_params
from sessrec.data.protocols.result import ProtocolResult, short_drops
from sessrec.data.protocols.splits import Split, split_by_start
from sessrec.data.protocols.validation import carve_valid_by_start, valid_stats
from sessrec.errors import DataError
from sessrec.progress import emit

__all__ = ["GRU4REC_PARAMS", "build_gru4rec", "gru4rec"]

#: The parameters of ``gru4rec``, in the order the results list them.
GRU4REC_PARAMS = (
    Param("test_days", float, 7, 0, open_min=True, unit="days", doc="test sessions start within these last days"),
    Param("remove_repeats", bool, True, doc="remove immediate repeats first"),
    Param("min_item_support", int, 5, 1, doc="items seen fewer times are removed (iterated)"),
    Param("min_session_length", int, 2, 2, doc="sessions shorter than this are dropped (iterated)"),
    VALID_DAYS,
)


def gru4rec(
    events: pd.DataFrame,
    *,
    test_days: float = 7,
    remove_repeats: bool = True,
    min_item_support: int = 5,
    min_session_length: int = 2,
    valid_days: float | None = None,
) -> ProtocolResult:
    """The ``gru4rec`` protocol (hidasib/GRU4Rec); see :mod:`sessrec.data.protocols.gru4rec`.

    Parameters
    ----------
    events : DataFrame
        Event table in file order (columns :data:`~sessrec.data.protocols.EVENT_COLUMNS`;
        ``date`` is unused). Not modified.
    test_days : float
        Test sessions start within this many days before the last timestamp.
    remove_repeats : bool
        Remove immediate repeats (the same item clicked twice in a row) first.
    min_item_support, min_session_length : int
        The iterated filter: items seen fewer times and shorter sessions are removed until
        nothing changes.
    valid_days : float, optional
        Carve a validation split: sessions starting in the last ``valid_days`` before the test split.

    Returns
    -------
    ProtocolResult

    Examples
    --------
    >>> import pandas as pd
    >>> ev = pd.DataFrame({"session_id": [1, 1, 1, 2, 2], "item_id": [5, 5, 6, 5, 6],
    ...                    "time": [0.0, 1.0, 2.0, 3 * 86400, 3 * 86400 + 1], "date": 0.0})
    >>> r = gru4rec(ev, test_days=1, min_item_support=1)
    >>> r.train[0].tolist(), r.stats["dropped_repeat_clicks"]
    ([0, 1], 1)
    """
    given = dict(test_days=test_days, remove_repeats=remove_repeats, min_item_support=min_item_support)
    given.update(min_session_length=min_session_length, valid_days=valid_days)
    return build_gru4rec(events, check_params("gru4rec", GRU4REC_PARAMS, given))


def build_gru4rec(events: pd.DataFrame, p: Mapping[str, Any]) -> ProtocolResult:
    """:func:`gru4rec` on parameters already checked by :func:`~sessrec.data.protocols.params.check_params`."""
    min_length = p["min_session_length"]
    emit("prepare", step="gru4rec: grouping sessions")
    clicks, raw = order_clicks(events)
    clicks, repeats = remove_repeats(clicks) if p["remove_repeats"] else (clicks, Drops())
    clicks, filtered, rounds = filter_iterated(clicks, p["min_item_support"], min_length)
    require_clicks(clicks, raw.clicks, p["min_item_support"], min_length)
    split = split_by_start(clicks, p["test_days"])
    emit("prepare", step="gru4rec: building splits")
    train, train_short = _train_sessions(split, p["test_days"], min_length)
    catalogue, test, test_drops = catalogue_and_test(train, split.test.sort_sessions(split.test.start()), min_length)
    train, carved = carve_if_asked(
        train, p["valid_days"], lambda t, days: carve_valid_by_start(t, split.split, days, min_length)
    )
    steps = {
        "dropped_repeat_clicks": repeats.clicks,
        "filter_rounds": rounds,
        "dropped_filter_clicks": filtered.clicks,
        "dropped_filter_sessions": filtered.sessions,
        "dropped_filter_items": filtered.items,
        "last_time": iso(split.last),
        "split_time": iso(split.split),
        "dropped_straddling_clicks": split.dropped.clicks,
        **short_drops("train_short", train_short),
        **test_drops,
        **valid_stats(carved),
    }
    return finish(p, raw, catalogue, train, test, carved, steps)


def _train_sessions(split: Split, test_days: float, min_length: int) -> tuple[Clicks, Drops]:
    """Train sessions by start time, those the split cut shorter than ``min_length`` dropped."""
    train, short = filter_length(split.train, min_length)
    if train.n_sessions == 0:
        raise DataError(
            f"no training session is left before the split {iso(split.split)} (last time {iso(split.last)} minus "
            f"test_days={test_days:g}); use fewer test days"
        )
    return train.sort_sessions(train.start()), short
