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

import re
from collections.abc import Callable, Iterable
from typing import TypeVar

import numpy as np
import torch

from sessrec.errors import ConfigError

__all__ = [
    "BEYOND_METRICS",
    "METRICS",
    "METRIC_NAMES",
    "RANK_METRICS",
    "catalogue_coverage",
    "cutoff_curve",
    "hit",
    "mean_popularity",
    "metric_label",
    "ndcg",
    "normalised_popularity",
    "parse_metric",
    "per_case",
    "rank_gain",
    "rank_metrics",
    "reciprocal_rank",
]

#: The one table of metric names: key as stored in records (``"recall@20"``) -> name shown.
METRIC_NAMES: dict[str, str] = {
    "recall": "Recall",
    "mrr": "MRR",
    "ndcg": "NDCG",
    "coverage": "Coverage",
    "popularity": "Popularity",
}
#: The accuracy metrics derived from ranks, in the order results list them.
RANK_METRICS: tuple[str, ...] = ("recall", "mrr", "ndcg")
#: Same as :data:`RANK_METRICS` (the name the evaluation package has always exported).
METRICS: tuple[str, ...] = RANK_METRICS
#: The beyond-accuracy metrics derived from top-K lists.
BEYOND_METRICS: tuple[str, ...] = tuple(name for name in METRIC_NAMES if name not in RANK_METRICS)

_METRIC_RE = re.compile(r"^([a-z_]+)@(\d+)$")

Ranks = TypeVar("Ranks", torch.Tensor, np.ndarray)


def parse_metric(name: str, allowed: Iterable[str] = RANK_METRICS) -> tuple[str, int]:
    """Split ``"recall@20"`` into ``("recall", 20)``.

    Parameters
    ----------
    name : str
        ``<metric>@<K>``; case and surrounding spaces are ignored.
    allowed : iterable of str
        Accepted metric names (default: the rank metrics).

    Raises
    ------
    ConfigError
        When ``name`` is not ``<metric>@<K>`` with an allowed metric and a positive integer ``K``.

    Examples
    --------
    >>> parse_metric("mrr@5")
    ('mrr', 5)
    """
    allowed = tuple(allowed)
    m = _METRIC_RE.match(str(name).strip().lower())
    if m is None or m.group(1) not in allowed or int(m.group(2)) < 1:
        kind = "a rank metric" if allowed == RANK_METRICS else "a metric"
        raise ConfigError(
            f"expected {kind} such as 'recall@20' (one of {', '.join(allowed)} @ a positive K), got {name!r}"
        )
    return m.group(1), int(m.group(2))


def metric_label(name: str) -> str:
    """Display name of a metric key: ``"ndcg@10"`` -> ``"NDCG@10"``; unknown bases are kept as they are.

    Examples
    --------
    >>> metric_label("mrr@20"), metric_label("recall"), metric_label("loss")
    ('MRR@20', 'Recall', 'loss')
    """
    base, _, k = str(name).partition("@")
    shown = METRIC_NAMES.get(base, base)
    return f"{shown}@{k}" if k else shown


# --------------------------------------------------------------------------- per-case core
def _module(r: torch.Tensor | np.ndarray) -> object:
    return torch if isinstance(r, torch.Tensor) else np


def _recall_gain(r: Ranks) -> Ranks:
    return _module(r).ones_like(r)  # type: ignore[attr-defined]  # numpy or torch, same name


def _mrr_gain(r: Ranks) -> Ranks:
    return 1.0 / r


def _ndcg_gain(r: Ranks) -> Ranks:
    return 1.0 / _module(r).log2(r + 1.0)  # type: ignore[attr-defined]  # numpy or torch, same name


#: The one definition of every rank formula: the value of a case whose target is inside the cutoff.
_GAINS: dict[str, Callable[[Ranks], Ranks]] = {"recall": _recall_gain, "mrr": _mrr_gain, "ndcg": _ndcg_gain}


