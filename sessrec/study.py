"""The study configuration: what a study runs, as a library object shared by the CLI and notebooks.

A :class:`StudyConfig` says which models (with which parameters) run on which dataset,
protocol, seeds, cutoffs, tie rule and device, and where the study folder is. It is read
from TOML (:meth:`StudyConfig.from_toml`), takes command-line overrides
(:meth:`StudyConfig.with_overrides`), is checked completely before any data is read
(:meth:`StudyConfig.validate`), expands to :class:`~sessrec.runner.RunSpec` s
(:meth:`StudyConfig.specs`) and writes itself back (:meth:`StudyConfig.to_toml`).

The file format (``experiment.toml``)::

    [study]
    models = ["pop", "iknn"]          # names from `sessrec models`
    dataset = "diginetica"            # a recipe from `sessrec datasets`
    seeds = [0, 1, 2]
    cutoffs = [5, 10, 20]
    ties = "conservative"             # or "optimistic", "median"
    device = "auto"                   # cpu, cuda, cuda:N, mps
    protocol = "narm"                 # optional; the recipe's default otherwise
    test_days = 1                     # optional; the recipe's default otherwise
    valid_days = 1                    # optional
    out = "reports/diginetica"        # optional; reports/<dataset> otherwise
    data_dir = "datasets"             # optional; $SESSREC_DATA or ./datasets otherwise

    [dataset_options]                 # recipe options and protocol parameters
    path = "train-item-views.csv"

    [params.iknn]                     # a model's hyperparameters
    n_neighbors = 50

    [param_sets]                      # a model's named parameter set
    gru4rec = "diginetica-bprmax"

Unknown sections and keys, values of the wrong type, unknown models, unknown or invalid
model parameters and unknown dataset options are each one :class:`~sessrec.errors.ConfigError`
naming the file, the key and the valid choices (with a close match when there is one).

**The study folder's record.** ``sessrec run`` writes ``experiment.toml`` into the study
folder so that the folder says how to rerun it. A folder may be filled by several
invocations (``--models pop`` today, ``--models iknn`` tomorrow); the file then keeps one
entry per distinct invocation (a ``[[study]]`` array of tables, each with its own
``dataset_options``, ``params`` and ``param_sets`` sub-tables), so that it describes exactly
the runs of the study — no more (a union of models and seeds would add runs nobody asked
for) and no fewer. Invocations that can be folded into one entry without changing the set of
runs are folded (:func:`merge_configs`): new models over the same seeds and data settings,
new seeds for the same models, or a rerun of runs already described. Read such a file with
:func:`read_study`, which returns every entry.

Examples
--------
>>> cfg = StudyConfig(models=("pop", "spop"), seeds=(0, 1), dataset_options={"n_sessions": "300"})
>>> cfg = cfg.validate()
>>> cfg.dataset_options["n_sessions"]  # coerced by the recipe's signature
300
>>> [(s.model, s.seed) for s in cfg.specs()]
[('pop', 0), ('pop', 1), ('spop', 0), ('spop', 1)]
>>> StudyConfig.from_text(cfg.to_toml()) == cfg
True
>>> StudyConfig.from_text("[study]\\nseed = [0, 1]\\n", source="typo.toml")
Traceback (most recent call last):
...
sessrec.errors.ConfigError: typo.toml: unknown key 'seed' in [study] (did you mean 'seeds'?); valid keys: cutoffs, data_dir, dataset, device, models, out, protocol, seeds, test_days, ties, valid_days
"""  # noqa: E501

from __future__ import annotations

import dataclasses
import difflib
import inspect
import json
import math
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sessrec.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = [
    "SECTIONS",
    "STUDY_KEYS",
    "StudyConfig",
    "check_days",
    "check_writable_dir",
    "coerce_dataset_options",
    "merge_configs",
    "named_params",
    "parse_value",
    "read_study",
    "record_study",
    "run_configs",
    "specs_of",
    "write_study",
]

