"""Running the entries of a study: specs, folder checks, the record."""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from sessrec.errors import ConfigError
from sessrec.study.config import StudyConfig
from sessrec.study.files import record_study


def specs_of(configs: Iterable[StudyConfig]) -> list[Any]:
    """The run specs of several entries, each run once (entries may overlap)."""
    seen: dict[str, Any] = {}
    for cfg in configs:
        for spec in cfg.specs():
            seen.setdefault(spec.run_id, spec)
    return list(seen.values())


def run_configs(
    configs: Sequence[StudyConfig],
    *,
    force: bool = False,
    record: bool = True,
    prepare: Callable[..., Any] | None = None,
    executor: Any = None,
    save_models: bool = False,
    on_record: Callable[[dict[str, Any]], None] | None = None,
) -> Any:
    """Run every entry of a study (one folder); return the :class:`~sessrec.runner.StudyOutcome`.

    Everything is checked first — models, parameters, dataset options, that the study
    folder and the data cache can be written — and only then is data read. ``record`` adds
    the entries to the folder's ``experiment.toml`` once at least one run is in the study.
    ``executor`` (:mod:`sessrec.executors`) computes the runs; in this process by default.
    ``save_models`` and ``on_record`` are passed to :func:`~sessrec.runner.run_study`.
    """
    from sessrec.runner import run_study

    if not configs:
        raise ConfigError("no study entries to run")
    folders = {c.out_dir for c in configs}
    if len(folders) != 1:
        raise ConfigError(f"the entries name different study folders: {', '.join(sorted(map(str, folders)))}")
    roots = {c.data_dir for c in configs}
    if len(roots) != 1:
        raise ConfigError(f"the entries name different data folders: {', '.join(sorted(map(str, roots)))}")
    out_dir, data_dir = folders.pop(), roots.pop()
    specs = specs_of(configs)
    check_writable_dir(out_dir, "the study folder (out)")
    if prepare is None:
        check_writable_dir(_data_root(data_dir) / ".cache", "the data folder's cache (data_dir)")
    outcome = run_study(
        specs,
        out_dir,
        data_root=data_dir,
        force=force,
        prepare=prepare,
        executor=executor,
        save_models=save_models,
        on_record=on_record,
    )
    if record and (outcome.ran or outcome.skipped):
        record_study(out_dir, [dataclasses.replace(c.validate(), out=str(out_dir)) for c in configs])
    return outcome


# ---------------------------------------------------------------------- folders
def _data_root(data_dir: str | None) -> Path:
    from sessrec.data import resolve_data_root

    return resolve_data_root(data_dir)


def check_writable_dir(path: str | os.PathLike[str], what: str) -> None:
    """Raise :class:`ConfigError` unless ``path`` is (or can be created as) a writable folder.

    Checked before any run, so that a study does not fail after hours of work. The test is
    a real one (a temporary file is created and removed), not a permission-bit reading.
    """
    path = Path(path)
    probe = path
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(f"{what} {path} cannot be created: {probe} is a file, not a folder")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".sessrec-write-test.", dir=probe)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(
            f"{what} {path} is not writable: cannot create a file in {probe} ({reason}); choose another folder"
        ) from None
    os.close(fd)
    os.unlink(tmp)
