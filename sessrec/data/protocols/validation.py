"""Carving a validation split out of the training sessions, by the protocol's own time rule.

::

    by date (narm)          vsplit = last train date - valid_days
                            train part: date < vsplit   valid: date > vsplit   (== vsplit dropped)

    by start (gru4rec)      vsplit = test split - valid_days
                            valid: sessions starting at or after vsplit; train part: the other
                            sessions' clicks before vsplit, parts shorter than min_length dropped

    by end (gru4rec-rsc15, window)
                            vsplit = last train click time - valid_days
                            train part: sessions ending before vsplit   valid: the others

    then, always: valid clicks on items absent from the train part removed, valid sessions
    left shorter than min_length dropped. The item catalogue stays that of the full train.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sessrec.data.protocols.assemble import drop_unseen
from sessrec.data.protocols.clicks import DAY, Clicks, iso
from sessrec.data.protocols.counts import Drops
from sessrec.data.protocols.filters import filter_length
from sessrec.data.protocols.result import session_drops, short_drops
from sessrec.errors import DataError

__all__ = ["Carved", "carve_valid_by_date", "carve_valid_by_end", "carve_valid_by_start", "valid_stats"]


@dataclass(frozen=True, eq=False)
class Carved:
    """A train part and a validation split carved from train.

    Attributes
    ----------
    part, valid : Clicks
    split : float
        The validation split point (date or time, seconds).
    at_split : Drops
        Sessions dated on the split (by date) or clicks after it of straddling sessions (by start).
    part_short : Drops
        Train-part sessions cut shorter than ``min_length`` by the split (by start only).
    unseen, short : Drops
        Validation clicks on items absent from the train part; validation sessions left too short.
    rule : {"date", "start", "end"}
        The time rule that carved it.
    """

    part: Clicks
    valid: Clicks
    split: float
    at_split: Drops
    part_short: Drops
    unseen: Drops
    short: Drops
    rule: str


def carve_valid_by_date(train: Clicks, valid_days: float, min_length: int) -> Carved:
    """narm: the date rule of the test split, inside train."""
    date = train.date()
    split = float(date.max()) - valid_days * DAY
    on = date == split
    part = train.keep_sessions(date < split)
    at_split = Drops(sessions=int(on.sum()), clicks=int(train.lengths[on].sum()))
    if part.n_sessions == 0:
        raise DataError(f"no training session is dated before the validation split {iso(split)}; use fewer valid_days")
    return _finish(part, train.keep_sessions(date > split), split, at_split, Drops(), min_length, "date")


def carve_valid_by_start(train: Clicks, test_split: float, valid_days: float, min_length: int) -> Carved:
    """gru4rec: the start-time rule of the test split, ``valid_days`` before it."""
    split = test_split - valid_days * DAY
    is_valid = train.start() >= split
    rest = train.keep_sessions(~is_valid)
    late = rest.time >= split
    part, part_short = filter_length(rest.keep_clicks(~late), min_length)
    if part.n_sessions == 0:
        raise DataError(f"no training session is left before the validation split {iso(split)}")
    late_drops = Drops(clicks=int(late.sum()))
    return _finish(part, train.keep_sessions(is_valid), split, late_drops, part_short, min_length, "start")


def carve_valid_by_end(train: Clicks, valid_days: float, min_length: int) -> Carved:
    """gru4rec-rsc15 and window: the end-time rule of the test split, inside train."""
    end = train.end()
    split = float(train.time.max()) - valid_days * DAY
    part = train.keep_sessions(end < split)
    if part.n_sessions == 0:
        raise DataError(f"no training session ends before the validation split {iso(split)}; use fewer valid_days")
    return _finish(part, train.keep_sessions(end >= split), split, Drops(), Drops(), min_length, "end")


def _finish(
    part: Clicks, valid: Clicks, split: float, at_split: Drops, part_short: Drops, min_length: int, rule: str
) -> Carved:
    seen = part.item_counts() > 0
    valid, unseen, short = drop_unseen(valid, seen, min_length)
    return Carved(part, valid, split, at_split, part_short, unseen, short, rule)


def valid_stats(carved: Carved | None) -> dict[str, Any]:
    """The statistics of a carving (none without one), named as its time rule names its split.

    Keys: ``valid_split_date`` and ``dropped_valid_split_date_*`` (date rule),
    ``valid_split_time`` (start and end rules), ``dropped_valid_straddling_clicks`` and
    ``dropped_train_part_short_*`` (start rule), then ``dropped_valid_unseen_clicks`` and
    ``dropped_valid_short_*`` (every rule).
    """
    if carved is None:
        return {}
    if carved.rule == "date":
        head = {"valid_split_date": iso(carved.split), **session_drops("valid_split_date", carved.at_split)}
    else:
        head = {"valid_split_time": iso(carved.split)}
    if carved.rule == "start":
        head["dropped_valid_straddling_clicks"] = carved.at_split.clicks
        head.update(short_drops("train_part_short", carved.part_short))
    return {**head, "dropped_valid_unseen_clicks": carved.unseen.clicks, **short_drops("valid_short", carved.short)}
