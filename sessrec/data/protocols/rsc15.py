"""The ``gru4rec-rsc15`` protocol: the official GRU4Rec RSC15 split (hidasib/GRU4Rec ``examples/rsc15/preprocess.py``).

::

    1. order      clicks inside a session by time (stable); no de-duplication of repeats
    2. filter     drop sessions of length 1 -> drop items seen < 5 times -> drop sessions
                  left with < 2 clicks                       (one pass, not iterated)
    3. split by session end time:

            split = last timestamp - test_days (1)                    last timestamp
       ──────────────────────────────────────────────┬──────────────────────┤
        train: sessions that *end* before split      │ test: sessions that end at or
        (whole sessions)                             │ after split (whole sessions)

       with valid_days (the script's rsc15_train_tr / rsc15_train_valid files, 1 day):
       vsplit = last *train* timestamp - valid_days; train part: sessions ending before
       vsplit; valid: the other train sessions.

    4. sessions listed by start time (GRU4Rec trains on them in that order); item_idx in order
       of first appearance in train; test (valid) clicks on items absent from train (the train
       part) removed, sessions left < 2 dropped; every event after the first is a case.

It differs from ``gru4rec`` in three rules: the filter runs once, immediate repeats stay, and
a session goes to test by its *end* (``gru4rec``: by its start, cutting straddling sessions).

Deviations from the script, said here once: it parses YOOCHOOSE times in the machine's local
time zone (its own comment: "This is not UTC. It does not really matter."); sessrec's times
are UTC, which moves every time by the same offset and changes no split. The script writes
sessions in file order and GRU4Rec sorts them by start time when it trains; ties of equal time
inside a session are broken by file order here (GRU4Rec's ``sort_values`` does not promise an
order for them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from sessrec.data.protocols.clicks import iso, order_clicks
from sessrec.data.protocols.compose import carve_if_asked, catalogue_and_test, finish
from sessrec.data.protocols.filters import filter_once, require_clicks
from sessrec.data.protocols.params import MIN_SESSION_LENGTH, VALID_DAYS, Param, check_params
from sessrec.data.protocols.result import ProtocolResult, filter_once_stats
from sessrec.data.protocols.splits import split_by_end
from sessrec.data.protocols.validation import carve_valid_by_end, valid_stats
from sessrec.progress import emit

__all__ = ["RSC15_PARAMS", "build_gru4rec_rsc15", "gru4rec_rsc15"]

#: The parameters of ``gru4rec-rsc15``, in the order the results list them.
RSC15_PARAMS = (
    Param("test_days", float, 1, 0, open_min=True, unit="days", doc="test sessions end within these last days"),
    Param("min_item_support", int, 5, 1, doc="items seen fewer times are removed (one pass)"),
    MIN_SESSION_LENGTH,
    VALID_DAYS,
)


def gru4rec_rsc15(
    events: pd.DataFrame,
    *,
    test_days: float = 1,
    min_item_support: int = 5,
    min_session_length: int = 2,
    valid_days: float | None = None,
) -> ProtocolResult:
    """The ``gru4rec-rsc15`` protocol; see :mod:`sessrec.data.protocols.rsc15`.

    Parameters
    ----------
    events : DataFrame
        Event table in file order (columns :data:`~sessrec.data.protocols.EVENT_COLUMNS`;
        ``date`` is unused). Not modified.
    test_days : float
        Test sessions end within this many days before the last timestamp (the script: 1).
    min_item_support, min_session_length : int
        The one-pass filter (the script: 5 and 2).
    valid_days : float, optional
        Carve a validation split: train sessions ending in the last ``valid_days`` of train
        (the script: 1).

    Returns
    -------
    ProtocolResult

    Examples
    --------
    >>> import pandas as pd
    >>> ev = pd.DataFrame({"session_id": [1, 1, 1, 2, 2], "item_id": [5, 5, 6, 5, 6],
    ...                    "time": [0.0, 1.0, 2.0, 3 * 86400, 3 * 86400 + 1], "date": 0.0})
    >>> r = gru4rec_rsc15(ev, min_item_support=1)
    >>> r.train[0].tolist(), r.test[0].tolist()
    ([0, 0, 1], [0, 1])
    """
    given = dict(test_days=test_days, min_item_support=min_item_support)
    given.update(min_session_length=min_session_length, valid_days=valid_days)
    return build_gru4rec_rsc15(events, check_params("gru4rec-rsc15", RSC15_PARAMS, given))


def build_gru4rec_rsc15(events: pd.DataFrame, p: Mapping[str, Any]) -> ProtocolResult:
    """:func:`gru4rec_rsc15` on parameters already checked."""
    min_length = p["min_session_length"]
    emit("prepare", step="gru4rec-rsc15: grouping sessions")
    clicks, raw = order_clicks(events)
    clicks, filtered = filter_once(clicks, p["min_item_support"], min_length)
    require_clicks(clicks, raw.clicks, p["min_item_support"], min_length)
    split = split_by_end(clicks, p["test_days"])
    emit("prepare", step="gru4rec-rsc15: building splits")
    train = split.train.sort_sessions(split.train.start())
    catalogue, test, test_drops = catalogue_and_test(train, split.test.sort_sessions(split.test.start()), min_length)
    train, carved = carve_if_asked(train, p["valid_days"], lambda t, days: carve_valid_by_end(t, days, min_length))
    steps = {
        **filter_once_stats(*filtered),
        "last_time": iso(split.last),
        "split_time": iso(split.split),
        **test_drops,
        **valid_stats(carved),
    }
    return finish(p, raw, catalogue, train, test, carved, steps)
