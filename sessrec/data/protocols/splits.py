"""Train/test split rules: by session date, by session start time, by session end time.

::

    split_by_date (narm)       split = last date - test_days
                               train: date < split   test: date > split   (== split: dropped)

    split_by_start (gru4rec)   split = last click time - test_days
                               test: sessions that *start* at or after split, whole;
                               train: the other sessions' clicks before split (straddling
                               sessions lose their later clicks)

    split_by_end (gru4rec-rsc15, window)
                               split = last click time - test_days
                               train: sessions that end before split   test: the others, whole

The sessions keep their listing order; each protocol sorts them afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass

from sessrec.data.protocols.clicks import DAY, Clicks, iso
from sessrec.data.protocols.counts import Drops
from sessrec.errors import DataError

__all__ = ["Split", "split_by_date", "split_by_end", "split_by_start"]


@dataclass(frozen=True, eq=False)
class Split:
    """A train/test split of a :class:`Clicks` table.

    Attributes
    ----------
    train, test : Clicks
    last : float
        The last session date (``split_by_date``) or click time, in seconds.
    split : float
        ``last - days * 86400``.
    dropped : Drops
        Sessions dated on the split (by date), clicks of straddling sessions after the
        split (by start); nothing (by end).
    """

    train: Clicks
    test: Clicks
    last: float
    split: float
    dropped: Drops


def split_by_date(clicks: Clicks, days: float) -> Split:
    """Sessions dated before ``last date - days`` train, after it test, on it dropped."""
    date = clicks.date()
    last = float(date.max())
    split = last - days * DAY
    on = date == split
    out = Split(
        clicks.keep_sessions(date < split),
        clicks.keep_sessions(date > split),
        last,
        split,
        Drops(sessions=int(on.sum()), clicks=int(clicks.lengths[on].sum())),
    )
    if out.train.n_sessions == 0:
        raise DataError(
            f"no training session is dated before the split {iso(split)} (last date {iso(last)} minus "
            f"test_days={days:g}); use fewer test days"
        )
    return out


def split_by_start(clicks: Clicks, days: float) -> Split:
    """Sessions starting at or after ``last time - days`` test; earlier clicks of the others train."""
    last = float(clicks.time.max())
    split = last - days * DAY
    is_test = clicks.start() >= split
    train = clicks.keep_sessions(~is_test)
    late = train.time >= split
    return Split(train.keep_clicks(~late), clicks.keep_sessions(is_test), last, split, Drops(clicks=int(late.sum())))


def split_by_end(clicks: Clicks, days: float) -> Split:
    """Sessions ending before ``last time - days`` train, the others test (whole sessions)."""
    last = float(clicks.time.max())
    split = last - days * DAY
    end = clicks.end()
    out = Split(clicks.keep_sessions(end < split), clicks.keep_sessions(end >= split), last, split, Drops())
    if out.train.n_sessions == 0:
        raise DataError(
            f"no training session ends before the split {iso(split)} (last time {iso(last)} minus "
            f"test_days={days:g}); use fewer test days"
        )
    return out
