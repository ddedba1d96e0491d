"""Evaluation protocols: event table in, train/test(/valid) :class:`Sessions` out.

The published numbers of the field depend on these rules, so each is named and drawn.
A protocol is a pure function of an *event table*, a :class:`pandas.DataFrame` in file order
with the columns

==============  =========================================================================
``session_id``  int64 session key (external)
``item_id``     int64 (or str) external item id
``time``        float64 seconds; orders clicks inside a session; the ``gru4rec`` split
``date``        float64 seconds; the ``narm`` session date is the ``date`` of the
                session's last row in file order (DIGINETICA: midnight of ``eventdate``;
                YOOCHOOSE: the click time truncated to the second; others: session end)
==============  =========================================================================

and returns a :class:`ProtocolResult`: train, test and optional validation sessions over one
:class:`~sessrec.data.index.ItemIndex`, the parameters, and statistics that include how many
sessions, clicks and items each rule dropped (keys ``dropped_<rule>_<unit>``).

``narm`` (default) — SR-GNN ``datasets/preprocess.py`` semantics, which reproduce NARM Table 1::

    1. order clicks inside a session by ``time`` (stable; ``keep_file_order`` keeps file order)
    2. drop sessions of length 1 -> count item occurrences -> drop items seen < 5 times
       -> drop sessions left with < 2 clicks              (one pass, not iterated)
    3. split on session dates:

         split = max date - test_days                                  max date
       ──────────────────────────────────────────────┬───────────────────────┤
        train: date < split                          │ test: date > split
                                     sessions dated == split are dropped

       with valid_days (carved from train by the same rule):
       ───────────────────────────┬──────────────────┬───────────────────────┤
        train part: date < vsplit │ valid: > vsplit  │ test
                 vsplit = max train date - valid_days

    4. item_idx in order of first appearance in date-sorted train sessions (ties of date
       keep the order in which sessions first appear in the file); test (valid) clicks on
       items absent from train (the train part) removed; sessions left < 2 dropped
    5. a session of length n yields n - 1 cases, prefix seq[:i] -> target seq[i]
    6. train_fraction (yoochoose-1-64: 1/64, yoochoose-1-4: 1/4): keep the most recent
       floor(fraction * n_cases) training cases, listed as SR-GNN lists them

          session order (date) ->   s1          s2          s3 (boundary)    s4
          cases, last target first  [4,3,2,1]   [2,1]       [3,2,1]          [5,4,3,2,1]
                                                                 ^^^ kept ─────────────>

       so the boundary session keeps its *shortest* prefixes: it is truncated to its first
       k + 1 clicks. Test cases and the ranked catalogue (n_items) stay those of the full split.

``gru4rec`` — hidasib/GRU4Rec protocol (``gru4rec_third_party_comparison/*_preproc.py``)::

    1. order clicks inside a session by time (stable); remove immediate repeats
       (same item twice in a row) when ``remove_repeats``
    2. drop sessions < 2 and items seen < 5 times, iterated until nothing changes
    3. split on event times:

            split = last timestamp - test_days                    last timestamp
       ───────────────────────────────────────────┬──────────────────────┤
        train: every event with time < split      │ test: sessions that *start*
        (later events of straddling sessions      │ at or after split, whole
         are dropped; train sessions < 2 dropped) │

       with valid_days: vsplit = split - valid_days, the same rule inside train.

    4. sessions ordered by start time; item_idx in order of first appearance in train; test
       clicks on items absent from train removed, test sessions < 2 dropped; every event
       after the first in a test session is a case.

Deviation, said here once: hidasib's scripts break ties of equal time by item id (they
sort on ``[SessionId, Time, ItemId]`` after truncating YOOCHOOSE times to seconds); sessrec
keeps the full time resolution and breaks ties by file order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from sessrec.data.index import ItemIndex
from sessrec.data.sessions import Sessions, concat_ranges
from sessrec.errors import ConfigError, DataError
from sessrec.progress import emit

__all__ = ["EVENT_COLUMNS", "PROTOCOLS", "ProtocolResult", "gru4rec", "narm", "protocol_params", "run_protocol"]

#: Columns every event table has (see the module docstring).
EVENT_COLUMNS = ("session_id", "item_id", "time", "date")

DAY = 86400.0


@dataclass(frozen=True, eq=False)
class ProtocolResult:
    """What a protocol produces.

    Attributes
    ----------
    train, test : Sessions
        Over ``item_index``; sessions in date (``narm``) or start-time (``gru4rec``) order.
    valid : Sessions or None
        Validation sessions carved from train by the same time rule; ``train`` is then the
        train part only.
    item_index : ItemIndex
        ``n_items = len(item_index)`` is the ranked catalogue.
    params : dict
        Every parameter that defines the split, defaults included.
    stats : dict
        Sizes (``clicks``, ``n_items``, ``train_sessions``, ``train_cases``, ``test_sessions``,
        ``test_cases``, ``valid_sessions``, ``valid_cases``, ``avg_length``) and the drop counts of
        every rule (``dropped_<rule>_<sessions|clicks|items|cases>``).
    """

    train: Sessions
    test: Sessions
    valid: Sessions | None
    item_index: ItemIndex
    params: dict[str, Any]
    stats: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------- helpers
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


def _assemble(
    sess: np.ndarray,
    items: np.ndarray,
    times: np.ndarray,
    session_ids: np.ndarray,
    n_items: int,
    min_length: int,
) -> tuple[Sessions, np.ndarray, int, int]:
    """Sessions from clicks grouped by ``sess`` (runs of equal keys, in output order).

    Sessions shorter than ``min_length`` are dropped. Returns the sessions, the key of every
    kept session, and the number of sessions and clicks dropped.
    """
    n = len(sess)
    if n == 0:
        empty = Sessions(np.zeros(0, np.int64), np.zeros(1, np.int64), np.zeros(0), n_items, session_ids[:0])
        return empty, sess[:0], 0, 0
    heads = np.flatnonzero(np.r_[True, sess[1:] != sess[:-1]])
    lengths = np.diff(np.r_[heads, n])
    keep = lengths >= min_length
    click_keep = np.repeat(keep, lengths)
    kept_keys = sess[heads][keep]
    offsets = np.r_[0, np.cumsum(lengths[keep])].astype(np.int64)
    out = Sessions(items[click_keep], offsets, times[click_keep], n_items, session_ids[kept_keys])
    return out, kept_keys, int((~keep).sum()), int(lengths[~keep].sum())


def _drop_unseen(
    s: Sessions, seen: np.ndarray, keys: np.ndarray, min_length: int
) -> tuple[Sessions, np.ndarray, int, int, int]:
    """Remove clicks on items where ``seen`` is False, then sessions shorter than ``min_length``.

    Returns the sessions, the keys of the kept sessions, and the clicks, sessions and clicks
    dropped (unseen clicks; short sessions; their remaining clicks).
    """
    keep = seen[s.items]
    click_sess = np.repeat(np.arange(s.n_sessions), s.lengths)[keep]
    sid = s.session_ids if s.session_ids is not None else np.arange(s.n_sessions)
    out, kept, _, n_short_clicks = _assemble(
        click_sess, s.items[keep], s.timestamps[keep], np.asarray(sid), s.n_items, min_length
    )
    return out, keys[kept], int((~keep).sum()), s.n_sessions - out.n_sessions, n_short_clicks


def _case_fraction(train: Sessions, fraction: Fraction) -> tuple[Sessions, int]:
    """The most recent ``floor(fraction * n_cases)`` cases, SR-GNN's listing (see module doc)."""
    cases = np.maximum(train.lengths - 1, 0)
    total = int(cases.sum())
    keep_cases = total * fraction.numerator // fraction.denominator
    if keep_cases <= 0:
        raise DataError(
            f"train_fraction={fraction} of {total} training cases keeps none; use a larger fraction or more data"
        )
    cum = np.cumsum(cases)
    cut = total - keep_cases  # listing positions >= cut are kept
    first = cum - cases
    kept_per_session = np.clip(cum - np.maximum(first, cut), 0, None)
    new_len = np.where(kept_per_session > 0, kept_per_session + 1, 0)
    sel = np.flatnonzero(new_len > 0)
    gather = concat_ranges(train.offsets[sel], new_len[sel])
    offsets = np.r_[0, np.cumsum(new_len[sel])].astype(np.int64)
    sid = None if train.session_ids is None else train.session_ids[sel]
    out = Sessions(train.items[gather], offsets, train.timestamps[gather], train.n_items, sid)
    return out, total - keep_cases


