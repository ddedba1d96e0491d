"""sessrec: faithful, fast, full-ranking benchmarks of session-based recommenders."""

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

__all__ = [
    "PAD",
    "BaseModel",
    "Interval",
    "NotFittedError",
    "Options",
    "PrefixBatch",
    "SessionModel",
    "Sessions",
    "TorchModel",
    "TrainingState",
    "ValidationCases",
    "__version__",
    "check_is_fitted",
    "param_names",
    "seed_from",
]
