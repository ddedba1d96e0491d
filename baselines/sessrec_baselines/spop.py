"""S-POP: the items clicked most often in the current session, ties broken by popularity."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from sessrec import PAD, BaseModel, PrefixBatch, Sessions, check_is_fitted

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

    Items without a training click have popularity level 0 (below every trained item) unless
    the prefix clicked them: S-POP ranks the session's own clicks first by definition.

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
    parameter_constraints: ClassVar[dict[str, list[Any]]] = {}  # no hyperparameters

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
        check_is_fitted(self)
        items = batch.items
        valid = items != PAD
        counts = torch.zeros(batch.batch_size, self.n_items_, dtype=torch.float64, device=items.device)
        counts.scatter_add_(1, torch.where(valid, items, 0), valid.to(torch.float64))
        return counts * self.n_levels_ + self._pop_t.to(items.device)

    def score_sessions(self, batch: PrefixBatch) -> torch.Tensor:
        """Scores after every prefix of every row.

        The click at ``(b, t)`` adds ``n_levels`` to its item in the rows of the prefixes
        that contain it, ``(b, t) .. (b, lengths[b] - 1)``: ``sum L(L+1)/2`` sparse updates
        on top of the popularity levels, no dense per-row passes.
        """
        check_is_fitted(self)
        items, device = batch.items, batch.items.device
        n_rows = int(batch.lengths.sum())
        starts = torch.cumsum(batch.lengths, 0) - batch.lengths  # row of (b, 0)
        b_idx, t_idx = batch.mask.nonzero(as_tuple=True)
        n_after = batch.lengths[b_idx] - t_idx  # prefixes containing the click
        first_row = starts[b_idx] + t_idx
        heads = torch.cumsum(n_after, 0) - n_after
        step = torch.arange(int(n_after.sum()), device=device) - torch.repeat_interleave(heads, n_after)
        rows = torch.repeat_interleave(first_row, n_after) + step
        cols = torch.repeat_interleave(items[b_idx, t_idx], n_after)
        out = self._pop_t.to(device).expand(n_rows, -1).clone()
        bump = torch.full((len(rows),), float(self.n_levels_), dtype=torch.float64, device=device)
        return out.index_put_((rows, cols), bump, accumulate=True)
