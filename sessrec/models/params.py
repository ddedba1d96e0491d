"""Declarative hyperparameter constraints, checked once when a study is built.

A model class declares what each hyperparameter accepts in ``parameter_constraints``, a
class attribute mapping a parameter name to a list of accepted forms (any one suffices),
as scikit-learn's ``_parameter_constraints`` does:

==========================  ==============================================================
form                        accepts
==========================  ==============================================================
``int``, ``float``          a number of that type (an ``int`` is a valid ``float``;
                            ``bool`` is never a number)
``bool``, ``str``           a value of that type
``None``                    ``None``
``Interval(int, 1, None)``  a number of that type in the interval (``None`` = unbounded)
``Options(str, {...})``     one of the listed values
==========================  ==============================================================

A parameter without a declared constraint is checked against the type of its default
(``int``, ``float``, ``str``, ``bool``; a default of ``None`` accepts anything), so every
model gets type checks for free and declares ranges and choices where they matter.

Examples
--------
>>> class Toy:
...     parameter_constraints = {"k": [Interval(int, 1, None)], "mode": [Options(str, {"a", "b"})]}
...     def __init__(self, k: int = 10, mode: str = "a", lr: float = 0.1):
...         self.k, self.mode, self.lr = k, mode, lr
>>> validate_params(Toy, {"k": 5, "lr": 1}, model_name="toy")
{'k': 5, 'lr': 1.0}
>>> validate_params(Toy, {"k": 0}, model_name="toy")
Traceback (most recent call last):
...
sessrec.errors.ConfigError: model 'toy': parameter k=0 is not allowed; expected an int in [1, inf)
"""

from __future__ import annotations

import difflib
import inspect
import math
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sessrec.errors import ConfigError

__all__ = ["Interval", "Options", "default_constraints", "describe", "param_names", "validate_params"]


@dataclass(frozen=True)
class Interval:
    """A number of type ``kind`` between ``left`` and ``right`` (``None``: unbounded)."""

    kind: type
    left: float | None
    right: float | None
    closed: str = "both"

    def __post_init__(self) -> None:
        if self.kind not in (int, float):
            raise TypeError(f"Interval kind must be int or float, got {self.kind!r}")
        if self.closed not in ("both", "left", "right", "neither"):
            raise ValueError(f"closed must be 'both', 'left', 'right' or 'neither', got {self.closed!r}")

    def accepts(self, value: Any) -> bool:
        if not _is_type(value, self.kind) or (isinstance(value, float) and math.isnan(value)):
            return False
        if self.left is not None:
            if value < self.left or (value == self.left and self.closed in ("right", "neither")):
                return False
        if self.right is not None:
            if value > self.right or (value == self.right and self.closed in ("left", "neither")):
                return False
        return True

    def __str__(self) -> str:
        lo = "-inf" if self.left is None else _num(self.left)
        hi = "inf" if self.right is None else _num(self.right)
        left = "[" if self.closed in ("both", "left") and self.left is not None else "("
        right = "]" if self.closed in ("both", "right") and self.right is not None else ")"
        return f"{'an int' if self.kind is int else 'a float'} in {left}{lo}, {hi}{right}"


@dataclass(frozen=True)
class Options:
    """One of ``values`` (of type ``kind``)."""

    kind: type
    values: frozenset[Any]

    def __init__(self, kind: type, values: Iterable[Any]) -> None:
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "values", frozenset(values))

    def accepts(self, value: Any) -> bool:
        return _is_type(value, self.kind) and value in self.values

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(v) for v in sorted(self.values, key=str))


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


def _is_type(value: Any, kind: type) -> bool:
    if isinstance(value, bool):
        return kind is bool
    if kind is float:
        return isinstance(value, numbers.Real)
    if kind is int:
        return isinstance(value, numbers.Integral)
    return isinstance(value, kind)


def _accepts(form: Any, value: Any) -> bool:
    if form is None:
        return value is None
    if isinstance(form, type):
        return _is_type(value, form)
    return bool(form.accepts(value))


def _form_text(form: Any) -> str:
    if form is None:
        return "None"
    if isinstance(form, type):
        return {int: "an int", float: "a float", str: "a string", bool: "a bool (true/false)"}.get(
            form, f"a {form.__name__}"
        )
    return str(form)


def describe(forms: list[Any]) -> str:
    """What a constraint list allows, in words (``"an int in [1, inf) or None"``)."""
    return " or ".join(_form_text(f) for f in forms)


def param_names(cls: type) -> list[str]:
    """The hyperparameters of a model class: the named arguments of its ``__init__``.

    Raises ``TypeError`` when ``__init__`` takes ``*args`` or ``**kwargs`` (hyperparameters
    must be listed explicitly, as scikit-learn requires).
    """
    names = []
    for name, p in inspect.signature(cls.__init__).parameters.items():
        if name == "self":
            continue
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise TypeError(f"{cls.__name__}.__init__ must list its hyperparameters explicitly, not *{name}")
        names.append(name)
    return names


def default_constraints(cls: type) -> dict[str, list[Any]]:
    """Each parameter's declared constraints, else the type of its default (see module doc)."""
    declared: Mapping[str, list[Any]] = getattr(cls, "parameter_constraints", {}) or {}
    sig = inspect.signature(cls.__init__)
    out: dict[str, list[Any]] = {}
    for name in param_names(cls):
        if name in declared:
            out[name] = list(declared[name])
            continue
        default = sig.parameters[name].default
        if isinstance(default, bool):
            out[name] = [bool]
        elif isinstance(default, int):
            out[name] = [int]
        elif isinstance(default, float):
            out[name] = [float]
        elif isinstance(default, str):
            out[name] = [str]
    return out


def _coerce(forms: list[Any], value: Any) -> Any:
    """An int given for a float-only parameter becomes a float (``lr=1`` means ``1.0``)."""
    floats = any(f is float or (isinstance(f, Interval) and f.kind is float) for f in forms)
    ints = any(f is int or (isinstance(f, Interval) and f.kind is int) for f in forms)
    if floats and not ints and isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return float(value)
    return value


def validate_params(cls: type, params: Mapping[str, Any], *, model_name: str) -> dict[str, Any]:
    """Check ``params`` against the constraints of ``cls``; return them, ints widened to floats.

    Raises
    ------
    ConfigError
        Naming the model, the parameter, the value and what is allowed (unknown names get
        the valid ones and a close match).
    """
    names = param_names(cls)
    constraints = default_constraints(cls)
    out: dict[str, Any] = {}
    for key, value in params.items():
        if key not in names:
            close = difflib.get_close_matches(key, names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(
                f"bad parameters for model {model_name!r}: it has no parameter {key!r}{hint}; "
                f"valid parameters: {', '.join(names)}"
            )
        forms = constraints.get(key)
        if forms and not any(_accepts(f, value) for f in forms):
            raise ConfigError(
                f"model {model_name!r}: parameter {key}={value!r} is not allowed; expected {describe(forms)}"
            )
        out[key] = _coerce(forms, value) if forms else value
    return out
