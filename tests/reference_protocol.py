"""Brute-force reference of the ``narm`` protocol, written independently of ``sessrec.data``.

Plain Python over the raw rows (``csv`` module, dicts and lists), following the protocol text
of DESIGN.md step by step, the way SR-GNN's ``datasets/preprocess.py`` loop does. Used by the
data tests and by metric tests (POP/S-POP) that need the same split.
"""

from __future__ import annotations

import calendar
import csv
import functools
import time
from dataclasses import dataclass

DAY = 86400


@dataclass
class ReferenceSplit:
    """Item ids throughout (not indices)."""

    train: list[list[int]]  # sessions in date order (stable on first appearance in the file)
    test: list[list[int]]
    items: list[int]  # item ids in order of first appearance in the train sessions = item_idx order
    clicks: int

    def cases(self, sessions: list[list[int]]) -> list[tuple[tuple[int, ...], int]]:
        """(prefix, target) pairs, session by session, prefix length increasing."""
        return [(tuple(seq[:i]), seq[i]) for seq in sessions for i in range(1, len(seq))]

    @property
    def train_cases(self) -> list[tuple[tuple[int, ...], int]]:
        return self.cases(self.train)

    @property
    def test_cases(self) -> list[tuple[tuple[int, ...], int]]:
        return self.cases(self.test)


@functools.cache
def _day(text: str) -> int:
    return calendar.timegm(time.strptime(text, "%Y-%m-%d"))


def read_diginetica(path: str) -> tuple[dict[str, list[tuple[int, int]]], dict[str, int], list[str]]:
    """Sessions as {session: [(item, timeframe), ...]} (file order), session dates, first-seen order."""
    clicks: dict[str, list[tuple[int, int]]] = {}
    dates: dict[str, int] = {}
    for sess, item, timeframe, day in _diginetica_rows(path):
        clicks.setdefault(sess, []).append((item, timeframe))
        dates[sess] = day  # the last row in file order wins
    return clicks, dates, list(clicks)


def _diginetica_rows(path: str) -> list[tuple[str, int, int, int]]:
    """(session, item, timeframe, day of eventdate) of every row, in file order."""
    with open(path, newline="") as fh:
        reader = csv.reader(fh, delimiter=";")
        header = [h.lower().replace("_", "") for h in next(reader)]
        s_col, i_col = header.index("sessionid"), header.index("itemid")
        tf_col, d_col = header.index("timeframe"), header.index("eventdate")
        return [(r[s_col], int(r[i_col]), int(r[tf_col]), _day(r[d_col])) for r in reader]


def narm_reference(path: str, test_days: float, *, keep_file_order: bool = False, support: int = 5) -> ReferenceSplit:  # noqa: C901 - a brute-force reference kept as one readable script of the protocol rules
    """The ``narm`` protocol on a DIGINETICA-layout file, by brute force."""
    raw, dates, order = read_diginetica(path)
    # 1. order clicks inside a session by timeframe (stable) unless file order is kept
    sess: dict[str, list[int]] = {}
    for s in order:
        rows = raw[s] if keep_file_order else sorted(raw[s], key=lambda r: r[1])
        sess[s] = [item for item, _ in rows]
    # 2. drop length-1 sessions; count items; drop items seen < 5 times; drop sessions < 2
    sess = {s: seq for s, seq in sess.items() if len(seq) != 1}
    counts: dict[int, int] = {}
    for seq in sess.values():
        for item in seq:
            counts[item] = counts.get(item, 0) + 1
    filtered = {}
    for s, seq in sess.items():
        kept = [i for i in seq if counts[i] >= support]
        if len(kept) >= 2:
            filtered[s] = kept
    # 3. split = max date - test_days; train date < split, test date > split
    max_date = max(dates[s] for s in filtered)
    split = max_date - test_days * DAY
    train_ids = [s for s in filtered if dates[s] < split]
    test_ids = [s for s in filtered if dates[s] > split]
    train_ids.sort(key=lambda s: dates[s])  # Python's sort is stable: ties keep first appearance
    test_ids.sort(key=lambda s: dates[s])
    # 4. item order of first appearance in date-sorted train sessions; test filtered to train items
    items: list[int] = []
    seen: set[int] = set()
    train = []
    for s in train_ids:
        for i in filtered[s]:
            if i not in seen:
                seen.add(i)
                items.append(i)
        train.append(filtered[s])
    test = []
    for s in test_ids:
        kept = [i for i in filtered[s] if i in seen]
        if len(kept) >= 2:
            test.append(kept)
    clicks = sum(len(x) for x in train) + sum(len(x) for x in test)
    return ReferenceSplit(train=train, test=test, items=items, clicks=clicks)


