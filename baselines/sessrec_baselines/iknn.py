"""Item-KNN: items are similar when they occur in the same training sessions."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
import torch

from sessrec import BaseModel, PrefixBatch, Sessions, check_is_fitted
from sessrec.models import Interval
from sessrec_baselines.common import CsrRows

try:  # Python 3.11+
    from typing import Self
except ImportError:  # pragma: no cover - Python 3.10
    from typing_extensions import Self

__all__ = ["ItemKNN", "item_similarity", "keep_top_neighbors"]


class ItemKNN(BaseModel):
    """Item-to-item nearest neighbours of the prefix's last click (GRU4Rec's Item-KNN).

    With ``co(i, j)`` the number of training sessions that contain both ``i`` and ``j``
    and ``supp(i)`` the number of training sessions that contain ``i``::

        sim(i, j) = co(i, j) / ((supp(i) + lmbd) ** alpha * (supp(j) + lmbd) ** (1 - alpha))

    for ``j != i`` (an item is not its own neighbour). Row ``i`` keeps every neighbour whose
    similarity is at least its ``n_neighbors``-th largest positive similarity, so neighbours
    tied at the boundary are all kept and the result does not depend on item order. A
    prefix scores item ``j`` by ``sim(last, j)`` when ``j`` is a kept neighbour of the
    prefix's last item, else 0. Equal similarities stay equal (no tie-breaking).

    Scores are an exact order code of the similarities: ``score(j) = code(sim(last, j))``
    with ``code(0) = 0`` and ``code(v) = 1 + (number of distinct kept similarity values
    below v)``. The code is strictly increasing, so every ranking, every tie and every metric
    is exactly that of the float64 similarities, while the scores are small integers, exact
    in float32 (up to 2**24 distinct values; float64 beyond). Plain float32 similarities
    would merge distinct values (they do on DIGINETICA) and float64 scores double the
    evaluator's memory traffic. The similarity values themselves are in ``similarity_``.

    Everything is sparse: the binary session x item matrix ``X`` gives ``co = X.T @ X``
    (scipy), the neighbour cut is one sort of the stored entries, and scoring scatters the
    kept rows of the batch's last items into a dense (batch_size, n_items) tensor.

    Parameters
    ----------
    n_neighbors : int, default=100
        Neighbours kept per item (more when tied at the boundary).
    alpha : float, default=0.5
        Weight of the query item's support in the normalisation; 0.5 is cosine similarity
        with both supports shifted by ``lmbd``.
    lmbd : float, default=20
        Support regularisation ``lambda``: shrinks similarities of rarely seen items.
        (Named ``lmbd`` as in GRU4Rec's ``baselines.py``; ``lambda`` is a Python keyword.)

    Attributes
    ----------
    n_items_ : int
        Catalogue size seen in ``fit``.
    similarity_ : scipy.sparse.csr_matrix of shape (n_items, n_items), float64
        Kept similarities; row ``i`` holds the neighbours of ``i``.
    support_ : ndarray of shape (n_items,), int64
        Number of training sessions containing each item.
    score_codes_ : ndarray of shape (n_distinct + 1,), float64
        ``score_codes_[c]`` is the similarity that score ``c`` stands for (``[0] = 0``).
    score_dtype_ : torch.dtype
        ``torch.float32`` when the codes are exact in it (at most 2**24 distinct values),
        else ``torch.float64``.

    References
    ----------
    Hidasi, Karatzoglou, Baltrunas & Tikk, "Session-based recommendations with recurrent
    neural networks", ICLR 2016, Section 4 (Item-KNN baseline); defaults ``n_sims=100,
    lambda=20, alpha=0.5`` as in the NARM paper (Li et al., CIKM 2017).
    Reference implementation checked: hidasib/GRU4Rec ``baselines.py`` class ``CoOccurence``
    (same formula, query item's support to the power ``alpha``, own item zeroed, top
    ``n_sims`` kept, prediction = similarity to the last click, 0 elsewhere).

    Deviations from that implementation:

    * ``co`` and ``supp`` count *sessions* (binary session x item matrix), as the paper's
      "number of co-occurrences in sessions" says; ``CoOccurence`` counts clicks, so a
      session that clicks an item twice counts twice there;
    * boundary ties are all kept; ``CoOccurence`` keeps exactly ``n_sims`` items chosen by
      ``argsort``, whose order among equal similarities depends on item order; it also
      keeps zero-similarity items to fill ``n_sims`` (harmless: they score 0 either way);
    * scores are the order code of the similarities described above (same ranking, same
      ties), not the similarity values;
    * vectorised sparse products instead of a Python loop over items and events;
    * items without a training click score 0, tied with every item that is not a neighbour of
      the last click (``CoOccurence`` indexes training items only and cannot rank them); under
      conservative ties a target outside the neighbours therefore ranks behind them too.

    Examples
    --------
    >>> from sessrec.data.sessions import PrefixBatch, Sessions
    >>> knn = ItemKNN(lmbd=0.0).fit(Sessions.from_lists([[0, 1], [0, 2], [0, 1]], n_items=3))
    >>> round(float(knn.similarity_[1, 0]), 6)  # co(1, 0) = 2 sessions; supp(1) = 2, supp(0) = 3: 2 / sqrt(2 * 3)
    0.816497
    >>> knn.score(PrefixBatch.from_lists([[1]])).tolist()  # sims 0.7071 (0-2), 0.8165 (0-1) -> codes 1, 2
    [[2.0, 0.0, 0.0]]
    """

    tags: ClassVar[dict[str, Any]] = {"oracle": "sequence", "deterministic": True}
    test_params: ClassVar[dict[str, Any]] = {}
    parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_neighbors": [Interval(int, 1, None)],
        "alpha": [Interval(float, 0, 1)],
        "lmbd": [Interval(float, 0, None)],
    }

    def __init__(self, n_neighbors: int = 100, alpha: float = 0.5, lmbd: float = 20.0) -> None:
        self.n_neighbors = n_neighbors
        self.alpha = alpha
        self.lmbd = lmbd

    def fit(self, train: Sessions, *, valid: Sessions | None = None) -> Self:
        """Compute the kept neighbour similarities from ``train`` (``valid`` is ignored)."""
        if int(self.n_neighbors) < 1:
            raise ValueError(f"ItemKNN: n_neighbors must be a positive integer, got {self.n_neighbors!r}")
        if float(self.lmbd) < 0:
            raise ValueError(f"ItemKNN: lmbd must be >= 0, got {self.lmbd!r}")
        x = train.to_csr(binary=True)
        sim, supp = item_similarity(x, alpha=float(self.alpha), lmbd=float(self.lmbd))
        self.similarity_ = keep_top_neighbors(sim, int(self.n_neighbors))
        self.support_ = supp
        self.n_items_ = train.n_items
        sim = self.similarity_
        distinct, code = np.unique(sim.data, return_inverse=True)
        self.score_codes_ = np.concatenate([[0.0], distinct])
        self.score_dtype_ = torch.float32 if len(distinct) <= 2**24 else torch.float64
        self._rows_ = CsrRows(sim.indptr, sim.indices, code.reshape(-1) + 1.0, self.score_dtype_)
        return self

    def score(self, batch: PrefixBatch) -> torch.Tensor:
        """Scores of shape (batch_size, n_items) on the CPU: the order code of ``sim(last item, j)``."""
        check_is_fitted(self)
        return self._rows_.dense(batch.last_items.to("cpu"), self.n_items_)

    def score_sessions(self, batch: PrefixBatch) -> torch.Tensor:
        """Scores after every prefix, shape (sum(lengths), n_items), rows in row-major order.

        Row ``(b, t)`` is the similarity row of ``batch.items[b, t]`` (the last click of that prefix).
        """
        check_is_fitted(self)
        return self._rows_.dense(batch.items.to("cpu")[batch.mask.to("cpu")], self.n_items_)


def item_similarity(x: sp.csr_matrix, *, alpha: float, lmbd: float) -> tuple[sp.csr_matrix, np.ndarray]:
    """Regularised co-occurrence similarity of all item pairs that co-occur.

    Parameters
    ----------
    x : scipy.sparse.csr_matrix of shape (n_sessions, n_items)
        Binary session x item matrix.
    alpha, lmbd : float
        See :class:`ItemKNN`.

    Returns
    -------
    sim : scipy.sparse.csr_matrix of shape (n_items, n_items), float64
        ``sim[i, j]`` for every ``j != i`` with ``co(i, j) > 0``; sorted indices.
    support : ndarray of shape (n_items,), int64
        Sessions containing each item.
    """
    x = sp.csr_matrix(x, dtype=np.float64)
    support = np.asarray(x.sum(axis=0)).ravel()
    xt = x.T.tocsr()
    co = (xt @ x).tocsr()  # (n_items, n_items): sessions containing both
    co.sum_duplicates()
    rows = np.repeat(np.arange(co.shape[0]), np.diff(co.indptr))
    keep = (rows != co.indices) & (co.data > 0)
    rows, cols, data = rows[keep], co.indices[keep], co.data[keep]
    shifted = support + lmbd
    norm = np.power(shifted[rows], alpha) * np.power(shifted[cols], 1.0 - alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = np.where(norm > 0, data / norm, 0.0)
    sim = sp.csr_matrix((values, (rows, cols)), shape=co.shape)
    sim.sort_indices()
    return sim, support.astype(np.int64)


def keep_top_neighbors(sim: sp.csr_matrix, n_neighbors: int) -> sp.csr_matrix:
    """Keep, in every row, the entries ``>=`` the row's ``n_neighbors``-th largest value.

    Rows with at most ``n_neighbors`` stored entries are kept whole; boundary ties are all
    kept. One ``lexsort`` of the stored entries: O(nnz log nnz) time, O(nnz) memory.

    Parameters
    ----------
    sim : scipy.sparse.csr_matrix of shape (n_rows, n_cols)
        Positive stored values.
    n_neighbors : int
        Number of entries kept per row (before ties).

    Returns
    -------
    scipy.sparse.csr_matrix of shape (n_rows, n_cols)
        The kept entries, in the input's column order.
    """
    sim = sp.csr_matrix(sim)
    counts = np.diff(sim.indptr)
    rows = np.repeat(np.arange(sim.shape[0]), counts)
    order = np.lexsort((-sim.data, rows))  # by row, then by decreasing value
    threshold = np.full(sim.shape[0], -np.inf)
    full = np.flatnonzero(counts > n_neighbors)
    threshold[full] = sim.data[order[sim.indptr[full] + n_neighbors - 1]]
    keep = sim.data >= threshold[rows]
    new_indptr = np.concatenate([[0], np.cumsum(np.bincount(rows[keep], minlength=sim.shape[0]))])
    out = sp.csr_matrix((sim.data[keep], sim.indices[keep], new_indptr), shape=sim.shape)
    return out
