"""Test doubles: tiny models with known behaviour, good and deliberately broken.

The broken ones exist so that the conformance suite can prove it catches each defect.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from sessrec.data.sessions import PrefixBatch, Sessions
from sessrec.models.base import BaseModel, check_is_fitted

try:
    from typing import Self
except ImportError:  # pragma: no cover - Python 3.10
    from typing_extensions import Self

__all__ = ["LeakyModel", "MutatingModel", "NaNModel", "NoResetModel", "TransitionModel", "WrongShapeModel"]


class TransitionModel(BaseModel):
    """First-order transition counts plus a small popularity term: a correct, simple model.

    ``score(j) = transitions[last, j] + 1e-3 * clicks[j] / max(clicks)`` (float64).
    """

    tags: ClassVar[dict[str, Any]] = {"oracle": "sequence", "deterministic": True}

    def __init__(self, smoothing: float = 0.0) -> None:
        self.smoothing = smoothing

    def fit(self, train: Sessions, *, valid: Sessions | None = None) -> Self:
        n = train.n_items
        pos = train.case_positions()
        table = np.zeros((n, n))
        np.add.at(table, (train.items[pos - 1], train.items[pos]), 1.0)
        counts = train.item_counts().astype(np.float64)
        table += self.smoothing + 1e-3 * counts / max(counts.max(), 1.0)
        self.table_ = torch.from_numpy(table)
        self.n_items_ = n
        return self

    def score(self, batch: PrefixBatch) -> torch.Tensor:
        check_is_fitted(self)
        return self.table_.to(batch.device)[batch.last_items]

    def score_sessions(self, batch: PrefixBatch) -> torch.Tensor:
        check_is_fitted(self)
        return self.table_.to(batch.device)[batch.items[batch.mask]]


class LeakyModel(TransitionModel):
    """Broken: row ``b``'s scores also depend on row ``b - 1`` (state leaks across rows)."""

    def score(self, batch: PrefixBatch) -> torch.Tensor:
        s = super().score(batch)
        return s + 0.5 * torch.roll(s, 1, dims=0)

    def score_sessions(self, batch: PrefixBatch) -> torch.Tensor:
        s = super().score_sessions(batch)
        return s + 0.5 * torch.roll(s, 1, dims=0)


class NaNModel(TransitionModel):
    """Broken: returns NaN for items never seen after the last item."""

    def score(self, batch: PrefixBatch) -> torch.Tensor:
        s = super().score(batch)
        return torch.where(s < 1e-2, torch.full_like(s, float("nan")), s)


class MutatingModel(TransitionModel):
    """Broken: overwrites the caller's prefix tensor in place."""

    def score(self, batch: PrefixBatch) -> torch.Tensor:
        s = super().score(batch)
        batch.items[batch.items < 0] = 0  # "cleans" the padding in place
        return s


class WrongShapeModel(TransitionModel):
    """Broken: forgets the last item of the catalogue."""

    def score(self, batch: PrefixBatch) -> torch.Tensor:
        return super().score(batch)[:, :-1]


class NoResetModel(TransitionModel):
    """Broken fast path: sums the transition rows of every prefix click, but its
    ``score_sessions`` carries the running sum across session boundaries (the classic
    "hidden state not reset" bug). ``score`` alone is correct."""

    def score(self, batch: PrefixBatch) -> torch.Tensor:
        check_is_fitted(self)
        rows = torch.repeat_interleave(torch.arange(batch.batch_size, device=batch.device), batch.lengths)
        out = torch.zeros(batch.batch_size, self.n_items_, dtype=torch.float64, device=batch.device)
        return out.index_add_(0, rows, self.table_.to(batch.device)[batch.items[batch.mask]])

    def score_sessions(self, batch: PrefixBatch) -> torch.Tensor:
        check_is_fitted(self)
        return torch.cumsum(self.table_.to(batch.device)[batch.items[batch.mask]], 0)
