"""Published numbers, kept as data with their sources, and the honest test of when they apply.

The numbers live in ``published.toml`` beside this module (NARM paper Table 3, SR-GNN
Table 2 on DIGINETICA, the official GRU4Rec README). A *setting* there names the conditions
under which a source's numbers describe the same experiment as a study's data:

* the recipe (``dataset``) and the protocol name;
* protocol parameters and dataset options (``test_days``, ``keep_file_order``), where a
  parameter the run record does not state takes the recipe's documented default
  (``missing_means``);
* the raw file the study read (``data_source.path`` of the run record) has the name of the
  official full file — a user-given subset (``train-item-views_combined.csv``) does not match;
* the data is not synthetic;
* where the paper publishes dataset statistics (NARM Table 1: train and test *cases*), the
  study's statistics equal them exactly. This is the strongest check: a different file,
  filter or split changes the counts.

Only when every condition holds are the numbers shown beside ours (marked "published");
otherwise the report lists them apart, as "different data", with every failed condition.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = [
    "PUBLISHED_PATH",
    "PublishedMatch",
    "PublishedResult",
    "PublishedSetting",
    "PublishedSource",
    "PublishedTable",
    "load_published",
    "match_published",
]

#: The data file shipped with sessrec.
PUBLISHED_PATH = Path(__file__).with_name("published.toml")

_UNITS = {"percent": 0.01, "fraction": 1.0}


@dataclass(frozen=True)
class PublishedSource:
    """Where numbers come from: ``key``, a full ``citation``, a ``url`` and a ``note``."""

    key: str
    citation: str
    url: str
    unit: str
    note: str = ""


@dataclass(frozen=True)
class PublishedSetting:
    """Conditions under which a source's numbers on ``dataset`` apply (see the module doc)."""

    source: str
    dataset: str
    protocol: str
    params: dict[str, Any] = field(default_factory=dict)
    missing_means: dict[str, Any] = field(default_factory=dict)
    raw_files: tuple[str, ...] = ()
    stats: dict[str, int] = field(default_factory=dict)
    caveat: str = ""


@dataclass(frozen=True)
class PublishedResult:
    """One published method on one dataset; ``metrics`` as fractions (``0.6258`` for 62.58 %)."""

    source: str
    dataset: str
    method: str
    model: str | None
    metrics: dict[str, float]


@dataclass(frozen=True)
class PublishedTable:
    """Everything in ``published.toml``."""

    sources: dict[str, PublishedSource]
    settings: tuple[PublishedSetting, ...]
    results: tuple[PublishedResult, ...]


@dataclass(frozen=True)
class PublishedMatch:
    """A source's numbers on a study's dataset, and whether they describe the same experiment.

    Attributes
    ----------
    source, setting : the source and the setting checked
    results : the published rows for this dataset
    matched : True when every condition holds
    reasons : the conditions that failed (empty when matched)
    """

    source: PublishedSource
    setting: PublishedSetting
    results: tuple[PublishedResult, ...]
    matched: bool
    reasons: tuple[str, ...]


def load_published(path: str | Path | None = None) -> PublishedTable:
    """Read a published-results file (default: the one shipped with sessrec).

    Raises
    ------
    ValueError
        When the file names a source it does not define or a unit other than percent/fraction.
    """
    p = Path(path) if path is not None else PUBLISHED_PATH
    with open(p, "rb") as fh:
        data = tomllib.load(fh)
    sources = {}
    for s in data.get("source", []):
        if s["unit"] not in _UNITS:
            raise ValueError(f"{p}: source {s['key']!r} has unit {s['unit']!r}; expected one of {sorted(_UNITS)}")
        sources[s["key"]] = PublishedSource(s["key"], s["citation"], s["url"], s["unit"], s.get("note", ""))
    settings = []
    for s in data.get("setting", []):
        if s["source"] not in sources:
            raise ValueError(f"{p}: a setting names source {s['source']!r}, which is not defined")
        settings.append(
            PublishedSetting(
                source=s["source"],
                dataset=s["dataset"],
                protocol=s["protocol"],
                params=dict(s.get("params", {})),
                missing_means=dict(s.get("missing_means", {})),
                raw_files=tuple(s.get("raw_files", ())),
                stats=dict(s.get("stats", {})),
                caveat=s.get("caveat", ""),
            )
        )
    results = []
    for r in data.get("result", []):
        if r["source"] not in sources:
            raise ValueError(f"{p}: result {r['method']!r} names source {r['source']!r}, which is not defined")
        scale = _UNITS[sources[r["source"]].unit]
        for dataset, values in r["values"].items():
            metrics = {k: float(v) * scale for k, v in values.items()}
            results.append(PublishedResult(r["source"], dataset, r["method"], r.get("model"), metrics))
    return PublishedTable(sources, tuple(settings), tuple(results))


def _stated(record: dict[str, Any], key: str) -> Any:
    params = (record.get("protocol") or {}).get("params") or {}
    if key in params and params[key] is not None:
        return params[key]
    options = record.get("dataset_options") or {}
    if key in options and options[key] is not None:
        return options[key]
    return None


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _check(record: dict[str, Any], setting: PublishedSetting) -> list[str]:  # noqa: C901 - one flat check per published-setting field, each adding its own reason
    reasons: list[str] = []
    protocol = (record.get("protocol") or {}).get("name")
    if protocol != setting.protocol:
        reasons.append(f"protocol {protocol!r} (source: {setting.protocol!r})")
    if record.get("synthetic"):
        reasons.append("the study's data is synthetic")
    for key, expected in setting.params.items():
        actual = _stated(record, key)
        if actual is None:
            if key not in setting.missing_means:
                reasons.append(f"{key} not recorded (source: {_fmt(expected)})")
                continue
            actual = setting.missing_means[key]
        if actual != expected:
            reasons.append(f"{key} = {_fmt(actual)} (source: {_fmt(expected)})")
    if setting.raw_files:
        source_path = (record.get("data_source") or {}).get("path") or (record.get("dataset_options") or {}).get("path")
        if not source_path:
            reasons.append(f"raw file not recorded (source: {' or '.join(setting.raw_files)})")
        else:
            name = PurePath(str(source_path)).name
            if name not in setting.raw_files:
                reasons.append(f"raw file {name} is not the full {' or '.join(setting.raw_files)}")
    stats = record.get("stats") or {}
    for key, expected in setting.stats.items():
        actual = stats.get(key)
        if actual != expected:
            shown = "not recorded" if actual is None else _fmt(actual)
            reasons.append(f"{key} = {shown} (paper: {_fmt(expected)})")
    return reasons


def match_published(record: dict[str, Any], table: PublishedTable | None = None) -> list[PublishedMatch]:
    """Every published setting for ``record``'s dataset, with whether it applies and why not.

    Parameters
    ----------
    record : dict
        A run record of the dataset (all runs of one prepared dataset share what is checked).
    table : PublishedTable, optional
        Default: :func:`load_published`.

    Returns
    -------
    list of PublishedMatch
        One per setting whose ``dataset`` is the record's recipe, matched ones first.
    """
    table = table if table is not None else load_published()
    out = []
    for setting in table.settings:
        if setting.dataset != record.get("dataset"):
            continue
        results = tuple(r for r in table.results if r.source == setting.source and r.dataset == setting.dataset)
        if not results:
            continue
        reasons = _check(record, setting)
        out.append(PublishedMatch(table.sources[setting.source], setting, results, not reasons, tuple(reasons)))
    out.sort(key=lambda m: not m.matched)
    return out
