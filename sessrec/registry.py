"""Plugin registry over Python entry points.

Models are found in the entry-point group ``sessrec.models`` and dataset recipes in
``sessrec.datasets``. Entries are listed without importing anything; a plugin is imported
only when it is used, and one that fails to import is reported on its own (with its
distribution and the error) without hiding the others. Names registered in-process with
:func:`register_model` (notebooks, tests) take precedence over entry points.

Examples
--------
>>> from sessrec.registry import model_names
>>> isinstance(model_names(), list)
True
"""

from __future__ import annotations

import difflib
import functools
import json
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from sessrec.errors import ConfigError

__all__ = [
    "DATASETS_GROUP",
    "MODELS_GROUP",
    "Entry",
    "Registry",
    "datasets",
    "load_model",
    "make_model",
    "model_names",
    "models",
    "register_model",
    "sessrec_commit",
    "unregister_model",
    "validated_params",
]

MODELS_GROUP = "sessrec.models"
DATASETS_GROUP = "sessrec.datasets"


@dataclass
class Entry:
    """One registered plugin: where it comes from and, once loaded, what it is."""

    name: str
    value: str  # "module:attr", or "<registered>" for in-process entries
    distribution: str | None = None
    version: str | None = None
    _obj: Any = field(default=None, repr=False)
    _error: BaseException | None = field(default=None, repr=False)
    _entry_point: metadata.EntryPoint | None = field(default=None, repr=False)

    def load(self) -> Any:
        """Import the plugin (once); raise :class:`ConfigError` naming it if that fails."""
        if self._obj is None and self._error is None and self._entry_point is not None:
            try:
                self._obj = self._entry_point.load()
            except Exception as exc:  # a broken plugin must not take the others down
                self._error = exc
        if self._error is not None:
            dist = f" (distribution {self.distribution} {self.version})" if self.distribution else ""
            raise ConfigError(
                f"plugin {self.name!r}{dist} failed to load from {self.value}: "
                f"{type(self._error).__name__}: {self._error}"
            ) from self._error
        return self._obj

    @property
    def error(self) -> str | None:
        """The load error as text, after trying to load; ``None`` when it loads."""
        try:
            self.load()
        except ConfigError as exc:
            return str(exc.__cause__ or exc)
        return None


class Registry:
    """Entries of one entry-point group plus in-process registrations."""

    def __init__(self, group: str, kind: str) -> None:
        self.group = group
        self.kind = kind
        self._local: dict[str, Entry] = {}
        self._cache: dict[str, Entry] | None = None

    def _entry_points(self) -> dict[str, Entry]:
        if self._cache is None:
            found: dict[str, Entry] = {}
            for ep in metadata.entry_points(group=self.group):
                dist = getattr(ep, "dist", None)
                found.setdefault(
                    ep.name,
                    Entry(
                        ep.name,
                        ep.value,
                        dist.metadata["Name"] if dist is not None else None,
                        dist.version if dist is not None else None,
                        _entry_point=ep,
                    ),
                )
            self._cache = found
        return self._cache

    def entries(self) -> dict[str, Entry]:
        """All entries by name (nothing imported)."""
        return {**self._entry_points(), **self._local}

    def names(self) -> list[str]:
        return sorted(self.entries())

    def get(self, name: str) -> Entry:
        entries = self.entries()
        if name in entries:
            return entries[name]
        close = difflib.get_close_matches(name, entries, n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        installed = ", ".join(sorted(entries)) or "none"
        raise ConfigError(f"unknown {self.kind} {name!r}; installed {self.kind}s: {installed}.{hint}")

    def load(self, name: str) -> Any:
        return self.get(name).load()

    def register(self, name: str, obj: Any, *, overwrite: bool = False) -> None:
        if not overwrite and name in self._local:
            raise ConfigError(f"{self.kind} {name!r} is already registered; pass overwrite=True to replace it")
        module = getattr(obj, "__module__", "?")
        qual = getattr(obj, "__qualname__", type(obj).__name__)
        self._local[name] = Entry(name, f"{module}:{qual}", _obj=obj)

    def unregister(self, name: str) -> None:
        self._local.pop(name, None)

    def refresh(self) -> None:
        """Forget cached entry points (after installing a plugin in a running process)."""
        self._cache = None


models = Registry(MODELS_GROUP, "model")
datasets = Registry(DATASETS_GROUP, "dataset")


def model_names() -> list[str]:
    """Names of every installed or registered model."""
    return models.names()


def load_model(name: str) -> Callable[..., Any]:
    """The model class (or factory) registered as ``name``."""
    return models.load(name)


def validated_params(name: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` checked against model ``name``'s constraints; the one place that does it.

    Unknown names, wrong types and values outside a declared range raise
    :class:`ConfigError` naming the model, the parameter, the value and what is allowed
    (see :mod:`sessrec.models.params`); ints given for float parameters become floats. A
    factory whose parameters cannot be listed (a function, or ``**kwargs``) is not checked
    here: calling it reports what it rejects.
    """
    from sessrec.models.params import validate_params

    factory = load_model(name)
    if not isinstance(factory, type):
        return dict(params)
    try:
        return validate_params(factory, params, model_name=name)
    except TypeError:  # ``__init__(**kwargs)``: no explicit parameter list to check against
        return dict(params)


def make_model(name: str, **params: Any) -> Any:
    """An unfitted model ``name`` with ``params``, checked by :func:`validated_params`."""
    factory = load_model(name)
    checked = validated_params(name, params)
    try:
        return factory(**checked)
    except TypeError as exc:
        raise ConfigError(f"bad parameters for model {name!r}: {exc}") from exc


def register_model(name: str, factory: Callable[..., Any], *, overwrite: bool = False) -> None:
    """Register a model class or factory under ``name`` for this process.

    Examples
    --------
    >>> from sessrec.registry import register_model, unregister_model, make_model
    >>> class Mine:
    ...     def __init__(self, k=3):
    ...         self.k = k
    >>> register_model("mine", Mine)
    >>> make_model("mine", k=5).k
    5
    >>> unregister_model("mine")
    """
    models.register(name, factory, overwrite=overwrite)


def unregister_model(name: str) -> None:
    """Remove an in-process registration."""
    models.unregister(name)


def _git(folder: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


@functools.lru_cache(maxsize=1)
def sessrec_commit() -> str | None:
    """The commit of the sessrec code this process runs (not of the current folder).

    From the installed distribution's ``direct_url.json`` when pip recorded one (``pip
    install git+https://…``); else from the git checkout the ``sessrec`` package was imported
    from, when the package's files are tracked there (editable installs, source trees), with
    ``-dirty`` appended when they have uncommitted changes; else ``None`` (a release install:
    the version in a run's ``versions`` says what ran).
    """
    try:
        direct = metadata.distribution("sessrec").read_text("direct_url.json")
        commit = json.loads(direct or "{}").get("vcs_info", {}).get("commit_id")
    except (metadata.PackageNotFoundError, ValueError, AttributeError):
        commit = None
    if commit:
        return str(commit)
    package = Path(__file__).resolve().parent
    if _git(package, "ls-files", "--error-unmatch", "__init__.py") is None:
        return None  # not a checkout, or a copy inside someone else's repository
    head = _git(package, "rev-parse", "HEAD")
    if head is None:
        return None
    dirty = _git(package, "status", "--porcelain", "--untracked-files=no", ".")
    return f"{head}-dirty" if dirty else head