def rank_gain(ranks: Ranks, metric: str) -> Ranks:
    """Per-case value of ``metric`` for a target inside the cutoff (the "gain" of its rank).

    ``recall``: 1; ``mrr``: ``1 / rank``; ``ndcg``: ``1 / log2(rank + 1)``. Every rank metric
    anywhere in sessrec (per case, in the accumulator, in the report's curves) is built from
    these three formulas.

    Parameters
    ----------
    ranks : float64 ndarray or Tensor of shape (n_cases,)
        1-based ranks (already checked).
    metric : {"recall", "mrr", "ndcg"}

    Returns
    -------
    ndarray or Tensor of shape (n_cases,)
        Same kind (and device) as ``ranks``.

    Examples
    --------
    >>> rank_gain(np.array([1.0, 3.0]), "ndcg").tolist()
    [1.0, 0.5]
    """
    if metric not in _GAINS:
        raise ValueError(f"unknown rank metric {metric!r}; choose from {', '.join(RANK_METRICS)}")
    return _GAINS[metric](ranks)


def per_case(ranks: Ranks, metric: str, k: int) -> Ranks:
    """Per-case value of ``metric@k``: :func:`rank_gain` where ``rank <= k``, else 0.

    Parameters
    ----------
    ranks : ndarray or Tensor of shape (n_cases,)
        1-based target ranks (integers, or half-integers for median ties).
    metric : {"recall", "mrr", "ndcg"}
    k : int
        The cutoff.

    Returns
    -------
    float64 ndarray or Tensor of shape (n_cases,)
        NumPy in, NumPy out; a tensor in gives a tensor on its device. The metric is the mean.

    Examples
    --------
    >>> per_case(np.array([1, 3, 30]), "mrr", 5).round(4).tolist()
    [1.0, 0.3333, 0.0]
    """
    k = _check_k(k)
    if isinstance(ranks, torch.Tensor):
        r = _as_float_ranks(ranks)
        return torch.where(r <= k, rank_gain(r, metric), torch.zeros_like(r))
    r = _as_float_array(ranks)
    return np.where(r <= k, rank_gain(r, metric), 0.0)


def cutoff_curve(ranks: np.ndarray, metric: str, max_k: int) -> np.ndarray:
    """A rank metric at every cutoff ``K = 1 … max_k`` from one run's ranks.

    Parameters
    ----------
    ranks : ndarray of shape (n_cases,)
        1-based target ranks; at least one case.
    metric : {"recall", "mrr", "ndcg"}
    max_k : int

    Returns
    -------
    ndarray of shape (max_k,), float64
        Entry ``K - 1`` equals ``per_case(ranks, metric, K).mean()``.

    Examples
    --------
    >>> cutoff_curve(np.array([1, 3, 30]), "recall", 4).round(4).tolist()
    [0.3333, 0.3333, 0.6667, 0.6667]
    """
    r = np.sort(_as_float_array(ranks))
    if len(r) == 0:
        raise ValueError("a cutoff curve needs at least one case")
    upto = np.searchsorted(r, np.arange(1, _check_k(max_k) + 1), side="right")  # cases with rank <= K
    running = np.concatenate([[0.0], np.cumsum(rank_gain(r, metric))])
    return running[upto] / len(r)


def _as_float_array(ranks: np.ndarray) -> np.ndarray:
    r = np.asarray(ranks, dtype=np.float64)
    if r.ndim != 1:
        raise ValueError(f"ranks must have shape (n_cases,), got shape {r.shape}")
    if r.size and float(r.min()) < 1:
        raise ValueError(f"ranks are 1-based; found a rank of {float(r.min())}")
    return r


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
    """Per-case Recall@K = HitRate@K: ``1.0`` where ``rank <= k``, shape (n_cases,), float64 tensor."""
    return per_case(_as_float_ranks(ranks), "recall", k)


def reciprocal_rank(ranks: torch.Tensor | np.ndarray, k: int) -> torch.Tensor:
    """Per-case MRR@K: ``1 / rank`` where ``rank <= k``, else 0; shape (n_cases,), float64 tensor."""
    return per_case(_as_float_ranks(ranks), "mrr", k)


def ndcg(ranks: torch.Tensor | np.ndarray, k: int) -> torch.Tensor:
    """Per-case NDCG@K with one relevant item: ``1 / log2(rank + 1)`` where ``rank <= k``; float64 tensor."""
    return per_case(_as_float_ranks(ranks), "ndcg", k)


def rank_metrics(ranks: torch.Tensor | np.ndarray, cutoffs: Iterable[int] = (5, 10, 20)) -> dict[str, float]:
    """Recall, MRR and NDCG at every cutoff, as means over cases.

    This is also the function to call for a model's own validation metric (for instance
    ``rank_metrics(target_ranks(scores, targets), (20,))["recall@20"]`` per batch, weighted by
    the batch size).

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
        for name in RANK_METRICS:
            values = per_case(r, name, k)
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
