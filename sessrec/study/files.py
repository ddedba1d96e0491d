"""Study files: ``experiment.toml`` read and written, one record per study folder."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sessrec.errors import ConfigError
from sessrec.study.config import StudyConfig, _check_sections
from sessrec.study.values import SECTIONS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


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


def parse_study(text: str, source: str) -> list[StudyConfig]:
    """Every entry of study-file text (``source`` names it in errors)."""
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
    return parse_study(_read_text(path), str(path))


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
    if "tune" in data:
        lines += ["", *_toml_table(f"{sub}tune", data["tune"])]
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
