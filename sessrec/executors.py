"""Executors: where the runs of a study (or the trials of a tuning study) are computed.

The runner hands an executor ``(spec, prepared)`` jobs and gets back, in completion order,
``(spec, prepared, outcome)`` where the outcome is :func:`~sessrec.runner.run_one`'s
``(record, ranks)`` or the exception the run raised. The driver process alone writes the
study store, so the store's crash guarantees hold whatever the executor.

``inprocess`` (default)
    one run after the other in this process.
``ray``
    each run is a Ray task with ``cpus_per_run`` CPUs and ``gpus_per_run`` GPUs; every
    prepared dataset goes once into Ray's object store and is shared by the tasks; results
    are appended as they arrive. Without an address Ray starts a local cluster on this
    machine. Ray is an optional extra: ``pip install -e ".[ray]"``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sessrec.errors import ConfigError, SessrecError

__all__ = ["EXECUTORS", "InProcessExecutor", "RayExecutor", "make_executor", "ray_or_error"]

EXECUTORS = ("inprocess", "ray")

Job = tuple[Any, Callable[[], Any]]  # (RunSpec, a function giving its prepared dataset)
Outcome = tuple[Any, Any, Any]  # (RunSpec, prepared, (record, ranks) or the exception)


def ray_or_error() -> Any:
    """The ``ray`` module, or one clear line saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError('the Ray executor needs Ray: pip install -e ".[ray]"') from None
    return ray


class InProcessExecutor:
    """Runs jobs one by one in this process (the default)."""

    name = "inprocess"

    def run(self, jobs: Iterable[Job], run_one: Callable[[Any, Any], Any]) -> Iterator[Outcome]:
        for spec, get_prepared in jobs:
            prepared = get_prepared()
            try:
                outcome: Any = run_one(spec, prepared)
            except (SessrecError, KeyboardInterrupt):
                raise
            except Exception as exc:  # a failing model fails its run, not the study
                outcome = exc
            yield spec, prepared, outcome


def _remote_call(fn: Callable[..., Any], threads: int, *args: Any) -> Any:
    """Body of a Ray task: pin torch's threads to the task's CPUs, return the result or the error."""
    import torch

    torch.set_num_threads(max(1, int(threads)))
    try:
        return fn(*args)
    except Exception as exc:  # shipped back to the driver, which decides
        return exc


@dataclass
class RayExecutor:
    """Runs each job as a Ray task; see the module docstring."""

    address: str | None = None
    cpus_per_run: float = 1.0
    gpus_per_run: float = 0.0
    name: str = "ray"

    def __post_init__(self) -> None:
        if not self.cpus_per_run > 0 or self.gpus_per_run < 0:
            raise ConfigError(
                f"--cpus-per-run must be > 0 and --gpus-per-run >= 0, got {self.cpus_per_run}, {self.gpus_per_run}"
            )

    def start(self) -> Any:
        ray = ray_or_error()
        if not ray.is_initialized():
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False, configure_logging=False)
        return ray

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Start ``fn(*args)`` as a task (object refs in ``args`` are resolved by Ray)."""
        ray = self.start()
        task = ray.remote(_remote_call).options(num_cpus=self.cpus_per_run, num_gpus=self.gpus_per_run)
        return task.remote(fn, max(1, int(self.cpus_per_run)), *args)

    def run(self, jobs: Iterable[Job], run_one: Callable[[Any, Any], Any]) -> Iterator[Outcome]:
        ray = self.start()
        shared: dict[int, tuple[Any, Any]] = {}
        pending: dict[Any, tuple[Any, Any]] = {}
        for spec, get_prepared in jobs:
            prepared = get_prepared()
            if id(prepared) not in shared:  # each prepared dataset goes into the object store once
                shared[id(prepared)] = (prepared, ray.put(prepared))
            pending[self.submit(run_one, spec, shared[id(prepared)][1])] = (spec, prepared)
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                spec, prepared = pending.pop(done[0])
                outcome = ray.get(done[0])
                if isinstance(outcome, SessrecError):
                    raise outcome
                yield spec, prepared, outcome
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)


def make_executor(
    name: str = "inprocess", *, address: str | None = None, cpus_per_run: float = 1.0, gpus_per_run: float = 0.0
) -> InProcessExecutor | RayExecutor:
    """The executor called ``name`` (``inprocess`` or ``ray``)."""
    if name == "inprocess":
        if address is not None:
            raise ConfigError("--ray-address needs --executor ray")
        return InProcessExecutor()
    if name == "ray":
        ray_or_error()
        return RayExecutor(address, cpus_per_run, gpus_per_run)
    raise ConfigError(f"unknown executor {name!r}; valid executors: {', '.join(EXECUTORS)}")
