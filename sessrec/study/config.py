"""The :class:`StudyConfig` object (see :mod:`sessrec.study`)."""

from __future__ import annotations

import dataclasses
import difflib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sessrec.errors import ConfigError
from sessrec.evaluation.ranks import TIES
from sessrec.study.values import (
    SECTIONS,
    STUDY_KEYS,
    _choice,
    _cutoffs,
    _days,
    _device,
    _seeds,
    _text,
    _typed,
    _wrap,
    coerce_dataset_options,
    named_params,
)


# ---------------------------------------------------------------------- the configuration
@dataclass(frozen=True)
class StudyConfig:
    """One study: models × seeds on one dataset setting. See the module docstring.

    Parameters
    ----------
    models : tuple of str
        Model names (``sessrec models``); empty means every installed model only when
        ``validate(default_models=True)`` is asked for (the CLI without ``--models``).
    params : mapping of model name to mapping
        Hyperparameters per model (typed values: the CLI/TOML layer parses strings).
    param_sets : mapping of model name to str
        A named parameter set per model; ``params`` override its values.
    source : str, optional
        Where the configuration came from (a file), for error messages only.
    """

    models: tuple[str, ...] = ()
    dataset: str = "synthetic"
    seeds: tuple[int, ...] = (0,)
    cutoffs: tuple[int, ...] = (5, 10, 20)
    ties: str = "conservative"
    device: str = "auto"
    protocol: str | None = None
    test_days: float | None = None
    valid_days: float | None = None
    out: str | None = None
    data_dir: str | None = None
    dataset_options: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    param_sets: Mapping[str, str] = field(default_factory=dict)
    tune: Mapping[str, Any] = field(default_factory=dict)
    source: str | None = field(default=None, compare=False)

    # ------------------------------------------------------------------ reading
    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> StudyConfig:
        """Read a study file with one entry (``[study]``); see :func:`read_study` for several."""
        from sessrec.study.files import read_study  # files builds StudyConfigs: imported here

        configs = read_study(path)
        if len(configs) != 1:
            raise ConfigError(f"{path} holds {len(configs)} study entries; read them with sessrec.study.read_study")
        return configs[0]

    @classmethod
    def from_text(cls, text: str, *, source: str = "<text>") -> StudyConfig:
        """Parse TOML text with one ``[study]`` entry."""
        from sessrec.study.files import parse_study

        configs = parse_study(text, source)
        if len(configs) != 1:
            raise ConfigError(f"{source} holds {len(configs)} study entries; read them with sessrec.study.read_study")
        return configs[0]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "<dict>") -> StudyConfig:
        """Build from the tables of one study entry: ``study`` keys plus the other sections.

        Unknown sections or keys and values of the wrong type raise :class:`ConfigError`.
        """
        _check_sections(data, source, SECTIONS, "section")
        study = data.get("study", {})
        if not isinstance(study, Mapping):
            raise ConfigError(f"{source}: study must be a table ([study] with keys such as models), got {study!r}")
        _check_sections(study, source, tuple(STUDY_KEYS), "key", table="[study]")
        where = f"{source}: [study] "
        kwargs: dict[str, Any] = {"source": source}
        for key, value in study.items():
            kwargs[key] = _typed(where, key, value)
        kwargs["dataset_options"] = dict(_table(source, data, "dataset_options"))
        params = _table(source, data, "params")
        for model, table in params.items():
            if not isinstance(table, Mapping):
                raise ConfigError(f"{source}: [params.{model}] must be a table of parameters, got {table!r}")
        kwargs["params"] = {m: dict(t) for m, t in params.items()}
        sets = _table(source, data, "param_sets")
        for model, name in sets.items():
            _text(f"{source}: [param_sets] ", model, name)
        kwargs["param_sets"] = dict(sets)
        kwargs["tune"] = _tune_table(source, _table(source, data, "tune"))
        return cls(**kwargs)

    # ------------------------------------------------------------------ overriding
    def with_overrides(self, **changes: Any) -> StudyConfig:
        """A copy with the given settings replaced; ``None`` values mean "not given".

        ``dataset_options`` and ``param_sets`` are merged over the current ones and
        ``params`` per model (``{"iknn": {"n_neighbors": 10}}`` keeps iknn's other values).
        """
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise ConfigError(f"no study setting {', '.join(unknown)}; valid: {', '.join(STUDY_KEYS)}")
        given = {k: v for k, v in changes.items() if v is not None}
        if "dataset_options" in given:
            given["dataset_options"] = {**self.dataset_options, **given["dataset_options"]}
        if "param_sets" in given:
            given["param_sets"] = {**self.param_sets, **given["param_sets"]}
        if "params" in given:
            merged = {m: dict(p) for m, p in self.params.items()}
            for model, values in given["params"].items():
                merged.setdefault(model, {}).update(values)
            given["params"] = merged
        for key in ("models", "seeds", "cutoffs"):
            if key in given:
                given[key] = tuple(given[key])
        return dataclasses.replace(self, **given)

    # ------------------------------------------------------------------ checking
    def validate(self, *, default_models: bool = False) -> StudyConfig:
        """Check every setting without reading data; return the config with typed values.

        Model parameters are checked against each model's constraints
        (:func:`sessrec.registry.validated_params`), dataset options against the recipe's and
        protocol's signatures. ``default_models`` lets an empty ``models`` mean every
        installed model.
        """
        from sessrec.registry import model_names

        where = f"{self.source}: " if self.source else ""
        models = self.models
        if not models and default_models:
            models = tuple(model_names())
        if not models:
            raise ConfigError(f"{where}no models given; name at least one of: {', '.join(model_names())}")
        checked = dataclasses.replace(
            self,
            models=models,
            seeds=_seeds(where, self.seeds),
            cutoffs=_cutoffs(where, self.cutoffs),
            ties=_choice(where, "ties", self.ties, TIES),
            device=_device(where, self.device),
            test_days=_days(where, "test_days", self.test_days),
            valid_days=_days(where, "valid_days", self.valid_days),
            dataset_options=_wrap(where, coerce_dataset_options, self.dataset, self.protocol, self.dataset_options),
        )
        params = {m: checked.model_params(m) for m in models}
        return dataclasses.replace(checked, params={m: p for m, p in params.items() if p or m in self.params})

    def model_params(self, model: str) -> dict[str, Any]:
        """The checked parameters of ``model``: its named set, then ``params`` over it."""
        from sessrec.registry import validated_params

        where = f"{self.source}: " if self.source else ""
        merged: dict[str, Any] = {}
        if self.param_sets.get(model) == "tuned":
            merged.update(_wrap(where, self.tuned_params, model))
        elif model in self.param_sets:
            merged.update(_wrap(where, named_params, model, self.param_sets[model]))
        merged.update(self.params.get(model, {}))
        return _wrap(where, validated_params, model, merged)

    def tuned_params(self, model: str) -> dict[str, Any]:
        """The parameters ``sessrec tune`` found for ``model`` on this study's data (``-p MODEL=tuned``).

        Read from ``<out>/tuned/<dataset>/<model>.toml``; a set tuned on other data (recipe
        options, protocol or test days) is an error, never silently reused.
        """
        from sessrec.tuning.paramsets import check_tuned_data, load_tuned

        tuned = load_tuned(self.out_dir, self.dataset, model)
        key = {
            "dataset": self.dataset,
            "options": dict(self.dataset_options),
            "protocol": self.protocol,
            "test_days": self.test_days,
        }
        check_tuned_data(tuned, key)
        return dict(tuned["params"])

    # ------------------------------------------------------------------ expanding and running
    def specs(self) -> list[Any]:
        """The :class:`~sessrec.runner.RunSpec` of every model × seed (× window slice; validates first).

        Deterministic models run with the first seed only (see :meth:`seeds_of`).
        """
        from sessrec.runner import RunSpec

        cfg = self.validate()
        seeds = {model: cfg.seeds_of(model) for model in cfg.models}
        return [
            RunSpec(
                model=model,
                dataset=cfg.dataset,
                params=dict(cfg.params.get(model, {})),
                dataset_options=options,
                protocol=cfg.protocol,
                test_days=cfg.test_days,
                valid_days=cfg.valid_days,
                seed=seed,
                cutoffs=tuple(cfg.cutoffs),
                ties=cfg.ties,
                device=cfg.device,
                param_set=cfg.param_sets.get(model),
            )
            for options in cfg.data_variants()
            for model in cfg.models
            for seed in seeds[model]
        ]

    def seeds_of(self, model: str) -> tuple[int, ...]:
        """The seeds ``model`` runs with: only the first when it is deterministic.

        A model whose ``tags["deterministic"]`` is true for its parameters (pop, spop,
        markov, iknn, the session-kNN family unless it samples neighbours at random)
        computes the same scores whatever the seed, so running it once per seed would only
        repeat one result and show a spread of ``± 0.00``.
        """
        from sessrec.registry import make_model

        try:
            tags = getattr(make_model(model, **dict(self.params.get(model, {}))), "tags", {})
        except Exception:
            return tuple(self.seeds)
        return tuple(self.seeds[:1]) if isinstance(tags, dict) and tags.get("deterministic") is True else tuple(
            self.seeds
        )

    def data_variants(self) -> list[dict[str, Any]]:
        """The dataset options of each prepared split: one per slice under ``window`` unless a slice is named."""
        if self.protocol != "window" or "slice" in self.dataset_options:
            return [dict(self.dataset_options)]
        from sessrec.data.protocols import protocol_params, window_slices

        window_keys = set(protocol_params("window"))
        given = {k: v for k, v in self.dataset_options.items() if k in window_keys}
        rest = {k: v for k, v in self.dataset_options.items() if k not in window_keys}
        return [{**rest, **s} for s in window_slices(given, recipe=self.dataset)]

    @property
    def out_dir(self) -> Path:
        """The study folder: ``out``, else ``reports/<dataset>``."""
        return Path(self.out) if self.out else Path("reports") / self.dataset

    def run(self, *, force: bool = False, record: bool = True, prepare: Callable[..., Any] | None = None) -> Any:
        """Run the study (runs already in its folder are skipped); see :func:`run_configs`."""
        from sessrec.study.running import run_configs

        return run_configs([self], force=force, record=record, prepare=prepare)

    def tune_settings(self, **overrides: Any) -> Any:
        """The :class:`~sessrec.tuning.TuneSettings` of the ``[tune]`` table, ``overrides`` (not None) applied."""
        from sessrec.tuning import TuneSettings

        given = {**dict(self.tune), **{k: v for k, v in overrides.items() if v is not None}}
        names = {"trials": "n_trials", "timeout_per_model": "timeout", "parallel": "n_parallel"}
        kwargs = {names.get(k, k): v for k, v in given.items() if k != "valid_days"}
        return TuneSettings(device=self.device, **kwargs)

    def run_tuning(self, *, executor: Any = None, **overrides: Any) -> Any:
        """Tune this study's models on its dataset (``sessrec tune --config``); see :func:`sessrec.tuning.tune`."""
        from sessrec.tuning import tune

        cfg = self.validate()
        valid_days = overrides.pop("valid_days", None) or cfg.tune.get("valid_days")
        return tune(
            cfg.models,
            cfg.dataset,
            cfg.out_dir,
            settings=cfg.tune_settings(**overrides),
            dataset_options=cfg.dataset_options,
            protocol=cfg.protocol,
            test_days=cfg.test_days,
            valid_days=valid_days,
            data_root=cfg.data_dir,
            base_params=cfg.params,
            executor=executor,
        )

    # ------------------------------------------------------------------ writing
    def to_dict(self) -> dict[str, Any]:
        """The tables of this entry, as :meth:`from_dict` reads them (unset keys left out)."""
        study: dict[str, Any] = {"models": list(self.models), "dataset": self.dataset, "seeds": list(self.seeds)}
        study.update(cutoffs=list(self.cutoffs), ties=self.ties, device=self.device)
        for key in ("protocol", "test_days", "valid_days", "out", "data_dir"):
            if getattr(self, key) is not None:
                study[key] = getattr(self, key)
        out: dict[str, Any] = {"study": study}
        if self.dataset_options:
            out["dataset_options"] = dict(self.dataset_options)
        if self.tune:
            out["tune"] = dict(self.tune)
        if any(self.params.values()):
            out["params"] = {m: dict(p) for m, p in self.params.items() if p}
        if self.param_sets:
            out["param_sets"] = dict(self.param_sets)
        return out

    def to_toml(self) -> str:
        """This entry as ``experiment.toml`` text (``[study]`` plus its sections)."""
        from sessrec.study.files import write_study

        return write_study(None, [self])


