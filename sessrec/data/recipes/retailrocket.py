"""RetailRocket (Kaggle "Retailrocket recommender system dataset"): ``events.csv``.

Layout (``,``-separated, header; ``timestamp`` in epoch milliseconds)::

    timestamp,visitorid,event,itemid,transactionid
    1433221332117,257597,view,355908,

Sessions: a visitor's events, sorted by time (stable), split where the gap exceeds
``session_gap`` seconds (30 minutes by default). Gaps are measured over all event types, as
hidasib's ``retailrocket_preproc.py`` does; then only ``view`` events are kept.
``date`` = the session's last kept time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from sessrec.data.recipes.base import (
    DatasetRecipe,
    RawFile,
    RowLines,
    check_delimiter,
    find_columns,
    header_of,
    normalise,
    parse_epoch,
    parse_ids,
    read_table,
)
from sessrec.errors import ConfigError, DataError

__all__ = ["RetailRocket"]


class RetailRocket(DatasetRecipe):
    """RetailRocket views, sessionised at 30-minute gaps; ``narm`` protocol, 7 test days by default.

    Parameters
    ----------
    root : str or Path, optional
        Data root; the file is ``<root>/retailrocket/events.csv``.
    path : str or Path, optional
        Read this file in place instead.
    session_gap : float
        Seconds of inactivity that start a new session of the same visitor.
    events : tuple of str
        Event types kept (``view``, ``addtocart``, ``transaction``).
    """

    name = "retailrocket"
    description = "RetailRocket e-commerce events (real; views, sessions split at 30-minute gaps)"
    folder = "retailrocket"
    raw_files = (
        RawFile(
            "events.csv",
            url="https://www.kaggle.com/datasets/retailrocket/ecommerce-dataset",
            licence="CC BY-NC-SA 4.0 as reportedly listed on Kaggle (not verified); non-commercial, attribute",
        ),
    )
    default_test_days: ClassVar[dict[str, float]] = {"narm": 7, "gru4rec": 7}

    def __init__(
        self,
        root: Any = None,
        *,
        path: Any = None,
        session_gap: float = 1800.0,
        events: tuple[str, ...] | list[str] = ("view",),
    ) -> None:
        super().__init__(root, path=path)
        self.session_gap = session_gap
        self.events = events

    def options(self) -> dict[str, Any]:
        events = [self.events] if isinstance(self.events, str) else list(self.events)
        return {"session_gap": float(self.session_gap), "events": sorted(events)}

    def read_events(self) -> pd.DataFrame:
        if not float(self.session_gap) > 0:
            raise ConfigError(f"session_gap must be a positive number of seconds, got {self.session_gap!r}")
        path = self.raw_paths()[0]
        check_delimiter(path, ",", 4)
        cols = _columns(path)
        ints = [cols["timestamp"], cols["visitor"], cols["item"]]
        df = read_table(path, ",", header=True, usecols=list(cols.values()), int_columns=ints)
        lines = RowLines(path, 1)
        ts = parse_epoch(df[cols["timestamp"]], path, cols["timestamp"], lines, "ms", hint=_MS_HINT)
        visitor = parse_ids(df[cols["visitor"]], path, cols["visitor"], lines)
        event = df[cols["event"]].to_numpy(dtype=str)
        order = np.lexsort((ts, visitor))
        v, t = visitor[order], ts[order]
        new = np.r_[True, (v[1:] != v[:-1]) | (t[1:] - t[:-1] > float(self.session_gap))]
        session = np.cumsum(new)
        keep = np.isin(event[order], self.options()["events"])
        rows = order[keep]
        item = parse_ids(df[cols["item"]], path, cols["item"], lines)[rows]
        sess, time = session[keep], t[keep]
        date = pd.Series(time).groupby(sess).transform("max").to_numpy(dtype=np.float64)
        return pd.DataFrame({"session_id": sess.astype(np.int64), "item_id": item, "time": time, "date": date})


_MS_HINT = "Kaggle's events.csv has epoch milliseconds: multiply the timestamps by 1000"
_WANTED = {"timestamp": ("timestamp",), "visitor": ("visitorid",), "event": ("event",), "item": ("itemid",)}


def _columns(path: Path) -> dict[str, str]:
    """The columns of Kaggle's layout; a session-format file gets a pointer to the ``csv`` recipe."""
    header = header_of(path, ",")
    try:
        return find_columns(path, header, _WANTED)
    except DataError as exc:
        keys = {normalise(h) for h in header}
        if {"sessionid", "itemid"} <= keys:
            raise DataError(
                f"{exc}. This looks like a file already split into sessions (SessionId, ItemId columns), not "
                "Kaggle's events.csv: read it with the csv recipe, e.g. --dataset csv -o path=FILE "
                "-o session=SessionId -o item=ItemId -o time=Time -o filter_column=Type -o keep_values=view"
            ) from None
        raise
