"""Tuned parameter sets: ``tuned/<dataset>/<model>.toml`` in the study folder.

A file holds the best parameters of one (dataset, model) tuning study and everything needed
to judge them: the objective and its best validation value, the trials spent (complete,
pruned, failed) and seconds, the search space's digest and source, and the data it was tuned
on (recipe options, protocol, test and validation days, split fingerprint). ``sessrec run
-p MODEL=tuned`` reads it, refits on the whole training part and tests over seeds.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sessrec.errors import ConfigError

try:  # Python 3.11+
    import tomllib
except ImportError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

__all__ = ["TUNED", "check_tuned_data", "load_tuned", "tuned_path", "write_tuned"]

#: The parameter-set name that refers to a study's tuned parameters (``-p fpmc=tuned``).
TUNED = "tuned"
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def tuned_path(study_dir: str | Path, dataset: str, model: str) -> Path:
    """Where the tuned set of ``model`` on ``dataset`` lives in the study folder."""
    for what, name in (("dataset", dataset), ("model", model)):
        if not _SAFE.match(name):
            raise ConfigError(f"{what} name {name!r} cannot name a file (letters, digits, '_', '-', '.')")
    return Path(study_dir) / "tuned" / dataset / f"{model}.toml"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot write the non-finite number {value} to TOML")
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise ValueError(f"cannot write {type(value).__name__} {value!r} to TOML")


def _dump(data: Mapping[str, Any]) -> str:
    lines = [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, Mapping)]
    for key, table in data.items():
        if isinstance(table, Mapping):
            lines += ["", f"[{json.dumps(key)}]"] + [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def write_tuned(path: Path, meta: Mapping[str, Any], params: Mapping[str, Any]) -> None:
    """Write ``meta`` (flat values) and ``[params]`` atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(_dump({**{k: v for k, v in meta.items() if v is not None}, "params": dict(params)}))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def load_tuned(study_dir: str | Path, dataset: str, model: str) -> dict[str, Any]:
    """The tuned set's metadata and ``params`` (tuples restored where the file has lists).

    Raises :class:`ConfigError` when the study has no tuned set for the pair.
    """
    path = tuned_path(study_dir, dataset, model)
    if not path.is_file():
        raise ConfigError(
            f"no tuned parameters for {model!r} on {dataset!r} in {str(Path(study_dir))!r} "
            f"(expected {str(path)!r}); run `sessrec tune --models {model} --dataset {dataset} --out {study_dir}` first"
        )
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"tuned parameter file {str(path)!r} is damaged: {exc}") from None
    params = data.get("params")
    if not isinstance(params, dict) or data.get("model") != model:
        raise ConfigError(f"tuned parameter file {str(path)!r} has no [params] table for model {model!r}")
    tuples = set(data.get("tuple_params", []))
    data["params"] = {k: tuple(v) if k in tuples and isinstance(v, list) else v for k, v in params.items()}
    return data


def check_tuned_data(tuned: Mapping[str, Any], key: Mapping[str, Any]) -> None:
    """Raise :class:`ConfigError` unless the set was tuned on the data ``key`` describes.

    ``key`` has ``dataset``, ``options``, ``protocol`` and ``test_days``, as the run's spec.
    """
    want = json.loads(json.dumps(dict(key), sort_keys=True, default=str))
    have = json.loads(str(tuned.get("data_key", "{}")))
    if have != want:
        raise ConfigError(
            f"the tuned parameters of {tuned.get('model')!r} were found on {json.dumps(have, sort_keys=True)}, "
            f"but this run is on {json.dumps(want, sort_keys=True)}; tune again on this data"
        )
