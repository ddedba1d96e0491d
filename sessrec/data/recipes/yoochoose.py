"""YOOCHOOSE (RecSys Challenge 2015): ``yoochoose-clicks.dat``, and its 1/64 and 1/4 variants.

Layout (``,``-separated, no header; the category is not always numeric, e.g. ``S``)::

    1,2014-04-07T10:51:09.277Z,214536502,0

Event table: ``time`` = the click time in seconds (UTC, millisecond resolution); ``date`` =
the time truncated to the second, the date SR-GNN's ``preprocess.py`` gives a session (from
its last row in file order). The ``narm`` protocol keeps the file order inside sessions.

``yoochoose-1-64`` / ``yoochoose-1-4``: the ``narm`` split of the full file, then only the most
recent 1/64 (1/4) of the training cases (see :func:`sessrec.data.protocols.narm`); test cases
and the item catalogue stay those of the full split (NARM Table 1: 37,483 items, 55,898 cases).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from sessrec.data.recipes.base import (
    DatasetRecipe,
    RawFile,
    RowLines,
    bad_byte_error,
    check_delimiter,
    compression,
    parse_datetimes,
    parse_ids,
    parser_error,
)
from sessrec.errors import DataError
from sessrec.progress import emit

__all__ = ["Yoochoose", "Yoochoose14", "Yoochoose164"]

_CHUNK = 4_000_000


class Yoochoose(DatasetRecipe):
    """YOOCHOOSE clicks; ``narm`` protocol with 1 test day by default.

    Parameters
    ----------
    root : str or Path, optional
        Data root; the file is ``<root>/yoochoose/yoochoose-clicks.dat``.
    path : str or Path, optional
        Read this file in place instead.
    """

    name = "yoochoose"
    description = "YOOCHOOSE / RecSys Challenge 2015 clicks (real e-commerce sessions, 33 M clicks)"
    folder = "yoochoose"
    raw_files = (
        RawFile(
            "yoochoose-clicks.dat",
            url="https://www.kaggle.com/datasets/chadgostopp/recsys-challenge-2015 (RecSys Challenge 2015)",
            licence="released for the RecSys Challenge 2015; research use, check the terms before redistributing",
            note="unpack yoochoose-data.7z",
        ),
    )
    default_test_days: ClassVar[dict[str, float]] = {"narm": 1, "gru4rec": 1}
    protocol_defaults: ClassVar[dict[str, dict[str, Any]]] = {"narm": {"keep_file_order": True}}

    def read_events(self) -> pd.DataFrame:
        path = self.raw_paths()[0]
        check_delimiter(path, ",", 3)
        try:  # fast read of digit ids; anything else sends us to the text read, which names the line
            parts = _read_chunks(path, typed=True)
        except _NotDigits:
            parts = _read_chunks(path, typed=False)
        sid = np.concatenate([p[0] for p in parts])
        item = np.concatenate([p[1] for p in parts])
        time = np.concatenate([p[2] for p in parts])
        return pd.DataFrame({"session_id": sid, "item_id": item, "time": time, "date": np.floor(time)})


def _read_chunks(path: Any, *, typed: bool) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(session, item, seconds) per chunk of ``_CHUNK`` rows; bounded memory for 33 M rows.

    Every field is read (the category too) so that a row with a surplus field is an error.
    """
    parts = []
    start = 0
    if typed:
        kw: dict[str, Any] = {"dtype": {1: str, 3: str}}  # ids inferred: int64 only when all digits
    else:
        kw = {"dtype": str, "keep_default_na": False, "na_filter": False}
    try:
        with pd.read_csv(
            path, sep=",", header=None, chunksize=_CHUNK, engine="c", compression=compression(path), **kw
        ) as reader:
            for chunk in reader:
                if typed and not (chunk[0].dtype == np.int64 and chunk[2].dtype == np.int64):
                    raise _NotDigits
                lines = RowLines(path, 0, start=start)
                sid = parse_ids(chunk[0], path, "session", lines)
                secs = parse_datetimes(chunk[1], path, "timestamp", lines, None)
                item = parse_ids(chunk[2], path, "item", lines)
                parts.append((sid, item, secs))
                start += len(chunk)
                emit("prepare", step=f"yoochoose: read {start:,} rows")  # a long read never looks like a hang
    except UnicodeDecodeError:
        raise bad_byte_error(path) from None
    except pd.errors.ParserError as exc:
        raise parser_error(path, ",", exc) from None
    if not parts:
        raise DataError(f"{path}: no rows (expected session,timestamp,item,category lines)")
    return parts


class _NotDigits(Exception):
    """Some id of a chunk is not written in plain digits: reread as text to say where."""


class Yoochoose164(Yoochoose):
    """YOOCHOOSE 1/64: the most recent 1/64 of the ``narm`` training cases."""

    name = "yoochoose-1-64"
    description = "YOOCHOOSE, most recent 1/64 of the training cases (NARM/SR-GNN 'yoochoose1_64')"
    protocols = ("narm",)
    protocol_defaults: ClassVar[dict[str, dict[str, Any]]] = {
        "narm": {"keep_file_order": True, "train_fraction": "1/64"}
    }


class Yoochoose14(Yoochoose):
    """YOOCHOOSE 1/4: the most recent 1/4 of the ``narm`` training cases."""

    name = "yoochoose-1-4"
    description = "YOOCHOOSE, most recent 1/4 of the training cases (NARM/SR-GNN 'yoochoose1_4')"
    protocols = ("narm",)
    protocol_defaults: ClassVar[dict[str, dict[str, Any]]] = {
        "narm": {"keep_file_order": True, "train_fraction": "1/4"}
    }
