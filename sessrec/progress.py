"""Progress reporting without printing.

Library code never prints. Long steps call :func:`emit`; whoever drives them (the CLI's rich
progress bars, a notebook, a test) installs a callback with :func:`progress_callback`.
With no callback installed, :func:`emit` does nothing, except in a Jupyter kernel, where
progress bars show by default (:func:`show_progress` switches that off or on anywhere).

Every event carries ``phase`` when one is set (:func:`phase`): sessrec marks the evaluation
of a validation split during training ``"validation"`` and the test pass ``"test"``, so a
view draws each with its own total.

Events are ``(kind, info)`` pairs. Kinds used by sessrec itself:

``"epoch_start"``  a training epoch starts: ``epoch``, ``epochs``
``"batch"``        training advanced inside an epoch (see :class:`EpochProgress`): ``done``, ``total``,
                   ``unit``, ``batch``, ``loss`` (running mean of the epoch so far)
``"epoch"``        a training epoch ended: ``epoch``, ``epochs``, ``loss``, ``seconds``, maybe ``valid``
``"eval"``         evaluation advanced: ``done``, ``total`` (cases of the split being ranked)
``"prepare"``      a dataset step: ``step`` (text)
``"run"``          the runner started/finished a run: ``run_id``, ``state``
``"note"``         something the user should know: an assumption made, a repair done, or about a run
                   (then with ``model``): ``text`` (printed by the CLI)
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

__all__ = [
    "EpochProgress",
    "ProgressCallback",
    "current_callback",
    "emit",
    "phase",
    "progress_callback",
    "show_progress",
]

ProgressCallback = Callable[[str, dict[str, Any]], None]


class _Unset:
    """The callback slot's value while nobody installed one (the default view may apply)."""


_UNSET: Any = _Unset()
_callback: ContextVar[ProgressCallback | None] = ContextVar("sessrec_progress", default=_UNSET)
_phase: ContextVar[str | None] = ContextVar("sessrec_progress_phase", default=None)
_default: dict[str, Any] = {"enabled": None, "view": None}


def _default_callback() -> ProgressCallback | None:
    """The view used when no callback is installed: notebook bars in a Jupyter kernel, else none."""
    enabled = _default["enabled"]
    if enabled is None:
        enabled = _in_jupyter()
    if not enabled:
        return None
    if _default["view"] is None:
        from sessrec.progress_view import NotebookView

        _default["view"] = NotebookView()
    return _default["view"].on_event


def _in_jupyter() -> bool:
    """Running in a Jupyter kernel (IPython's ``ZMQInteractiveShell``), not a terminal."""
    ipython = sys.modules.get("IPython")
    shell = getattr(ipython, "get_ipython", lambda: None)() if ipython is not None else None
    return type(shell).__name__ == "ZMQInteractiveShell"


def show_progress(enabled: bool | None = True) -> None:
    """Show progress bars when no callback is installed (``False``: never; ``None``: only in Jupyter).

    In a notebook progress shows by default; ``sessrec.progress.show_progress(False)``
    silences it, as does ``with progress_callback(None):`` for one block.
    """
    _default["enabled"] = enabled


def emit(kind: str, **info: Any) -> None:
    """Report progress to the installed callback (or the default view, see :func:`show_progress`)."""
    cb = _callback.get()
    if cb is _UNSET:
        cb = _default_callback()
    if cb is not None:
        current = _phase.get()
        if current is not None:
            info.setdefault("phase", current)
        cb(kind, info)


def current_callback() -> ProgressCallback | None:
    """The callback installed now (``None`` if none), so a wrapper can pass events on."""
    cb = _callback.get()
    return None if cb is _UNSET else cb


@contextmanager
def phase(name: str) -> Iterator[None]:
    """Tag the events emitted inside the block with ``phase=name`` (e.g. ``"validation"``)."""
    token = _phase.set(name)
    try:
        yield
    finally:
        _phase.reset(token)


class EpochProgress:
    """Progress inside one training epoch: ``"batch"`` events, at most one per ``interval`` seconds.

    A model's ``train_epoch`` makes one with the epoch's amount of work and calls
    :meth:`step` after each optimiser step::

        progress = EpochProgress(train.n_cases)
        for batch, targets in batches:
            loss = ...
            progress.step(len(targets), float(loss))
        return progress.mean_loss

    Parameters
    ----------
    total : int
        The work of the epoch, in ``unit`` (training cases, or GRU4Rec's minibatch steps).
    unit : str, default "cases"
        What ``total`` counts.
    interval : float, default 0.25
        Seconds between events; the last step of the epoch always reports.

    Notes
    -----
    A loss given as a tensor is summed as a tensor and read (``float``) only when an event
    is sent, so a GPU is not synchronised after every batch.
    """

    def __init__(self, total: int, unit: str = "cases", *, interval: float = 0.25) -> None:
        self.total = int(total)
        self.unit = unit
        self.interval = float(interval)
        self.done = 0
        self.batches = 0
        self._loss_sum: Any = 0.0
        self._loss_n = 0
        self._last = time.monotonic()

    @property
    def mean_loss(self) -> float:
        """The mean loss per unit over the steps so far (0.0 before any loss): the epoch's loss."""
        return float(self._loss_sum) / self._loss_n if self._loss_n else 0.0

    def step(self, n: int = 1, loss: Any = None) -> None:
        """``n`` more units done by one batch whose mean loss was ``loss`` (float or 0-d tensor)."""
        self.done += int(n)
        self.batches += 1
        if loss is not None:
            self._loss_sum = self._loss_sum + loss * n
            self._loss_n += int(n)
        now = time.monotonic()
        if now - self._last >= self.interval or self.done >= self.total:
            self._last = now
            running = self.mean_loss if self._loss_n else None
            emit("batch", done=self.done, total=self.total, unit=self.unit, batch=self.batches, loss=running)


@contextmanager
def progress_callback(callback: ProgressCallback | None) -> Iterator[None]:
    """Install ``callback`` for the duration of the ``with`` block."""
    token = _callback.set(callback)
    try:
        yield
    finally:
        _callback.reset(token)
