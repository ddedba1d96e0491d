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

import bz2
import csv
import gzip
import hashlib
import io
import lzma
import re
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, ClassVar

import numpy as np
import pandas as pd

from sessrec.errors import ConfigError, DataError

__all__ = ["DatasetRecipe", "RawFile", "RowLines", "file_sha256", "read_table"]


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
    #: Protocols this recipe supports (None: every protocol).
    protocols: ClassVar[tuple[str, ...] | None] = None
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
#: Leading bytes of the compressed formats read transparently (pandas' names).
_MAGIC = {b"\x1f\x8b": "gzip", b"BZh": "bz2", b"\xfd7zXZ\x00": "xz", b"PK\x03\x04": "zip"}
#: Epoch numbers at or above this are milliseconds (1973-03-03 in ms, year 5138 in seconds).
MS_THRESHOLD = 1e11
_INT64_MAX = 2**63 - 1


def compression(path: Path) -> str | None:
    """``"gzip"``, ``"bz2"``, ``"xz"`` or ``"zip"`` from the file's first bytes, else None."""
    with open(path, "rb") as fh:
        head = fh.read(6)
    return next((name for magic, name in _MAGIC.items() if head.startswith(magic)), None)


def open_binary(path: Path) -> IO[bytes]:
    """The file's bytes, decompressed when it is gzip, bz2, xz or a one-file zip."""
    kind = compression(path)
    if kind == "gzip":
        return gzip.open(path, "rb")
    if kind == "bz2":
        return bz2.open(path, "rb")
    if kind == "xz":
        return lzma.open(path, "rb")
    if kind == "zip":
        archive = zipfile.ZipFile(path)
        names = archive.namelist()
        if len(names) != 1:
            raise DataError(f"{path}: a zip archive must hold exactly one file, found {len(names)}: unzip it first")
        return archive.open(names[0])
    return open(path, "rb")


def open_text(path: Path, errors: str = "replace") -> IO[str]:
    """UTF-8 text of the file (decompressed; a leading byte-order mark dropped)."""
    return io.TextIOWrapper(open_binary(path), encoding="utf-8-sig", errors=errors, newline="")


def first_line(path: Path) -> str:
    with open_text(path) as fh:
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
    with open_text(path) as fh:
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


# ---------------------------------------------------------------------------------- line numbers
class RowLines:
    """File line numbers of a table's rows, worked out only when an error needs one.

    Row ``i`` of the table is data row ``start + rows[i]`` of the file (``rows`` omitted:
    ``start + i``); data rows are the file's lines after ``header_lines``, blank lines
    skipped as pandas skips them. Filtering and sorting keep the mapping via :meth:`take`.

    Parameters
    ----------
    path : Path or None
        None for tables that are not text (Parquet): lines are then row numbers.
    header_lines : int
        Lines before the first data row (1 with a header, 0 without).
    rows : ndarray of shape (n,), optional
        Data-row positions of the table's rows.
    start : int
        Data rows before the table's first (chunked reads).
    """

    def __init__(self, path: Path | None, header_lines: int, rows: np.ndarray | None = None, start: int = 0) -> None:
        self.path = path
        self.header_lines = header_lines
        self.rows = rows
        self.start = start

    def take(self, index: np.ndarray) -> RowLines:
        """The mapping of ``table[index]`` (a boolean mask or positions)."""
        index = np.asarray(index)
        pos = np.flatnonzero(index) if index.dtype == bool else index
        rows = pos if self.rows is None else self.rows[pos]
        return RowLines(self.path, self.header_lines, rows, self.start)

    def __call__(self, i: int) -> int:
        """The 1-based file line of table row ``i``."""
        target = self.start + int(i if self.rows is None else self.rows[i])
        if self.path is None:  # not a text file (Parquet): the 1-based row
            return self.header_lines + target + 1
        seen = -1
        with open_text(self.path) as fh:
            for no, line in enumerate(fh, start=1):
                if no <= self.header_lines or not line.strip():
                    continue
                seen += 1
                if seen == target:
                    return no
        return self.header_lines + target + 1  # past the end: the best guess


def _line(where: int | RowLines, i: int) -> int:
    return where(i) if isinstance(where, RowLines) else i + where


