"""The dataset recipe interface and the checked readers the recipes share.

A recipe knows one dataset: where its raw file goes under the data root, where to get it,
its licence, its default protocol and test days, and how to read the raw file into the
standard event table (see :mod:`sessrec.data.protocols`)::

    <data root>/<folder>/<file>          e.g. datasets/diginetica/train-item-views.csv
        -> Recipe.load_events()          session_id, item_id, time, date (file order)
        -> protocol (narm | gru4rec)     train / test (/ valid) Sessions + ItemIndex

Every recipe accepts ``path=`` to read a specific raw file in place instead.
Readers raise :class:`~sessrec.errors.DataError` with one message naming the file, the line
where it can, what was expected and what was found.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from sessrec.errors import ConfigError, DataError

__all__ = ["DatasetRecipe", "RawFile", "file_sha256", "read_table"]


@dataclass(frozen=True)
class RawFile:
    """One raw file a recipe reads.

    Attributes
    ----------
    name : str
        File name under ``<data root>/<folder>/``.
    url : str
        Where a user downloads it (page or direct link).
    licence : str
        What is known about its terms.
    note : str
        How to obtain/unpack it, if not obvious.
    """

    name: str
    url: str
    licence: str
    note: str = ""


class DatasetRecipe:
    """Base class of dataset recipes.

    Parameters
    ----------
    root : str or Path, optional
        The data root; the raw files are looked for in ``<root>/<folder>/``.
    path : str or Path, optional
        A specific raw file to read in place (overrides the data root).

    Subclasses set the class attributes and implement :meth:`read_events`.
    """

    #: Entry-point name (``sessrec.datasets`` group).
    name: ClassVar[str] = ""
    #: One line for ``sessrec datasets``.
    description: ClassVar[str] = ""
    #: Folder under the data root that holds the raw files (defaults to ``name``).
    folder: ClassVar[str] = ""
    raw_files: ClassVar[tuple[RawFile, ...]] = ()
    default_protocol: ClassVar[str] = "narm"
    #: Default ``test_days`` per protocol.
    default_test_days: ClassVar[dict[str, float]] = {"narm": 7, "gru4rec": 7}
    #: Defaults of further protocol parameters, per protocol (e.g. ``keep_file_order``).
    protocol_defaults: ClassVar[dict[str, dict[str, Any]]] = {}
    #: Protocols this recipe supports (all by default).
    protocols: ClassVar[tuple[str, ...]] = ("narm", "gru4rec")
    synthetic: ClassVar[bool] = False

    def __init__(self, root: str | Path | None = None, *, path: str | Path | None = None) -> None:
        self.root = None if root is None else Path(root)
        self.path = None if path is None else Path(path)

    # ------------------------------------------------------------------ description
    def options(self) -> dict[str, Any]:
        """Recipe options that change the event table (part of the cache key); ``path`` excluded."""
        return {}

    def raw_paths(self) -> list[Path]:
        """Where the raw file(s) are read from."""
        if self.path is not None:
            return [self.path]
        root = self.root if self.root is not None else Path("datasets")
        return [root / (self.folder or self.name) / f.name for f in self.raw_files]

    def is_present(self) -> bool:
        return all(p.is_file() for p in self.raw_paths())

    def checksum(self) -> str:
        """sha256 of the raw file(s), read in full every time (see :func:`file_sha256`)."""
        self.require_files()
        digests = [file_sha256(p) for p in self.raw_paths()]
        if len(digests) == 1:
            return digests[0]
        return hashlib.sha256("".join(digests).encode()).hexdigest()

    def require_files(self) -> None:
        """Raise :class:`DataError` saying where each missing raw file goes and where it comes from."""
        if self.path is not None:
            if not self.path.is_file():
                raise DataError(f"{self.name}: raw file {self.path} (given as path=) not found or not a file")
            return
        for p, f in zip(self.raw_paths(), self.raw_files):
            if not p.is_file():
                where = f" Get it from {f.url}" if f.url else ""
                note = f" ({f.note})" if f.note else ""
                raise DataError(
                    f"{self.name}: raw file {p} not found. Put {f.name} there (or pass path=... / "
                    f"--data-dir DIR).{where}{note}"
                )

    # ------------------------------------------------------------------ reading
    def load_events(self) -> pd.DataFrame:
        """The standard event table (``session_id, item_id, time, date``, file order)."""
        self.require_files()
        events = self.read_events()
        if len(events) == 0:
            raise DataError(f"{self.raw_paths()[0]}: no events left after reading (expected at least one click)")
        return events

    def read_events(self) -> pd.DataFrame:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options().items())
        return f"{type(self).__name__}({opts})"


# ---------------------------------------------------------------------------------- checksums
def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes, read in full on every call.

    Deliberately not memoised: size, mtime and even ctime can all survive an edit (``touch -r``
    restores the mtime; coarse ctime clocks and copies between file systems blur the rest),
    and a stale digest would reuse a stale prepared cache and stale results. Hashing runs at
    roughly 0.5-1 GB/s (DIGINETICA's 3 MB in milliseconds, YOOCHOOSE's 1.4 GB in a few
    seconds), small next to reading and splitting the file.
    """
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 22), b""):
                h.update(chunk)
    except OSError as exc:
        raise DataError(f"{path}: cannot read the raw file ({exc.strerror or exc})") from None
    return h.hexdigest()


