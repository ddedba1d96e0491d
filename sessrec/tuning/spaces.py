"""Search spaces: data shipped with each model, read from TOML.

A space file lists one table per tuned hyperparameter, an optional ``[fixed]`` table of
values every trial uses, and where the space comes from::

    source = "hidasib/GRU4Rec_PyTorch_Official paramspaces/gru4rec_bprmax_standard_parspace.json"

    [fixed]
    loss = "bpr-max"

    [learning_rate]
    type = "float"        # "int" | "float" | "categorical"
    low = 0.01
    high = 0.25
    step = 0.005          # optional (int default 1); or log = true
    [layers]
    type = "int"
    low = 64
    high = 512
    step = 32
    as_tuple = true       # the model takes a tuple: 224 -> (224,)
    [elu_param]
    type = "categorical"
    choices = [0.5, 1.0, 0.0]

A model without hyperparameters ships a file with only its ``source``: tuning it is one
trial, which records its validation value beside the others'.

A model's space is found through the registry: the model class's package ships
``spaces/<registered name>.toml`` (or the class names another file in ``search_space``,
relative to its package). A user passes their own file with ``--space``.

Examples
--------
>>> space = SearchSpace.from_dict({"source": "example", "k": {"type": "int", "low": 1, "high": 9}})
>>> space.names
('k',)
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.resources
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sessrec.errors import ConfigError

try:  # Python 3.11+
    import tomllib
except ImportError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

__all__ = ["Dimension", "SearchSpace", "find_space_file", "load_space"]

_TYPES = ("int", "float", "categorical")
_KEYS = {"type", "low", "high", "step", "log", "choices", "as_tuple", "scale"}
_META = {"source", "description", "notes"}
#: Data-dependent units a dimension may be given in (``scale = "mean_session_length"``: the
#: drawn value times the mean length of the training sessions, as session-rec states STAN's λ grid).
SCALES = ("mean_session_length",)


@dataclass(frozen=True)
class Dimension:
    """One tuned hyperparameter: a range of ints or floats, or a list of choices."""

    name: str
    type: str
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()
    as_tuple: bool = False
    scale: str | None = None

    def suggest(self, trial: Any, scales: dict[str, float] | None = None) -> Any:
        """The value ``trial`` (an ``optuna.Trial``) draws for this dimension, in the model's units."""
        if self.type == "categorical":
            value = trial.suggest_categorical(self.name, list(self.choices))
        elif self.type == "int":
            step = 1 if self.step is None else int(self.step)
            value = trial.suggest_int(self.name, int(self.low), int(self.high), step=step, log=self.log)  # type: ignore[arg-type]
        else:
            value = trial.suggest_float(self.name, float(self.low), float(self.high), step=self.step, log=self.log)  # type: ignore[arg-type]
        if self.scale is not None:
            if not scales or self.scale not in scales:
                raise ConfigError(
                    f"search space dimension {self.name!r} is in units of {self.scale}, which is unknown here"
                )
            value = float(value) * scales[self.scale]
        return (value,) if self.as_tuple else value

    def corners(self) -> list[Any]:
        """Extreme values (or every choice), used to check a space against a constructor."""
        values = list(self.choices) if self.type == "categorical" else [self.low, self.high]
        if self.type == "int":
            values = [int(v) for v in values]
        elif self.type == "float":
            values = [float(v) for v in values]
        return [(v,) if self.as_tuple else v for v in values]


def _dimension(name: str, spec: Any, where: str) -> Dimension:
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where}: [{name}] must be a table with type/low/high or choices, found {spec!r}")
    unknown = sorted(set(spec) - _KEYS)
    if unknown:
        raise ConfigError(
            f"{where}: [{name}] has unknown key(s) {', '.join(unknown)}; valid: {', '.join(sorted(_KEYS))}"
        )
    kind = spec.get("type")
    scale = spec.get("scale")
    if scale is not None and scale not in SCALES:
        raise ConfigError(f"{where}: [{name}] scale must be one of {', '.join(SCALES)}, found {scale!r}")
    if kind not in _TYPES:
        raise ConfigError(f"{where}: [{name}] type must be one of {', '.join(_TYPES)}, found {kind!r}")
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"{where}: [{name}] is categorical and needs a non-empty list 'choices'")
        return Dimension(name, kind, choices=tuple(choices), as_tuple=bool(spec.get("as_tuple", False)), scale=scale)
    return _range_dimension(name, kind, spec, where)


