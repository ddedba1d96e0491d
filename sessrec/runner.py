"""Running studies: the one path the CLI and notebooks share.

A study is a list of :class:`RunSpec` (model + params, dataset + protocol parameters, seed,
cutoffs, ties, device). A run is a pure function of its spec and the prepared data
(:func:`run_one`); :func:`run_study` prepares each dataset once, skips runs whose
``run_id`` is already in the store, and appends each finished run atomically, so a crash
or Ctrl-C loses at most the run in flight. :func:`run_one` is the seam where a cluster
engine (Ray) or a tuner (Optuna) plugs in: it takes ``(spec, prepared)`` and returns
``(record, ranks)`` for :meth:`~sessrec.results.StudyStore.append`, with no other state.

Examples
--------
>>> from sessrec.runner import RunSpec
>>> spec = RunSpec(model="pop", dataset="synthetic", seed=0)
>>> len(spec.run_id)
16
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import functools
import hashlib
import json
import os
import platform
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from sessrec.errors import ConfigError, DataError
from sessrec.evaluation.ranks import TIES
from sessrec.models.params import param_names
from sessrec.progress import emit, phase
from sessrec.registry import load_model, make_model, models, sessrec_commit
from sessrec.results.record import RunRecord
from sessrec.results.store import CaseTable, StudyStore

__all__ = ["RunFailure", "RunSpec", "StudyOutcome", "cpu_name", "data_id_of", "hardware", "run_one", "run_study"]


def _freeze(obj: Any) -> Any:
    """A JSON-canonical copy (sorted keys, tuples as lists) used for hashing and records."""
    return json.loads(json.dumps(obj, sort_keys=True, default=str))


def _canonical(obj: Any) -> Any:
    """``obj`` with every integral float written as an int (``3.0`` -> ``3``), for hashing.

    Options and parameters spelled ``3`` and ``3.0`` mean the same run and get one id.
    """
    if isinstance(obj, float) and obj.is_integer() and abs(obj) < 2**53:
        return int(obj)
    if isinstance(obj, dict):
        return {k: _canonical(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_canonical(v) for v in obj]
    return obj


@dataclass(frozen=True)
class RunSpec:
    """Everything that defines one run; its hash is the ``run_id``.

    ``params`` are the model's hyperparameters (``random_state`` defaults to ``seed`` and
    ``device`` to ``device`` when the model takes them). ``dataset_options`` go to the
    dataset recipe (e.g. ``path``, ``keep_file_order``); ``protocol``, ``test_days`` and
    ``valid_days`` override the recipe's defaults when not ``None``. ``param_set`` names the
    parameter set ``params`` come from (``"tuned"``, a published set's name; ``None``: given
    directly or defaults), for the report.

    ``data_id`` is the identity of the prepared data the run uses
    (:attr:`~sessrec.data.PreparedDataset.data_id`: raw-file sha256 + recipe options +
    every protocol parameter). :func:`run_study` and :func:`run_one` fill it in; once set,
    the run id hashes it in place of the dataset options, so an edited raw file gives new
    run ids and moving the file does not. Numbers are canonicalised before hashing
    (``3`` and ``3.0`` give one id).
    """

    model: str
    dataset: str = "synthetic"
    params: Mapping[str, Any] = field(default_factory=dict)
    dataset_options: Mapping[str, Any] = field(default_factory=dict)
    protocol: str | None = None
    test_days: float | None = None
    valid_days: float | None = None
    seed: int = 0
    cutoffs: tuple[int, ...] = (5, 10, 20)
    ties: str = "conservative"
    device: str = "auto"
    data_id: str | None = None
    param_set: str | None = None

    def __post_init__(self) -> None:
        if self.ties not in TIES:
            raise ConfigError(f"ties must be one of {', '.join(TIES)}, got {self.ties!r}")
        cutoffs = tuple(int(k) for k in self.cutoffs)
        if not cutoffs or min(cutoffs) < 1:
            raise ConfigError(f"cutoffs must be positive integers, got {list(self.cutoffs)}")
        object.__setattr__(self, "cutoffs", tuple(sorted(set(cutoffs))))

    def data_key(self) -> dict[str, Any]:
        """What identifies the prepared dataset (runs sharing it prepare it once)."""
        return _freeze(
            {
                "dataset": self.dataset,
                "options": dict(self.dataset_options),
                "protocol": self.protocol,
                "test_days": self.test_days,
                "valid_days": self.valid_days,
            }
        )

    def as_dict(self) -> dict[str, Any]:
        out = {
            "model": self.model,
            "params": dict(self.params),
            "seed": self.seed,
            "cutoffs": list(self.cutoffs),
            "ties": self.ties,
            "device": self.device,
            **self.data_key(),
        }
        if self.data_id is not None:
            out["data_id"] = self.data_id
        if self.param_set is not None:
            out["param_set"] = self.param_set
        return _freeze(out)

    def identity(self) -> dict[str, Any]:
        """What the run id hashes: the run's settings and its data (canonical numbers)."""
        ident = self.as_dict()
        if self.data_id is not None:  # the data id already covers options, protocol and days
            for key in ("options", "protocol", "test_days", "valid_days"):
                ident.pop(key)
        return _canonical(ident)

    @property
    def run_id(self) -> str:
        blob = json.dumps(self.identity(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def with_data(self, data_id: str) -> RunSpec:
        """This spec bound to the prepared data ``data_id`` (see the class docstring)."""
        return dataclasses.replace(self, data_id=data_id)


@dataclass
class RunFailure:
    spec: RunSpec
    error: str


@dataclass
class StudyOutcome:
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[RunFailure] = field(default_factory=list)


# ---------------------------------------------------------------------- measuring
class _PeakRSS:
    """Peak resident memory of this process while the ``with`` block runs (MB).

    Samples ``/proc/self/statm`` from a thread every 20 ms (Linux); elsewhere falls back to
    ``ru_maxrss``, which is the process's lifetime peak and says so in ``method``.
    """

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.peak_mb = 0.0
        self.method = "sampled /proc/self/statm"
        self._stop = threading.Event()

    @staticmethod
    def _current_mb() -> float | None:
        try:
            with open("/proc/self/statm") as fh:
                pages = int(fh.read().split()[1])
            return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
        except (OSError, ValueError, IndexError):
            return None

    def _loop(self) -> None:
        while not self._stop.is_set():
            cur = self._current_mb()
            if cur is not None:
                self.peak_mb = max(self.peak_mb, cur)
            self._stop.wait(self.interval)

    def __enter__(self) -> _PeakRSS:
        if self._current_mb() is None:
            import resource

            scale = 1 if sys.platform == "darwin" else 1024
            self.method = "ru_maxrss (process lifetime)"
            self.peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20
            return self
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if hasattr(self, "_thread"):
            self._stop.set()
            self._thread.join()
            cur = self._current_mb()
            if cur is not None:
                self.peak_mb = max(self.peak_mb, cur)


def cpu_name() -> str:
    """The CPU model as the OS names it (``/proc/cpuinfo``), else ``platform.processor()``."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware() -> dict[str, Any]:
    """The machine a run used: CPU, cores, torch threads, GPU."""
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"cpu": cpu_name(), "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(), "gpu": gpu}


def _versions(model_name: str) -> dict[str, str | None]:
    from sessrec import __version__

    entry = models.entries().get(model_name)
    plugin = f"{entry.distribution} {entry.version}" if entry is not None and entry.distribution else None
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "sessrec": __version__,
        "plugin": plugin,
    }


# ---------------------------------------------------------------------- running
def build_model(spec: RunSpec) -> Any:
    """The unfitted model of ``spec``: its params, plus ``random_state``/``device`` defaults.

    Parameters are checked by :func:`sessrec.registry.make_model` (the one place that
    validates them); a :class:`~sessrec.study.StudyConfig` has already checked them when it
    built the specs, so this fails here only for specs built by hand.
    """
    factory = load_model(spec.model)
    try:
        names = param_names(factory) if isinstance(factory, type) else []
    except TypeError:  # ``**kwargs``: no parameter list to fill defaults into
        names = []
    params = dict(spec.params)
    if "random_state" in names:
        params.setdefault("random_state", spec.seed)
    if "device" in names:
        params.setdefault("device", spec.device)
    return make_model(spec.model, **params)


def run_one(
    spec: RunSpec, prepared: Any, *, save_dir: str | os.PathLike[str] | None = None
) -> tuple[RunRecord, np.ndarray]:
    """Fit and evaluate one run; return its record and per-case ranks. Pure but for time.

    With ``save_dir`` (a study folder), the fitted model is also saved, right after ``fit``,
    to ``<save_dir>/models/<run_id>.pt`` (:func:`~sessrec.models.saving.save_model`; read it
    back with ``sessrec.load_model(save_dir, run_id)``). On a cluster, ``save_dir`` must be
    on a file system the workers share.
    """
    from sessrec.evaluation import evaluate

    spec = _bind(spec, prepared)
    model = build_model(spec)
    started = _dt.datetime.now(_dt.timezone.utc)
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    with _PeakRSS() as mem:
        t0 = time.perf_counter()
        model.fit(prepared.train, valid=prepared.valid)
        fit_seconds = time.perf_counter() - t0
        if save_dir is not None:
            from sessrec.models.saving import model_path, save_model

            save_model(model, model_path(save_dir, spec.run_id))
        with phase("test"):
            result = evaluate(
                model,
                prepared.test,
                cutoffs=spec.cutoffs,
                ties=spec.ties,
                item_popularity=prepared.train.item_counts(),
            )
    record = _record(spec, prepared, model, result, fit_seconds=fit_seconds, mem=mem, started=started)
    ranks = result.ranks if result.ranks is not None else np.zeros(0, dtype=np.int32)
    return record, ranks


def _record(
    spec: RunSpec, prepared: Any, model: Any, result: Any, *, fit_seconds: float, mem: _PeakRSS, started: Any
) -> RunRecord:
    """The run record of a fitted and evaluated run."""
    device = getattr(model, "device_", None)
    return RunRecord(
        run_id=spec.run_id,
        model=spec.model,
        params=_freeze(model.get_params() if hasattr(model, "get_params") else dict(spec.params)),
        dataset=spec.dataset,
        dataset_options=_freeze(dict(spec.dataset_options)),
        protocol=_freeze(prepared.protocol),
        fingerprint=prepared.fingerprint,
        seed=spec.seed,
        cutoffs=list(spec.cutoffs),
        ties=spec.ties,
        stats=_freeze(prepared.stats),
        metrics={k: float(v) for k, v in result.metrics.items()},
        n_cases=int(result.n_cases),
        fit_seconds=fit_seconds,
        eval_seconds=float(result.seconds),
        used_fast_path=bool(getattr(result, "used_fast_path", False)),
        peak_rss_mb=round(mem.peak_mb, 1),
        peak_rss_method=mem.method,
        peak_gpu_mb=round(torch.cuda.max_memory_allocated() / 2**20, 1) if torch.cuda.is_available() else None,
        device=str(device) if device is not None else "cpu",
        versions=_versions(spec.model),
        hardware=hardware(),
        git_commit=sessrec_commit(),
        started_at=started.isoformat(timespec="seconds"),
        finished_at=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        history=_freeze(getattr(model, "history_", [])),
        synthetic=bool(getattr(prepared, "synthetic", False)),
        data_source=_data_source(prepared),
        spec=spec.as_dict(),
    )


def data_id_of(prepared: Any) -> str:
    """The identity of a prepared dataset: its ``data_id``, else (test doubles) its fingerprint."""
    return str(getattr(prepared, "data_id", "") or prepared.fingerprint)


def _bind(spec: RunSpec, prepared: Any) -> RunSpec:
    """``spec`` bound to ``prepared``'s data; raise if it was bound to other data."""
    ident = data_id_of(prepared)
    if spec.data_id is None:
        return spec.with_data(ident)
    if spec.data_id != ident:
        raise DataError(
            f"dataset {spec.dataset!r} changed while the study ran (data id {spec.data_id[:12]} when the study "
            f"started, {ident[:12]} now; was the raw file edited?); rerun the command"
        )
    return spec


def _data_source(prepared: Any) -> dict[str, Any] | None:
    """``{path, checksum}`` of the raw file a run read (``None`` for generated data)."""
    files = list(getattr(prepared, "raw_files", []) or [])
    if not files:
        return None
    if len(files) == 1:
        return {"path": str(files[0].get("path")), "checksum": files[0].get("sha256")}
    return {"path": [str(f.get("path")) for f in files], "checksum": [f.get("sha256") for f in files]}


def _case_table(prepared: Any) -> CaseTable:
    test = prepared.test
    return CaseTable(
        session=test.case_session(),
        prefix_length=test.case_prefix_lengths(),
        target=test.case_targets(),
        item_counts=prepared.train.item_counts(),
    )


class _DataPool:
    """The prepared dataset and data id of each distinct :meth:`RunSpec.data_key`, made once."""

    def __init__(self, prepare: Callable[..., Any] | None, data_root: str | os.PathLike[str] | None) -> None:
        self._custom = prepare is not None
        if prepare is None:
            from sessrec.data import prepare
        self._prepare = prepare
        self._root = data_root
        self._ids: dict[str, str] = {}
        self._prepared: dict[str, Any] = {}

    def _args(self, spec: RunSpec) -> dict[str, Any]:
        return dict(
            data_root=self._root,
            protocol=spec.protocol,
            test_days=spec.test_days,
            valid_days=spec.valid_days,
            **dict(spec.dataset_options),
        )

    def data_id(self, spec: RunSpec) -> str:
        """The id of the data ``spec`` would run on (hashes the raw file; prepares only custom sources)."""
        key = json.dumps(spec.data_key(), sort_keys=True)
        if key not in self._ids:
            if self._custom:
                self._ids[key] = data_id_of(self.prepared(spec))
            else:
                from sessrec.data.dataset import data_identity

                self._ids[key] = data_identity(spec.dataset, **self._args(spec))
        return self._ids[key]

    def prepared(self, spec: RunSpec) -> Any:
        """The prepared dataset of ``spec``; an empty test split is an error."""
        key = json.dumps(spec.data_key(), sort_keys=True)
        if key not in self._prepared:
            emit("prepare", step=f"preparing {spec.dataset}")
            ds = self._prepare(spec.dataset, **self._args(spec))
            emit("prepared", dataset=spec.dataset, stats=ds.stats, synthetic=bool(getattr(ds, "synthetic", False)))
            if ds.test.n_cases == 0:
                raise DataError(
                    f"{spec.dataset}: the test split has no case after the protocol's filters (stats: {ds.stats}); "
                    "use more test days or relax the filters"
                )
            self._prepared[key] = ds
        return self._prepared[key]


def run_study(
    specs: Iterable[RunSpec],
    out_dir: str | os.PathLike[str],
    *,
    data_root: str | os.PathLike[str] | None = None,
    force: bool = False,
    prepare: Callable[..., Any] | None = None,
    executor: Any = None,
    save_models: bool = False,
    on_record: Callable[[dict[str, Any]], None] | None = None,
) -> StudyOutcome:
    """Run every spec not yet in the study at ``out_dir``; return what ran, skipped, failed.

    Each spec is first bound to the data it would run on (:meth:`RunSpec.with_data`), so a
    run recorded on other data (an edited raw file) is run again. Every dataset a pending
    run needs is prepared before any model is fitted. ``force`` reruns recorded runs; each
    new record replaces the old one when it is stored, so an interrupted ``--force`` loses
    nothing. Other processes may write the same study meanwhile (see
    :class:`~sessrec.results.StudyStore`).

    A failing run (an exception inside a model) is recorded in the outcome and the study
    goes on; user mistakes (:class:`~sessrec.errors.SessrecError`) and Ctrl-C stop it.
    ``executor`` (see :mod:`sessrec.executors`) computes the runs, in this process by
    default; this process alone writes the store, appending each run as it finishes.
    ``save_models`` keeps each fitted model in ``out_dir/models/<run_id>.pt`` (see
    :func:`run_one`); ``on_record`` is called with each stored run record (as a dict), e.g.
    to log it to an experiment tracker.
    """
    from sessrec.executors import InProcessExecutor

    store = StudyStore(out_dir)
    data = _DataPool(prepare, data_root)
    specs = _bound_specs(list(specs), store, data)
    done = set() if force else store.completed_ids()
    for spec in specs:  # every dataset a pending run needs, before any model is fitted
        if spec.run_id not in done:
            data.prepared(spec)
    outcome = StudyOutcome()
    todo = []
    for i, spec in enumerate(specs):
        if spec.run_id in done:
            outcome.skipped.append(spec.run_id)
            _emit_run(spec, "skipped", index=i, total=len(specs))
        else:
            todo.append((i, spec))
    jobs = [(spec, _starter(spec, data, {"index": i, "total": len(specs)})) for i, spec in todo]
    compute = functools.partial(run_one, save_dir=os.path.abspath(out_dir)) if save_models else run_one
    for spec, prepared, result in (executor or InProcessExecutor()).run(jobs, compute):
        _store_result(store, outcome, spec, prepared, result, replace=force, on_record=on_record)
    return outcome


def _store_result(
    store: StudyStore,
    outcome: StudyOutcome,
    spec: RunSpec,
    prepared: Any,
    result: Any,
    *,
    replace: bool,
    on_record: Callable[[dict[str, Any]], None] | None,
) -> None:
    """Append one computed run (or note its failure) and tell the outcome, the progress view and ``on_record``."""
    if isinstance(result, BaseException):
        outcome.failed.append(RunFailure(spec, f"{type(result).__name__}: {result}"))
        _emit_run(spec, "failed", error=str(result))
        return
    record, ranks = result
    store.save_cases(prepared.fingerprint, _case_table(prepared))
    if store.append(record, ranks, replace=replace):
        outcome.ran.append(spec.run_id)
        _emit_run(spec, "finished", record=record.to_dict())
        if on_record is not None:
            on_record(record.to_dict())
    else:  # another process stored this run meanwhile
        outcome.skipped.append(spec.run_id)
        _emit_run(spec, "skipped")


def _starter(spec: RunSpec, data: _DataPool, where: dict[str, Any]) -> Callable[[], Any]:
    """A job's data getter: the spec's prepared dataset, announcing that the run starts."""

    def get() -> Any:
        prepared = data.prepared(spec)
        _emit_run(spec, "started", **where)
        return prepared

    return get


def _bound_specs(specs: list[RunSpec], store: StudyStore, data: _DataPool) -> list[RunSpec]:
    """``specs`` checked and bound to their data; temp files of killed writers removed first."""
    for spec in specs:  # fail early on unknown models or parameters, before any data work
        build_model(spec)
    for tmp in store.clean_temp_files():
        emit("note", text=f"removed {tmp.name}, left in {tmp.parent} by an interrupted run")
    bound = [spec.with_data(data.data_id(spec)) for spec in specs]
    ids = [s.run_id for s in bound]
    if len(set(ids)) != len(ids):
        raise ConfigError("the study lists the same run twice")
    return bound


def _emit_run(spec: RunSpec, state: str, **info: Any) -> None:
    emit("run", run_id=spec.run_id, model=spec.model, seed=spec.seed, state=state, **info)