#: Keys of the ``[study]`` table and what each holds (used in error messages).
STUDY_KEYS: dict[str, str] = {
    "models": "a list of model names",
    "dataset": "a dataset name",
    "seeds": "a list of integers",
    "cutoffs": "a list of integers",
    "ties": "one of 'conservative', 'optimistic', 'median'",
    "device": "'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'",
    "protocol": "a protocol name",
    "test_days": "a number of days",
    "valid_days": "a number of days",
    "out": "a folder path",
    "data_dir": "a folder path",
}
#: Top-level sections of a study file. (Future sections, e.g. ``[tune]``, are added here.)
SECTIONS: tuple[str, ...] = ("study", "dataset_options", "params", "param_sets")

TIES = ("conservative", "optimistic", "median")
MAX_SEED = 2**32 - 1  # numpy's legacy and torch's generators all accept [0, 2**32)
MAX_CUTOFF = 2**31 - 1  # ranks are stored as 32-bit integers
MAX_DAYS = 36_500.0  # 100 years: more cannot be a time split of a click log
_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
_BOOL_WORDS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


# ---------------------------------------------------------------------- values
def parse_value(text: str) -> Any:
    """A command-line value: JSON/TOML-like literals become numbers, booleans, lists, ``None``.

    Anything else stays the text (the parameter's constraints then say whether it fits).

    Examples
    --------
    >>> [parse_value(t) for t in ("3", "0.5", "true", "none", "[1, 2]", "abc", '"7"')]
    [3, 0.5, True, None, [1, 2], 'abc', '7']
    """
    low = text.strip()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    try:
        return json.loads(low)
    except json.JSONDecodeError:
        return text


def _suggest(key: str, valid: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(valid), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _int_list(where: str, key: str, value: Any) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise ConfigError(f"{where}{key} must be a list of integers like [5, 10, 20], got {value!r}")
    return tuple(value)


def _str_list(where: str, key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",")]
    if isinstance(value, (list, tuple)) and not any(value):
        raise ConfigError(f"{where}{key} names no model; leave the key out to run every installed model")
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f'{where}{key} must be a list of names like ["pop", "iknn"], got {value!r}')
    return tuple(dict.fromkeys(v for v in value if v))


