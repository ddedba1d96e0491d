"""``tune``: every model of a study tuned with the same budget on one validation split."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sessrec.errors import ConfigError
from sessrec.progress import emit
from sessrec.tuning.data import TuningData, prepare_tuning
from sessrec.tuning.paramsets import tuned_path, write_tuned
from sessrec.tuning.spaces import SearchSpace, load_space
from sessrec.tuning.tuner import TuneResult, TuneSettings, default_storage, study_name_for, tune_model

__all__ = ["data_key", "tune"]


def data_key(dataset: str, options: Mapping[str, Any], protocol: str | None, test_days: float | None) -> dict:
    """What a tuned set was tuned on, in the form a run's spec is compared with."""
    return json.loads(
        json.dumps(
            {"dataset": dataset, "options": dict(options), "protocol": protocol, "test_days": test_days},
            sort_keys=True,
            default=str,
        )
    )


def _spaces(models: Sequence[str], space_files: Mapping[str, str | Path] | None) -> dict[str, SearchSpace]:
    from sessrec.registry import load_model

    spaces = {}
    for name in models:
        space = load_space(name, (space_files or {}).get(name))
        space.check(load_model(name), name)
        spaces[name] = space
    return spaces


def _meta(result: TuneResult, data: TuningData, key: Mapping[str, Any], settings: TuneSettings) -> dict[str, Any]:
    storage = settings.storage or ""
    return {
        "model": result.model,
        "dataset": data.name,
        "objective": result.objective,
        "best_value": result.best_value,
        "best_trial": result.best_trial,
        "trials_complete": result.n_complete,
        "trials_pruned": result.n_pruned,
        "trials_failed": result.n_failed,
        "trials_budget": settings.n_trials,
        "timeout_seconds": settings.timeout,
        "seconds": round(result.seconds, 3),
        "seed": settings.seed,
        "pruner": settings.pruner,
        "space_digest": result.space_digest,
        "space_source": result.space_source,
        "study_name": result.study_name,
        "storage": storage.split("@")[-1] if "@" in storage else storage,  # never a password
        "valid_days": data.protocol["params"].get("valid_days"),
        "fingerprint": data.fingerprint,
        "valid_cases": data.valid.n_cases,
        "data_key": json.dumps(key, sort_keys=True),
        "history_trial": [h["number"] for h in result.history if h["state"] == "COMPLETE"],
        "history_value": [float(h["value"]) for h in result.history if h["state"] == "COMPLETE"],
        "tuple_params": sorted(k for k, v in result.best_params.items() if isinstance(v, tuple)),
    }


def tune(
    models: Sequence[str],
    dataset: str,
    out_dir: str | Path,
    *,
    settings: TuneSettings | None = None,
    dataset_options: Mapping[str, Any] | None = None,
    protocol: str | None = None,
    test_days: float | None = None,
    valid_days: float | None = None,
    data_root: str | Path | None = None,
    space_files: Mapping[str, str | Path] | None = None,
    base_params: Mapping[str, Mapping[str, Any]] | None = None,
    executor: Any = None,
) -> dict[str, TuneResult]:
    """Tune every model on ``dataset``'s validation split; write ``tuned/<dataset>/<model>.toml``.

    Every model gets the same budget (``settings.n_trials`` finished trials, or
    ``settings.timeout`` seconds). The test split is never read: the models see a
    :class:`~sessrec.tuning.data.TuningData`, which has none.
    """
    settings = settings or TuneSettings()
    if not models:
        raise ConfigError("no model to tune; name them with --models")
    spaces = _spaces(models, space_files)  # every space checked before any data is read
    options = dict(dataset_options or {})
    if settings.storage is None:
        settings = TuneSettings(**{**settings.__dict__, "storage": default_storage(out_dir)})
    data = prepare_tuning(
        dataset, data_root=data_root, protocol=protocol, test_days=test_days, valid_days=valid_days, **options
    )
    key = data_key(dataset, options, protocol, test_days)
    results = {}
    for name in models:
        emit("tune", model=name, state="started", trials=settings.n_trials)
        result = tune_model(
            name,
            data,
            spaces[name],
            settings,
            study_name=study_name_for(data, name, settings.objective),
            base_params=(base_params or {}).get(name),
            executor=executor,
        )
        results[name] = result
        if result.best_value is not None:
            write_tuned(tuned_path(out_dir, dataset, name), _meta(result, data, key, settings), result.best_params)
        emit("tune", model=name, state="finished", best=result.best_value, complete=result.n_complete)
    return results