# ---------------------------------------------------------------------------------- value parsers
def parse_ids(values: pd.Series, path: Path, column: str, line_offset: int | RowLines, hint: str = "") -> np.ndarray:
    """Integer ids of shape (n,); raise naming the first value that is not one, and its line.

    ``line_offset`` is the file line number of row 0 (2 with a header, 1 without), or a
    :class:`RowLines`. Ids are whole numbers written in digits within the 64-bit range:
    ``1e3`` (a number that went through floating point, whose digits may be lost) and ids
    beyond 64 bits are errors; ``hint`` says what to do instead.
    """
    if pd.api.types.is_integer_dtype(values.dtype):
        arr = values.to_numpy()
        if arr.dtype == np.uint64 and (arr > _INT64_MAX).any():
            i = int(np.flatnonzero(arr > _INT64_MAX)[0])
            _id_error(path, column, _line(line_offset, i), str(int(arr[i])), "beyond the 64-bit integer range", hint)
        return arr.astype(np.int64)
    text = values.astype("string").str.strip()
    ok = text.str.fullmatch(r"[+-]?\d+").fillna(False).to_numpy(dtype=bool)
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        found = text.iloc[i]
        if found is pd.NA or found == "":
            raise DataError(
                f"{path}, line {_line(line_offset, i)}: column {column!r} expected an integer id, found an empty value"
            )
        why = "written as a floating-point number (its digits may have been lost)" if _is_float(found) else ""
        _id_error(path, column, _line(line_offset, i), found, why, hint)
    digits = text.to_numpy(dtype=str)
    try:
        return digits.astype(np.int64)
    except OverflowError:  # some id is beyond 64 bits
        i = next(k for k, t in enumerate(digits) if not -_INT64_MAX - 1 <= int(t) <= _INT64_MAX)
        _id_error(path, column, _line(line_offset, i), str(digits[i]), "beyond the 64-bit integer range", hint)
        raise  # pragma: no cover - _id_error raised


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _id_error(path: Path, column: str, line: int, found: str, why: str, hint: str) -> None:
    why = f" ({why})" if why else ""
    hint = f"; {hint}" if hint else ""
    raise DataError(
        f"{path}, line {line}: column {column!r} expected an integer id, found {found!r}{why}; ids must be whole "
        f"numbers in digits within the 64-bit range{hint}"
    )


def parse_datetimes(
    values: pd.Series,
    path: Path,
    column: str,
    line_offset: int | RowLines,
    fmt: str | None,
    *,
    few_unique: bool = False,
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
            f"{path}, line {_line(line_offset, i)}: column {column!r} expected a timestamp like {example!r}, "
            f"found {str(text.iloc[i]) if text.iloc[i] is not pd.NA else ''!r}"
        )
    if few_unique:
        return _to_seconds(parsed_u)[codes]
    return _to_seconds(parsed)


def _to_seconds(parsed: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    arr = np.asarray(parsed.dt.tz_convert(None) if isinstance(parsed, pd.Series) else parsed)
    return arr.astype("datetime64[ns]").astype(np.int64) / 1e9


def parse_epoch(
    values: pd.Series, path: Path, column: str, line_offset: int | RowLines, unit: str, hint: str = ""
) -> np.ndarray:
    """Epoch numbers (``unit`` "s", "ms" or "auto") as float64 seconds; raise on the first bad value.

    Numbers at or above :data:`MS_THRESHOLD` are milliseconds, below it seconds: a column
    that mixes both, ``ms`` numbers that all look like seconds and ``s`` numbers that all
    look like milliseconds are errors (``hint`` says what to do).
    """
    if pd.api.types.is_numeric_dtype(values.dtype) and not values.isna().any():
        num = values.to_numpy(dtype=np.float64)
    else:
        text = values.astype("string")
        coerced = pd.to_numeric(text.str.strip(), errors="coerce")
        bad = coerced.isna().to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"{path}, line {_line(line_offset, i)}: column {column!r} expected epoch {unit_name(unit)}, "
                f"found {str(text.iloc[i])!r}"
            )
        num = coerced.to_numpy(dtype=np.float64)
    if unit not in ("s", "ms", "auto"):
        raise ConfigError(f"time_unit must be 's', 'ms', 'auto' or 'iso', got {unit!r}")
    unit = _epoch_unit(num, unit, path, column, line_offset, hint)
    return num / 1000.0 if unit == "ms" else num


def _epoch_unit(num: np.ndarray, unit: str, path: Path, column: str, where: int | RowLines, hint: str) -> str:
    """The unit ``num`` is in; raise when the numbers contradict ``unit`` or mix units."""
    big = np.abs(num) >= MS_THRESHOLD
    hint = f"; {hint}" if hint else ""
    if big.any() and not big.all():
        i, j = int(np.flatnonzero(~big)[0]), int(np.flatnonzero(big)[0])
        raise DataError(
            f"{path}: column {column!r} mixes epoch seconds and milliseconds (line {_line(where, i)}: "
            f"{num[i]:.0f} looks like seconds, line {_line(where, j)}: {num[j]:.0f} like milliseconds); "
            "write the whole column in one unit"
        )
    found = "ms" if big.any() else "s"
    if unit == "auto" or unit == found or len(num) == 0:
        return found
    looks = {"s": "seconds", "ms": "milliseconds"}
    raise DataError(
        f"{path}: column {column!r} holds epoch numbers such as {num[0]:.0f} (line {_line(where, 0)}): these look "
        f"like {looks[found]}, the recipe expects {looks[unit]}{hint}"
    )


