"""The public model contract: base classes, helpers and parameter constraints.

Plugins import everything they need from here (or from :mod:`sessrec`); see
:mod:`sessrec.models.base` for the contract and :mod:`sessrec.models.params` for
``parameter_constraints``.
"""

from sessrec.models.base import (
    BaseModel,
    NotFittedError,
    SessionModel,
    TorchModel,
    TrainingState,
    ValidationCases,
    check_is_fitted,
    resolve_device,
    seed_from,
)
from sessrec.models.params import Interval, Options, param_names, validate_params

__all__ = [
    "BaseModel",
    "Interval",
    "NotFittedError",
    "Options",
    "SessionModel",
    "TorchModel",
    "TrainingState",
    "ValidationCases",
    "check_is_fitted",
    "param_names",
    "resolve_device",
    "seed_from",
    "validate_params",
]
