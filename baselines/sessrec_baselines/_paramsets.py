"""Named parameter sets shipped as data: ``paramfiles/<model>/<name>.toml`` with a provenance table."""

from __future__ import annotations

import sys
from importlib import resources
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["load_param_set", "param_set_names"]


def _directory(model: str) -> Any:
    return resources.files("sessrec_baselines") / "paramfiles" / model


def param_set_names(model: str) -> list[str]:
    """Names of the parameter files shipped for ``model`` (file names without ``.toml``)."""
    folder = _directory(model)
    if not folder.is_dir():
        return []
    return sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_param_set(model: str, name: str) -> dict[str, Any]:
    """Parameter file ``name`` of ``model`` as ``{"params": {...}, "provenance": {...}}``."""
    names = param_set_names(model)
    if name not in names:
        raise ValueError(f"unknown {model} parameter set {name!r}; available: {', '.join(names) or 'none'}")
    with (_directory(model) / f"{name}.toml").open("rb") as fh:
        data = tomllib.load(fh)
    return {"params": dict(data["params"]), "provenance": dict(data.get("provenance", {}))}
