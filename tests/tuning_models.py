"""Model doubles for the tuning tests (importable by worker subprocesses)."""

from __future__ import annotations

import gc
import hashlib
import os
import signal
from typing import Any, ClassVar

import numpy as np
import torch

from sessrec import BaseModel, PrefixBatch, Sessions
from sessrec.models.params import Options


class RandomTable(BaseModel):
    """Scores ``table[which][last item]``: a fixed random table per value of ``which``.

    Its validation and test quality differ by chance from one ``which`` to the next, so the
    tuner's choice shows which split it looked at.
    """

    parameter_constraints: ClassVar[dict[str, list[Any]]] = {"which": [Options(int, range(8))]}
    tags: ClassVar[dict[str, Any]] = {"oracle": "popularity", "deterministic": True}

    def __init__(self, which: int = 0, random_state: int | None = None) -> None:
        self.which = which
        self.random_state = random_state

    def fit(self, train: Sessions, *, valid: Sessions | None = None) -> RandomTable:
        kill_at = os.environ.get("SESSREC_TEST_KILL_AT_FIT")
        if kill_at is not None and os.path.exists(kill_at):
            os.remove(kill_at)
            os.kill(os.getpid(), signal.SIGKILL)  # a real kill -9 in the middle of a trial
        g = torch.Generator().manual_seed(3000 + int(self.which))
        self.table_ = torch.rand(train.n_items, train.n_items, generator=g)
        self.n_items_ = train.n_items
        return self

    def score(self, batch: PrefixBatch) -> torch.Tensor:
        return self.table_[batch.last_items.cpu()]


def sessions_digest(s: Sessions) -> str:
    return hashlib.sha256(
        np.ascontiguousarray(s.items).tobytes() + np.ascontiguousarray(s.offsets).tobytes()
    ).hexdigest()


class Snooper(BaseModel):
    """Looks through every live object of the process for the test split while it fits."""

    target_digest: ClassVar[str] = ""
    sightings: ClassVar[list[bool]] = []

    def __init__(self, random_state: int | None = None) -> None:
        self.random_state = random_state

    def fit(self, train: Sessions, *, valid: Sessions | None = None) -> Snooper:
        gc.collect()
        seen = any(
            type(obj) is Sessions and sessions_digest(obj) == Snooper.target_digest for obj in gc.get_objects()
        )
        Snooper.sightings.append(seen)
        self.n_items_ = train.n_items
        return self

    def score(self, batch: PrefixBatch) -> torch.Tensor:
        return torch.zeros(batch.items.shape[0], self.n_items_)