def _text(where: str, key: str, value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ConfigError(f"{where}{key} must be {STUDY_KEYS.get(key, 'a string')} (a string), got {value!r}")


def _days(where: str, key: str, value: Any) -> float | None:
    if value is None:
        return None
    if not _is_number(value) or not 0 < value <= MAX_DAYS or math.isnan(value):
        raise ConfigError(f"{where}{key} must be a positive number of days up to {MAX_DAYS:g}, got {value!r}")
    return value


def check_days(key: str, value: Any) -> float | None:
    """``value`` if it is a usable number of days (positive, finite, at most 100 years) or ``None``.

    Examples
    --------
    >>> check_days("test_days", 1)
    1
    >>> check_days("test_days", float("inf"))
    Traceback (most recent call last):
    ...
    sessrec.errors.ConfigError: test_days must be a positive number of days up to 36500, got inf
    """
    return _days("", key, value)


# ---------------------------------------------------------------------- dataset options
def _annotation_words(param: inspect.Parameter) -> set[str]:
    ann = param.annotation
    text = ann if isinstance(ann, str) else getattr(ann, "__name__", str(ann))
    return set(re.findall(r"[A-Za-z_]+", text))


def _option_kind(param: inspect.Parameter) -> type | None:
    """The scalar type an option takes, from its default (else its annotation); ``None``: any."""
    for kind in (bool, int, float, str):
        if isinstance(param.default, kind):
            return kind
    words = _annotation_words(param) - {"None"}
    if param.default is None and len(words) == 1:
        return {"bool": bool, "int": int, "float": float}.get(words.pop())
    return None


def _coerce_option(name: str, value: Any, kind: type | None) -> Any:
    """``value`` as ``kind``; strings from a command line ("yes", "3") are converted."""
    if value is None or kind is None:
        return value
    if kind is bool:
        word = str(value).strip().lower() if isinstance(value, (str, int)) else None
        if isinstance(value, bool) or word in _BOOL_WORDS:
            return value if isinstance(value, bool) else _BOOL_WORDS[word]
    elif kind is int:
        number = parse_value(value) if isinstance(value, str) else value
        if isinstance(number, int) and not isinstance(number, bool):
            return number
        if isinstance(number, float) and number.is_integer():
            return int(number)
    elif kind is float:
        number = parse_value(value) if isinstance(value, str) else value
        if _is_number(number) and math.isfinite(number):
            return float(number)
    elif isinstance(value, str) or (_is_number(value) and math.isfinite(value)):
        return str(value)  # a column named 123 on a command line arrives as a number
    expected = {bool: "true or false", int: "an integer", float: "a finite number", str: "a string"}[kind]
    raise ConfigError(f"option {name}={value!r} is not allowed; expected {expected}")


def _option_parameters(dataset: str, protocol: str | None) -> tuple[dict[str, inspect.Parameter], str]:
    """The recipe's keyword options and the protocol's parameters, by name; and the protocol."""
    from sessrec.data import PROTOCOLS, get_recipe

    recipe = get_recipe(dataset)
    pname = protocol or recipe.default_protocol
    if pname not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {pname!r}{_suggest(pname, PROTOCOLS)}; valid: {', '.join(PROTOCOLS)}")
    if pname not in recipe.protocols:
        raise ConfigError(f"dataset {dataset!r} is defined only under protocol(s) {', '.join(recipe.protocols)}")
    out = {p.name: p for p in inspect.signature(PROTOCOLS[pname]).parameters.values() if p.kind is p.KEYWORD_ONLY}
    for p in inspect.signature(recipe.__init__).parameters.values():
        if p.kind is p.KEYWORD_ONLY:
            out[p.name] = p
    for key in ("test_days", "valid_days"):  # study settings of their own
        out.pop(key, None)
    return out, pname


def coerce_dataset_options(dataset: str, protocol: str | None, options: Mapping[str, Any]) -> dict[str, Any]:
    """Check dataset options against the recipe's and protocol's signatures; convert strings.

    Unknown names list the valid ones; ``"yes"``/``"3"`` become ``True``/``3`` where the
    option's default is a bool/int. ``path`` must be a string.

    Examples
    --------
    >>> coerce_dataset_options("synthetic", None, {"n_sessions": "300", "keep_file_order": "yes"})
    {'n_sessions': 300, 'keep_file_order': True}
    """
    params, pname = _option_parameters(dataset, protocol)
    out: dict[str, Any] = {}
    for key, value in options.items():
        if key not in params:
            raise ConfigError(
                f"dataset {dataset!r} (protocol {pname!r}) has no option {key!r}{_suggest(key, params)}; "
                f"valid options: {', '.join(sorted(params))}"
            )
        if key == "path" and not isinstance(value, (str, os.PathLike)):
            raise ConfigError(f"dataset {dataset!r}: option path must be a file path (a string), got {value!r}")
        try:
            out[key] = _coerce_option(key, value, _option_kind(params[key]))
        except ConfigError as exc:
            raise ConfigError(f"dataset {dataset!r}: {exc}") from None
    return out


# ---------------------------------------------------------------------- model parameters
def named_params(model: str, name: str) -> dict[str, Any]:
    """The parameters of model ``model``'s named parameter set ``name``."""
    from sessrec.registry import load_model

    cls = load_model(model)
    getter = getattr(cls, "named_params", None)
    if getter is None:
        raise ConfigError(f"model {model!r} has no named parameter sets; give parameters as {model}.key=value")
    return dict(getter(name))


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
    source: str | None = field(default=None, compare=False)

    # ------------------------------------------------------------------ reading
    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> StudyConfig:
        """Read a study file with one entry (``[study]``); see :func:`read_study` for several."""
        configs = read_study(path)
        if len(configs) != 1:
            raise ConfigError(f"{path} holds {len(configs)} study entries; read them with sessrec.study.read_study")
        return configs[0]

    @classmethod
    def from_text(cls, text: str, *, source: str = "<text>") -> StudyConfig:
        """Parse TOML text with one ``[study]`` entry."""
        configs = _parse(text, source)
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
        if model in self.param_sets:
            merged.update(_wrap(where, named_params, model, self.param_sets[model]))
        merged.update(self.params.get(model, {}))
        return _wrap(where, validated_params, model, merged)

    # ------------------------------------------------------------------ expanding and running
    def specs(self) -> list[Any]:
        """The :class:`~sessrec.runner.RunSpec` of every model × seed (validates first)."""
        from sessrec.runner import RunSpec

        cfg = self.validate()
        return [
            RunSpec(
                model=model,
                dataset=cfg.dataset,
                params=dict(cfg.params.get(model, {})),
                dataset_options=dict(cfg.dataset_options),
                protocol=cfg.protocol,
                test_days=cfg.test_days,
                valid_days=cfg.valid_days,
                seed=seed,
                cutoffs=tuple(cfg.cutoffs),
                ties=cfg.ties,
                device=cfg.device,
            )
            for model in cfg.models
            for seed in cfg.seeds
        ]

    @property
    def out_dir(self) -> Path:
        """The study folder: ``out``, else ``reports/<dataset>``."""
        return Path(self.out) if self.out else Path("reports") / self.dataset

    def run(self, *, force: bool = False, record: bool = True, prepare: Callable[..., Any] | None = None) -> Any:
        """Run the study (runs already in its folder are skipped); see :func:`run_configs`."""
        return run_configs([self], force=force, record=record, prepare=prepare)

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
        if any(self.params.values()):
            out["params"] = {m: dict(p) for m, p in self.params.items() if p}
        if self.param_sets:
            out["param_sets"] = dict(self.param_sets)
        return out

    def to_toml(self) -> str:
        """This entry as ``experiment.toml`` text (``[study]`` plus its sections)."""
        return write_study(None, [self])


# ---------------------------------------------------------------------- checks of single settings
def _wrap(where: str, fn: Callable[..., Any], *args: Any) -> Any:
    """Call ``fn``; prefix a :class:`ConfigError` with the file it came from."""
    try:
        return fn(*args)
    except ConfigError as exc:
        if where and not str(exc).startswith(where):
            raise ConfigError(f"{where}{exc}") from None
        raise


def _seeds(where: str, seeds: Sequence[int]) -> tuple[int, ...]:
    seeds = _int_list(where, "seeds", list(seeds))
    bad = [s for s in seeds if not 0 <= s <= MAX_SEED]
    if not seeds or bad:
        raise ConfigError(f"{where}seeds must be integers from 0 to {MAX_SEED}, got {list(seeds)}")
    return tuple(dict.fromkeys(seeds))


def _cutoffs(where: str, cutoffs: Sequence[int]) -> tuple[int, ...]:
    cutoffs = _int_list(where, "cutoffs", list(cutoffs))
    if not cutoffs or not all(1 <= k <= MAX_CUTOFF for k in cutoffs):
        raise ConfigError(f"{where}cutoffs must be integers from 1 to {MAX_CUTOFF}, got {list(cutoffs)}")
    return tuple(sorted(set(cutoffs)))


def _choice(where: str, key: str, value: Any, valid: Sequence[str]) -> str:
    if value not in valid:
        hint = _suggest(value, valid) if isinstance(value, str) else ""
        raise ConfigError(f"{where}{key} must be one of {', '.join(valid)}, got {value!r}{hint}")
    return str(value)


def _device(where: str, value: Any) -> str:
    if not isinstance(value, str) or not _DEVICE.match(value):
        raise ConfigError(f"{where}device must be auto, cpu, cuda, cuda:N or mps, got {value!r}")
    return value


def _typed(where: str, key: str, value: Any) -> Any:
    """A ``[study]`` value with its type checked (ranges are checked by ``validate``)."""
    if key == "models":
        return _str_list(where, key, value)
    if key in ("seeds", "cutoffs"):
        return _int_list(where, key, value)
    if key in ("test_days", "valid_days"):
        if not _is_number(value):
            raise ConfigError(f"{where}{key} must be a number of days, got {value!r}")
        return value
    return _text(where, key, value)


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


# ---------------------------------------------------------------------- files
def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"study file {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"cannot read study file {path}: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{path} is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}); save it as UTF-8"
        ) from None


