"""Prepared datasets: recipe + protocol -> cached train/test(/valid) splits.

::

    prepare("diginetica", data_root="datasets", test_days=1)
      1. recipe      entry point "diginetica" of group sessrec.datasets -> Diginetica(root, **options)
      2. data id     sha256 of {recipe, recipe options, protocol name + every parameter,
                     raw-file sha256 (the file is read in full every time), cache format}
                     -> <data_root>/.cache/<name>-<data id[:24]>.npz
      3. hit         load the arrays (a changed raw file or parameter gives another key);
                     a damaged file (zero bytes, truncated) is rebuilt, with a "note" event
         miss        recipe.load_events() -> protocol -> PreparedDataset -> temp file,
                     fsync, os.replace (temp files of dead writers are removed first)
      4. check       an empty test split is a DataError

The data id is also part of every run's id (:class:`sessrec.runner.RunSpec`), so results
computed on other bytes are never reused. The data root is the ``data_root`` argument, else
``$SESSREC_DATA``, else ``./datasets``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import os
import re
import socket
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sessrec import registry
from sessrec.data.index import ItemIndex
from sessrec.data.protocols import PROTOCOLS, ProtocolSpec, protocol_params, protocol_spec
from sessrec.data.recipes.base import DatasetRecipe
from sessrec.data.sessions import Sessions
from sessrec.errors import ConfigError, DataError
from sessrec.progress import emit

__all__ = [
    "PreparedDataset",
    "check_test_split",
    "data_identity",
    "get_recipe",
    "list_recipes",
    "make_recipe",
    "prepare",
    "resolve_data_root",
]

#: Entry-point group of dataset recipes.
#: Bump when the cache layout or the protocols' output changes.
CACHE_FORMAT = 2


@dataclass(frozen=True, eq=False)
class PreparedDataset:
    """A dataset split by a protocol, ready for models and the evaluator.

    Attributes
    ----------
    name : str
        Recipe name (``diginetica``, ``synthetic``, ...).
    train, test : Sessions
        Over ``item_index``; ``train`` is the train part when ``valid`` is set.
    valid : Sessions or None
        Validation sessions carved from train by the protocol's time rule.
    item_index : ItemIndex
        Raw ``item_id`` <-> ``item_idx``; ``len(item_index) == train.n_items``.
    fingerprint : str
        sha256 of the prepared arrays (identical splits, identical fingerprint).
    protocol : dict
        ``{"name": ..., "params": {...}}`` with every parameter, defaults included.
    stats : dict
        ``clicks``, ``n_items``, ``train_sessions``, ``train_cases``, ``test_sessions``,
        ``test_cases``, ``valid_sessions``, ``valid_cases``, ``avg_length`` and the
        ``dropped_*`` counts of every protocol rule.
    synthetic : bool
        True for generated data.
    raw_files : list of dict
        ``{"path": ..., "sha256": ...}`` of the raw file(s) read (empty for synthetic).
    options : dict
        Recipe options.
    description : str
        The recipe's one-line description.
    data_id : str
        sha256 of what the splits were made from: recipe, its options, protocol with every
        parameter, and the raw file's sha256 (see :func:`data_identity`). Part of every
        run's id, so results computed on other data are never reused.
    """

    name: str
    train: Sessions
    test: Sessions
    valid: Sessions | None
    item_index: ItemIndex
    fingerprint: str
    protocol: dict[str, Any]
    stats: dict[str, Any]
    synthetic: bool = False
    raw_files: list[dict[str, str]] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    data_id: str = ""

    @property
    def n_items(self) -> int:
        return len(self.item_index)

    def __repr__(self) -> str:
        s = self.stats
        tag = " SYNTHETIC" if self.synthetic else ""
        return (
            f"PreparedDataset({self.name!r}{tag}, protocol={self.protocol['name']}, n_items={s['n_items']}, "
            f"train={s['train_sessions']} sessions/{s['train_cases']} cases, "
            f"test={s['test_sessions']} sessions/{s['test_cases']} cases, fingerprint={self.fingerprint[:12]})"
        )


# ---------------------------------------------------------------------------------- entry points
def list_recipes() -> list[str]:
    """Names of the installed dataset recipes (entry-point group ``sessrec.datasets``), sorted."""
    return registry.datasets.names()


def get_recipe(name: str) -> type[DatasetRecipe]:
    """The recipe class registered as ``name``; unknown names list the valid ones."""
    cls = registry.datasets.load(name)
    if not (isinstance(cls, type) and issubclass(cls, DatasetRecipe)):
        raise ConfigError(f"dataset entry point {name!r} -> {registry.datasets.get(name).value} is not a DatasetRecipe")
    return cls


def resolve_data_root(data_root: str | Path | None = None) -> Path:
    """``data_root``, else ``$SESSREC_DATA``, else ``./datasets``."""
    if data_root is not None:
        return Path(data_root)
    env = os.environ.get("SESSREC_DATA")
    return Path(env) if env else Path("datasets")


def _recipe_kwargs(cls: type[DatasetRecipe]) -> tuple[str, ...]:
    sig = inspect.signature(cls.__init__)
    return tuple(p.name for p in sig.parameters.values() if p.kind is p.KEYWORD_ONLY)


def make_recipe(name: str, data_root: str | Path | None = None, **options: Any) -> DatasetRecipe:
    """Instantiate recipe ``name`` with the data root and its own options."""
    cls = get_recipe(name)
    valid = _recipe_kwargs(cls)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ConfigError(f"dataset {name!r} has no option {', '.join(unknown)}; valid: {', '.join(valid)}")
    return cls(resolve_data_root(data_root), **options)


# ---------------------------------------------------------------------------------- prepare
def prepare(
    name_or_recipe: str | DatasetRecipe,
    *,
    data_root: str | Path | None = None,
    protocol: str | None = None,
    test_days: float | None = None,
    valid_days: float | None = None,
    cache: bool = True,
    **options: Any,
) -> PreparedDataset:
    """Read, split and cache a dataset.

    Parameters
    ----------
    name_or_recipe : str or DatasetRecipe
        A recipe name (see :func:`list_recipes`) or an instance.
    data_root : str or Path, optional
        See :func:`resolve_data_root`. The cache lives in ``<data_root>/.cache/``.
    protocol : {"narm", "gru4rec", "gru4rec-rsc15", "window"}, optional
        Default: the recipe's (``narm`` for all built-ins). See :mod:`sessrec.data.protocols`.
    test_days, valid_days : float, optional
        Override the recipe's default test days; carve a validation split (default none).
    cache : bool
        Reuse and write the on-disk cache.
    **options
        Recipe options (e.g. ``path=``, ``seed=``, ``session=``) and protocol parameters
        (e.g. ``keep_file_order=``, ``min_item_support=``). Unknown names raise
        :class:`ConfigError` listing the valid ones.

    Returns
    -------
    PreparedDataset

    Raises
    ------
    DataError
        On unreadable raw data, or when the protocol leaves no test case.

    Examples
    --------
    >>> ds = prepare("synthetic", n_sessions=300, n_items=60, cache=False)
    >>> ds.synthetic, ds.train.n_items == len(ds.item_index)
    (True, True)
    """
    root = resolve_data_root(data_root)
    recipe, spec, params = _resolve(name_or_recipe, root, protocol, test_days, valid_days, options)
    emit("prepare", step=f"{recipe.name}: checksum")
    checksum = recipe.checksum()
    raw = [{"path": str(p), "sha256": checksum} for p in recipe.raw_paths()]
    identity = _identity(recipe, spec.name, params, checksum)
    cache_file = root / ".cache" / f"{recipe.name}-{identity[:24]}.npz"
    if cache:
        _remove_stale_temp_files(cache_file.parent)
    ds = _load_cached(cache_file, raw, identity, recipe.name) if cache and cache_file.is_file() else None
    if ds is None:
        ds = _build(recipe, spec, params, raw, identity)
        if cache:
            _save_or_note(cache_file, ds)
    check_test_split(ds)
    return ds


def _build(
    recipe: DatasetRecipe, spec: ProtocolSpec, params: dict[str, Any], raw: list[dict[str, str]], identity: str
) -> PreparedDataset:
    """Read the recipe's events and run the protocol on them (the cache-miss path of :func:`prepare`)."""
    emit("prepare", step=f"{recipe.name}: reading {', '.join(p['path'] for p in raw) or 'generator'}")
    events = recipe.load_events()
    emit("prepare", step=f"{recipe.name}: protocol {spec.name}")
    result = spec.build(events, params)
    return PreparedDataset(
        name=recipe.name,
        train=result.train,
        test=result.test,
        valid=result.valid,
        item_index=result.item_index,
        fingerprint=_fingerprint(result.train, result.test, result.valid, result.item_index),
        protocol={"name": spec.name, "params": result.params},
        stats=result.stats,
        synthetic=recipe.synthetic,
        raw_files=raw,
        options=recipe.options(),
        description=recipe.description,
        data_id=identity,
    )