_SECTION_SHOWN = {"params": "[params.<model>]"}


def _check_sections(data: Mapping[str, Any], source: str, valid: Sequence[str], what: str, table: str = "") -> None:
    """Raise naming the first unknown section or key, a close match and the valid ones."""
    for key in data:
        if key in valid:
            continue
        close = difflib.get_close_matches(key, list(valid), n=1, cutoff=0.6)
        if what == "section":
            name = f"[{key}]"
            hint = f" (did you mean [{close[0]}]?)" if close else ""
            shown = ", ".join(_SECTION_SHOWN.get(v, f"[{v}]") for v in valid)
        else:
            name = repr(key)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            shown = ", ".join(sorted(valid))
        inside = f" in {table}" if table else ""
        raise ConfigError(f"{source}: unknown {what} {name}{inside}{hint}; valid {what}s: {shown}")


def _table(source: str, data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"{source}: {name} must be a table ([{name}] section), got {value!r}")
    return value


def _tune_table(source: str, table: Mapping[str, Any]) -> dict[str, Any]:
    """The ``[tune]`` table checked: known keys (close-match hint otherwise), right types, positive budgets."""
    from sessrec.study.values import TUNE_KEYS

    _check_sections(table, source, tuple(TUNE_KEYS), "key", table="[tune]")
    for key, value in table.items():
        kinds = TUNE_KEYS[key]
        if isinstance(value, bool) or not isinstance(value, kinds):
            want = " or ".join("an integer" if k is int else "a number" if k is float else "a string" for k in kinds)
            raise ConfigError(f"{source}: [tune] {key} must be {want}, got {value!r}")
        if key in ("trials", "parallel", "timeout_per_model", "valid_days") and not value > 0:
            raise ConfigError(f"{source}: [tune] {key} must be positive, got {value!r}")
    return dict(table)
