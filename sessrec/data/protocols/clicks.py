"""The table every protocol step reads and returns: :class:`Clicks`, and the first rule, *order*.

An event table (``session_id, item_id, time, date`` in file order, see
:data:`EVENT_COLUMNS`) is read once into codes (sessions and items numbered in order of first
appearance) and grouped session by session, in CSR layout like
:class:`~sessrec.data.sessions.Sessions`::

    sessions = [ 0        2     5   ]      session codes, in the order the protocol lists them
    offsets  = [ 0  3     5     8   ]      session k = clicks offsets[k]:offsets[k+1]
    item     = [ 4  1  4 | 0  2 | 7  1  3 ]  item codes, in click order inside each session
    time     = [ t  t  t | t  t | t  t  t ]

Steps keep the codes (:class:`Codes`), so counts such as "items dropped" and the external ids
are always one lookup away; a session may be left empty by a step until a length filter
drops it. :func:`~sessrec.data.protocols.assemble.to_sessions` turns the final table into
:class:`~sessrec.data.sessions.Sessions` over an item index.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from sessrec.data.protocols.counts import RawCounts
from sessrec.data.sessions import concat_ranges
from sessrec.errors import DataError

__all__ = ["DAY", "EVENT_COLUMNS", "Clicks", "Codes", "iso", "order_clicks"]

#: Columns every event table has (see :mod:`sessrec.data.protocols`).
EVENT_COLUMNS = ("session_id", "item_id", "time", "date")

#: Seconds per day.
DAY = 86400.0


@dataclass(frozen=True, eq=False)
class Codes:
    """What the codes of a :class:`Clicks` table stand for.

    Attributes
    ----------
    session_ids : ndarray of shape (n_session_codes,)
        External session id of every session code.
    item_ids : ndarray of shape (n_item_codes,)
        External item id of every item code.
    session_date : ndarray of shape (n_session_codes,), float64
        ``date`` of the session's last row in file order (the ``narm`` session date).
    """

    session_ids: np.ndarray
    item_ids: np.ndarray
    session_date: np.ndarray


@dataclass(frozen=True, eq=False)
class Clicks:
    """Sessions of item codes in CSR layout (see the module docstring).

    Attributes
    ----------
    sessions : ndarray of shape (n_sessions,), int64
        Session codes, in listing order.
    offsets : ndarray of shape (n_sessions + 1,), int64
        Session ``k`` owns clicks ``offsets[k]:offsets[k + 1]`` (possibly none).
    item : ndarray of shape (n_clicks,), int64
        Item code of every click.
    time : ndarray of shape (n_clicks,), float64
        Click time in seconds.
    codes : Codes
        Shared by every table derived from the same event table.
    """

    sessions: np.ndarray
    offsets: np.ndarray
    item: np.ndarray
    time: np.ndarray
    codes: Codes

    @property
    def n_sessions(self) -> int:
        return len(self.sessions)

    @property
    def n_clicks(self) -> int:
        return len(self.item)

    @property
    def lengths(self) -> np.ndarray:
        """Clicks per session, shape (n_sessions,)."""
        return np.diff(self.offsets)

    def click_session(self) -> np.ndarray:
        """Position (0 .. n_sessions - 1) of every click's session, shape (n_clicks,)."""
        return np.repeat(np.arange(self.n_sessions), self.lengths)

    def n_items(self) -> int:
        """Distinct items clicked."""
        return int((np.bincount(self.item, minlength=len(self.codes.item_ids)) > 0).sum())

    def item_counts(self) -> np.ndarray:
        """Clicks per item code, shape (n_item_codes,)."""
        return np.bincount(self.item, minlength=len(self.codes.item_ids))

    def start(self) -> np.ndarray:
        """Time of each session's first click, shape (n_sessions,) (``inf`` when empty)."""
        return self._reduce(np.minimum, np.inf)

    def end(self) -> np.ndarray:
        """Time of each session's last click, shape (n_sessions,) (``-inf`` when empty)."""
        return self._reduce(np.maximum, -np.inf)

    def date(self) -> np.ndarray:
        """The ``narm`` date of each session, shape (n_sessions,)."""
        return self.codes.session_date[self.sessions]

    def _reduce(self, ufunc: np.ufunc, empty: float) -> np.ndarray:
        out = np.full(self.n_sessions, empty)
        full = self.lengths > 0
        if full.any():
            out[full] = ufunc.reduceat(self.time, self.offsets[:-1][full])
        return out

    # ------------------------------------------------------------------ selections
    def keep_clicks(self, mask: np.ndarray) -> Clicks:
        """The clicks where ``mask`` (shape (n_clicks,)) is True; every session stays listed."""
        counts = np.bincount(self.click_session()[mask], minlength=self.n_sessions)
        offsets = np.r_[0, np.cumsum(counts)].astype(np.int64)
        return replace(self, offsets=offsets, item=self.item[mask], time=self.time[mask])

    def keep_sessions(self, mask: np.ndarray) -> Clicks:
        """The sessions where ``mask`` (shape (n_sessions,)) is True, in the same order."""
        return self.take(np.flatnonzero(mask))

    def take(self, positions: np.ndarray) -> Clicks:
        """Sessions at ``positions`` (shape (k,)), in that order, with their clicks."""
        lengths = self.lengths[positions]
        gather = concat_ranges(self.offsets[:-1][positions], lengths)
        offsets = np.r_[0, np.cumsum(lengths)].astype(np.int64)
        return Clicks(self.sessions[positions], offsets, self.item[gather], self.time[gather], self.codes)

    def sort_sessions(self, key: np.ndarray) -> Clicks:
        """Sessions sorted by ``key`` (shape (n_sessions,)); ties keep the current order."""
        return self.take(np.argsort(key, kind="stable"))