# ---------------------------------------------------------------------------------- checked readers
_DELIMS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


def first_line(path: Path) -> str:
    with open(path, encoding="utf-8", errors="replace", newline="") as fh:
        line = fh.readline()
    return line.rstrip("\r\n")


def check_delimiter(path: Path, sep: str, n_fields: int, line: str | None = None) -> None:
    """Raise if the first line does not split into at least ``n_fields`` fields on ``sep``."""
    line = first_line(path) if line is None else line
    if line == "":
        raise DataError(f"{path}: the file is empty (expected {_DELIMS.get(sep, repr(sep))}-separated rows)")
    if len(line.split(sep)) >= n_fields:
        return
    others = [d for d in _DELIMS if d != sep and len(line.split(d)) >= n_fields]
    found = f"it looks {_DELIMS[others[0]]}-separated" if others else f"found {len(line.split(sep))} field(s)"
    raise DataError(
        f"{path}, line 1: expected {n_fields} {_DELIMS.get(sep, repr(sep))}-separated ({sep!r}) fields, "
        f"{found}: {line[:80]!r}"
    )


def sniff_delimiter(path: Path) -> str:
    """The delimiter of a text table, from its first 64 KiB."""
    with open(path, encoding="utf-8", errors="replace", newline="") as fh:
        sample = fh.read(1 << 16)
    if not sample:
        raise DataError(f"{path}: the file is empty")
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        line = sample.splitlines()[0]
        counts = {d: line.count(d) for d in _DELIMS}
        best = max(counts, key=lambda d: counts[d])
        if counts[best] == 0:
            raise DataError(
                f"{path}, line 1: cannot tell the delimiter (expected one of , ; tab |): {line[:80]!r}"
            ) from None
        return best


def normalise(name: str) -> str:
    """Header spelling key: ``sessionId``, ``session_id`` and ``SessionID`` all give ``sessionid``."""
    return name.strip().lower().replace("_", "").replace(" ", "")