def _parse(text: str, source: str) -> list[StudyConfig]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source} is not valid TOML: {exc}") from None
    entries = data.get("study")
    if isinstance(entries, list):  # one entry per invocation: [[study]] with sub-tables
        _check_sections(data, source, ("study",), "section")
        out = []
        for i, entry in enumerate(entries, 1):
            if not isinstance(entry, Mapping):
                raise ConfigError(f"{source}: study entry {i} must be a table, got {entry!r}")
            sections = {k: entry[k] for k in SECTIONS[1:] if k in entry}
            study = {k: v for k, v in entry.items() if k not in sections}
            out.append(StudyConfig.from_dict({"study": study, **sections}, source=f"{source} (entry {i})"))
        return out
    return [StudyConfig.from_dict(data, source=source)]


def read_study(path: str | os.PathLike[str]) -> list[StudyConfig]:
    """Every entry of a study file (one for a ``[study]`` file, several for ``[[study]]``)."""
    path = Path(path)
    return _parse(_read_text(path), str(path))


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, os.PathLike):
        return json.dumps(os.fspath(value))
    raise ConfigError(f"cannot write {value!r} ({type(value).__name__}) to a study file")


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _toml_table(header: str, values: Mapping[str, Any]) -> list[str]:
    lines = [f"[{header}]"] if header else []
    for key, value in values.items():
        if value is None:  # TOML has no null: an unset key means the default
            continue
        lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    return lines


