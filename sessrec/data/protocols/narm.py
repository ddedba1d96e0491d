"""The ``narm`` protocol (default): SR-GNN ``datasets/preprocess.py``, which reproduces NARM Table 1.

::

    1. order      clicks inside a session by ``time`` (stable; ``keep_file_order`` keeps file order)
    2. filter     drop sessions of length 1 -> count item occurrences -> drop items seen < 5 times
                  -> drop sessions left with < 2 clicks              (one pass, not iterated)
    3. split by date:

         split = max date - test_days                                  max date
       ──────────────────────────────────────────────┬───────────────────────┤
        train: date < split                          │ test: date > split
                                     sessions dated == split are dropped

       with valid_days (carved from train by the same rule):
       ───────────────────────────┬──────────────────┬───────────────────────┤
        train part: date < vsplit │ valid: > vsplit  │ test
                 vsplit = max train date - valid_days

    4. sessions listed by date (ties keep the order in which sessions first appear in the
       file); item_idx in order of first appearance in the listed train sessions; test (valid)
       clicks on items absent from train (the train part) removed; sessions left < 2 dropped
    5. a session of length n yields n - 1 cases, prefix seq[:i] -> target seq[i]
    6. train_fraction (yoochoose-1-64: 1/64, yoochoose-1-4: 1/4): keep the most recent
       floor(fraction * n_cases) training cases, listed as SR-GNN lists them (see
       :mod:`~sessrec.data.protocols.fraction`). Test cases and the ranked catalogue (n_items)
       stay those of the full split.

A session's date is the ``date`` of its last row in file order: on DIGINETICA the day of its
``eventdate`` (day resolution), on YOOCHOOSE its last click time truncated to the second. So
training sessions are listed by *date*, not by start time: on DIGINETICA all sessions of one day
share a date and keep their file order (session id order), whatever their clock times.

Rule 4 removes unseen test items on YOOCHOOSE as well. The NARM paper states it only for
DIGINETICA; SR-GNN's ``preprocess.py``, whose splits this protocol reproduces, does it for both
datasets, and so does sessrec.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

import pandas as pd

from sessrec.data.protocols.clicks import iso, order_clicks
from sessrec.data.protocols.compose import carve_if_asked, catalogue_and_test, finish
from sessrec.data.protocols.counts import Drops
from sessrec.data.protocols.filters import filter_once, require_clicks
from sessrec.data.protocols.fraction import case_fraction
from sessrec.data.protocols.params import MIN_SESSION_LENGTH, VALID_DAYS, Param, check_params
from sessrec.data.protocols.result import (
    ProtocolResult,
    filter_once_stats,
    session_drops,
)
from sessrec.data.protocols.splits import split_by_date
from sessrec.data.protocols.validation import carve_valid_by_date, valid_stats
from sessrec.progress import emit

__all__ = ["NARM_PARAMS", "build_narm", "narm"]

#: The parameters of ``narm``, in the order the results list them.
NARM_PARAMS = (
    Param("test_days", float, 7, 0, open_min=True, unit="days", doc="days before the last session date (split)"),
    Param("keep_file_order", bool, False, doc="keep the file order of clicks inside a session (NARM's own code)"),
    Param("min_item_support", int, 5, 1, doc="items seen fewer times are removed"),
    MIN_SESSION_LENGTH,
    Param("train_fraction", Fraction, None, doc="keep the most recent fraction of training cases (1/64, 1/4)"),
    VALID_DAYS,
)


def narm(
    events: pd.DataFrame,
    *,
    test_days: float = 7,
    keep_file_order: bool = False,
    min_item_support: int = 5,
    min_session_length: int = 2,
    train_fraction: float | Fraction | str | None = None,
    valid_days: float | None = None,
) -> ProtocolResult:
    """The ``narm`` protocol (SR-GNN ``datasets/preprocess.py``); see :mod:`sessrec.data.protocols.narm`.

    Parameters
    ----------
    events : DataFrame
        Event table in file order (columns :data:`~sessrec.data.protocols.EVENT_COLUMNS`). Not modified.
    test_days : float
        Days before the last session date where the split lies (DIGINETICA 7, YOOCHOOSE 1).
    keep_file_order : bool
        Keep the file order of clicks inside a session instead of sorting by ``time``
        (NARM's own DIGINETICA code did this; SR-GNN sorted).
    min_item_support : int
        Items seen fewer times (after dropping length-1 sessions) are removed.
    min_session_length : int
        Sessions shorter than this after the item filter are dropped.
    train_fraction : float, Fraction or "a/b", optional
        Keep only the most recent fraction of training cases (YOOCHOOSE 1/64, 1/4).
    valid_days : float, optional
        Carve a validation split of this many days from the end of train.

    Returns
    -------
    ProtocolResult

    Examples
    --------
    >>> import pandas as pd
    >>> ev = pd.DataFrame({"session_id": [1, 1, 2, 2], "item_id": [5, 6, 5, 6],
    ...                    "time": [0.0, 1.0, 2 * 86400, 2 * 86400 + 1], "date": [0.0, 0.0, 2 * 86400, 2 * 86400]})
    >>> r = narm(ev, test_days=1, min_item_support=1)
    >>> r.train.n_sessions, r.test.n_sessions, len(r.item_index)
    (1, 1, 2)
    """
    given = dict(test_days=test_days, keep_file_order=keep_file_order, min_item_support=min_item_support)
    given.update(min_session_length=min_session_length, train_fraction=train_fraction, valid_days=valid_days)
    return build_narm(events, check_params("narm", NARM_PARAMS, given))


def build_narm(events: pd.DataFrame, p: Mapping[str, Any]) -> ProtocolResult:
    """:func:`narm` on parameters already checked by :func:`~sessrec.data.protocols.params.check_params`."""
    min_length = p["min_session_length"]
    emit("prepare", step="narm: grouping sessions")
    clicks, raw = order_clicks(events, keep_file_order=p["keep_file_order"])
    clicks, filtered = filter_once(clicks, p["min_item_support"], min_length)
    require_clicks(clicks, raw.clicks, p["min_item_support"], min_length)
    split = split_by_date(clicks, p["test_days"])
    emit("prepare", step="narm: building splits")
    train = split.train.sort_sessions(split.train.date())
    catalogue, test, test_drops = catalogue_and_test(train, split.test.sort_sessions(split.test.date()), min_length)
    train, carved = carve_if_asked(train, p["valid_days"], lambda t, days: carve_valid_by_date(t, days, min_length))
    cut = None
    if p["train_fraction"] is not None:
        train, cut = case_fraction(train, Fraction(p["train_fraction"]))
    steps = {
        **filter_once_stats(*filtered),
        "max_date": iso(split.last),
        "split_date": iso(split.split),
        **session_drops("split_date", split.dropped),
        **test_drops,
        **valid_stats(carved),
        **({} if cut is None else _fraction_stats(cut)),
    }
    return finish(p, raw, catalogue, train, test, carved, steps)


def _fraction_stats(cut: Drops) -> dict[str, int]:
    return {
        "dropped_fraction_cases": cut.cases,
        "dropped_fraction_sessions": cut.sessions,
        "dropped_fraction_clicks": cut.clicks,
    }
