"""Metrics as pure functions of ranks (accuracy) and top-K lists (beyond accuracy).

Rank once, threshold many: every accuracy metric at every cutoff is a function of the
target's rank alone (see :func:`sessrec.evaluation.target_ranks`). With one target per case:

* ``recall@K`` (= HitRate@K; SR-GNN's P@K): ``1`` if ``rank <= K`` else ``0``;
* ``mrr@K``: ``1 / rank`` if ``rank <= K`` else ``0``;
* ``ndcg@K``: ``1 / log2(rank + 1)`` if ``rank <= K`` else ``0`` (the ideal DCG is 1).

Each metric is the mean of its per-case values over all cases.

With ``ties="median"`` the rank may be a half-integer and is used as it is, in all three
formulas: a rank of 2.5 gives ``mrr = 0.4`` and ``ndcg = 1 / log2(3.5)``, and a rank of
20.5 is *not* a hit at K = 20. (This is the metric at the median rank, not the expected
metric over random tie breaks; the two differ slightly because the metrics are not linear.)

Beyond accuracy, from the top-K lists (order: see :func:`sessrec.evaluation.top_k_items`):

* ``coverage@K``: the fraction of the catalogue that appears in at least one case's top-K
  list, ``|union_b top_K(b)| / n_items``;
* ``popularity@K``: ``mean_b mean_{i in top_K(b)} pop[i] / max(pop)``, where ``pop`` is the
  items' training popularity (click counts). 1.0 means every list holds only the most
  popular item's count; a list shorter than K (catalogue < K) is averaged over its length.

Per-case values are computed in float64, so metrics match a plain-Python reference to
about 1e-15.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

__all__ = [
    "METRICS",
    "catalogue_coverage",
    "hit",
    "mean_popularity",
    "ndcg",
    "normalised_popularity",
    "rank_metrics",
    "reciprocal_rank",
]

#: The accuracy metrics derived from ranks, in the order results list them.
METRICS: tuple[str, ...] = ("recall", "mrr", "ndcg")


def _as_float_ranks(ranks: torch.Tensor | np.ndarray) -> torch.Tensor:
    r = torch.as_tensor(ranks)
    if r.dim() != 1:
        raise ValueError(f"ranks must have shape (n_cases,), got shape {tuple(r.shape)}")
    r = r.to(torch.float64)
    if len(r) and bool((r < 1).any()):
        raise ValueError(f"ranks are 1-based; found a rank of {float(r.min())}")
    return r


def _check_k(k: int) -> int:
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise ValueError(f"a cutoff K must be a positive integer, got {k!r}")
    return int(k)


def hit(ranks: torch.Tensor | np.ndarray, k: int) -> torch.Tensor:
    """Per-case Recall@K = HitRate@K: ``1.0`` where ``rank <= k``, shape (n_cases,), float64."""
    r = _as_float_ranks(ranks)
    return (r <= _check_k(k)).to(torch.float64)


def reciprocal_rank(ranks: torch.Tensor | np.ndarray, k: int) -> torch.Tensor:
    """Per-case MRR@K: ``1 / rank`` where ``rank <= k``, else 0; shape (n_cases,), float64."""
    r = _as_float_ranks(ranks)
    return torch.where(r <= _check_k(k), 1.0 / r, torch.zeros_like(r))


def ndcg(ranks: torch.Tensor | np.ndarray, k: int) -> torch.Tensor:
    """Per-case NDCG@K with one relevant item: ``1 / log2(rank + 1)`` where ``rank <= k``; float64."""
    r = _as_float_ranks(ranks)
    return torch.where(r <= _check_k(k), 1.0 / torch.log2(r + 1.0), torch.zeros_like(r))


_PER_CASE = {"recall": hit, "mrr": reciprocal_rank, "ndcg": ndcg}


def rank_metrics(ranks: torch.Tensor | np.ndarray, cutoffs: Iterable[int] = (5, 10, 20)) -> dict[str, float]:
    """Recall, MRR and NDCG at every cutoff, as means over cases.

    Parameters
    ----------
    ranks : Tensor or ndarray of shape (n_cases,)
        1-based target ranks (integers, or half-integers for median ties).
    cutoffs : iterable of int

    Returns
    -------
    dict
        Keys ``"recall@K"``, ``"mrr@K"``, ``"ndcg@K"`` for every K; ``nan`` when there are no cases.

    Examples
    --------
    >>> m = rank_metrics([1, 3, 30], cutoffs=(5,))
    >>> round(m["recall@5"], 4), round(m["mrr@5"], 4), round(m["ndcg@5"], 4)
    (0.6667, 0.4444, 0.5)
    """
    r = _as_float_ranks(ranks)
    out: dict[str, float] = {}
    for k in cutoffs:
        for name in METRICS:
            values = _PER_CASE[name](r, k)
            out[f"{name}@{int(k)}"] = float(values.mean()) if len(values) else float("nan")
    return out


def catalogue_coverage(top_items: torch.Tensor | np.ndarray, n_items: int, k: int | None = None) -> float:
    """Fraction of the catalogue in at least one top-``k`` list.

    Parameters
    ----------
    top_items : LongTensor of shape (n_cases, L)
        Top lists, best first (:func:`sessrec.evaluation.top_k_items`).
    n_items : int
        Catalogue size.
    k : int, optional
        Use the first ``k`` columns (default: all ``L``).

    Examples
    --------
    >>> catalogue_coverage([[0, 1], [1, 2]], n_items=10)
    0.3
    """
    t = torch.as_tensor(top_items)
    if k is not None:
        t = t[:, : _check_k(k)]
    seen = torch.zeros(int(n_items), dtype=torch.bool, device=t.device)
    seen[t.reshape(-1).long()] = True
    return float(seen.sum()) / int(n_items)


def mean_popularity(
    top_items: torch.Tensor | np.ndarray, item_popularity: torch.Tensor | np.ndarray, k: int | None = None
) -> float:
    """Popularity@K: mean over cases of the mean normalised popularity of the top-``k`` items.

    Parameters
    ----------
    top_items : LongTensor of shape (n_cases, L)
    item_popularity : array of shape (n_items,)
        Non-negative training popularity (e.g. click counts); normalised by its maximum.
    k : int, optional
        Use the first ``k`` columns (default: all ``L``).

    Examples
    --------
    >>> mean_popularity([[0, 1], [1, 2]], [4, 2, 0])
    0.5
    """
    t = torch.as_tensor(top_items)
    if k is not None:
        t = t[:, : _check_k(k)]
    pop = torch.from_numpy(normalised_popularity(item_popularity, len(item_popularity))).to(t.device)
    if t.shape[0] == 0:
        return float("nan")
    return float(pop[t.long()].mean(dim=1).mean())


def normalised_popularity(item_popularity: torch.Tensor | np.ndarray, n_items: int) -> np.ndarray:
    """``pop / max(pop)`` as a float64 ndarray of shape (n_items,), after checking shape and values."""
    if isinstance(item_popularity, torch.Tensor):
        item_popularity = item_popularity.detach().cpu().numpy()
    pop = np.asarray(item_popularity)
    if pop.shape != (n_items,):
        raise ValueError(f"item_popularity must have shape ({n_items},), one count per item; got {pop.shape}")
    pop = pop.astype(np.float64)
    if not np.isfinite(pop).all() or (pop < 0).any():
        raise ValueError("item_popularity must be finite and non-negative (e.g. training click counts)")
    top = float(pop.max()) if n_items else 0.0
    if top <= 0:
        raise ValueError("item_popularity is all zeros; pass training counts, e.g. train.item_counts()")
    return pop / top
