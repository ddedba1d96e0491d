"""sessrec: faithful, fast, full-ranking benchmarks of session-based recommenders.

The notebook API (imported on first use, so ``import sessrec`` stays light)::

    data = sessrec.prepare("synthetic")                       # sessrec.data.prepare
    model = sessrec.make_model("narm").fit(data.train)        # sessrec.registry.make_model
    result = sessrec.evaluate(model, data.test)               # sessrec.evaluation.evaluate
    sessrec.run_study([sessrec.RunSpec("pop")], "study")      # sessrec.runner.run_study
    frame = sessrec.load_study("study")                       # sessrec.api.load_study
    sessrec.write_report("study")                             # sessrec.reporting.write_report
    sessrec.save_model(model, "narm.pt"); sessrec.load_model("narm.pt")  # sessrec.models.saving
"""

from __future__ import annotations

import importlib
from typing import Any

from sessrec.data.sessions import PAD, PrefixBatch, Sessions
from sessrec.models import (
    BaseModel,
    Interval,
    NotFittedError,
    Options,
    SessionModel,
    TorchModel,
    TrainingState,
    ValidationCases,
    check_is_fitted,
    param_names,
    seed_from,
)

__version__ = "0.1.0"

_LAZY = {
    "RunSpec": "sessrec.runner",
    "evaluate": "sessrec.evaluation",
    "load_model": "sessrec.models.saving",
    "load_study": "sessrec.api",
    "make_model": "sessrec.registry",
    "model_names": "sessrec.registry",
    "prepare": "sessrec.data",
    "run_study": "sessrec.runner",
    "save_model": "sessrec.models.saving",
    "write_report": "sessrec.reporting",
}


def __getattr__(name: str) -> Any:
    """The notebook API, imported on first use (see the module doc)."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sessrec' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "PAD",
    "BaseModel",
    "Interval",
    "NotFittedError",
    "Options",
    "PrefixBatch",
    "RunSpec",
    "SessionModel",
    "Sessions",
    "TorchModel",
    "TrainingState",
    "ValidationCases",
    "__version__",
    "check_is_fitted",
    "evaluate",
    "load_model",
    "load_study",
    "make_model",
    "model_names",
    "param_names",
    "prepare",
    "run_study",
    "save_model",
    "seed_from",
    "write_report",
]
