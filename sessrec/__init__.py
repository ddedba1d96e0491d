"""sessrec: faithful, fast, full-ranking benchmarks of session-based recommenders."""

from sessrec.data.sessions import PAD, PrefixBatch, Sessions
from sessrec.models.base import BaseModel, SessionModel, TorchModel

__version__ = "0.1.0"

__all__ = ["PAD", "BaseModel", "PrefixBatch", "SessionModel", "Sessions", "TorchModel", "__version__"]