def _summary(stats: dict[str, Any], train: Sessions, test: Sessions, valid: Sessions | None, n_items: int) -> None:
    parts = [train, test] + ([valid] if valid is not None else [])
    clicks = sum(p.n_clicks for p in parts)
    sessions = sum(p.n_sessions for p in parts)
    head = {
        "clicks": clicks,
        "n_items": n_items,
        "train_sessions": train.n_sessions,
        "train_cases": train.n_cases,
        "test_sessions": test.n_sessions,
        "test_cases": test.n_cases,
        "valid_sessions": 0 if valid is None else valid.n_sessions,
        "valid_cases": 0 if valid is None else valid.n_cases,
        "avg_length": clicks / sessions if sessions else 0.0,
    }
    rest = dict(stats)
    stats.clear()
    stats.update(head)
    stats.update(rest)


def _iso(t: float) -> str:
    return pd.Timestamp(t, unit="s", tz="UTC").isoformat()


def _flag(name: str, value: Any) -> bool:
    """A boolean parameter; the strings of a command line ("true", "0", ...) are accepted."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "false", "0", "no"):
        return value.strip().lower() in ("true", "1", "yes")
    if isinstance(value, (int, np.integer)) and value in (0, 1):
        return bool(value)
    raise ConfigError(f"{name} must be true or false, got {value!r}")


def _count(name: str, value: Any, minimum: int) -> int:
    try:
        v = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}") from None
    if v < minimum or (isinstance(value, float) and v != value):
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return v


def _check_days(name: str, value: float | None, *, allow_none: bool) -> float | None:
    if value is None:
        if allow_none:
            return None
        raise ConfigError(f"{name} is required (a positive number of days)")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a positive number of days, got {value!r}") from None
    if not v > 0:
        raise ConfigError(f"{name} must be a positive number of days, got {value!r}")
    return v


# ---------------------------------------------------------------------------------- narm
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
    """The ``narm`` protocol (SR-GNN ``datasets/preprocess.py``); see the module docstring.

    Parameters
    ----------
    events : DataFrame
        Event table in file order (columns :data:`EVENT_COLUMNS`). Not modified.
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
    test_days = _check_days("test_days", test_days, allow_none=False)
    valid_days = _check_days("valid_days", valid_days, allow_none=True)
    fraction = _parse_fraction(train_fraction)
    params: dict[str, Any] = {
        "test_days": test_days,
        "keep_file_order": _flag("keep_file_order", keep_file_order),
        "min_item_support": _count("min_item_support", min_item_support, 1),
        "min_session_length": _count("min_session_length", min_session_length, 2),
        "train_fraction": None if fraction is None else str(fraction),
        "valid_days": valid_days,
    }
    min_item_support, min_session_length = params["min_item_support"], params["min_session_length"]
    sid, item, time, date = _columns(events)
    n = len(sid)
    emit("prepare", step="narm: grouping sessions")
    code, uniq_sess = pd.factorize(sid)
    n_sess = len(uniq_sess)
    by_sess = _session_order(code)  # grouped by first appearance, file order inside
    lengths = np.bincount(code, minlength=n_sess)
    ends = np.cumsum(lengths)
    sess_date = date[by_sess[ends - 1]]  # date of each session's last row in file order
    order = by_sess if params["keep_file_order"] else _session_order(code, time)

    icode, uniq_items = pd.factorize(item)
    stats: dict[str, Any] = {"raw_clicks": n, "raw_sessions": n_sess, "raw_items": len(uniq_items)}
    # rule 2: length-1 sessions, rare items, short sessions (one pass)
    keep_sess = lengths > 1
    stats["dropped_length1_sessions"] = int((~keep_sess).sum())
    stats["dropped_length1_clicks"] = int(lengths[~keep_sess].sum())
    click_keep = keep_sess[code]
    counts = np.bincount(icode[click_keep], minlength=len(uniq_items))
    rare = (counts > 0) & (counts < min_item_support)
    stats["dropped_rare_items"] = int(rare.sum())
    click_keep &= counts[icode] >= min_item_support
    stats["dropped_rare_item_clicks"] = int(counts[rare].sum())
    new_len = np.bincount(code[click_keep], minlength=n_sess)
    short = keep_sess & (new_len < min_session_length)
    stats["dropped_short_sessions"] = int(short.sum())
    stats["dropped_short_session_clicks"] = int(new_len[short].sum())
    alive = keep_sess & ~short
    if not alive.any():
        raise DataError(
            f"nothing is left after filtering: {n} clicks in {n_sess} sessions, none with >= "
            f"{min_session_length} clicks on items seen >= {min_item_support} times"
        )
    click_keep &= alive[code]

    # rule 3: date split
    max_date = float(sess_date[alive].max())
    split = max_date - test_days * DAY
    is_train = alive & (sess_date < split)
    is_test = alive & (sess_date > split)
    on_split = alive & (sess_date == split)
    stats["max_date"] = _iso(max_date)
    stats["split_date"] = _iso(split)
    stats["dropped_split_date_sessions"] = int(on_split.sum())
    stats["dropped_split_date_clicks"] = int(new_len[on_split].sum())
    if not is_train.any():
        raise DataError(
            f"no training session is dated before the split {_iso(split)} (last date {_iso(max_date)} "
            f"minus test_days={test_days}); use fewer test days"
        )

    def ordered_clicks(mask_sess: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sessions = np.flatnonzero(mask_sess)
        sessions = sessions[np.argsort(sess_date[sessions], kind="stable")]
        rank = np.full(n_sess, -1, dtype=np.int64)
        rank[sessions] = np.arange(len(sessions))
        idx = order[click_keep[order] & mask_sess[code[order]]]
        idx = idx[np.argsort(rank[code[idx]], kind="stable")]
        return idx, rank[code[idx]]

    # rule 4: item index from date-sorted train sessions
    emit("prepare", step="narm: building splits")
    tr_idx, tr_rank = ordered_clicks(is_train)
    tr_items, uniq_train_items = pd.factorize(item[tr_idx])
    index = ItemIndex(np.asarray(uniq_train_items))
    n_items = len(index)
    train_dates_all = np.sort(sess_date[is_train], kind="stable")
    sess_ids_by_rank_train = uniq_sess[np.flatnonzero(is_train)[np.argsort(sess_date[is_train], kind="stable")]]
    train, _, _, _ = _assemble(tr_rank, tr_items.astype(np.int64), time[tr_idx], sess_ids_by_rank_train, n_items, 1)

    te_idx, te_rank = ordered_clicks(is_test)
    te_items = index.to_idx(item[te_idx], missing="ignore")
    seen = te_items >= 0
    stats["dropped_test_unseen_clicks"] = int((~seen).sum())
    sess_ids_by_rank_test = uniq_sess[np.flatnonzero(is_test)[np.argsort(sess_date[is_test], kind="stable")]]
    test, _, _, n_short_clicks = _assemble(
        te_rank[seen], te_items[seen], time[te_idx][seen], sess_ids_by_rank_test, n_items, min_session_length
    )
    stats["dropped_test_short_sessions"] = int(is_test.sum()) - test.n_sessions
    stats["dropped_test_short_session_clicks"] = n_short_clicks

    valid = None
    if valid_days is not None:
        train, valid = _carve_valid_by_date(train, train_dates_all, valid_days, min_session_length, stats)
    if fraction is not None:
        before = train
        train, dropped_cases = _case_fraction(train, fraction)
        stats["dropped_fraction_cases"] = dropped_cases
        stats["dropped_fraction_sessions"] = before.n_sessions - train.n_sessions
        stats["dropped_fraction_clicks"] = before.n_clicks - train.n_clicks
    _summary(stats, train, test, valid, n_items)
    return ProtocolResult(train, test, valid, index, params, stats)


def _carve_valid_by_date(
    train: Sessions, dates: np.ndarray, valid_days: float, min_length: int, stats: dict[str, Any]
) -> tuple[Sessions, Sessions]:
    """narm validation: the same date rule inside train (see the module docstring)."""
    vsplit = float(dates.max()) - valid_days * DAY
    part = dates < vsplit
    val = dates > vsplit
    stats["valid_split_date"] = _iso(vsplit)
    stats["dropped_valid_split_date_sessions"] = int((~part & ~val).sum())
    stats["dropped_valid_split_date_clicks"] = int(train.lengths[~part & ~val].sum())
    train_part = train.select(part)
    if train_part.n_sessions == 0:
        raise DataError(
            f"no training session is dated before the validation split {_iso(vsplit)}; use fewer valid_days"
        )
    seen = train_part.item_counts() > 0
    valid, _, n_unseen, n_short, n_short_clicks = _drop_unseen(
        train.select(val), seen, np.arange(int(val.sum())), min_length
    )
    stats["dropped_valid_unseen_clicks"] = n_unseen
    stats["dropped_valid_short_sessions"] = n_short
    stats["dropped_valid_short_session_clicks"] = n_short_clicks
    return train_part, valid


def _parse_fraction(value: float | Fraction | str | None) -> Fraction | None:
    if value is None:
        return None
    try:
        frac = Fraction(value).limit_denominator(1_000_000) if not isinstance(value, str) else Fraction(value)
    except (TypeError, ValueError, ZeroDivisionError):
        raise ConfigError(f"train_fraction must be a number in (0, 1] or 'a/b', got {value!r}") from None
    if not 0 < frac <= 1:
        raise ConfigError(f"train_fraction must lie in (0, 1], got {value!r}")
    return frac


# ---------------------------------------------------------------------------------- gru4rec
def gru4rec(
    events: pd.DataFrame,
    *,
    test_days: float = 7,
    remove_repeats: bool = True,
    min_item_support: int = 5,
    min_session_length: int = 2,
    valid_days: float | None = None,
) -> ProtocolResult:
    """The ``gru4rec`` protocol (hidasib/GRU4Rec); see the module docstring.

    Parameters
    ----------
    events : DataFrame
        Event table in file order (columns :data:`EVENT_COLUMNS`; ``date`` is unused). Not modified.
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
    test_days = _check_days("test_days", test_days, allow_none=False)
    valid_days = _check_days("valid_days", valid_days, allow_none=True)
    params: dict[str, Any] = {
        "test_days": test_days,
        "remove_repeats": _flag("remove_repeats", remove_repeats),
        "min_item_support": _count("min_item_support", min_item_support, 1),
        "min_session_length": _count("min_session_length", min_session_length, 2),
        "valid_days": valid_days,
    }
    min_item_support, min_session_length = params["min_item_support"], params["min_session_length"]
    sid, item, time, _ = _columns(events)
    emit("prepare", step="gru4rec: grouping sessions")
    code, uniq_sess = pd.factorize(sid)
    n_sess = len(uniq_sess)
    order = _session_order(code, time)
    s, t = code[order], time[order]
    icode, uniq_items = pd.factorize(item)
    it = icode[order]
    stats: dict[str, Any] = {"raw_clicks": len(sid), "raw_sessions": n_sess, "raw_items": len(uniq_items)}
    keep = np.ones(len(s), dtype=bool)
    if params["remove_repeats"]:
        rep = np.r_[False, (s[1:] == s[:-1]) & (it[1:] == it[:-1])]
        keep &= ~rep
    stats["dropped_repeat_clicks"] = int((~keep).sum())
    s, t, it, order = s[keep], t[keep], it[keep], order[keep]

    alive_sess = np.bincount(s, minlength=n_sess) > 0
    n_sess_start = int(alive_sess.sum())
    n_items_start = int((np.bincount(it, minlength=len(uniq_items)) > 0).sum())
    n_clicks_start = len(s)
    rounds = 0
    while True:
        rounds += 1
        before = len(s)
        lengths = np.bincount(s, minlength=n_sess)
        m = lengths[s] >= min_session_length
        s, t, it, order = s[m], t[m], it[m], order[m]
        counts = np.bincount(it, minlength=len(uniq_items))
        m = counts[it] >= min_item_support
        s, t, it, order = s[m], t[m], it[m], order[m]
        if len(s) == before or len(s) == 0:
            break
    stats["filter_rounds"] = rounds
    stats["dropped_filter_clicks"] = n_clicks_start - len(s)
    stats["dropped_filter_sessions"] = n_sess_start - int((np.bincount(s, minlength=n_sess) > 0).sum())
    stats["dropped_filter_items"] = n_items_start - int((np.bincount(it, minlength=len(uniq_items)) > 0).sum())
    if len(s) == 0:
        raise DataError(
            f"nothing is left after filtering: {len(sid)} clicks, none in sessions of >= {min_session_length} "
            f"clicks on items seen >= {min_item_support} times"
        )

    t_max = float(t.max())
    split = t_max - test_days * DAY
    start = np.full(n_sess, np.inf)
    heads = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])  # clicks are sorted by (session, time)
    start[s[heads]] = t[heads]
    is_test_sess = start >= split
    stats["last_time"] = _iso(t_max)
    stats["split_time"] = _iso(split)
    train_click = (~is_test_sess[s]) & (t < split)
    straddle = (~is_test_sess[s]) & (t >= split)
    stats["dropped_straddling_clicks"] = int(straddle.sum())

    def by_start(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Click positions of ``mask`` ordered by session start (stable), and session rank."""
        ss = s[mask]
        sess = np.flatnonzero(np.bincount(ss, minlength=n_sess) > 0)
        sess = sess[np.argsort(start[sess], kind="stable")]
        rank = np.full(n_sess, -1, dtype=np.int64)
        rank[sess] = np.arange(len(sess))
        pos = np.flatnonzero(mask)
        pos = pos[np.argsort(rank[ss], kind="stable")]
        return pos, rank[s[pos]], uniq_sess[sess]

    emit("prepare", step="gru4rec: building splits")
    tr_pos, tr_rank, tr_ids = by_start(train_click)
    # train sessions < min length (cut by the split) are dropped before the index is built
    heads = np.flatnonzero(np.r_[True, tr_rank[1:] != tr_rank[:-1]]) if len(tr_rank) else np.zeros(0, np.int64)
    lens = np.diff(np.r_[heads, len(tr_rank)])
    ok = np.repeat(lens >= min_session_length, lens)
    stats["dropped_train_short_sessions"] = int((lens < min_session_length).sum())
    stats["dropped_train_short_session_clicks"] = int(lens[lens < min_session_length].sum())
    tr_pos, tr_rank = tr_pos[ok], tr_rank[ok]
    if len(tr_pos) == 0:
        raise DataError(
            f"no training session is left before the split {_iso(split)} (last time {_iso(t_max)} minus "
            f"test_days={test_days}); use fewer test days"
        )
    tr_codes, tr_uniq = pd.factorize(it[tr_pos])
    index = ItemIndex(np.asarray(uniq_items)[np.asarray(tr_uniq)])
    n_items = len(index)
    train, _, _, _ = _assemble(tr_rank, tr_codes.astype(np.int64), t[tr_pos], tr_ids, n_items, 1)
    item_to_idx = np.full(len(uniq_items), -1, dtype=np.int64)
    item_to_idx[np.asarray(tr_uniq)] = np.arange(n_items)

    te_pos, te_rank, te_ids = by_start(is_test_sess[s])
    te_items = item_to_idx[it[te_pos]]
    seen = te_items >= 0
    stats["dropped_test_unseen_clicks"] = int((~seen).sum())
    test, _, _, n_short_clicks = _assemble(
        te_rank[seen], te_items[seen], t[te_pos][seen], te_ids, n_items, min_session_length
    )
    stats["dropped_test_short_sessions"] = len(te_ids) - test.n_sessions
    stats["dropped_test_short_session_clicks"] = n_short_clicks

    valid = None
    if valid_days is not None:
        vsplit = split - valid_days * DAY
        stats["valid_split_time"] = _iso(vsplit)
        sess_start = train.timestamps[train.offsets[:-1]]
        val_mask = sess_start >= vsplit
        click_sess = np.repeat(np.arange(train.n_sessions), train.lengths)
        part_click = (~val_mask[click_sess]) & (train.timestamps < vsplit)
        stats["dropped_valid_straddling_clicks"] = int(((~val_mask[click_sess]) & ~part_click).sum())
        assert train.session_ids is not None
        part, _, n_ps, n_psc = _assemble(
            click_sess[part_click],
            train.items[part_click],
            train.timestamps[part_click],
            np.asarray(train.session_ids),
            n_items,
            min_session_length,
        )
        stats["dropped_train_part_short_sessions"] = n_ps
        stats["dropped_train_part_short_session_clicks"] = n_psc
        if part.n_sessions == 0:
            raise DataError(f"no training session is left before the validation split {_iso(vsplit)}")
        seen_part = part.item_counts() > 0
        valid, _, n_unseen, n_short, n_short_clicks = _drop_unseen(
            train.select(val_mask), seen_part, np.arange(int(val_mask.sum())), min_session_length
        )
        stats["dropped_valid_unseen_clicks"] = n_unseen
        stats["dropped_valid_short_sessions"] = n_short
        stats["dropped_valid_short_session_clicks"] = n_short_clicks
        train = part
    _summary(stats, train, test, valid, n_items)
    return ProtocolResult(train, test, valid, index, params, stats)


# ---------------------------------------------------------------------------------- registry
ProtocolFn = Callable[..., ProtocolResult]

#: The protocols by name.
PROTOCOLS: dict[str, ProtocolFn] = {"narm": narm, "gru4rec": gru4rec}


def protocol_params(name: str) -> tuple[str, ...]:
    """Keyword parameters protocol ``name`` accepts."""
    import inspect

    fn = _get(name)
    return tuple(p.name for p in inspect.signature(fn).parameters.values() if p.kind is p.KEYWORD_ONLY)


def _get(name: str) -> ProtocolFn:
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise ConfigError(f"unknown protocol {name!r}; valid protocols: {', '.join(sorted(PROTOCOLS))}") from None


def run_protocol(name: str, events: pd.DataFrame, **params: Any) -> ProtocolResult:
    """Run protocol ``name`` on ``events``; unknown parameters raise :class:`ConfigError`."""
    fn = _get(name)
    valid = protocol_params(name)
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ConfigError(f"protocol {name!r} has no parameter {', '.join(unknown)}; valid: {', '.join(valid)}")
    return fn(events, **params)
