"""Saved models: a fitted model to one ``.pt`` file and back, without unpickling objects.

:func:`save_model` writes, with :func:`torch.save`, a dict made only of tensors, strings,
numbers, ``None`` and lists/dicts of them:

* ``params``: the constructor parameters (``get_params()``) as canonical JSON;
* ``model``: where the class lives (``"module:QualName"``), resolved on load through the
  model registry (or an already imported module), never imported from the file's say-so;
* ``state``: every instance attribute that is not a constructor parameter (what ``fit``
  set, private caches included; a :class:`TorchModel`'s ``network_`` and ``device_`` aside),
  encoded as plain arrays: numpy arrays and scalars, torch tensors, dtypes and devices,
  scipy sparse matrices, lists/tuples/dicts of those, and small helper objects (instances
  of a plain class from the model's own package or from sessrec, already imported, whose
  attributes are themselves encodable);
* ``network`` (a :class:`TorchModel`): the network's state dict; the training data's sizes
  (``train_shape_``, in ``state``) that :meth:`TorchModel.build_network` reads; on
  load the network is rebuilt from the parameters on a stand-in of those sizes and the state
  dict is loaded into it.

:func:`load_model` reads it back with ``torch.load(..., weights_only=True)`` and checks the
SHA-256 ``digest`` saved with it (over parameters, state and every tensor's bytes, which
``torch.load`` itself does not verify): a truncated, tampered or foreign file (a pickle of
arbitrary objects included) is one :class:`~sessrec.errors.SessrecError`.

Examples
--------
>>> import tempfile, pathlib
>>> from sessrec.data.sessions import PrefixBatch, Sessions
>>> from sessrec.registry import make_model
>>> train = Sessions.from_lists([[0, 1, 2], [1, 2], [2, 0]], n_items=3)
>>> model = make_model("pop").fit(train)
>>> path = pathlib.Path(tempfile.mkdtemp()) / "pop.pt"
>>> save_model(model, path)
>>> batch = PrefixBatch.from_lists([[0], [1, 2]])
>>> bool((load_model(path).score(batch) == model.score(batch)).all())
True
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from sessrec.errors import SessrecError

__all__ = ["FORMAT", "load_model", "model_path", "save_model"]

FORMAT = "sessrec-model/1"
_TAG = "__sessrec__"


# ---------------------------------------------------------------------- encoding
def _encode(value: Any, where: str) -> Any:  # noqa: C901 - one branch per storable type, a flat dispatch
    """``value`` as tensors, primitives and tagged dicts (see the module doc)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, torch.Tensor):
        return {_TAG: "tensor", "data": value.detach().to("cpu", copy=True)}
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biufc":
            raise TypeError(f"{where}: cannot save a numpy array of dtype {value.dtype}")
        return {_TAG: "ndarray", "data": torch.from_numpy(np.ascontiguousarray(value).copy())}
    if isinstance(value, np.generic):
        return {_TAG: "npscalar", "data": _encode(np.asarray(value), where)}
    if isinstance(value, torch.dtype):
        return {_TAG: "dtype", "name": str(value).removeprefix("torch.")}
    if isinstance(value, torch.device):
        return {_TAG: "device", "name": str(value)}
    if sp.issparse(value):
        return _encode_sparse(value, where)
    if _same_kind_vectors(value):  # e.g. one neighbour array per item: one tensor, not thousands
        lengths = np.array([len(v) for v in value], dtype=np.int64)
        flat = np.concatenate(value) if len(value) else np.zeros(0)
        return {_TAG: "vectors", "data": _encode(flat, where), "lengths": _encode(lengths, where)}
    if isinstance(value, (list, tuple)):
        items = [_encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
        return {_TAG: "tuple", "items": items} if isinstance(value, tuple) else items
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError(f"{where}: cannot save a dict with non-string keys")
        return {_TAG: "dict", "items": {k: _encode(v, f"{where}[{k!r}]") for k, v in value.items()}}
    if hasattr(value, "__dict__") and not callable(value):
        cls = type(value)
        attrs = {k: _encode(v, f"{where}.{k}") for k, v in vars(value).items()}
        return {_TAG: "object", "class": f"{cls.__module__}:{cls.__qualname__}", "attrs": attrs}
    raise TypeError(f"{where}: cannot save a value of type {type(value).__name__}")


def _same_kind_vectors(value: Any) -> bool:
    """A list (not a tuple) of at least two 1-d numeric numpy arrays of one dtype."""
    if not isinstance(value, list) or len(value) < 2:
        return False
    first = value[0]
    if not isinstance(first, np.ndarray) or first.dtype.kind not in "biufc":
        return False
    return all(type(v) is np.ndarray and v.ndim == 1 and v.dtype == first.dtype for v in value)


def _encode_sparse(value: Any, where: str) -> dict[str, Any]:
    fmt = value.format if value.format in ("csr", "csc") else "coo"
    m = value.asformat(fmt)
    kind = "array" if isinstance(value, sp.sparray) else "matrix"
    parts = (m.indptr, m.indices) if fmt != "coo" else (m.row, m.col)
    return {
        _TAG: "sparse",
        "format": fmt,
        "kind": kind,
        "shape": list(m.shape),
        "parts": [_encode(np.asarray(p), where) for p in (*parts, m.data)],
    }


def _decode(value: Any, allowed: tuple[str, ...]) -> Any:  # noqa: C901 - the inverse dispatch of _encode, one branch per stored type
    """The inverse of :func:`_encode`; helper objects only from the ``allowed`` module prefixes."""
    if isinstance(value, list):
        return [_decode(v, allowed) for v in value]
    if not isinstance(value, dict):
        return value
    tag = value[_TAG]
    if tag in ("tensor", "ndarray"):
        data = value["data"]
        if not isinstance(data, torch.Tensor):
            raise ValueError(f"a {tag} entry holds {type(data).__name__}, not a tensor")
        return data if tag == "tensor" else data.numpy()
    if tag == "npscalar":
        return _decode(value["data"], allowed)[()]
    if tag == "dtype":
        dtype = getattr(torch, value["name"])
        if not isinstance(dtype, torch.dtype):
            raise ValueError(f"{value['name']!r} is not a torch dtype")
        return dtype
    if tag == "device":
        return torch.device(value["name"])
    if tag == "sparse":
        return _decode_sparse(value, allowed)
    if tag == "vectors":
        flat, lengths = _decode(value["data"], allowed), _decode(value["lengths"], allowed)
        if lengths.ndim != 1 or lengths.min(initial=0) < 0 or int(lengths.sum()) != len(flat):
            raise ValueError("a vectors entry's lengths do not add up to its data")
        return np.split(flat, np.cumsum(lengths)[:-1])
    if tag == "tuple":
        return tuple(_decode(v, allowed) for v in value["items"])
    if tag == "dict":
        return {k: _decode(v, allowed) for k, v in value["items"].items()}
    if tag == "object":
        obj = object.__new__(_resolve_helper(value["class"], allowed))
        obj.__dict__.update({k: _decode(v, allowed) for k, v in value["attrs"].items()})
        return obj
    raise ValueError(f"unknown entry type {tag!r}")


def _decode_sparse(value: dict[str, Any], allowed: tuple[str, ...]) -> Any:
    first, second, data = (_decode(p, allowed) for p in value["parts"])
    shape = tuple(int(n) for n in value["shape"])
    fmt = value["format"]
    ctor = {"csr": sp.csr_matrix, "csc": sp.csc_matrix, "coo": sp.coo_matrix}[fmt]
    if value["kind"] == "array":
        ctor = {"csr": sp.csr_array, "csc": sp.csc_array, "coo": sp.coo_array}[fmt]
    if fmt == "coo":
        return ctor((data, (first, second)), shape=shape)
    return ctor((data, second, first), shape=shape)


def _resolve_helper(path: str, allowed: tuple[str, ...]) -> type:
    """A helper class named ``module:QualName``, from an already imported module of an allowed package."""
    module, _, qualname = path.partition(":")
    if not module.startswith(allowed) or module not in sys.modules or "." in qualname:
        raise ValueError(f"the file names a helper class {path!r} outside the model's package")
    cls = getattr(sys.modules[module], qualname, None)
    if not isinstance(cls, type) or "__setstate__" in vars(cls) or "__slots__" in vars(cls):
        raise ValueError(f"{path!r} is not a plain helper class")
    return cls


# ---------------------------------------------------------------------- classes
def _class_path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _resolve_model_class(path: str) -> type:
    """The model class ``module:QualName``: a registered model, or one of an imported module."""
    from sessrec.registry import models

    for name, entry in models.entries().items():
        if entry.value == path:
            return models.load(name)
    module, _, qualname = path.partition(":")
    obj = getattr(sys.modules.get(module), qualname, None) if "." not in qualname else None
    if not isinstance(obj, type):
        raise SessrecError(
            f"the saved model's class {path!r} is not a registered model; install or register its plugin "
            "(sessrec.registry.register_model) or import its module, then load again"
        )
    return obj


def _allowed_modules(cls: type) -> tuple[str, ...]:
    return (cls.__module__.split(".")[0] + ".", "sessrec.")


# ---------------------------------------------------------------------- save
def model_path(study_dir: str | os.PathLike[str], run_id: str) -> Path:
    """Where a study keeps the saved model of run ``run_id``: ``<study_dir>/models/<run_id>.pt``.

    ``sessrec run --save-models`` calls ``save_model(model, model_path(out_dir, run_id))``
    right after ``fit``; ``load_model(study_dir, run_id)`` reads it.
    """
    return Path(study_dir) / "models" / f"{run_id}.pt"


def _fitted_attributes(model: Any) -> dict[str, Any]:
    """Everything ``fit`` set: the instance attributes that are not constructor parameters."""
    from sessrec.models.base import TorchModel

    skip = set(model.get_params())
    if isinstance(model, TorchModel):
        skip |= {"network_", "device_"}
    return {k: v for k, v in vars(model).items() if k not in skip}


def save_model(model: Any, path: str | os.PathLike[str]) -> None:
    """Save a fitted ``model`` (its constructor parameters and fitted state) to ``path``.

    Parameters
    ----------
    model : BaseModel
        A fitted model with ``get_params()``; parameters must be JSON-able.
    path : str or PathLike
        The file to write (conventionally ``.pt``); parent folders are created. Written
        atomically (a temporary file renamed into place).

    Raises
    ------
    SessrecError
        The model is not fitted, or a parameter or fitted attribute cannot be saved as plain data.
    """
    from sessrec.models.base import NotFittedError, TorchModel, check_is_fitted

    try:
        check_is_fitted(model)
    except NotFittedError as exc:
        raise SessrecError(f"cannot save {type(model).__name__}: {exc}") from None
    try:
        params = json.dumps(model.get_params(), sort_keys=True)
        payload: dict[str, Any] = {
            "format": FORMAT,
            "model": _class_path(type(model)),
            "params": params,
            "state": _encode(_fitted_attributes(model), "model"),
        }
    except TypeError as exc:
        raise SessrecError(f"cannot save {type(model).__name__}: {exc}") from None
    if isinstance(model, TorchModel):
        payload["network"] = {k: v.detach().to("cpu", copy=True) for k, v in model.network_.state_dict().items()}
    payload["digest"] = _digest(payload)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(buffer.getvalue())
    os.replace(tmp, path)


# ---------------------------------------------------------------------- load
def _read_payload(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise SessrecError(f"no saved model at {path}; save one with sessrec.save_model or `sessrec run --save-models`")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise SessrecError(
            f"{path} is not a readable sessrec model file (truncated, corrupted or not saved by sessrec.save_model: "
            f"{type(exc).__name__}); save the model again"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise SessrecError(f"{path} is not a sessrec model file: expected format {FORMAT!r}, found {found!r}")
    saved = payload.pop("digest", None)
    try:
        digest = _digest(payload)
    except TypeError:
        digest = None
    if saved is None or digest != saved:
        raise SessrecError(
            f"{path} does not match the checksum saved with it (corrupted or edited after saving); save the model again"
        )
    return payload


def _digest(payload: dict[str, Any]) -> str:
    """SHA-256 of ``payload`` (saved without its ``digest``): keys, numbers, text and tensor bytes.

    ``torch.load`` does not verify the bytes of tensor storages, so a flipped byte in a
    weight would otherwise load silently as a different model.
    """
    h = hashlib.sha256()

    def feed(value: Any) -> None:
        if isinstance(value, dict):
            h.update(b"{%d" % len(value))
            for key in sorted(value, key=str):
                h.update(repr(key).encode())
                feed(value[key])
        elif isinstance(value, (list, tuple)):
            h.update(b"[%d" % len(value))
            for item in value:
                feed(item)
        elif isinstance(value, torch.Tensor):
            t = value.detach().cpu()
            if t.is_sparse:
                t = t.coalesce()
                feed([t.indices(), t.values(), list(t.shape)])
                return
            h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
            flat = torch.empty(t.numel(), dtype=t.dtype).copy_(t.reshape(-1))  # fresh, unit stride
            h.update(flat.view(torch.uint8).numpy().tobytes())
        elif value is None or isinstance(value, (str, int, float, bool)):
            h.update(f"{type(value).__name__}:{value!r};".encode())
        else:
            raise TypeError(f"cannot checksum {type(value).__name__}")

    feed(payload)
    return h.hexdigest()


def _stand_in(shape: dict[str, Any]) -> Any:
    """Sessions with the saved training sizes (one click of item 0 per session)."""
    from sessrec.data.sessions import Sessions

    n_sessions, n_items = int(shape["n_sessions"]), int(shape["n_items"])
    items = np.zeros(n_sessions, dtype=np.int64)
    return Sessions(items, np.arange(n_sessions + 1, dtype=np.int64), np.arange(n_sessions, dtype=np.float64), n_items)


def _restore(payload: dict[str, Any], device: str | None) -> Any:
    from sessrec.models.base import TorchModel, resolve_device

    cls = _resolve_model_class(str(payload["model"]))
    params = json.loads(payload["params"])
    if device is not None and "device" in params:
        params["device"] = device
    model = cls(**params)
    state = _decode(payload["state"], _allowed_modules(cls))
    for name, value in state.items():  # first: building the network may read fitted attributes (GCE-GNN's graph)
        setattr(model, name, value)
    if isinstance(model, TorchModel):
        model.device_ = resolve_device(model.device)
        with torch.random.fork_rng(devices=[]):
            network = model.build_network(_stand_in(state["train_shape_"]))
        network.load_state_dict(payload["network"])
        model.network_ = network.to(model.device_).eval()
        for name, value in state.items():  # and again: building may have set attributes from the stand-in data
            setattr(model, name, value)
    return model


def load_model(path: str | os.PathLike[str], run_id: str | None = None, *, device: str | None = None) -> Any:
    """A fitted model saved by :func:`save_model`: it scores exactly as the saved one did.

    Parameters
    ----------
    path : str or PathLike
        A model file; or, with ``run_id``, a study folder (the file is ``models/<run_id>.pt``).
    run_id : str, optional
        The run whose model to load from the study folder ``path``.
    device : str, optional
        For models with a ``device`` parameter: where to put the network (e.g. ``"cpu"`` to
        load a model trained on a GPU); default: the saved parameter.

    Returns
    -------
    BaseModel
        The fitted model, its network (if any) in eval mode.

    Raises
    ------
    SessrecError
        The file is missing, truncated, tampered with or not a sessrec model file, or its
        model class is not installed.
    """
    file = model_path(path, run_id) if run_id is not None else Path(path)
    payload = _read_payload(file)
    try:
        return _restore(payload, device)
    except SessrecError:
        raise
    except Exception as exc:
        raise SessrecError(
            f"{file} does not hold a consistent saved model ({type(exc).__name__}: {exc}); save the model again"
        ) from None
