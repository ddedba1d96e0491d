"""Protocol parameters: one declarative spec per parameter, checked once per call.

The library takes real values (``bool``, ``int``, ``float``; a fraction as a number,
:class:`~fractions.Fraction` or ``"a/b"``) and rejects anything else with one message naming the
protocol, the parameter, the value and what is allowed. Text from a command line or a config
file is turned into those values by :meth:`Param.coerce` (the CLI/config layer's job)::

    Param("keep_file_order", bool, False)      coerce("yes") -> True     check("yes") -> ConfigError
    Param("min_item_support", int, 5, 1)       coerce("5")   -> 5        check(5.0)   -> 5
    Param("test_days", float, 7, 0, open_min)  coerce("1.5") -> 1.5      check(0)     -> ConfigError
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from numbers import Integral, Real
from typing import Any

import numpy as np

from sessrec.errors import ConfigError

__all__ = ["MIN_SESSION_LENGTH", "VALID_DAYS", "Param", "check_params", "coerce_params"]

_TRUE = ("true", "yes", "1", "on")
_FALSE = ("false", "no", "0", "off")


@dataclass(frozen=True)
class Param:
    """One protocol parameter.

    Attributes
    ----------
    name : str
    type : type
        ``bool``, ``int``, ``float`` or ``Fraction`` (a number in (0, 1], stored as ``"a/b"``).
    default : Any
        Value when not given (``None``: optional, absent).
    minimum : float or None
        Smallest allowed value (``int`` and ``float``).
    open_min : bool
        The minimum itself is not allowed (``test_days > 0``).
    unit : str
        What the number counts (``"days"``), for messages.
    doc : str
        One line for help texts.
    """

    name: str
    type: type
    default: Any = None
    minimum: float | None = None
    open_min: bool = False
    unit: str = ""
    doc: str = ""

    @property
    def allowed(self) -> str:
        """What the parameter accepts, in words."""
        if self.type is bool:
            what = "true or false (a bool)"
        elif self.type is Fraction:
            what = "a number in (0, 1] or 'a/b'"
        else:
            noun = "an integer" if self.type is int else "a number"
            if self.minimum == 0 and self.open_min:
                noun, bound = f"a positive {noun.split()[-1]}", ""
            else:
                bound = "" if self.minimum is None else f" {'>' if self.open_min else '>='} {self.minimum:g}"
            what = noun + (f" of {self.unit}" if self.unit else "") + bound
        return what + (" or none" if self.default is None else "")

    def check(self, value: Any, protocol: str = "") -> Any:
        """``value`` as the canonical type; :class:`ConfigError` when it is not allowed."""
        if value is None and self.default is None:
            return None
        out = {bool: _bool, int: _int, float: _float, Fraction: _fraction}[self.type](value)
        if out is None or not self._in_range(out):
            where = f"protocol {protocol!r}: " if protocol else ""
            raise ConfigError(f"{where}{self.name} must be {self.allowed}, got {value!r}")
        return str(out) if isinstance(out, Fraction) else out

    def coerce(self, value: Any) -> Any:
        """Text from a command line or config file turned into this parameter's type (others unchanged)."""
        if not isinstance(value, str):
            return value
        text = value.strip().lower()
        if text in ("none", "null", "") and self.default is None:
            return None
        if self.type is bool:
            return True if text in _TRUE else False if text in _FALSE else value
        if self.type in (int, float):
            try:
                number = float(text)
            except ValueError:
                return value
            return int(number) if self.type is int and number.is_integer() else number
        return value

    def _in_range(self, v: Any) -> bool:
        if isinstance(v, Fraction):
            return 0 < v <= 1
        if self.minimum is None or isinstance(v, bool):
            return True
        return v > self.minimum if self.open_min else v >= self.minimum


#: ``valid_days``, the same in every protocol (each carves by its own time rule).
VALID_DAYS = Param("valid_days", float, None, 0, open_min=True, unit="days", doc="carve a validation split from train")

#: ``min_session_length`` of the protocols that filter once.
MIN_SESSION_LENGTH = Param("min_session_length", int, 2, 2, doc="sessions shorter than this are dropped")


def _bool(v: Any) -> bool | None:
    return bool(v) if isinstance(v, (bool, np.bool_)) else None


def _int(v: Any) -> int | None:
    if isinstance(v, bool) or not isinstance(v, Real):
        return None
    if isinstance(v, Integral):
        return int(v)
    return int(v) if float(v).is_integer() else None


def _float(v: Any) -> float | None:
    return None if isinstance(v, bool) or not isinstance(v, Real) else float(v)


def _fraction(v: Any) -> Fraction | None:
    try:
        if isinstance(v, str):
            return Fraction(v)
        if isinstance(v, bool) or not isinstance(v, Real):
            return None
        return Fraction(v).limit_denominator(1_000_000)
    except (TypeError, ValueError, ZeroDivisionError):
        return None


def check_params(protocol: str, spec: Sequence[Param], values: Mapping[str, Any]) -> dict[str, Any]:
    """Every parameter of ``spec``, in spec order: the given value checked, else the default.

    Unknown names raise :class:`ConfigError` listing the valid ones.
    """
    names = [p.name for p in spec]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ConfigError(f"protocol {protocol!r} has no parameter {', '.join(unknown)}; valid: {', '.join(names)}")
    return {p.name: p.check(values.get(p.name, p.default), protocol) for p in spec}


def coerce_params(spec: Sequence[Param], values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with text turned into each known parameter's type (unknown names pass through)."""
    by_name = {p.name: p for p in spec}
    return {k: by_name[k].coerce(v) if k in by_name else v for k, v in values.items()}


def _flag(name: str, value: Any) -> bool:
    """A boolean recipe option; the strings of a command line ("true", "0", ...) are accepted.

    Kept for the ``csv`` recipe's own options; protocol parameters go through :class:`Param`.
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "false", "0", "no"):
        return value.strip().lower() in ("true", "1", "yes")
    if isinstance(value, (int, np.integer)) and value in (0, 1):
        return bool(value)
    raise ConfigError(f"{name} must be true or false, got {value!r}")