def _entry_lines(cfg: StudyConfig, prefix: str) -> list[str]:
    data = cfg.to_dict()
    lines = _toml_table(f"[{prefix}]" if prefix else "study", data["study"])
    sub = f"{prefix}." if prefix else ""
    if "dataset_options" in data:
        lines += ["", *_toml_table(f"{sub}dataset_options", data["dataset_options"])]
    for model, params in data.get("params", {}).items():
        lines += ["", *_toml_table(f"{sub}params.{_toml_key(model)}", params)]
    if "param_sets" in data:
        lines += ["", *_toml_table(f"{sub}param_sets", data["param_sets"])]
    return lines


def write_study(path: str | os.PathLike[str] | None, configs: Sequence[StudyConfig]) -> str:
    """Write ``configs`` as one study file (``[study]`` for one, ``[[study]]`` for several).

    Returns the text; writes it to ``path`` (atomically) unless ``path`` is ``None``.
    """
    head = [
        "# Written by `sessrec run`; rerun with `sessrec run --config <this file>`.",
        "# One [[study]] entry per invocation that added different runs to this folder."
        if len(configs) > 1
        else "# Add models, seeds or parameters here, or with more `sessrec run` invocations.",
    ]
    body: list[str] = []
    for cfg in configs:
        body += ["", *_entry_lines(cfg, "study" if len(configs) > 1 else "")]
    text = "\n".join(head + body) + "\n"
    if path is not None:
        target = Path(path)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    return text


# ---------------------------------------------------------------------- one record per study folder
def _data_settings(cfg: StudyConfig) -> tuple[Any, ...]:
    return (
        cfg.dataset,
        dict(cfg.dataset_options),
        cfg.protocol,
        cfg.test_days,
        cfg.valid_days,
        tuple(cfg.cutoffs),
        cfg.ties,
        cfg.device,
        cfg.data_dir,
    )


def _model_key(cfg: StudyConfig, model: str) -> tuple[Any, ...]:
    return cfg.param_sets.get(model), dict(cfg.params.get(model, {}))