# ---------------------------------------------------------------------------------- rule 1: order
def order_clicks(events: pd.DataFrame, *, keep_file_order: bool = False) -> tuple[Clicks, RawCounts]:
    """Rule *order*: group the clicks by session and order them inside each session.

    Parameters
    ----------
    events : DataFrame
        Event table in file order (:data:`EVENT_COLUMNS`). Not modified.
    keep_file_order : bool
        Keep the file order inside a session; otherwise sort by ``time`` (stable: ties keep
        the file order).

    Returns
    -------
    clicks : Clicks
        Every session, numbered and listed in order of first appearance in the file.
    raw : RawCounts
        Clicks, sessions and distinct items of the event table.

    Examples
    --------
    >>> import pandas as pd
    >>> ev = pd.DataFrame({"session_id": [7, 3, 7], "item_id": [1, 2, 3], "time": [5.0, 0.0, 1.0], "date": 0.0})
    >>> c, raw = order_clicks(ev)
    >>> c.codes.session_ids.tolist(), c.codes.item_ids[c.item].tolist(), raw.items
    ([7, 3], [3, 1, 2], 3)
    """
    sid, item, time, date = _columns(events)
    code, uniq_sess = pd.factorize(sid)
    icode, uniq_items = pd.factorize(item)
    n_sess = len(uniq_sess)
    by_sess = _session_order(code)
    lengths = np.bincount(code, minlength=n_sess)
    session_date = date[by_sess[np.cumsum(lengths) - 1]]  # the session's last row in file order
    order = by_sess if keep_file_order else _session_order(code, time)
    codes = Codes(np.asarray(uniq_sess), np.asarray(uniq_items), session_date)
    offsets = np.r_[0, np.cumsum(lengths)].astype(np.int64)
    clicks = Clicks(np.arange(n_sess, dtype=np.int64), offsets, icode[order].astype(np.int64), time[order], codes)
    return clicks, RawCounts(len(sid), n_sess, len(uniq_items))


def _columns(events: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    missing = [c for c in EVENT_COLUMNS if c not in events.columns]
    if missing:
        raise ValueError(f"event table lacks columns {missing}; expected {list(EVENT_COLUMNS)}")
    if len(events) == 0:
        raise DataError("the event table is empty: no clicks to prepare")
    sid = events["session_id"].to_numpy()
    item = events["item_id"].to_numpy()
    if item.dtype == object:
        item = item.astype(str)
    time = events["time"].to_numpy(dtype=np.float64)
    date = events["date"].to_numpy(dtype=np.float64)
    return sid, item, time, date


def _session_order(code: np.ndarray, time: np.ndarray | None = None) -> np.ndarray:
    """Click positions grouped by session code (stable), and by time inside when ``time`` is given.

    Equals ``np.lexsort((time, code))`` (stable), but skips the sorts a file that is already
    grouped and time-ordered does not need.
    """
    n = len(code)
    order = np.arange(n) if n < 2 or bool(np.all(code[1:] >= code[:-1])) else np.argsort(code, kind="stable")
    if time is not None and n > 1:
        c, t = code[order], time[order]
        if bool(np.any((c[1:] == c[:-1]) & (t[1:] < t[:-1]))):
            order = np.lexsort((time, code))
    return order


def iso(t: float) -> str:
    """``t`` seconds as an ISO-8601 UTC timestamp (how the statistics show split points)."""
    return pd.Timestamp(t, unit="s", tz="UTC").isoformat()
