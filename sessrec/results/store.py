"""The study store: a folder of run records and per-case ranks.

Layout of a study folder::

    reports/<study>/
      experiment.toml          the study's specification (optional, written by the CLI)
      results.jsonl            one JSON record per finished run, appended atomically
      ranks/<run_id>.npy       rank of every test case, in case order (int32; float64 for
                               median ties, whose ranks may end in .5)
      cases/<fingerprint>.npz  per test case of a prepared dataset: session, prefix length,
                               target; and the training click count of every item

A run's ranks are written (temp file + rename) *before* its record is appended, and a
record is one ``write`` of one line followed by ``fsync``: a crash or Ctrl-C loses at most
the run in flight, and a half-written last line is skipped (and reported) on reading.

Several processes may write one study at once (two ``sessrec run`` commands, a ``--force``
rerun beside an appender, a cluster's workers). Every write -- ranks, case table, record,
the rewrite that replaces or drops records -- happens while holding an exclusive
``fcntl.flock`` on ``<study>/.lock``, so a rewrite never loses a line appended meanwhile and
a dropped record never leaves its ranks file behind. Temporary files are only created while
the lock is held, so any ``*.tmp`` found while holding it was left by a killed process and
is removed (:meth:`StudyStore.clean_temp_files`). Readers take no lock: records are whole
lines and rewrites are atomic renames.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks; one writer at a time there
    fcntl = None  # type: ignore[assignment]

from sessrec.results.record import REQUIRED_KEYS, RecordError, RunRecord, check_name

__all__ = ["REQUIRED_KEYS", "CaseTable", "StoreContents", "StudyStore"]


@dataclass
class StoreContents:
    """What :meth:`StudyStore.read` found: valid records and the lines it skipped (with why)."""

    records: list[RunRecord] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)


@dataclass(frozen=True)
class CaseTable:
    """Per-test-case facts of one prepared dataset, aligned with every run's ranks.

    Attributes
    ----------
    session : ndarray of shape (n_cases,), int32
        Test session (position in the test split) of each case.
    prefix_length : ndarray of shape (n_cases,), int32
    target : ndarray of shape (n_cases,), int32
        Target ``item_idx``.
    item_counts : ndarray of shape (n_items,), int64
        Training clicks per item.
    """

    session: np.ndarray
    prefix_length: np.ndarray
    target: np.ndarray
    item_counts: np.ndarray


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot store {type(obj).__name__} in a run record")


def _atomic_write(path: Path, write: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class StudyStore:
    """Read and append the runs of one study folder."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    @property
    def results_path(self) -> Path:
        return self.path / "results.jsonl"

    @property
    def ranks_dir(self) -> Path:
        return self.path / "ranks"

    @property
    def cases_dir(self) -> Path:
        return self.path / "cases"

    # ------------------------------------------------------------------ reading
    def read(self) -> StoreContents:
        """Every complete record; malformed lines are skipped and listed with their reason."""
        out = StoreContents()
        if not self.results_path.exists():
            return out
        raw = self.results_path.read_bytes()
        lines = raw.split(b"\n")
        complete_end = raw.endswith(b"\n")
        for no, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                out.records.append(RunRecord.from_dict(_decode(line)))
            except _LineError as exc:
                cut = no == len(lines) and not complete_end
                why = "incomplete last line (a run was interrupted while writing)" if cut else str(exc)
                out.skipped.append((no, why))
            except RecordError as exc:
                out.skipped.append((no, str(exc)))
        return out

    def summary(self) -> dict[str, Any]:
        """What the study holds over every invocation that wrote it (for ``experiment.toml``).

        Returns
        -------
        dict
            ``models``: sorted model names; ``seeds``: sorted seeds; ``runs``: per model the
            distinct ``params`` it ran with; ``datasets``: one entry per distinct prepared
            dataset (``dataset``, ``dataset_options``, ``protocol``, ``fingerprint``), in
            order of first appearance.
        """
        records = self.read().records
        runs: dict[str, list[Any]] = {}
        datasets: dict[str, dict[str, Any]] = {}
        for rec in records:
            params = runs.setdefault(str(rec["model"]), [])
            if rec["params"] not in params:
                params.append(rec["params"])
            datasets.setdefault(
                str(rec["fingerprint"]),
                {
                    "dataset": rec["dataset"],
                    "dataset_options": rec.get("dataset_options", {}),
                    "protocol": rec["protocol"],
                    "fingerprint": rec["fingerprint"],
                },
            )
        seeds = sorted({r["seed"] for r in records if isinstance(r["seed"], int)})
        return {"models": sorted(runs), "seeds": seeds, "runs": runs, "datasets": list(datasets.values())}

    def completed_ids(self) -> set[str]:
        """run_ids with a record and their ranks file."""
        return {r.run_id for r in self.read().records if self.ranks_path(r.run_id).exists()}

    def ranks_path(self, run_id: str) -> Path:
        """``ranks/<run_id>.npy``; a ``run_id`` that is not a plain name raises :class:`RecordError`."""
        return self.ranks_dir / f"{check_name(run_id, 'run_id')}.npy"

    def load_ranks(self, run_id: str) -> np.ndarray:
        path = self.ranks_path(run_id)
        if not path.exists():
            raise FileNotFoundError(f"no ranks for run {run_id} in {self.ranks_dir}")
        return np.load(path)

    def load_cases(self, fingerprint: str) -> CaseTable:
        with np.load(self.cases_dir / f"{check_name(fingerprint, 'fingerprint')}.npz") as z:
            return CaseTable(z["session"], z["prefix_length"], z["target"], z["item_counts"])

    # ------------------------------------------------------------------ writing
    @property
    def lock_path(self) -> Path:
        return self.path / ".lock"

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the study's exclusive write lock (blocks until other writers release it)."""
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.lock_path, "a+b") as fh:
            if fcntl is not None:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                if fcntl is not None:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def clean_temp_files(self) -> list[Path]:
        """Remove temporary files left by killed writers; return what was removed.

        Writers create temporary files only while holding the lock, so every ``*.tmp`` seen
        while holding it belongs to a writer that died.
        """
        with self.locked():
            return self._remove_temp_files()

    def _remove_temp_files(self) -> list[Path]:
        removed = []
        for folder in (self.path, self.ranks_dir, self.cases_dir):
            if folder.is_dir():
                for tmp in folder.glob(".*.tmp"):
                    tmp.unlink(missing_ok=True)
                    removed.append(tmp)
        return removed

    def save_cases(self, fingerprint: str, cases: CaseTable) -> None:
        """Store the case table of a dataset once (idempotent)."""
        path = self.cases_dir / f"{check_name(fingerprint, 'fingerprint')}.npz"
        if path.exists():
            return
        arrays = {
            "session": cases.session.astype(np.int32),
            "prefix_length": cases.prefix_length.astype(np.int32),
            "target": cases.target.astype(np.int32),
            "item_counts": cases.item_counts.astype(np.int64),
        }
        with self.locked():
            if path.exists():
                return
            self.cases_dir.mkdir(parents=True, exist_ok=True)
            _atomic_write(path, lambda fh: np.savez(fh, **arrays))

    def append(
        self, record: RunRecord | Mapping[str, Any], ranks: np.ndarray | None = None, *, replace: bool = False
    ) -> bool:
        """Write ``ranks`` (atomically), then append ``record`` as one line and fsync.

        With ``replace``, earlier records of the same ``run_id`` are removed in the same
        locked step (``--force``: the old result stands until the new one is stored).
        Without it, a run another writer has recorded meanwhile is left as it is and nothing
        is written. Returns whether the record was written.

        Raises
        ------
        RecordError
            (a ``ValueError``) when ``record`` is not a valid run record.
        """
        if not isinstance(record, RunRecord):
            try:
                record = RunRecord.from_dict(record)
            except RecordError as exc:
                raise RecordError(f"run record: {exc}") from None
        run_id = record.run_id
        ranks_path = self.ranks_path(run_id)
        line = (json.dumps(record.to_dict(), default=_json_default, sort_keys=True, allow_nan=True) + "\n").encode()
        with self.locked():
            lines = self._lines()
            recorded = any(run_id.encode() in x and _record_id(x) == run_id for x in lines)
            if recorded and not replace:
                return False
            if ranks is not None:
                self.ranks_dir.mkdir(parents=True, exist_ok=True)
                arr = np.ascontiguousarray(ranks)
                _atomic_write(ranks_path, lambda fh: np.save(fh, arr))
            if recorded:
                self._rewrite([x for x in lines if _record_id(x) != run_id] + [line.rstrip(b"\n")])
            else:
                self._append_line(line)
        return True

    def _lines(self) -> list[bytes]:
        if not self.results_path.exists():
            return []
        return [x for x in self.results_path.read_bytes().split(b"\n") if x.strip()]

    def _append_line(self, line: bytes) -> None:
        with open(self.results_path, "ab") as fh:
            if fh.tell() > 0 and not _ends_with_newline(self.results_path):
                fh.write(b"\n")  # seal a half-written line left by a crash
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())

    def _rewrite(self, lines: list[bytes]) -> None:
        data = b"".join(x + b"\n" for x in lines)
        _atomic_write(self.results_path, lambda fh: fh.write(data))

    def drop(self, run_ids: Iterable[str]) -> None:
        """Remove the records of ``run_ids``, their ranks files and their saved models."""
        ids = set(run_ids)
        if not ids:
            return
        with self.locked():
            lines = self._lines()
            kept = [x for x in lines if _record_id(x) not in ids]
            if len(kept) != len(lines):
                self._rewrite(kept)
            for run_id in ids:
                try:
                    self.ranks_path(run_id).unlink(missing_ok=True)
                except RecordError:  # not a plain name: it has no ranks file or model
                    continue
                (self.path / "models" / f"{run_id}.pt").unlink(missing_ok=True)


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


def _record_id(line: bytes) -> str | None:
    try:
        rec = _decode(line)
    except _LineError:
        return None
    return rec.get("run_id") if isinstance(rec, dict) else None


class _LineError(ValueError):
    """A line of ``results.jsonl`` that cannot be decoded as JSON."""


def _decode(line: bytes) -> Any:
    """The JSON value of one line; :class:`_LineError` says why not (bad JSON, not UTF-8, nested too deep)."""
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise _LineError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    except UnicodeDecodeError:
        raise _LineError("not UTF-8 text") from None
    except RecursionError:
        raise _LineError("not usable JSON (nested too deeply to read)") from None