def find_columns(path: Path, header: list[str], wanted: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """Map canonical names to the header's spelling; raise naming the missing ones."""
    by_key = {normalise(h): h for h in header}
    out: dict[str, str] = {}
    missing = []
    for canon, spellings in wanted.items():
        hit = next((by_key[normalise(s)] for s in spellings if normalise(s) in by_key), None)
        if hit is None:
            missing.append(spellings[0])
        else:
            out[canon] = hit
    if missing:
        raise DataError(f"{path}, line 1: missing column(s) {', '.join(missing)}; found header {header}")
    return out


def parse_ids(values: pd.Series, path: Path, column: str, line_offset: int) -> np.ndarray:
    """Integer ids of shape (n,); raise naming the first empty or non-numeric value and its line.

    ``line_offset`` is the file line number of row 0 (2 with a header, 1 without).
    """
    if pd.api.types.is_integer_dtype(values.dtype):
        return values.to_numpy(dtype=np.int64)
    try:  # fast path: clean integer text
        fast = pd.to_numeric(values, errors="raise")
        if pd.api.types.is_integer_dtype(fast.dtype):
            return fast.to_numpy(dtype=np.int64)
    except (ValueError, TypeError):
        pass
    text = values.astype("string")
    num = pd.to_numeric(text.str.strip(), errors="coerce")
    bad = num.isna().to_numpy()
    if not bad.any():
        frac = (num % 1 != 0).to_numpy()
        if not frac.any():
            return num.to_numpy(dtype=np.float64).astype(np.int64)
        bad = frac
    i = int(np.flatnonzero(bad)[0])
    found = text.iloc[i]
    what = "an empty value" if found is pd.NA or str(found).strip() == "" else repr(str(found))
    raise DataError(f"{path}, line {i + line_offset}: column {column!r} expected an integer id, found {what}")


def parse_datetimes(
    values: pd.Series, path: Path, column: str, line_offset: int, fmt: str | None, *, few_unique: bool = False
) -> np.ndarray:
    """Seconds since the epoch (UTC), float64 of shape (n,); raise naming the first bad value.

    ``few_unique`` parses each distinct value once (day dates).
    """
    text = values.astype("string").reset_index(drop=True)
    fmt = "ISO8601" if fmt is None else fmt
    if few_unique:
        codes, uniq = pd.factorize(text)
        parsed_u = pd.to_datetime(pd.Series(uniq, dtype="string"), errors="coerce", utc=True, format=fmt)
        bad_u = np.r_[parsed_u.isna().to_numpy(), True]  # code -1 (missing) -> bad
        bad = bad_u[np.where(codes < 0, len(uniq), codes)]
    else:
        parsed = pd.to_datetime(text, errors="coerce", utc=True, format=fmt)
        bad = parsed.isna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        example = "2016-05-09" if fmt == "%Y-%m-%d" else "2014-04-07T10:51:09.277Z"
        raise DataError(
            f"{path}, line {i + line_offset}: column {column!r} expected a timestamp like {example!r}, "
            f"found {str(text.iloc[i]) if text.iloc[i] is not pd.NA else ''!r}"
        )
    if few_unique:
        return _to_seconds(parsed_u)[codes]
    return _to_seconds(parsed)


def _to_seconds(parsed: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    arr = np.asarray(parsed.dt.tz_convert(None) if isinstance(parsed, pd.Series) else parsed)
    return arr.astype("datetime64[ns]").astype(np.int64) / 1e9


def parse_epoch(values: pd.Series, path: Path, column: str, line_offset: int, unit: str) -> np.ndarray:
    """Epoch numbers (``unit`` "s", "ms" or "auto") as float64 seconds; raise on the first bad value."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not values.isna().any():
        num = values.to_numpy(dtype=np.float64)
    else:
        text = values.astype("string")
        coerced = pd.to_numeric(text.str.strip(), errors="coerce")
        bad = coerced.isna().to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"{path}, line {i + line_offset}: column {column!r} expected epoch {unit_name(unit)}, "
                f"found {str(text.iloc[i])!r}"
            )
        num = coerced.to_numpy(dtype=np.float64)
    if unit == "auto":
        unit = "ms" if len(num) and np.nanmax(np.abs(num)) > 1e11 else "s"
    if unit == "ms":
        return num / 1000.0
    if unit == "s":
        return num
    raise ConfigError(f"time_unit must be 's', 'ms', 'auto' or 'iso', got {unit!r}")


def unit_name(unit: str) -> str:
    return {"s": "seconds", "ms": "milliseconds"}.get(unit, "seconds or milliseconds")


def read_table(
    path: Path, sep: str, *, header: bool, usecols: list[str] | list[int], int_columns: list[str] | list[int]
) -> pd.DataFrame:
    """Fast typed read (``int_columns`` as int64); on any parse failure fall back to
    :func:`read_text_table`, whose text the ``parse_*`` helpers then diagnose by line."""
    try:
        return pd.read_csv(
            path,
            sep=sep,
            header=0 if header else None,
            usecols=usecols,
            dtype=dict.fromkeys(int_columns, "int64"),
            engine="c",
        )
    except (ValueError, OverflowError, TypeError, pd.errors.ParserError):
        return read_text_table(path, sep, header=header, usecols=usecols)


def read_text_table(path: Path, sep: str, *, header: bool, usecols: list[int] | None = None) -> pd.DataFrame:
    """Every field as text (``""`` for empty), so bad values can be located by line afterwards."""
    try:
        return pd.read_csv(
            path,
            sep=sep,
            header=0 if header else None,
            usecols=usecols,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            engine="c",
        )
    except pd.errors.ParserError as exc:
        raise DataError(f"{path}: cannot parse as {_DELIMS.get(sep, repr(sep))}-separated text: {exc}") from None
    except ValueError as exc:  # usecols out of range etc.
        raise DataError(f"{path}: unexpected layout ({exc})") from None


def header_of(path: Path, sep: str) -> list[str]:
    line = first_line(path)
    return next(csv.reader(io.StringIO(line), delimiter=sep))


def per_session_max(session: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` replaced by the maximum over each click's session, shape (n,)."""
    codes, uniq = pd.factorize(session)
    top = np.full(len(uniq), -np.inf)
    np.maximum.at(top, codes, values)
    return top[codes]