def data_identity(
    name_or_recipe: str | DatasetRecipe,
    *,
    data_root: str | Path | None = None,
    protocol: str | None = None,
    test_days: float | None = None,
    valid_days: float | None = None,
    **options: Any,
) -> str:
    """The :attr:`PreparedDataset.data_id` that :func:`prepare` would give, without preparing.

    It hashes the raw file(s) and the canonical recipe options and protocol parameters
    (every default filled in; ``3`` and ``3.0`` spelled alike), so it changes whenever the
    data a run would see can change. Arguments as for :func:`prepare`.

    Returns
    -------
    str
        64 hex digits.
    """
    root = resolve_data_root(data_root)
    recipe, spec, params = _resolve(name_or_recipe, root, protocol, test_days, valid_days, options)
    return _identity(recipe, spec.name, params, recipe.checksum())


def check_test_split(ds: PreparedDataset) -> None:
    """Raise :class:`DataError` when the protocol left no test case (nothing to evaluate)."""
    if ds.test.n_cases > 0:
        return
    s = ds.stats
    dropped = {k: v for k, v in s.items() if k.startswith("dropped_") and v}
    raise DataError(
        f"{ds.name}: the test split is empty after the {ds.protocol['name']} protocol's filters "
        f"({s.get('test_sessions', 0)} test session(s), 0 test cases; split at {s.get('split_date', '?')}; "
        f"dropped {dropped or 'nothing'}). Use more test days (--test-days), or relax min_item_support / "
        "min_session_length."
    )


