"""S-POP: the items clicked most often in the current session, ties broken by popularity."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from sessrec import PAD, BaseModel, PrefixBatch, Sessions

try:
    from typing import Self
except ImportError:  # pragma: no cover - Python 3.10
    from typing_extensions import Self

__all__ = ["SPop"]


class SPop(BaseModel):
    """Session popularity: rank by clicks in the prefix, ties broken by training popularity.

    The order is lexicographic on ``(count in prefix, training clicks)``; items equal on both
    keys tie. It is encoded exactly in one float64 score::

        score(j) = count_in_prefix(j) * n_levels + pop_level(j)

    where ``pop_level`` is the dense rank of ``j``'s training click count (0 for the least
    clicked count, up to ``n_levels - 1``). With ``n_levels <= n_items`` and counts bounded by
    the prefix length, scores stay below 2**53 for any realistic catalogue, so every value is
    an exact integer in float64: no two distinct key pairs collide and equal pairs tie.

    Attributes
    ----------
    counts_ : ndarray of shape (n_items,), int64
        Training clicks per item.
    pop_level_ : ndarray of shape (n_items,), int64
        Dense rank of ``counts_``.

    References
    ----------
    The S-POP baseline of Hidasi et al., ICLR 2016 and Li et al., CIKM 2017 (Table 3):
    "recommends the most popular items of the current session", ties broken by global
    popularity.

    Examples
    --------
    >>> from sessrec import Sessions, PrefixBatch
    >>> m = SPop().fit(Sessions.from_lists([[0, 1], [1, 2], [1, 0]], n_items=4))
    >>> m.score(PrefixBatch.from_lists([[2, 3, 2]])).tolist()   # levels: 0->2, 1->3, 2->1, 3->0
    [[2.0, 3.0, 9.0, 4.0]]
    """

    tags: ClassVar[dict[str, Any]] = {"oracle": "popularity", "deterministic": True}

    def __init__(self) -> None:
        pass

    def fit(self, train: Sessions, *, valid: Sessions | None = None) -> Self:
        self.counts_ = train.item_counts()
        levels, self.pop_level_ = np.unique(self.counts_, return_inverse=True)
        self.pop_level_ = self.pop_level_.astype(np.int64).reshape(-1)
        self.n_levels_ = len(levels)
        self.n_items_ = train.n_items
        self._pop_t = torch.from_numpy(self.pop_level_.astype(np.float64))
        return self

    def score(self, batch: PrefixBatch) -> torch.Tensor:
        self._check_fitted()
        items = batch.items
        valid = items != PAD
        counts = torch.zeros(batch.batch_size, self.n_items_, dtype=torch.float64, device=items.device)
        counts.scatter_add_(1, torch.where(valid, items, 0), valid.to(torch.float64))
        return counts * self.n_levels_ + self._pop_t.to(items.device)

    def score_sessions(self, batch: PrefixBatch) -> torch.Tensor:
        """Scores after every prefix of every row: running counts over the session."""
        self._check_fitted()
        items = batch.items
        mask = batch.mask
        n_rows = int(batch.lengths.sum())
        # row index of (b, t) in row-major order, and of (b, 0)
        starts = torch.cumsum(batch.lengths, 0) - batch.lengths
        b_idx, t_idx = mask.nonzero(as_tuple=True)
        click_rows = starts[b_idx] + t_idx
        out = torch.zeros(n_rows, self.n_items_, dtype=torch.float64, device=items.device)
        # one increment at the click's own row, then a cumulative sum within each session
        out[click_rows, items[b_idx, t_idx]] += 1.0
        seg = torch.repeat_interleave(torch.arange(batch.batch_size, device=items.device), batch.lengths)
        out = _segment_cumsum(out, seg)
        return out * self.n_levels_ + self._pop_t.to(items.device)


def _segment_cumsum(x: torch.Tensor, segment: torch.Tensor) -> torch.Tensor:
    """Cumulative sum over rows that restarts where ``segment`` changes (segments contiguous)."""
    total = torch.cumsum(x, 0)
    starts = torch.ones_like(segment, dtype=torch.bool)
    starts[1:] = segment[1:] != segment[:-1]
    first_rows = torch.nonzero(starts).squeeze(1)
    before = torch.zeros_like(x[first_rows])
    nonzero = first_rows > 0
    before[nonzero] = total[first_rows[nonzero] - 1]
    seg_id = torch.cumsum(starts.long(), 0) - 1
    return total - before[seg_id]
