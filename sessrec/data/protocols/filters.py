"""Filter rules: immediate repeats, session length, item support (one pass or iterated).

Which of them a protocol applies, and in which order, is part of its definition::

    one pass  (narm, gru4rec-rsc15, window)   sessions < first_min_length -> items < support
                                              -> sessions < min_length          (not repeated)
    iterated  (gru4rec)                       sessions < min_length -> items < support,
                                              again until a round removes nothing

An item's support is its number of clicks among the clicks left when the rule runs.
"""

from __future__ import annotations

import numpy as np

from sessrec.data.protocols.clicks import Clicks
from sessrec.data.protocols.counts import Drops
from sessrec.errors import DataError

__all__ = ["filter_iterated", "filter_length", "filter_once", "filter_support", "remove_repeats", "require_clicks"]


def remove_repeats(clicks: Clicks) -> tuple[Clicks, Drops]:
    """Remove a click on the same item as the click before it in the same session.

    Examples
    --------
    >>> from sessrec.data.protocols.clicks import order_clicks
    >>> import pandas as pd
    >>> ev = pd.DataFrame({"session_id": [1, 1, 1, 2], "item_id": [5, 5, 6, 6], "time": 0.0, "date": 0.0})
    >>> c, drops = remove_repeats(order_clicks(ev)[0])
    >>> c.item.tolist(), drops.clicks
    ([0, 1, 1], 1)
    """
    sess = clicks.click_session()
    repeat = np.r_[False, (sess[1:] == sess[:-1]) & (clicks.item[1:] == clicks.item[:-1])]
    return clicks.keep_clicks(~repeat), Drops(clicks=int(repeat.sum()))


def filter_length(clicks: Clicks, min_length: int) -> tuple[Clicks, Drops]:
    """Drop the sessions with fewer than ``min_length`` clicks (empty ones included)."""
    lengths = clicks.lengths
    short = lengths < min_length
    out = clicks.keep_sessions(~short)
    return out, Drops(sessions=int(short.sum()), clicks=int(lengths[short].sum()))


def filter_support(clicks: Clicks, min_support: int) -> tuple[Clicks, Drops]:
    """Remove the clicks on items clicked fewer than ``min_support`` times; sessions stay listed."""
    counts = clicks.item_counts()
    rare = (counts > 0) & (counts < min_support)
    keep = ~rare[clicks.item]
    return clicks.keep_clicks(keep), Drops(clicks=int((~keep).sum()), items=int(rare.sum()))


def filter_once(
    clicks: Clicks, min_support: int, min_length: int, *, first_min_length: int = 2
) -> tuple[Clicks, tuple[Drops, Drops, Drops]]:
    """The one-pass filter: short sessions, rare items, then sessions left too short.

    Parameters
    ----------
    clicks : Clicks
    min_support : int
        Items with fewer clicks (after the first length filter) are removed.
    min_length : int
        Sessions left with fewer clicks are dropped.
    first_min_length : int
        Length below which sessions are dropped before items are counted (2: SR-GNN's and
        hidasib's "length 1"; session-rec uses ``min_length``).

    Returns
    -------
    clicks : Clicks
    drops : (first, rare, short)
        The first length filter, the support filter, the second length filter.
    """
    clicks, first = filter_length(clicks, first_min_length)
    clicks, rare = filter_support(clicks, min_support)
    clicks, short = filter_length(clicks, min_length)
    return clicks, (first, rare, short)


def filter_iterated(clicks: Clicks, min_support: int, min_length: int) -> tuple[Clicks, Drops, int]:
    """Length and support filters repeated until a round removes nothing.

    Returns
    -------
    clicks : Clicks
    drops : Drops
        Sessions, clicks and distinct items removed over all rounds.
    rounds : int
        Rounds run (the last one removed nothing, or left nothing).

    Examples
    --------
    >>> from sessrec.data.protocols.clicks import order_clicks
    >>> import pandas as pd
    >>> ev = pd.DataFrame({"session_id": [1, 1, 2, 2, 3, 3], "item_id": [1, 2, 1, 2, 2, 3],
    ...                    "time": 0.0, "date": 0.0})
    >>> c, drops, rounds = filter_iterated(order_clicks(ev)[0], 2, 2)
    >>> c.n_sessions, drops, rounds
    (2, Drops(sessions=1, clicks=2, items=1, cases=0), 3)
    """
    before = clicks
    rounds = 0
    while True:
        rounds += 1
        n = clicks.n_clicks
        clicks, _ = filter_length(clicks, min_length)
        clicks, _ = filter_support(clicks, min_support)
        if clicks.n_clicks in (n, 0):
            break
    live = int((clicks.lengths > 0).sum())
    drops = Drops(
        sessions=int((before.lengths > 0).sum()) - live,
        clicks=before.n_clicks - clicks.n_clicks,
        items=before.n_items() - clicks.n_items(),
    )
    return clicks, drops, rounds


def require_clicks(clicks: Clicks, n_raw: int, min_support: int, min_length: int) -> None:
    """Raise :class:`DataError` when the filters left no click."""
    if clicks.n_clicks == 0:
        raise DataError(
            f"nothing is left after filtering: {n_raw} clicks, none in sessions of >= {min_length} clicks on "
            f"items seen >= {min_support} times; lower min_item_support or check the event table"
        )
