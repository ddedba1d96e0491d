"""Ranks and top-K lists from sparse score blocks, exactly as from their dense form.

A model whose scores are zero for most items (the session-kNN family: a few dozen scored
items out of thousands) may hand the evaluator a SciPy CSR block instead of a dense tensor:
stored entries carry their score, every item *not stored* in a row scores exactly ``0.0``.
Ranking such a block densely costs a pass over ``n_cases x n_items`` values; here the cost
is proportional to the stored entries.

Both functions give results identical to the dense route on ``block.toarray()``:

* :func:`sparse_target_ranks` equals :func:`~sessrec.evaluation.target_ranks` for every tie
  rule: the count of items scoring at least (above) the target is the count among stored
  entries plus, when ``0`` qualifies, the number of unstored items. A target that is not
  stored scores 0 and ties with every unstored item.
* :func:`sparse_top_k_items` equals :func:`~sessrec.evaluation.top_k_items` (score
  descending, then lower ``item_idx`` first). Among the unstored items (all scoring 0) only
  the ``k`` lowest indices can enter a list, so every row's candidates are its stored
  entries plus its ``k`` lowest unstored indices, laid out in item order in a small padded
  block (rows grouped by width) and ranked by :func:`~sessrec.evaluation.top_k_items`
  itself: the padded block's column order is the item order, so its tie rule is the same.

Stored values may be negative, ``0`` or ``-inf``; duplicates are summed (as ``toarray``
does) after :meth:`~scipy.sparse.csr_matrix.sum_duplicates`. ``NaN`` and ``+inf`` are the
caller's to reject (the evaluator does, as for dense scores).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from sessrec.evaluation.ranks import check_ties, top_k_items

__all__ = ["canonical_csr", "sparse_target_ranks", "sparse_top_k_items"]

#: Cells of one padded candidate block in :func:`sparse_top_k_items` (memory bound).
_PAD_CELLS = 4_000_000


def canonical_csr(block: sp.spmatrix | sp.sparray) -> sp.csr_matrix:
    """``block`` as a CSR matrix with sorted indices and no duplicates (a copy only when needed)."""
    m = sp.csr_matrix(block)
    if not m.has_canonical_format:
        m = m.copy()
        m.sum_duplicates()
    return m


def sparse_target_ranks(block: sp.csr_matrix, targets: np.ndarray, ties: str = "conservative") -> np.ndarray:
    """Rank of every row's target, as :func:`~sessrec.evaluation.target_ranks` on ``block.toarray()``.

    Parameters
    ----------
    block : scipy.sparse.csr_matrix of shape (n_cases, n_items), floating
        Canonical (see :func:`canonical_csr`); unstored items score 0.
    targets : ndarray of shape (n_cases,), int
        Target ``item_idx`` of every row, in ``[0, n_items)``.
    ties : {"conservative", "optimistic", "median"}

    Returns
    -------
    ranks : ndarray of shape (n_cases,)
        int64 (``conservative``, ``optimistic``) or float64 (``median``).

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> block = sp.csr_matrix(np.array([[0.9, 0.5, 0.0, 0.5, 0.0]]))
    >>> [int(sparse_target_ranks(block, np.array([2]), t)[0]) for t in ("conservative", "optimistic")]
    [5, 4]
    """
    check_ties(ties)
    n_rows, n_items = block.shape
    targets = np.asarray(targets, dtype=np.int64)
    counts = np.diff(block.indptr).astype(np.int64)
    rows = np.repeat(np.arange(n_rows), counts)
    data = np.asarray(block.data, dtype=np.float64)
    target_score = np.zeros(n_rows)
    hit = block.indices == targets[rows]
    target_score[rows[hit]] = data[hit]
    unstored = n_items - counts
    at_least = np.bincount(rows[data >= target_score[rows]], minlength=n_rows) + unstored * (target_score <= 0)
    if ties == "conservative":
        return at_least.astype(np.int64)
    above = np.bincount(rows[data > target_score[rows]], minlength=n_rows) + unstored * (target_score < 0)
    if ties == "optimistic":
        return (above + 1).astype(np.int64)
    return (at_least + above + 1).astype(np.float64) / 2.0


def _lowest_unstored(block: sp.csr_matrix, k: int) -> tuple[np.ndarray, ...]:
    """The ``min(k, unstored)`` lowest unstored indices of every row, and how they interleave with the stored ones.

    Returns ``(row, item, rank, stored_below, unstored_below)``: the unstored candidates
    (sorted by row, then item), each one's rank ``i`` among its row's candidates and the
    number of stored entries of its row with a lower index; and, for every stored entry, how
    many of its row's unstored candidates have a lower index. With a row's sorted indices
    ``c_p``, ``d_p = c_p - p`` unstored indices lie below ``c_p`` (non-decreasing in ``p``), so
    the ``i``-th unstored index is ``i + #{p : d_p <= i}``.
    """
    n_rows, n_items = block.shape
    counts = np.diff(block.indptr).astype(np.int64)
    take = np.minimum(n_items - counts, k)
    rows = np.repeat(np.arange(n_rows), counts)
    gaps = block.indices.astype(np.int64) - (np.arange(block.nnz) - block.indptr[rows])
    key = rows * (n_items + 1) + gaps  # sorted: rows ascending, gaps non-decreasing within a row
    z_row = np.repeat(np.arange(n_rows), take)
    z_rank = np.arange(len(z_row)) - np.repeat(np.cumsum(take) - take, take)
    stored_below = np.searchsorted(key, z_row * (n_items + 1) + z_rank, side="right") - block.indptr[z_row]
    return z_row, z_rank + stored_below, z_rank, stored_below, np.minimum(gaps, take[rows])


def sparse_top_k_items(block: sp.csr_matrix, k: int) -> np.ndarray:
    """The ``k`` best items of every row, as :func:`~sessrec.evaluation.top_k_items` on ``block.toarray()``.

    Parameters
    ----------
    block : scipy.sparse.csr_matrix of shape (n_cases, n_items), floating, canonical, no NaN
    k : int
        List length; lists are ``min(k, n_items)`` long.

    Returns
    -------
    items : ndarray of shape (n_cases, min(k, n_items)), int64

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> sparse_top_k_items(sp.csr_matrix(np.array([[0.0, 0.7, -1.0, 0.0, 0.7]])), 4).tolist()
    [[1, 4, 0, 3]]
    """
    if k < 1:
        raise ValueError(f"k must be a positive integer, got {k}")
    n_rows, n_items = block.shape
    k_eff = min(int(k), n_items)
    out = np.zeros((n_rows, k_eff), dtype=np.int64)
    if n_rows == 0 or k_eff == 0:
        return out
    z_row, z_item, z_rank, stored_below, unstored_below = _lowest_unstored(block, k_eff)
    counts = np.diff(block.indptr).astype(np.int64)
    width = counts + np.bincount(z_row, minlength=n_rows)
    start = np.cumsum(width) - width  # a row's first slot in the merged, item-ordered candidate list
    rows = np.repeat(np.arange(n_rows), counts)
    value = np.empty(int(width.sum()))
    item = np.empty(int(width.sum()), dtype=np.int64)
    slot = start[rows] + (np.arange(block.nnz) - block.indptr[rows]) + unstored_below
    value[slot], item[slot] = block.data, block.indices
    slot = start[z_row] + z_rank + stored_below
    value[slot], item[slot] = 0.0, z_item
    for group in _width_groups(width):
        out[group] = _padded_top_k(value, item, start[group], width[group], k_eff, n_items)
    return out


def _width_groups(width: np.ndarray) -> list[np.ndarray]:
    """Rows in groups of similar width (within a factor 2), each padded block within ``_PAD_CELLS`` cells."""
    band = np.ceil(np.log2(np.maximum(width, 1))).astype(np.int64)
    groups = []
    for b in np.unique(band):  # one iteration per power of two of the width
        rows = np.flatnonzero(band == b)
        per_block = max(1, _PAD_CELLS // max(int(width[rows].max()), 1))
        groups += [rows[lo : lo + per_block] for lo in range(0, len(rows), per_block)]
    return groups


def _padded_top_k(
    value: np.ndarray, item: np.ndarray, start: np.ndarray, width: np.ndarray, k: int, n_items: int
) -> np.ndarray:
    """Top-``k`` items of rows laid out at ``start`` (``width`` slots each, item order), through a padded block."""
    w = int(width.max())
    cols = np.arange(w)
    valid = cols[None, :] < width[:, None]
    at = np.where(valid, start[:, None] + cols[None, :], 0)
    vals = np.where(valid, value[at], -np.inf)  # padding after the real slots: last among any -inf
    items = np.where(valid, item[at], n_items)
    pos = top_k_items(torch.from_numpy(vals), k).numpy()
    return np.take_along_axis(items, pos, axis=1)
