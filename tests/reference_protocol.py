"""Brute-force reference of the ``narm`` protocol, written independently of ``sessrec.data``.

Plain Python over the raw rows (``csv`` module, dicts and lists), following the protocol text
of DESIGN.md step by step, the way SR-GNN's ``datasets/preprocess.py`` loop does. Used by the
data tests and by metric tests (POP/S-POP) that need the same split.
"""

from __future__ import annotations

import calendar
import csv
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


def _day(text: str) -> int:
    return calendar.timegm(time.strptime(text, "%Y-%m-%d"))


def read_diginetica(path: str) -> tuple[dict[str, list[tuple[int, int]]], dict[str, int], list[str]]:
    """Sessions as {session: [(item, timeframe), ...]} (file order), session dates, first-seen order."""
    clicks: dict[str, list[tuple[int, int]]] = {}
    dates: dict[str, int] = {}
    with open(path, newline="") as fh:
        reader = csv.reader(fh, delimiter=";")
        header = [h.lower().replace("_", "") for h in next(reader)]
        s_col, i_col = header.index("sessionid"), header.index("itemid")
        tf_col, d_col = header.index("timeframe"), header.index("eventdate")
        for row in reader:
            sess = row[s_col]
            clicks.setdefault(sess, []).append((int(row[i_col]), int(row[tf_col])))
            dates[sess] = _day(row[d_col])  # the last row in file order wins
    return clicks, dates, list(clicks)


def narm_reference(path: str, test_days: float, *, keep_file_order: bool = False, support: int = 5) -> ReferenceSplit:
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