def recent_cases(train: list[list[int]], denominator: int) -> list[tuple[tuple[int, ...], int]]:
    """SR-GNN's yoochoose 1/N cut: cases listed per session from last target to first, keep the tail."""
    listing = []
    for seq in train:
        for i in range(1, len(seq)):
            listing.append((tuple(seq[:-i]), seq[-i]))
    keep = len(listing) // denominator
    return listing[len(listing) - keep :]


# ---------------------------------------------------------------------------------- time-split protocols
@dataclass
class TimeSplitReference:
    """A brute-force split with session ids; sessions are lists of item ids."""

    train: list[list[int]]
    test: list[list[int]]
    valid: list[list[int]] | None
    train_ids: list[str]
    test_ids: list[str]
    items: list[int]  # catalogue: first appearance in the listed train sessions (before any validation carve)
    stats: dict[str, int]


@functools.cache
def read_diginetica_times(path: str) -> list[tuple[str, int, float]]:
    """(session, item, time) rows in file order.

    time = midnight UTC of the session's first eventdate + timeframe / 1000 (as the recipe builds it).
    """
    rows = []
    first_day: dict[str, int] = {}
    raw = _diginetica_rows(path)
    for s, _, _, day in raw:
        first_day[s] = min(first_day.get(s, day), day)
    for s, item, tf, _ in raw:
        rows.append((s, item, first_day[s] + tf / 1000.0))
    return rows


def _group(rows: list[tuple[str, int, float]]) -> dict[str, list[tuple[int, float]]]:
    """Sessions in order of first appearance; clicks sorted by time, ties in file order (stable sort)."""
    sessions: dict[str, list[tuple[int, float]]] = {}
    for s, item, t in rows:
        sessions.setdefault(s, []).append((item, t))
    return {s: sorted(c, key=lambda click: click[1]) for s, c in sessions.items()}


def _listed(sessions: dict[str, list[tuple[int, float]]], start: dict[str, float]) -> list[str]:
    """Session ids by ``start`` (their start before unseen items were removed), ties in order of first
    appearance (dicts keep insertion order)."""
    return sorted(sessions, key=lambda s: start[s])


def _keep_seen(sessions, seen, min_length):
    """(kept sessions, clicks removed as unseen, sessions dropped as short, their remaining clicks)."""
    out, unseen, short, short_clicks = {}, 0, 0, 0
    for s, c in sessions.items():
        kept = [(i, t) for i, t in c if i in seen]
        unseen += len(c) - len(kept)
        if len(kept) >= min_length:
            out[s] = kept
        else:
            short, short_clicks = short + 1, short_clicks + len(kept)
    return out, unseen, short, short_clicks


def gru4rec_rsc15_reference(
    rows: list[tuple[str, int, float]], test_days: float = 1, valid_days: float | None = None, support: int = 5
) -> TimeSplitReference:
    """hidasib/GRU4Rec ``examples/rsc15/preprocess.py``, step by step in plain Python."""
    # session_lengths > 1; item_supports >= 5; session_lengths >= 2 (once): session-rec's filter too
    data, stats = session_rec_filter(rows, support)
    # session_max_times < tmax - 86400 -> train, >= -> test
    start = {s: min(t for _, t in c) for s, c in data.items()}
    tmax = max(t for c in data.values() for _, t in c)
    split = tmax - test_days * DAY
    train = {s: c for s, c in data.items() if max(t for _, t in c) < split}
    test = {s: c for s, c in data.items() if max(t for _, t in c) >= split}
    return _time_split(train, test, start, valid_days, 2, stats)


