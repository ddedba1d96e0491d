"""Progress reporting without printing.

Library code never prints. Long steps call :func:`emit`; whoever drives them (the CLI's rich
progress bars, a notebook, a test) installs a callback with :func:`progress_callback`.
With no callback installed, :func:`emit` does nothing.

Events are ``(kind, info)`` pairs. Kinds used by sessrec itself:

``"epoch"``        a training epoch ended: ``epoch``, ``epochs``, ``loss``, ``seconds``, maybe ``valid``
``"eval"``         evaluation advanced: ``done``, ``total`` (test cases)
``"prepare"``      a dataset step: ``step`` (text)
``"run"``          the runner started/finished a run: ``run_id``, ``state``
``"note"``         something the user should know: an assumption made, a repair done, or about a run
                   (then with ``model``): ``text`` (printed by the CLI)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

__all__ = ["ProgressCallback", "current_callback", "emit", "progress_callback"]

ProgressCallback = Callable[[str, dict[str, Any]], None]

_callback: ContextVar[ProgressCallback | None] = ContextVar("sessrec_progress", default=None)


def emit(kind: str, **info: Any) -> None:
    """Report progress to the installed callback, if any."""
    cb = _callback.get()
    if cb is not None:
        cb(kind, info)


def current_callback() -> ProgressCallback | None:
    """The callback installed now (``None`` if none), so a wrapper can pass events on."""
    return _callback.get()


@contextmanager
def progress_callback(callback: ProgressCallback | None) -> Iterator[None]:
    """Install ``callback`` for the duration of the ``with`` block."""
    token = _callback.set(callback)
    try:
        yield
    finally:
        _callback.reset(token)
