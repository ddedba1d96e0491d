"""The run record: what one finished run stored, as one typed object.

The runner builds a :class:`RunRecord`, the store writes it as one JSON line of
``results.jsonl`` (:meth:`RunRecord.to_dict`) and validates every line it reads back
(:meth:`RunRecord.from_dict`), and the reporter reads its attributes. The JSON layout is the
one sessrec has always written (one object, keys sorted); keys this version does not know
are kept in :attr:`RunRecord.extra` and written back unchanged.

Study folders are shared, so a record is checked before anything uses it: identifiers that
become file names (``run_id``, ``fingerprint``) must be plain names (letters, digits, ``-``
and ``_``; the runner writes 16 hex digits and sha256 fingerprints), and fields must have
their JSON types. A record that fails is skipped by the store with the reason, like a
broken line.

Examples
--------
>>> line = dict.fromkeys(REQUIRED_KEYS) | {"run_id": "0123456789abcdef", "model": "pop", "metrics": {"recall@20": 0.5}}
>>> rec = RunRecord.from_dict(line)
>>> rec.model, rec.metrics["recall@20"], rec.ties
('pop', 0.5, 'conservative')
>>> RunRecord.from_dict(line | {"run_id": "../x"})
Traceback (most recent call last):
...
sessrec.results.record.RecordError: run_id '../x' is not a run id (expected letters, digits, '-' or '_', at most 64)
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = ["REQUIRED_KEYS", "RecordError", "RunRecord", "check_name"]

#: Keys every run record carries.
REQUIRED_KEYS = (
    "run_id",
    "model",
    "params",
    "dataset",
    "protocol",
    "fingerprint",
    "seed",
    "stats",
    "metrics",
    "fit_seconds",
    "eval_seconds",
    "peak_rss_mb",
    "device",
    "versions",
)

_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_OBJECTS = ("params", "protocol", "stats", "versions", "dataset_options", "hardware", "data_source", "spec")
_TEXTS = ("model", "dataset", "device", "ties", "peak_rss_method", "git_commit", "started_at", "finished_at")
_NUMBERS = ("fit_seconds", "eval_seconds", "peak_rss_mb", "peak_gpu_mb", "n_cases")


class RecordError(ValueError):
    """A run record that cannot be used: a missing key, a bad identifier or a wrongly typed field."""


def check_name(value: Any, what: str) -> str:
    """``value`` if it is a plain name that can become a file name, else :class:`RecordError`.

    Examples
    --------
    >>> check_name("a1b2", "run_id")
    'a1b2'
    """
    if not isinstance(value, str) or _NAME_RE.match(value) is None:
        raise RecordError(
            f"{what} {str(value)[:80]!r} is not a {what.replace('_', ' ')} "
            "(expected letters, digits, '-' or '_', at most 64)"
        )
    return value


@dataclass(frozen=True)
class RunRecord:
    """One finished run (one line of ``results.jsonl``).

    Attributes
    ----------
    run_id : str
        Hash of the run's spec (16 hex digits); names ``ranks/<run_id>.npy``.
    model, dataset : str
        Registered model and dataset recipe names.
    params : dict
        The model's hyperparameters as fitted (``get_params()``).
    protocol : dict or None
        ``{"name": ..., "params": {...}}`` of the evaluation protocol.
    fingerprint : str or None
        Hash of the prepared data; names ``cases/<fingerprint>.npz``.
    seed : int or any JSON scalar
    stats : dict or None
        Dataset statistics (clicks, items, sessions and cases per split, …).
    metrics : dict
        ``"<metric>@K"`` -> value (fractions) as the run computed them.
    fit_seconds, eval_seconds, peak_rss_mb : float or None
    device : str or None
    versions : dict or None
        Python, torch, numpy, sessrec and plugin versions.
    dataset_options, cutoffs, ties, n_cases, used_fast_path, peak_rss_method, peak_gpu_mb,
    hardware, git_commit, started_at, finished_at, history, synthetic, data_source, spec :
        Optional details (absent in old records: then their defaults).
    extra : dict
        Keys this version does not know, kept verbatim.
    """

    run_id: str
    model: str
    params: dict[str, Any] | None
    dataset: str | None
    protocol: dict[str, Any] | None
    fingerprint: str | None
    seed: Any
    stats: dict[str, Any] | None
    metrics: dict[str, Any]
    fit_seconds: float | None
    eval_seconds: float | None
    peak_rss_mb: float | None
    device: str | None
    versions: dict[str, Any] | None
    dataset_options: dict[str, Any] | None = None
    cutoffs: list[int] | None = None
    ties: str = "conservative"
    n_cases: int | None = None
    used_fast_path: bool | None = None
    peak_rss_method: str | None = None
    peak_gpu_mb: float | None = None
    hardware: dict[str, Any] | None = None
    git_commit: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    history: list[dict[str, Any]] | None = None
    synthetic: bool = False
    data_source: dict[str, Any] | None = None
    spec: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ JSON
    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunRecord:
        """Validate a decoded JSON object and build the record.

        Raises
        ------
        RecordError
            On a missing required key (``"record lacks …"``), a ``run_id`` or ``fingerprint``
            that is not a plain name, or a field of the wrong JSON type.
        """
        if not isinstance(data, Mapping):
            raise RecordError(f"expected a JSON object, found {type(data).__name__}")
        missing = [k for k in REQUIRED_KEYS if k not in data]
        if missing:
            raise RecordError(f"record lacks {', '.join(missing)}")
        known = {f.name for f in fields(cls)} - {"extra"}
        values = {k: v for k, v in data.items() if k in known}
        extra = {k: v for k, v in data.items() if k not in known}
        _check_types(values)
        if values.get("ties") is None:
            values.pop("ties", None)
        values["synthetic"] = bool(values.get("synthetic") or False)
        return cls(**values, extra=extra)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this record (every field, then the unknown keys)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        out.update(self.extra)
        return out

    # ------------------------------------------------------------------ read access by JSON key
    def __getitem__(self, key: str) -> Any:
        """``record["model"]``: read access by JSON key, for code written against dict records."""
        if key in self.extra:
            return self.extra[key]
        if key == "extra" or key not in self._field_names():
            raise KeyError(key)
        return getattr(self, key)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and (key in self.extra or (key != "extra" and key in self._field_names()))

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_dict())

    def get(self, key: str, default: Any = None) -> Any:
        """``record.get("model")``: like :meth:`dict.get` on the JSON object."""
        return self[key] if key in self else default

    @classmethod
    def _field_names(cls) -> frozenset[str]:
        return frozenset(f.name for f in fields(cls))


def _check_types(values: dict[str, Any]) -> None:
    check_name(values["run_id"], "run_id")
    if values.get("fingerprint") is not None:
        check_name(values["fingerprint"], "fingerprint")
    for key in _OBJECTS:
        _expect(values, key, dict, "a JSON object")
    for key in _TEXTS:
        _expect(values, key, str, "a string")
    for key in _NUMBERS:
        v = values.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise RecordError(f"{key} must be a number, found {type(v).__name__}")
    if not isinstance(values["model"], str):
        raise RecordError(f"model must be a string, found {type(values['model']).__name__}")
    _check_metrics(values["metrics"])
    _check_lists(values)
    protocol = values.get("protocol") or {}
    if not isinstance(protocol.get("params") or {}, dict) or not isinstance(protocol.get("name") or "", str):
        raise RecordError("protocol must be {\"name\": <text>, \"params\": <object>}")


def _expect(values: dict[str, Any], key: str, kind: type, what: str) -> None:
    v = values.get(key)
    if v is not None and not isinstance(v, kind):
        raise RecordError(f"{key} must be {what}, found {type(v).__name__}")


def _check_metrics(metrics: Any) -> None:
    if not isinstance(metrics, dict):
        raise RecordError(f"metrics must be a JSON object, found {type(metrics).__name__}")
    for name, v in metrics.items():
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise RecordError(f"metric {str(name)[:40]!r} must be a number, found {type(v).__name__}")


def _check_lists(values: dict[str, Any]) -> None:
    history = values.get("history")
    if history is not None and not (isinstance(history, list) and all(isinstance(e, dict) for e in history)):
        raise RecordError("history must be a list of JSON objects (one per epoch)")
    cutoffs = values.get("cutoffs")
    if cutoffs is not None and not (
        isinstance(cutoffs, list) and all(isinstance(k, int) and not isinstance(k, bool) and k > 0 for k in cutoffs)
    ):
        raise RecordError("cutoffs must be a list of positive integers")
