"""A user's own click log: CSV/TSV (delimiter sniffed or given) or Parquet.

Name the session, item and time columns; time may be epoch seconds, epoch milliseconds or
ISO text. Optionally keep only rows whose ``filter_column`` value is in ``keep_values``
(e.g. ``Type`` in ``["view"]``). Rows keep the file order; ``date`` (the ``narm`` session
date) is the session's last click time.

Example: the staged RetailRocket slice::

    prepare("csv", path="retailrocket_sessions_2015-09-10_2015-09-18.csv",
            session="SessionId", item="ItemId", time="Time",
            filter_column="Type", keep_values=["view"], test_days=1)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from sessrec.data.protocols import _flag
from sessrec.data.recipes.base import (
    DatasetRecipe,
    RawFile,
    RowLines,
    check_delimiter,
    find_columns,
    header_of,
    normalise,
    parse_datetimes,
    parse_epoch,
    parse_ids,
    read_table,
    sniff_delimiter,
)
from sessrec.errors import ConfigError, DataError
from sessrec.progress import emit

__all__ = ["CsvLog"]

_UNITS = ("auto", "s", "ms", "iso")


class CsvLog(DatasetRecipe):
    """Your own log file.

    Parameters
    ----------
    root : str or Path, optional
        Data root; without ``path`` the file is ``<root>/csv/events.csv``.
    path : str or Path, optional
        The log file (``.csv``, ``.tsv``, ``.txt``, ``.parquet``), read in place.
    session, item, time : str
        Column names (matched ignoring case and underscores).
    delimiter : str, optional
        Field separator; sniffed from the first 64 KiB when None.
    time_unit : {"auto", "s", "ms", "iso"}
        Epoch seconds, epoch milliseconds, ISO text, or "auto" (numbers above 1e11 are
        milliseconds, other numbers seconds, text is ISO).
    filter_column : str, optional
        Keep only rows whose value in this column is one of ``keep_values``.
    keep_values : sequence of str, optional
    string_ids : bool
        Accept non-numeric session/item ids (kept as text) instead of raising.
    """

    name = "csv"
    description = "your own click log (CSV/TSV/Parquet: session, item, time columns)"
    folder = "csv"
    raw_files = (RawFile("events.csv", url="your own data (pass path=...)", licence="yours"),)
    default_test_days: ClassVar[dict[str, float]] = {"narm": 1, "gru4rec": 1}

    def __init__(
        self,
        root: Any = None,
        *,
        path: Any = None,
        session: str = "SessionId",
        item: str = "ItemId",
        time: str = "Time",
        delimiter: str | None = None,
        time_unit: str = "auto",
        filter_column: str | None = None,
        keep_values: Sequence[str] | str | None = None,
        string_ids: bool = False,
    ) -> None:
        super().__init__(root, path=path)
        self.session = session
        self.item = item
        self.time = time
        self.delimiter = delimiter
        self.time_unit = time_unit
        self.filter_column = filter_column
        self.keep_values = keep_values
        self.string_ids = string_ids

    def options(self) -> dict[str, Any]:
        keep = self.keep_values
        keep_list = None if keep is None else sorted([keep] if isinstance(keep, str) else [str(k) for k in keep])
        return {
            "session": self.session,
            "item": self.item,
            "time": self.time,
            "delimiter": self.delimiter,
            "time_unit": self.time_unit,
            "filter_column": self.filter_column,
            "keep_values": keep_list,
            "string_ids": _flag("string_ids", self.string_ids),
        }

    def read_events(self) -> pd.DataFrame:
        opts = self.options()
        if self.time_unit not in _UNITS:
            raise ConfigError(f"time_unit must be one of {', '.join(_UNITS)}, got {self.time_unit!r}")
        if (self.filter_column is None) != (self.keep_values is None):
            raise ConfigError("filter_column and keep_values go together: give both or neither")
        path = self.raw_paths()[0]
        df, cols, lines = self._read(path)
        df, lines = self._filter(df, cols, lines, path)
        if opts["string_ids"]:
            sid = pd.factorize(df[cols["session"]].astype("string"))[0].astype(np.int64)
            item = df[cols["item"]].astype("string").to_numpy(dtype=str)
            if (item == "").any() or df[cols["item"]].isna().any():
                i = int(np.flatnonzero((item == "") | df[cols["item"]].isna().to_numpy())[0])
                raise DataError(f"{path}, line {lines(i)}: column {self.item!r} has an empty item id")
        else:
            sid = parse_ids(df[cols["session"]], path, cols["session"], lines, hint=_STRING_IDS)
            item = parse_ids(df[cols["item"]], path, cols["item"], lines, hint=_STRING_IDS)
        time = self._parse_time(df[cols["time"]], path, cols["time"], lines)
        date = pd.Series(time).groupby(sid).transform("max").to_numpy(dtype=np.float64)
        return pd.DataFrame({"session_id": sid, "item_id": item, "time": time, "date": date})

    def _read(self, path: Path) -> tuple[pd.DataFrame, dict[str, str], RowLines]:
        """The table (every column), the wanted columns' spellings and the rows' file lines."""
        wanted = {"session": (self.session,), "item": (self.item,), "time": (self.time,)}
        if self.filter_column is not None:
            wanted["filter"] = (self.filter_column,)
        if path.suffix.lower() in (".parquet", ".pq"):
            df, cols, _ = self._read_parquet(path, wanted)
            return df, cols, RowLines(None, 0)
        sep = self.delimiter or sniff_delimiter(path)
        check_delimiter(path, sep, 3)
        header = header_of(path, sep)
        cols = _find_columns(path, header, wanted)
        ints = [] if self.options()["string_ids"] else [cols["session"], cols["item"]]
        df = read_table(path, sep, header=True, usecols=list(header), int_columns=ints)
        return df, cols, RowLines(path, 1)

    def _filter(
        self, df: pd.DataFrame, cols: dict[str, str], lines: RowLines, path: Path
    ) -> tuple[pd.DataFrame, RowLines]:
        """Rows kept by ``filter_column``/``keep_values``, with a note on the event types kept."""
        if self.filter_column is None:
            _note_event_types(df, cols)
            return df, lines
        keep_values = self.options()["keep_values"]
        values = df[cols["filter"]].astype("string").to_numpy(dtype=str)
        mask = np.isin(values, keep_values)
        if not mask.any():
            raise DataError(
                f"{path}: no row has {self.filter_column} in {keep_values} "
                f"(found values such as {sorted(set(values[:1000].tolist()))[:5]})"
            )
        dropped = pd.Series(values[~mask]).value_counts()
        gone = ", ".join(f"{k}: {v}" for k, v in dropped.items()) or "none"
        kept = f"kept {int(mask.sum())} rows with {self.filter_column} in {keep_values}"
        emit("note", text=f"{path.name}: {kept}; dropped {gone}")
        return df[mask].reset_index(drop=True), lines.take(mask)

    def _parse_time(self, values: pd.Series, path: Path, column: str, lines: RowLines) -> np.ndarray:
        unit = self.time_unit
        if unit == "iso":
            return parse_datetimes(values, path, column, lines, None)
        if unit == "auto":
            numeric = pd.api.types.is_numeric_dtype(values.dtype)
            if not numeric:  # most of the first 1,000 values decide; the bad ones are reported by line
                probe = pd.to_numeric(values.astype("string").head(1000).str.strip(), errors="coerce")
                numeric = bool(probe.notna().mean() >= 0.5)
            if not numeric:
                return parse_datetimes(values, path, column, lines, None)
        hint = "pass time_unit='s' or 'ms' to say which" if unit == "auto" else f"pass time_unit='{_other(unit)}'"
        return parse_epoch(values, path, column, lines, unit, hint=hint)

    def _read_parquet(self, path: Path, wanted: dict[str, tuple[str, ...]]) -> tuple[pd.DataFrame, dict[str, str], int]:
        try:
            df = pd.read_parquet(path)
        except ImportError:
            raise ConfigError("reading Parquet needs pyarrow: pip install 'sessrec[parquet]'") from None
        except Exception as exc:  # any reader failure is a data problem here
            raise DataError(f"{path}: cannot read as Parquet ({type(exc).__name__}: {exc})") from None
        cols = find_columns(path, [str(c) for c in df.columns], wanted)
        return df.reset_index(drop=True), cols, 1


_STRING_IDS = "pass string_ids=True to keep ids as text"
#: Column names that hold an event type in common logs (normalised spelling).
_EVENT_COLUMNS = ("type", "event", "eventtype", "action", "behavior", "behaviour", "interaction")


def _other(unit: str) -> str:
    return "s" if unit == "ms" else "ms"


def _find_columns(path: Path, header: list[str], wanted: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """:func:`find_columns`, pointing Kaggle's RetailRocket layout to the ``retailrocket`` recipe."""
    try:
        return find_columns(path, header, wanted)
    except DataError as exc:
        if {"timestamp", "visitorid", "itemid", "event"} <= {normalise(h) for h in header}:
            raise DataError(
                f"{exc}. This looks like RetailRocket's events.csv (timestamp, visitorid, event, itemid): "
                "use --dataset retailrocket -o path=FILE, which builds sessions from visitors"
            ) from None
        raise


def _note_event_types(df: pd.DataFrame, cols: dict[str, str]) -> None:
    """Say which event types were kept when the log has an event-type column and no filter."""
    used = set(cols.values())
    col = next((c for c in df.columns if normalise(str(c)) in _EVENT_COLUMNS and c not in used), None)
    if col is None:
        return
    counts = df[col].astype("string").value_counts(dropna=False)
    if len(counts) < 2:
        return
    listed = ", ".join(f"{k}: {v}" for k, v in counts.head(10).items())
    emit(
        "note",
        text=f"kept every event type in column {col!r} ({listed}); to keep only one, pass "
        f"filter_column={col!r} keep_values=[...] (-o filter_column={col} -o keep_values={counts.index[0]})",
    )