def _resolve(
    name_or_recipe: str | DatasetRecipe,
    root: Path,
    protocol: str | None,
    test_days: float | None,
    valid_days: float | None,
    options: dict[str, Any],
) -> tuple[DatasetRecipe, ProtocolSpec, dict[str, Any]]:
    """The recipe, the protocol and its checked parameters (test/valid days included)."""
    proto_names = set(PROTOCOLS)
    if isinstance(name_or_recipe, DatasetRecipe):
        recipe = name_or_recipe
        proto_opts = dict(options)
    else:
        cls = get_recipe(name_or_recipe)
        recipe_keys = set(_recipe_kwargs(cls))
        all_proto = {p for n in proto_names for p in protocol_params(n)}
        unknown = sorted(set(options) - recipe_keys - all_proto)
        if unknown:
            raise ConfigError(
                f"unknown option {', '.join(unknown)} for dataset {name_or_recipe!r}; recipe options: "
                f"{', '.join(sorted(recipe_keys))}; protocol parameters: {', '.join(sorted(all_proto))}"
            )
        recipe = cls(root, **{k: v for k, v in options.items() if k in recipe_keys})
        proto_opts = {k: v for k, v in options.items() if k not in recipe_keys}
    if recipe.root is None:
        recipe.root = root

    pname = protocol or recipe.default_protocol
    spec = protocol_spec(pname)
    if recipe.protocols is not None and pname not in recipe.protocols:
        raise ConfigError(
            f"dataset {recipe.name!r} is defined only under protocol(s) {', '.join(recipe.protocols)}, not {pname!r}"
        )
    return recipe, spec, _protocol_values(spec, recipe, proto_opts, test_days, valid_days)