def session_rec_filter(
    rows: list[tuple[str, int, float]], support: int = 5, min_length: int = 2
) -> tuple[dict[str, list[tuple[int, float]]], dict[str, int]]:
    """session-rec's ``filter_data``: session length >= 2, item support >= 5 (counted after that), length >= 2."""
    stats: dict[str, int] = {}
    sessions = _group(rows)
    long = {s: c for s, c in sessions.items() if len(c) >= min_length}
    stats["dropped_length1_sessions"] = len(sessions) - len(long)
    counts: dict[int, int] = {}
    for c in long.values():
        for i, _ in c:
            counts[i] = counts.get(i, 0) + 1
    stats["dropped_rare_items"] = sum(1 for n in counts.values() if n < support)
    frequent = {s: [(i, t) for i, t in c if counts[i] >= support] for s, c in long.items()}
    data = {s: c for s, c in frequent.items() if len(c) >= min_length}
    stats["dropped_short_sessions"] = len(frequent) - len(data)
    return data, stats


def window_reference(
    filtered: tuple[dict[str, list[tuple[int, float]]], dict[str, int]],
    *,
    n_slices: int,
    days_train: float,
    days_test: float,
    offset: float,
    shift: float,
    slice: int,
    valid_days: float | None = None,
    min_length: int = 2,
) -> tuple[TimeSplitReference, tuple[float, float, float]]:
    """session-rec's ``split_data_slice`` (``preprocess_diginetica.py``) on the output of :func:`session_rec_filter`.

    Returns the split of slice ``slice`` and its boundaries (start, train end, end) in seconds.
    """
    assert 0 <= slice < n_slices
    data, filter_stats = filtered
    stats = dict(filter_stats)
    # split_data_slice(data, slice, days_offset + slice * days_shift, days_train, days_test)
    t0 = min(t for c in data.values() for _, t in c)
    start = t0 + (offset + slice * shift) * DAY
    middle = start + days_train * DAY
    end = middle + days_test * DAY
    last = {s: max(t for _, t in c) for s, c in data.items()}
    inside = {s: c for s, c in data.items() if start <= last[s] <= end}
    stats["dropped_before_window_sessions"] = sum(1 for s in data if last[s] < start)
    stats["dropped_after_window_sessions"] = sum(1 for s in data if last[s] > end)
    train = {s: c for s, c in inside.items() if last[s] < middle}
    test = {s: c for s, c in inside.items() if last[s] >= middle}
    start_of = {s: min(t for _, t in c) for s, c in data.items()}
    # valid_days: split_data's validation rule inside the slice's train
    return _time_split(train, test, start_of, valid_days, min_length, stats), (start, middle, end)


def _time_split(train, test, start, valid_days, min_length, stats) -> TimeSplitReference:
    """Unseen test items removed, items numbered, validation carved by end time (both scripts' rules)."""
    train_items = {i for c in train.values() for i, _ in c}
    test, stats["dropped_test_unseen_clicks"], stats["dropped_test_short_sessions"], _ = _keep_seen(
        test, train_items, min_length
    )
    order = _listed(train, start)
    items: list[int] = []
    in_items: set[int] = set()
    for s in order:
        for i, _ in train[s]:
            if i not in in_items:
                in_items.add(i)
                items.append(i)
    valid = None
    if valid_days is not None:  # train sessions ending in the last valid_days of train
        vsplit = max(t for c in train.values() for _, t in c) - valid_days * DAY
        part = {s: c for s, c in train.items() if max(t for _, t in c) < vsplit}
        rest = {s: c for s, c in train.items() if s not in part}
        part_items = {i for c in part.values() for i, _ in c}
        rest, stats["dropped_valid_unseen_clicks"], stats["dropped_valid_short_sessions"], _ = _keep_seen(
            rest, part_items, min_length
        )
        valid = [[i for i, _ in rest[s]] for s in _listed(rest, start)]
        train, order = part, _listed(part, start)
    test_order = _listed(test, start)
    return TimeSplitReference(
        train=[[i for i, _ in train[s]] for s in order],
        test=[[i for i, _ in test[s]] for s in test_order],
        valid=valid,
        train_ids=order,
        test_ids=test_order,
        items=items,
        stats=stats,
    )
