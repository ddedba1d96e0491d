"""DIGINETICA (CIKM Cup 2016, track 2): ``train-item-views.csv``.

Layout (``;``-separated, header; both ``sessionId`` and ``session_id`` spellings accepted)::

    sessionId;userId;itemId;timeframe;eventdate
    1;NA;81766;526309;2016-05-09

``timeframe`` is milliseconds since the session start, ``eventdate`` the day. The event table
gets ``time`` = midnight (UTC) of the session's first ``eventdate`` + ``timeframe`` / 1000 (as
hidasib's preprocessing builds it; inside a session it orders exactly like ``timeframe``) and
``date`` = midnight (UTC) of the row's ``eventdate``, so the ``narm`` session date is the
``eventdate`` of the session's last row in file order, as in SR-GNN's ``preprocess.py``.
"""

from __future__ import annotations

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
    parse_datetimes,
    parse_ids,
    read_table,
)

__all__ = ["Diginetica"]


class Diginetica(DatasetRecipe):
    """DIGINETICA item views; ``narm`` protocol with 7 test days by default.

    Parameters
    ----------
    root : str or Path, optional
        Data root; the file is ``<root>/diginetica/train-item-views.csv``.
    path : str or Path, optional
        Read this file in place instead.

    The ``narm`` protocol's ``keep_file_order`` option (default False: clicks sorted by
    ``timeframe``) reproduces NARM's own preprocessing when True.
    """

    name = "diginetica"
    description = "DIGINETICA / CIKM Cup 2016 item views (real e-commerce sessions, day-level dates)"
    folder = "diginetica"
    raw_files = (
        RawFile(
            "train-item-views.csv",
            url="https://competitions.codalab.org/competitions/11161 (CIKM Cup 2016 track 2)",
            licence="released by DIGINETICA for the CIKM Cup 2016; no licence text found: research use only, "
            "do not redistribute",
            note="unzip dataset-train-diginetica.zip, keep train-item-views.csv",
        ),
    )
    default_test_days: ClassVar[dict[str, float]] = {"narm": 7, "gru4rec": 7}
    protocol_defaults: ClassVar[dict[str, dict[str, Any]]] = {"narm": {"keep_file_order": False}}

    def read_events(self) -> pd.DataFrame:
        path = self.raw_paths()[0]
        check_delimiter(path, ";", 5)
        header = header_of(path, ";")
        cols = find_columns(
            path,
            header,
            {
                "session": ("sessionId", "session_id"),
                "item": ("itemId", "item_id"),
                "timeframe": ("timeframe",),
                "eventdate": ("eventdate", "event_date"),
            },
        )
        ints = [cols["session"], cols["item"], cols["timeframe"]]
        df = read_table(path, ";", header=True, usecols=list(cols.values()), int_columns=ints)
        lines = RowLines(path, 1)
        sid = parse_ids(df[cols["session"]], path, cols["session"], lines)
        item = parse_ids(df[cols["item"]], path, cols["item"], lines)
        timeframe = parse_ids(df[cols["timeframe"]], path, cols["timeframe"], lines)
        day = parse_datetimes(df[cols["eventdate"]], path, cols["eventdate"], lines, "%Y-%m-%d", few_unique=True)
        first_day = pd.Series(day).groupby(sid).transform("min").to_numpy(dtype=np.float64)
        return pd.DataFrame({"session_id": sid, "item_id": item, "time": first_day + timeframe / 1000.0, "date": day})