def unit_name(unit: str) -> str:
    return {"s": "seconds", "ms": "milliseconds"}.get(unit, "seconds or milliseconds")


# ---------------------------------------------------------------------------------- tables
def read_table(
    path: Path, sep: str, *, header: bool, usecols: list[str] | list[int], int_columns: list[str] | list[int]
) -> pd.DataFrame:
    """Fast read with inferred types; when an ``int_columns`` column is not plain int64, fall back
    to :func:`read_text_table`, whose text the ``parse_*`` helpers then diagnose by line.

    Types are inferred rather than forced: pandas' forced int64 accepts ``1e3`` and ``5.0``
    (read as floats, then cast), while its inference gives int64 only when every value is
    written in digits. Every column is read so that a row with more fields than the header is
    an error (pandas ignores surplus fields when given ``usecols``); the ``usecols`` are returned.
    """
    with warnings.catch_warnings():  # mixed chunks only send us to the text read below
        warnings.simplefilter("ignore", pd.errors.DtypeWarning)
        df = _read_csv(path, sep, header)
    if any(c not in df.columns or df[c].dtype != np.int64 for c in int_columns):
        return read_text_table(path, sep, header=header, usecols=usecols)
    return df[list(usecols)]


def read_text_table(path: Path, sep: str, *, header: bool, usecols: list[Any] | None = None) -> pd.DataFrame:
    """Every field as text (``""`` for empty), so bad values can be located by line afterwards."""
    df = _read_csv(path, sep, header, dtype=str, keep_default_na=False, na_filter=False)
    if usecols is None:
        return df
    missing = [c for c in usecols if c not in df.columns]
    if missing:
        raise DataError(f"{path}: unexpected layout (no column(s) {missing}; found {list(df.columns)})")
    return df[list(usecols)]


def _read_csv(path: Path, sep: str, header: bool, **kw: Any) -> pd.DataFrame:
    """``pd.read_csv`` of every column, with decompression, BOM, extra fields and bad bytes checked."""
    try:
        df = pd.read_csv(path, sep=sep, header=0 if header else None, engine="c", compression=compression(path), **kw)
    except UnicodeDecodeError:
        raise bad_byte_error(path) from None
    except pd.errors.ParserError as exc:
        raise parser_error(path, sep, exc) from None
    if not isinstance(df.index, pd.RangeIndex):  # every row had one more field than the header
        raise DataError(
            f"{path}, line 2: every row has more fields than the header ({len(df.columns)}): "
            "a surplus delimiter at the ends of lines? Remove it or fix the header"
        )
    return df


def parser_error(path: Path, sep: str, exc: Exception) -> DataError:
    """pandas' tokenizer error as one line: the line with the wrong number of fields, or the raw text."""
    m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
    if m is None:
        return DataError(f"{path}: cannot parse as {_DELIMS.get(sep, repr(sep))}-separated text: {str(exc).strip()}")
    want, line, saw = m.groups()
    return DataError(
        f"{path}, line {line}: expected {want} {_DELIMS.get(sep, repr(sep))}-separated fields (as in the first "
        f"line), found {saw}; remove the surplus fields (or quote values that contain {sep!r})"
    )


def bad_byte_error(path: Path) -> DataError:
    """A :class:`DataError` naming the line and column of the file's first byte that is not UTF-8."""
    with open_binary(path) as fh:
        for no, raw in enumerate(fh, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                byte = raw[exc.start]
                return DataError(
                    f"{path}, line {no}: byte 0x{byte:02X} at column {exc.start + 1} is not UTF-8 "
                    f"({raw[max(exc.start - 20, 0) : exc.start + 20]!r}); save the file as UTF-8 "
                    "(e.g. iconv -f latin1 -t utf-8 IN > OUT)"
                )
    return DataError(f"{path}: the file is not UTF-8 text; save it as UTF-8")


def header_of(path: Path, sep: str) -> list[str]:
    line = first_line(path)
    return next(csv.reader(io.StringIO(line), delimiter=sep))


def per_session_max(session: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` replaced by the maximum over each click's session, shape (n,)."""
    codes, uniq = pd.factorize(session)
    top = np.full(len(uniq), -np.inf)
    np.maximum.at(top, codes, values)
    return top[codes]
