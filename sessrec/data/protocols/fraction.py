"""The case fraction of YOOCHOOSE 1/64 and 1/4: the most recent training cases, as SR-GNN lists them.

::

    session order (date) ->   s1          s2          s3 (boundary)    s4
    cases, last target first  [4,3,2,1]   [2,1]       [3,2,1]          [5,4,3,2,1]
                                                           ^^^ kept ─────────────>

keep the last ``floor(fraction * n_cases)`` cases of that listing, so the boundary session keeps
its *shortest* prefixes: it is truncated to its first ``k + 1`` clicks.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from sessrec.data.protocols.clicks import Clicks
from sessrec.data.protocols.counts import Drops
from sessrec.data.sessions import concat_ranges
from sessrec.errors import DataError

__all__ = ["case_fraction"]


def case_fraction(train: Clicks, fraction: Fraction) -> tuple[Clicks, Drops]:
    """The most recent ``floor(fraction * n_cases)`` cases of ``train`` (listed in session order).

    Returns
    -------
    clicks : Clicks
        Sessions that keep a case, truncated to the clicks their kept cases use.
    drops : Drops
        Cases, sessions and clicks removed.

    Examples
    --------
    >>> import pandas as pd
    >>> from sessrec.data.protocols.clicks import order_clicks
    >>> ev = pd.DataFrame({"session_id": [1, 1, 1, 2, 2], "item_id": [1, 2, 3, 4, 5], "time": 0.0, "date": 0.0})
    >>> c, drops = case_fraction(order_clicks(ev)[0], Fraction(2, 3))
    >>> c.lengths.tolist(), drops
    ([2, 2], Drops(sessions=0, clicks=1, items=0, cases=1))
    """
    cases = np.maximum(train.lengths - 1, 0)
    total = int(cases.sum())
    keep_cases = total * fraction.numerator // fraction.denominator
    if keep_cases <= 0:
        raise DataError(
            f"train_fraction={fraction} of {total} training cases keeps none; use a larger fraction or more data"
        )
    cum = np.cumsum(cases)
    kept_per_session = np.clip(cum - np.maximum(cum - cases, total - keep_cases), 0, None)
    new_len = np.where(kept_per_session > 0, kept_per_session + 1, 0)
    sel = np.flatnonzero(new_len > 0)
    gather = concat_ranges(train.offsets[:-1][sel], new_len[sel])
    offsets = np.r_[0, np.cumsum(new_len[sel])].astype(np.int64)
    out = Clicks(train.sessions[sel], offsets, train.item[gather], train.time[gather], train.codes)
    drops = Drops(sessions=train.n_sessions - len(sel), clicks=train.n_clicks - out.n_clicks, cases=total - keep_cases)
    return out, drops