def _identity(recipe: DatasetRecipe, pname: str, params: dict[str, Any], checksum: str | None) -> str:
    """sha256 of what determines the prepared data: recipe, options, protocol, parameters, raw bytes."""
    blob = json.dumps(
        {
            "format": CACHE_FORMAT,
            "recipe": recipe.name,
            "options": recipe.options(),
            "protocol": pname,
            "params": _full_params(params),
            "raw_sha256": checksum,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def _protocol_values(
    spec: ProtocolSpec,
    recipe: DatasetRecipe,
    options: dict[str, Any],
    test_days: float | None,
    valid_days: float | None,
) -> dict[str, Any]:
    """Every parameter of the protocol, checked once: protocol defaults < the protocol's defaults
    for this recipe < the recipe's own < options < ``test_days``/``valid_days`` arguments."""
    values = {**spec.recipe_defaults.get(recipe.name, {}), **recipe.protocol_defaults.get(spec.name, {}), **options}
    if test_days is not None:
        values["test_days"] = test_days
    elif spec.name in recipe.default_test_days:
        values["test_days"] = recipe.default_test_days[spec.name]
    if valid_days is not None:
        values["valid_days"] = valid_days
    return spec.check(values)


def _full_params(params: dict[str, Any]) -> dict[str, Any]:
    """The checked parameters with numbers as floats (for the cache key)."""
    return {k: float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v for k, v in params.items()}


# ---------------------------------------------------------------------------------- fingerprint & cache
_PARTS = ("train", "test", "valid")


def _session_arrays(prefix: str, s: Sessions | None) -> dict[str, np.ndarray]:
    if s is None:
        return {}
    out = {f"{prefix}_items": s.items, f"{prefix}_offsets": s.offsets, f"{prefix}_timestamps": s.timestamps}
    if s.session_ids is not None:
        out[f"{prefix}_session_ids"] = np.asarray(s.session_ids)
    return out


def _fingerprint(train: Sessions, test: Sessions, valid: Sessions | None, index: ItemIndex) -> str:
    """sha256 over the prepared arrays (items, offsets, timestamps, session ids, item ids)."""
    h = hashlib.sha256()
    arrays = {**_session_arrays("train", train), **_session_arrays("test", test), **_session_arrays("valid", valid)}
    arrays["item_ids"] = index.ids
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}:{a.dtype.str}:{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _save(path: Path, ds: PreparedDataset) -> None:
    """Write atomically: a temp file in the same folder, fsync, then ``os.replace``.

    The temp file is named ``.<name>.<host>.<pid>.<random>.tmp`` so a later run can tell
    whether its writer is still alive (:func:`_remove_stale_temp_files`).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "name": ds.name,
        "fingerprint": ds.fingerprint,
        "protocol": ds.protocol,
        "stats": ds.stats,
        "synthetic": ds.synthetic,
        "options": ds.options,
        "description": ds.description,
        "n_items": ds.n_items,
        "data_id": ds.data_id,
    }
    arrays = {
        **_session_arrays("train", ds.train),
        **_session_arrays("test", ds.test),
        **_session_arrays("valid", ds.valid),
        **ds.item_index.to_arrays(),
        "meta": np.array(json.dumps(meta, default=str)),
    }
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{_HOST}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _save_or_note(path: Path, ds: PreparedDataset) -> None:
    """:func:`_save`; a data root that cannot be written only costs the cache (with a note)."""
    try:
        _save(path, ds)
    except OSError as exc:
        emit("note", text=f"cannot write the prepared-data cache {path} ({exc.strerror or exc}); continuing without it")


_HOST = socket.gethostname().replace(".", "-")


_TEMP_NAME = re.compile(r"^\..+\.(?P<host>[^.]+)\.(?P<pid>\d+)\.[^.]+\.tmp$")
_OLD_TEMP_AGE = 24 * 3600.0


def _remove_stale_temp_files(folder: Path) -> None:
    """Delete cache temp files whose writer (a process on this host) is no longer alive.

    Temp files of other hosts (a shared data root) are left alone; those without a
    pid in their name (older releases) are removed once a day old.
    """
    if not folder.is_dir():
        return
    now = time.time()
    for tmp in folder.glob(".*.tmp"):
        m = _TEMP_NAME.match(tmp.name)
        if m is not None:
            stale = m["host"] == _HOST and not _alive(int(m["pid"]))
        else:
            try:
                stale = now - tmp.stat().st_mtime > _OLD_TEMP_AGE
            except OSError:
                continue
        if stale:
            tmp.unlink(missing_ok=True)
            emit("note", text=f"removed {tmp.name}, left in {folder} by an interrupted run")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def _load_cached(path: Path, raw: list[dict[str, str]], identity: str, name: str) -> PreparedDataset | None:
    """The cached dataset, or None (with a note) when the file is damaged and must be rebuilt."""
    emit("prepare", step=f"{name}: cached")
    try:
        ds = _load(path, raw)
    except Exception as exc:  # any damage (truncation, zero bytes, bad zip) means: rebuild
        emit("note", text=f"the prepared-data cache {path} is damaged ({type(exc).__name__}: {exc}); rebuilding it")
        return None
    return dataclasses.replace(ds, data_id=identity)


def _load(path: Path, raw: list[dict[str, str]]) -> PreparedDataset:
    with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as z:  # own handle: closed on damage too
        meta = json.loads(str(z["meta"]))
        n_items = int(meta["n_items"])
        parts: dict[str, Sessions | None] = {}
        for part in _PARTS:
            if f"{part}_items" not in z:
                parts[part] = None
                continue
            sid = z[f"{part}_session_ids"] if f"{part}_session_ids" in z else None
            parts[part] = Sessions(z[f"{part}_items"], z[f"{part}_offsets"], z[f"{part}_timestamps"], n_items, sid)
        index = ItemIndex.from_arrays(z)
    train, test = parts["train"], parts["test"]
    if train is None or test is None:
        raise DataError(f"{path}: cache file lacks the train or test split")
    return PreparedDataset(
        name=meta["name"],
        train=train,
        test=test,
        valid=parts["valid"],
        item_index=index,
        fingerprint=meta["fingerprint"],
        protocol=meta["protocol"],
        stats=meta["stats"],
        synthetic=bool(meta["synthetic"]),
        raw_files=raw,
        options=meta["options"],
        description=meta["description"],
    )