def _range_dimension(name: str, kind: str, spec: Mapping[str, Any], where: str) -> Dimension:
    low, high = spec.get("low"), spec.get("high")
    numbers = (int, float) if kind == "float" else (int,)
    if not all(isinstance(v, numbers) and not isinstance(v, bool) for v in (low, high)):
        raise ConfigError(f"{where}: [{name}] needs numeric low and high of type {kind}, found {low!r}, {high!r}")
    if not (math.isfinite(low) and math.isfinite(high)) or low > high:
        raise ConfigError(f"{where}: [{name}] needs finite low <= high, found {low!r}, {high!r}")
    log, step = bool(spec.get("log", False)), spec.get("step")
    if log and (low <= 0 or step is not None):
        raise ConfigError(f"{where}: [{name}] log=true needs low > 0 and no step")
    if step is not None and (not isinstance(step, numbers) or step <= 0):
        raise ConfigError(f"{where}: [{name}] step must be a positive {kind}, found {step!r}")
    as_tuple = bool(spec.get("as_tuple", False))
    return Dimension(name, kind, low=low, high=high, step=step, log=log, as_tuple=as_tuple, scale=spec.get("scale"))


@dataclass(frozen=True)
class SearchSpace:
    """Tuned dimensions, fixed values and the source of a model's search space."""

    dimensions: tuple[Dimension, ...]
    fixed: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""
    path: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.dimensions)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "search space") -> SearchSpace:
        data = dict(data)
        fixed = data.pop("fixed", {})
        if not isinstance(fixed, Mapping):
            raise ConfigError(f"{where}: [fixed] must be a table of parameter values")
        meta = {k: data.pop(k) for k in list(data) if k in _META}
        if not all(isinstance(v, str) for v in meta.values()):
            raise ConfigError(f"{where}: 'source', 'description' and 'notes' must be strings")
        dims = tuple(_dimension(name, spec, where) for name, spec in data.items())
        both = sorted(set(fixed) & {d.name for d in dims})
        if both:
            raise ConfigError(f"{where}: {', '.join(both)} both tuned and fixed")
        return cls(dims, dict(fixed), str(meta.get("source", "")), None)

    @classmethod
    def from_toml(cls, path: str | Path) -> SearchSpace:
        path = Path(path)
        try:
            data = tomllib.loads(path.read_bytes().decode("utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"search space file {str(path)!r} does not exist") from None
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"search space file {str(path)!r} is not valid UTF-8 TOML: {exc}") from None
        space = cls.from_dict(data, where=str(path))
        return SearchSpace(space.dimensions, space.fixed, space.source, str(path))

    def suggest(self, trial: Any, scales: dict[str, float] | None = None) -> dict[str, Any]:
        """Fixed values plus one draw of every dimension (``scales``: see :data:`SCALES`)."""
        params = dict(self.fixed)
        for dim in self.dimensions:
            params[dim.name] = dim.suggest(trial, scales)
        return params

    def digest(self) -> str:
        """sha256 (16 hex) of the space's content: tuned files say which space they searched."""
        blob = json.dumps(
            {"dims": [d.__dict__ for d in self.dimensions], "fixed": dict(self.fixed)}, sort_keys=True, default=str
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def check(self, model_cls: type, model_name: str) -> None:
        """Raise :class:`ConfigError` unless every fixed value and range end is a valid parameter."""
        from sessrec.models.params import validate_params

        validate_params(model_cls, dict(self.fixed), model_name=model_name)
        for dim in self.dimensions:
            for value in dim.corners():
                validate_params(model_cls, {dim.name: value}, model_name=model_name)


def find_space_file(model_name: str) -> Path | None:
    """The space file a model ships, found from its registered class (``None`` if none)."""
    from sessrec.registry import load_model

    cls = load_model(model_name)
    package = cls.__module__.rsplit(".", 1)[0] if "." in cls.__module__ else cls.__module__
    given = getattr(cls, "search_space", None)
    relative = given if isinstance(given, str) else f"spaces/{model_name}.toml"
    try:
        root = importlib.resources.files(importlib.import_module(package).__name__)
    except (ModuleNotFoundError, TypeError):
        return None
    candidate = root.joinpath(str(relative))
    return Path(str(candidate)) if candidate.is_file() else None


def load_space(model_name: str, path: str | Path | None = None) -> SearchSpace:
    """The search space of ``model_name``: ``path`` if given, else the one its plugin ships."""
    if path is None:
        path = find_space_file(model_name)
        if path is None:
            raise ConfigError(
                f"model {model_name!r} ships no search space (spaces/{model_name}.toml in its package); "
                "give one with --space FILE"
            )
    return SearchSpace.from_toml(path)
