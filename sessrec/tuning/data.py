"""The data a tuner may see: the training part and a validation split, never the test split.

::

    raw log ──► protocol ──► train ─────────────────────────────┬── test (last test_days)
                               │                                 │
                               └─► train part ──┬── valid        │  dropped here: TuningData
                                   (fit)        │  (last         │  has no field for it, so
                                                │  valid_days,   │  no model, objective or
                                                │  same rules)   │  trial can reach it

The validation split is carved from the training part by the protocol's own time rule
(``narm``: session dates; ``gru4rec``: session start times), with the same filters as the
test split, so it is built like the test split. Its default length equals the protocol's
test days.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sessrec.data.sessions import Sessions
from sessrec.errors import ConfigError, DataError

__all__ = ["TuningData", "default_valid_days", "prepare_tuning"]


@dataclass(frozen=True, eq=False)
class TuningData:
    """A validation problem: fit on ``train``, score on ``valid``. It holds no test split.

    Attributes
    ----------
    name : str
        Recipe name.
    train, valid : Sessions
        The training part and the validation split, over one item index of ``n_items``.
    fingerprint : str
        Fingerprint of the prepared split the two parts come from.
    protocol : dict
        ``{"name": ..., "params": {...}}``, ``valid_days`` included.
    stats : dict
        The protocol statistics, without any ``test_*`` entry.
    raw_files : list of dict
        ``{"path", "sha256"}`` of the raw files read.
    """

    name: str
    train: Sessions
    valid: Sessions
    fingerprint: str
    protocol: dict[str, Any]
    stats: dict[str, Any]
    raw_files: list[dict[str, str]] = field(default_factory=list)

    @property
    def n_items(self) -> int:
        return self.train.n_items


def default_valid_days(dataset: str, protocol: str | None, test_days: float | None) -> float:
    """The protocol's test days: a validation split as long as the test split."""
    if test_days is not None:
        return float(test_days)
    from sessrec.data.dataset import get_recipe

    cls = get_recipe(dataset)
    pname = protocol or cls.default_protocol
    return float(cls.default_test_days.get(pname, 7))


def prepare_tuning(
    dataset: str,
    *,
    data_root: str | Path | None = None,
    protocol: str | None = None,
    test_days: float | None = None,
    valid_days: float | None = None,
    **options: Any,
) -> TuningData:
    """Prepare ``dataset`` and keep only its training part and validation split.

    ``valid_days`` defaults to the test days (see :func:`default_valid_days`). The prepared
    split (test included) is built or read from the cache inside this function and is
    released before it returns; only the two tuning parts leave it.

    Examples
    --------
    >>> data = prepare_tuning("synthetic", n_sessions=400, n_items=50, cache=False)
    >>> hasattr(data, "test"), data.valid.n_cases > 0
    (False, True)
    """
    from sessrec.data import prepare

    vdays = default_valid_days(dataset, protocol, test_days) if valid_days is None else float(valid_days)
    if not vdays > 0:
        raise ConfigError(f"valid_days must be a positive number of days, got {valid_days!r}")
    ds = prepare(dataset, data_root=data_root, protocol=protocol, test_days=test_days, valid_days=vdays, **options)
    if ds.valid is None or ds.valid.n_cases == 0:
        raise DataError(
            f"the last {vdays:g} day(s) of {dataset!r}'s training part leave no validation case; "
            "choose another --valid-days"
        )
    stats = {k: v for k, v in ds.stats.items() if not k.startswith("test")}
    return TuningData(ds.name, ds.train, ds.valid, ds.fingerprint, ds.protocol, stats, list(ds.raw_files))
