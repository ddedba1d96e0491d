"""The protocols by name, their parameter specs, and the one place where parameters are checked.

::

    protocol_spec("narm")                 -> ProtocolSpec(name, params=(Param, ...), ...)
    coerce_protocol_params(name, text)    command-line / config text -> typed values (CLI layer)
    check_protocol_params(name, values)   typed values -> every parameter, checked, defaults filled
    spec.build(events, checked)           the protocol itself, no second check
    run_protocol(name, events, **values)  check + build
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from sessrec.data.protocols.gru4rec import GRU4REC_PARAMS, build_gru4rec, gru4rec
from sessrec.data.protocols.narm import NARM_PARAMS, build_narm, narm
from sessrec.data.protocols.params import Param, check_params, coerce_params
from sessrec.data.protocols.result import ProtocolResult
from sessrec.data.protocols.rsc15 import RSC15_PARAMS, build_gru4rec_rsc15, gru4rec_rsc15
from sessrec.data.protocols.window import (
    WINDOW_PARAMS,
    WINDOW_RECIPE_DEFAULTS,
    build_window,
    check_window_params,
    window,
)
from sessrec.errors import ConfigError

__all__ = [
    "PROTOCOLS",
    "PROTOCOL_SPECS",
    "ProtocolSpec",
    "check_protocol_params",
    "coerce_protocol_params",
    "protocol_params",
    "protocol_spec",
    "run_protocol",
]

ProtocolFn = Callable[..., ProtocolResult]


@dataclass(frozen=True, eq=False)
class ProtocolSpec:
    """A named protocol: its function, its parameters and its per-recipe defaults.

    Attributes
    ----------
    name : str
    function : callable
        The public function, ``function(events, **params) -> ProtocolResult``.
    build : callable
        ``build(events, checked_params) -> ProtocolResult`` (parameters from :meth:`check`).
    params : tuple of Param
        Every parameter, in the order results list them.
    recipe_defaults : dict
        Defaults that depend on the dataset: ``{recipe name: {parameter: value}}``.
    variant_of : str or None
        The protocol this one is a variant of (``gru4rec-rsc15`` of ``gru4rec``).
    checker : callable or None
        Replaces the plain per-parameter check where parameters constrain each other
        (``window``: ``slice < n_slices``).
    """

    name: str
    function: ProtocolFn
    build: Callable[[pd.DataFrame, Mapping[str, Any]], ProtocolResult]
    params: tuple[Param, ...]
    recipe_defaults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    variant_of: str | None = None
    checker: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None

    def check(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Every parameter checked (:class:`ConfigError` naming the bad one), defaults filled."""
        if self.checker is not None:
            return self.checker(values)
        return check_params(self.name, self.params, values)

    def coerce(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Command-line or config text turned into the parameters' types (nothing checked)."""
        return coerce_params(self.params, values)

    def defaults(self, recipe: str | None = None) -> dict[str, Any]:
        """Every parameter's default, with ``recipe``'s own defaults applied."""
        out = {p.name: p.default for p in self.params}
        out.update(self.recipe_defaults.get(recipe or "", {}))
        return out


#: Every protocol's spec, by name.
PROTOCOL_SPECS: dict[str, ProtocolSpec] = {
    "narm": ProtocolSpec("narm", narm, build_narm, NARM_PARAMS),
    "gru4rec": ProtocolSpec("gru4rec", gru4rec, build_gru4rec, GRU4REC_PARAMS),
    "gru4rec-rsc15": ProtocolSpec(
        "gru4rec-rsc15", gru4rec_rsc15, build_gru4rec_rsc15, RSC15_PARAMS, variant_of="gru4rec"
    ),
    "window": ProtocolSpec(
        "window", window, build_window, WINDOW_PARAMS, WINDOW_RECIPE_DEFAULTS, checker=check_window_params
    ),
}

#: The protocol functions by name.
PROTOCOLS: dict[str, ProtocolFn] = {name: spec.function for name, spec in PROTOCOL_SPECS.items()}


def protocol_spec(name: str) -> ProtocolSpec:
    """The spec of protocol ``name``; unknown names raise :class:`ConfigError` listing the valid ones."""
    try:
        return PROTOCOL_SPECS[name]
    except KeyError:
        base = sorted(n for n, s in PROTOCOL_SPECS.items() if s.variant_of is None)
        variants = [f"{n} (of {s.variant_of})" for n, s in sorted(PROTOCOL_SPECS.items()) if s.variant_of]
        raise ConfigError(
            f"unknown protocol {name!r}; valid protocols: {', '.join(base)}; variants: {', '.join(variants)}"
        ) from None


def protocol_params(name: str) -> tuple[str, ...]:
    """Names of the keyword parameters protocol ``name`` accepts.

    Examples
    --------
    >>> protocol_params("gru4rec")
    ('test_days', 'remove_repeats', 'min_item_support', 'min_session_length', 'valid_days')
    """
    return tuple(p.name for p in protocol_spec(name).params)


def check_protocol_params(name: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """Every parameter of protocol ``name``: ``values`` checked, defaults filled (see :class:`ProtocolSpec`)."""
    return protocol_spec(name).check(values)


def coerce_protocol_params(name: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """Text values (``"yes"``, ``"5"``, ``"1.5"``, ``"none"``) turned into protocol ``name``'s types.

    For the command-line and config layer; the library itself accepts only typed values.

    Examples
    --------
    >>> coerce_protocol_params("narm", {"keep_file_order": "yes", "test_days": "1", "path": "x.csv"})
    {'keep_file_order': True, 'test_days': 1.0, 'path': 'x.csv'}
    """
    return protocol_spec(name).coerce(values)


def run_protocol(name: str, events: pd.DataFrame, **params: Any) -> ProtocolResult:
    """Run protocol ``name`` on ``events``; unknown or invalid parameters raise :class:`ConfigError`."""
    spec = protocol_spec(name)
    return spec.build(events, spec.check(params))