def merge_configs(old: StudyConfig, new: StudyConfig) -> StudyConfig | None:
    """One entry describing exactly the runs of ``old`` and ``new``, or ``None`` if none does.

    Folds: ``new`` adds nothing (its runs are all in ``old``); ``new`` adds models over the
    same seeds; ``new`` adds seeds to the same models with the same parameters. Everything
    else (another dataset setting, other parameters for a model already there, new models
    with other seeds) needs an entry of its own.
    """
    if _data_settings(old) != _data_settings(new):
        return None
    shared = [m for m in new.models if m in old.models]
    if any(_model_key(old, m) != _model_key(new, m) for m in shared):
        return None
    if len(shared) == len(new.models) and set(new.seeds) <= set(old.seeds):
        return old
    added = [m for m in new.models if m not in old.models]
    if not shared and set(new.seeds) == set(old.seeds):
        return dataclasses.replace(
            old,
            models=(*old.models, *added),
            params={**old.params, **{m: new.params[m] for m in added if m in new.params}},
            param_sets={**old.param_sets, **{m: new.param_sets[m] for m in added if m in new.param_sets}},
        )
    if set(new.models) == set(old.models):
        return dataclasses.replace(old, seeds=tuple(dict.fromkeys((*old.seeds, *new.seeds))))
    return None


def record_study(out_dir: str | os.PathLike[str], configs: Sequence[StudyConfig]) -> Path:
    """Add ``configs`` to the study folder's ``experiment.toml`` (see the module docstring)."""
    target = Path(out_dir) / "experiment.toml"
    try:
        entries = read_study(target) if target.is_file() else []
    except ConfigError:  # an unreadable record is replaced, not trusted
        entries = []
    before = list(entries)
    for cfg in configs:
        cfg = dataclasses.replace(cfg, source=None)
        for i, old in enumerate(entries):
            merged = merge_configs(old, cfg)
            if merged is not None:
                entries[i] = merged
                break
        else:
            entries.append(cfg)
    if entries != before:  # a file that already says it all keeps its comments
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        write_study(target, entries)
    return target


def specs_of(configs: Iterable[StudyConfig]) -> list[Any]:
    """The run specs of several entries, each run once (entries may overlap)."""
    seen: dict[str, Any] = {}
    for cfg in configs:
        for spec in cfg.specs():
            seen.setdefault(spec.run_id, spec)
    return list(seen.values())


def run_configs(
    configs: Sequence[StudyConfig],
    *,
    force: bool = False,
    record: bool = True,
    prepare: Callable[..., Any] | None = None,
) -> Any:
    """Run every entry of a study (one folder); return the :class:`~sessrec.runner.StudyOutcome`.

    Everything is checked first — models, parameters, dataset options, that the study
    folder and the data cache can be written — and only then is data read. ``record`` adds
    the entries to the folder's ``experiment.toml`` once at least one run is in the study.
    """
    from sessrec.runner import run_study

    if not configs:
        raise ConfigError("no study entries to run")
    folders = {c.out_dir for c in configs}
    if len(folders) != 1:
        raise ConfigError(f"the entries name different study folders: {', '.join(sorted(map(str, folders)))}")
    roots = {c.data_dir for c in configs}
    if len(roots) != 1:
        raise ConfigError(f"the entries name different data folders: {', '.join(sorted(map(str, roots)))}")
    out_dir, data_dir = folders.pop(), roots.pop()
    specs = specs_of(configs)
    check_writable_dir(out_dir, "the study folder (out)")
    if prepare is None:
        check_writable_dir(_data_root(data_dir) / ".cache", "the data folder's cache (data_dir)")
    outcome = run_study(specs, out_dir, data_root=data_dir, force=force, prepare=prepare)
    if record and (outcome.ran or outcome.skipped):
        record_study(out_dir, [dataclasses.replace(c.validate(), out=str(out_dir)) for c in configs])
    return outcome


# ---------------------------------------------------------------------- folders
def _data_root(data_dir: str | None) -> Path:
    from sessrec.data import resolve_data_root

    return resolve_data_root(data_dir)


def check_writable_dir(path: str | os.PathLike[str], what: str) -> None:
    """Raise :class:`ConfigError` unless ``path`` is (or can be created as) a writable folder.

    Checked before any run, so that a study does not fail after hours of work. The test is
    a real one (a temporary file is created and removed), not a permission-bit reading.
    """
    path = Path(path)
    probe = path
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(f"{what} {path} cannot be created: {probe} is a file, not a folder")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".sessrec-write-test.", dir=probe)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(
            f"{what} {path} is not writable: cannot create a file in {probe} ({reason}); choose another folder"
        ) from None
    os.close(fd)
    os.unlink(tmp)
