"""Values of a study: command-line text parsed, settings and dataset options checked and coerced."""

from __future__ import annotations

import difflib
import inspect
import json
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sessrec.errors import ConfigError

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
SECTIONS: tuple[str, ...] = ("study", "dataset_options", "params", "param_sets", "tune")
#: Keys of a study file's ``[tune]`` table (``sessrec tune --config``), with what each must be.
TUNE_KEYS: dict[str, tuple[type, ...]] = {
    "trials": (int,),
    "timeout_per_model": (int, float),
    "objective": (str,),
    "storage": (str,),
    "pruner": (str,),
    "seed": (int,),
    "parallel": (int,),
    "valid_days": (int, float),
}

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


def _option_parameters(dataset: str, protocol: str | None) -> tuple[dict[str, inspect.Parameter | None], str]:
    """The recipe's keyword options and the protocol's parameters, by name; and the protocol."""
    from sessrec.data import PROTOCOLS, get_recipe

    recipe = get_recipe(dataset)
    pname = protocol or recipe.default_protocol
    if pname not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {pname!r}{_suggest(pname, PROTOCOLS)}; valid: {', '.join(PROTOCOLS)}")
    if recipe.protocols is not None and pname not in recipe.protocols:
        raise ConfigError(f"dataset {dataset!r} is defined only under protocol(s) {', '.join(recipe.protocols)}")
    from sessrec.data.protocols import protocol_params

    out: dict[str, inspect.Parameter | None] = dict.fromkeys(protocol_params(pname))  # typed by the protocol's spec
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
            if params[key] is None:  # a protocol parameter: the protocol's own spec converts it
                from sessrec.data.protocols import check_protocol_params, coerce_protocol_params

                out[key] = coerce_protocol_params(pname, {key: value})[key]
                check_protocol_params(pname, {key: out[key]})
            else:
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
