"""A thin stateful shell over :mod:`sessrec.evaluation.metrics`: ``update`` / ``compute`` / ``reset``.

Like a torchmetrics ``Metric``, the accumulator keeps only small *sum states*, never the
predictions, so evaluation memory does not grow with the number of test cases:

==================  =======================  ===============================================
state               shape                    meaning
==================  =======================  ===============================================
``n_cases``         int                      cases seen
``rank_sums``       (3, n_cutoffs) float64   sums of per-case recall, mrr, ndcg at each K
``popularity_sums`` (n_cutoffs,) float64     sums of per-case mean normalised popularity
``best_position``   (n_items,) int64         best (0-based) list position each item reached
==================  =======================  ===============================================

``best_position`` is a min-state rather than a sum-state: an item is in some top-K list iff
its best position is ``< K``, so one vector answers coverage at every cutoff. All states
merge across shards (:meth:`merge`: sums add, minima take the minimum).

States are NumPy arrays (CPU, float64): the inputs of one update are tiny (``n_cases`` ranks
and ``(n_cases, max K)`` item indices) next to the score matrix they summarise, and
single-threaded NumPy handles them without the thread start-up of a parallel torch kernel.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from sessrec.evaluation.metrics import RANK_METRICS, normalised_popularity, rank_gain

__all__ = ["MetricAccumulator", "check_cutoffs"]


def _to_numpy(x: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def check_cutoffs(cutoffs: Sequence[int]) -> tuple[int, ...]:
    """Cutoffs as a sorted tuple of distinct positive ints; raises ``ValueError`` otherwise."""
    try:
        if any(isinstance(k, bool) for k in cutoffs):
            raise TypeError
        values = [int(k) for k in cutoffs]
    except (TypeError, ValueError):
        raise ValueError(f"cutoffs must be positive integers such as (5, 10, 20); got {cutoffs!r}") from None
    if not values or any(k < 1 or k != c for k, c in zip(values, cutoffs)):
        raise ValueError(f"cutoffs must be one or more positive integers such as (5, 10, 20); got {cutoffs!r}")
    return tuple(sorted(set(values)))


class MetricAccumulator:
    """Accumulates accuracy and beyond-accuracy metrics over chunks of test cases.

    Parameters
    ----------
    cutoffs : sequence of int
        The K values (sorted and deduplicated).
    n_items : int
        Catalogue size (for coverage and the shape of ``item_popularity``).
    item_popularity : array of shape (n_items,), optional
        Training popularity; enables ``popularity@K``.
    beyond_accuracy : bool
        Track ``coverage@K`` (and ``popularity@K``); :meth:`update` then needs the top lists.

    Examples
    --------
    >>> import torch
    >>> acc = MetricAccumulator(cutoffs=(1, 2), n_items=4)
    >>> acc.update(torch.tensor([1, 3]), torch.tensor([[2, 0], [1, 3]]))
    >>> m = acc.compute()
    >>> m["recall@2"], m["mrr@2"], m["coverage@1"], m["coverage@2"]
    (0.5, 0.5, 0.5, 1.0)
    """

    def __init__(
        self,
        cutoffs: Sequence[int],
        n_items: int,
        item_popularity: np.ndarray | torch.Tensor | None = None,
        *,
        beyond_accuracy: bool = True,
    ) -> None:
        self.cutoffs = check_cutoffs(cutoffs)
        self.n_items = int(n_items)
        self.beyond_accuracy = bool(beyond_accuracy)
        self.list_length = min(self.cutoffs[-1], self.n_items)
        self._k = np.array(self.cutoffs, dtype=np.float64)
        self._pop: np.ndarray | None = None
        if item_popularity is not None:
            if not self.beyond_accuracy:
                raise ValueError("item_popularity needs beyond_accuracy=True (popularity@K comes from the top lists)")
            self._pop = normalised_popularity(item_popularity, self.n_items)
        # list length actually used at each cutoff (a list cannot exceed the catalogue)
        self._len_at = np.array([min(k, self.n_items) for k in self.cutoffs], dtype=np.int64)
        self.reset()

    # ------------------------------------------------------------------ states
    def reset(self) -> None:
        """Forget everything seen so far."""
        self.n_cases = 0
        self.rank_sums = np.zeros((len(RANK_METRICS), len(self.cutoffs)), dtype=np.float64)
        self.popularity_sums = np.zeros(len(self.cutoffs), dtype=np.float64)
        self.best_position = np.full(self.n_items, self.cutoffs[-1], dtype=np.int64)

    def update(self, ranks: torch.Tensor | np.ndarray, top_items: torch.Tensor | np.ndarray | None = None) -> None:
        """Add a chunk of cases.

        Parameters
        ----------
        ranks : Tensor or ndarray of shape (B,)
            1-based target ranks (int, or float halves for median ties); any device.
        top_items : LongTensor or ndarray of shape (B, L), L >= min(max cutoff, n_items)
            Each case's top list, best first. Required when ``beyond_accuracy``.
        """
        r = _to_numpy(ranks).astype(np.float64, copy=False)
        if r.ndim != 1:
            raise ValueError(f"ranks must have shape (B,), got {r.shape}")
        if len(r) and (r.min() < 1 or r.max() > self.n_items):
            raise ValueError(f"ranks must lie in [1, {self.n_items}], found [{r.min()}, {r.max()}]")
        inside = r[:, None] <= self._k[None, :]  # (B, n_cutoffs)
        for m, name in enumerate(RANK_METRICS):
            self.rank_sums[m] += np.where(inside, rank_gain(r, name)[:, None], 0.0).sum(axis=0)
        self.n_cases += len(r)
        if not self.beyond_accuracy:
            return
        if top_items is None:
            raise ValueError("update() needs top_items when the accumulator tracks coverage/popularity")
        top = _to_numpy(top_items)
        if top.ndim != 2 or top.shape[0] != len(r) or top.shape[1] < self.list_length:
            raise ValueError(f"top_items must have shape ({len(r)}, >= {self.list_length}), got {top.shape}")
        top = top[:, : self.list_length].astype(np.int64, copy=False)
        positions = np.broadcast_to(np.arange(self.list_length, dtype=np.int64), top.shape)
        np.minimum.at(self.best_position, top.ravel(), positions.ravel())
        if self._pop is not None and len(r):
            running = self._pop[top].cumsum(axis=1)  # (B, L): popularity sum of the first l+1 items
            self.popularity_sums += (running[:, self._len_at - 1] / self._len_at).sum(axis=0)

    def merge(self, other: MetricAccumulator) -> None:
        """Fold another accumulator's states (same cutoffs and catalogue) into this one."""
        if other.cutoffs != self.cutoffs or other.n_items != self.n_items:
            raise ValueError("can only merge accumulators with the same cutoffs and n_items")
        self.n_cases += other.n_cases
        self.rank_sums += other.rank_sums
        self.popularity_sums += other.popularity_sums
        np.minimum(self.best_position, other.best_position, out=self.best_position)

    def compute(self) -> dict[str, float]:
        """Metrics so far: ``recall@K``, ``mrr@K``, ``ndcg@K``, ``coverage@K``, ``popularity@K``.

        Keys are ordered metric by metric, each over increasing K. Means are ``nan`` before
        any case was seen; ``popularity@K`` is present only with ``item_popularity``.
        """
        out: dict[str, float] = {}
        n = self.n_cases
        for m, name in enumerate(RANK_METRICS):
            for c, k in enumerate(self.cutoffs):
                out[f"{name}@{k}"] = float(self.rank_sums[m, c]) / n if n else float("nan")
        if self.beyond_accuracy:
            for k in self.cutoffs:
                out[f"coverage@{k}"] = int((self.best_position < k).sum()) / self.n_items if n else float("nan")
            if self._pop is not None:
                for c, k in enumerate(self.cutoffs):
                    out[f"popularity@{k}"] = float(self.popularity_sums[c]) / n if n else float("nan")
        return out
