"""Compiled steps of the session-kNN models: candidates, top-``k`` and item scores.

:mod:`sessrec_baselines._knn_core` computes the four steps of a session-kNN model for many
prefixes at once with sparse products and NumPy passes over every candidate and every
neighbour item. On a real log these arrays are short per prefix (a few dozen candidates,
a few hundred neighbour items), so the NumPy route spends most of its time in the
overhead of a dozen passes over them. The functions here do the same work in one compiled
loop per prefix, with the same float64 operations in the same order, so their results are
bitwise those of the NumPy route (the tests compare both on every model and option):

* :func:`candidates` -- the sampled candidates with their weighted overlap and most recent
  shared item, as :func:`~sessrec_baselines._knn_core.candidates`;
* :func:`top_k` -- the ``k`` most similar candidates of every prefix, ordered, as
  :func:`~sessrec_baselines._knn_core.top_k`;
* :func:`item_sums` -- every neighbour's items valued and summed per prefix, for the models
  whose value depends on the item (V-SKNN's idf, STAN's distance to the anchor item,
  V-STAN's both, SF-SKNN's successor filter, ``remind=False``).

Numba is a dependency of ``sessrec-baselines``, imported on the first call (not at import);
where it is not installed, :data:`AVAILABLE` is False and the models use the NumPy route.
"""

from __future__ import annotations

import importlib.util
import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from sessrec_baselines._knn_core import MAX_STEP, Candidates

#: Whether the compiled kernels can run (Numba installed; imported on the first call, not here).
AVAILABLE = importlib.util.find_spec("numba") is not None
#: Anchor rules of STAN's item decay: none, session-rec's code, the paper.
ANCHOR_NONE, ANCHOR_CODE, ANCHOR_PAPER = 0, 1, 2
#: Rows up to this length are sorted by insertion (faster than a general sort there).
_SHORT = 32


#: The loops, in definition order (helpers first): plain Python until :func:`_jit` compiles them.
_LOOPS: list = []
_compiled = False


def _compile(func):
    """Register ``func`` as a loop that :func:`_jit` compiles (importing Numba costs ~0.6 s: only when used)."""
    _LOOPS.append(func)
    return func


def ready() -> bool:
    """Whether the compiled loops can run; compiles them on the first call.

    False when Numba is not installed, or when it is but cannot be imported (e.g. a NumPy
    newer than it supports): then a ``RuntimeWarning`` says so once and the models take the
    NumPy route (the same scores, slower).
    """
    global AVAILABLE
    if AVAILABLE and not _compiled:
        try:
            _jit()
        except ImportError as exc:
            AVAILABLE = False
            warnings.warn(
                f"Numba is installed but could not be imported ({exc}); the session-kNN models use their NumPy "
                "route (the same scores, several times slower)",
                RuntimeWarning,
                stacklevel=2,
            )
    return AVAILABLE


def _jit() -> None:
    """Compile every loop once per process (cached on disk where a cache folder is writable, else in memory).

    Each compiled loop replaces its Python function among the module's globals, where the
    wrappers and the other loops look it up.
    """
    global _compiled
    if _compiled:
        return
    import numba

    for func in _LOOPS:
        try:
            globals()[func.__name__] = numba.njit(cache=True, nogil=True)(func)
        except RuntimeError:  # pragma: no cover - no writable cache location
            globals()[func.__name__] = numba.njit(nogil=True)(func)
    _compiled = True


# ---------------------------------------------------------------------- sorting helpers
@_compile
def _sort_ints(a, lo, hi):
    """Sort ``a[lo:hi]`` ascending in place."""
    if hi - lo <= _SHORT:
        for i in range(lo + 1, hi):
            x = a[i]
            j = i - 1
            while j >= lo and a[j] > x:
                a[j + 1] = a[j]
                j -= 1
            a[j + 1] = x
    else:
        a[lo:hi].sort()


@_compile
def _order_desc(pos, value, lo, hi):
    """Stable sort of the entry numbers ``pos[lo:hi]`` by decreasing ``value[pos]`` (ties keep their order)."""
    if hi - lo <= _SHORT:
        for i in range(lo + 1, hi):
            x = pos[i]
            j = i - 1
            while j >= lo and value[pos[j]] < value[x]:
                pos[j + 1] = pos[j]
                j -= 1
            pos[j + 1] = x
    else:
        keys = np.empty(hi - lo)
        for i in range(lo, hi):
            keys[i - lo] = -value[pos[i]]
        order = np.argsort(keys, kind="mergesort")
        pos[lo:hi] = pos[lo:hi][order]


# ---------------------------------------------------------------------- candidates
def candidates(prefixes, weights: np.ndarray, index, sample_size: int):
    """As :func:`~sessrec_baselines._knn_core.candidates` (same arrays, bitwise), one compiled loop per prefix."""
    _jit()
    lists = index.sessions_of_item
    bound = int(np.diff(lists.indptr)[prefixes.item].sum())
    row, rank, dot, step = _candidates(
        np.int64(prefixes.n_rows), prefixes.row, prefixes.item, np.minimum(prefixes.step, MAX_STEP),
        np.ascontiguousarray(weights, dtype=np.float64), lists.indptr, lists.indices,
        np.int64(len(index.order)), np.int64(sample_size), np.int64(bound),
    )  # fmt: skip
    return Candidates(row, rank, dot, step)


@_compile
def _candidates(n_rows, pre_row, pre_item, pre_step, weight, ptr, idx, n_sessions, sample_size, bound):
    """The loop behind :func:`candidates` (``real``: the sum of ``4**-step``, as the complex product's real part)."""
    mark = np.full(n_sessions, -1, dtype=np.int64)
    real = np.zeros(n_sessions)
    dot = np.zeros(n_sessions)
    touched = np.empty(max(bound, 1), dtype=np.int64)
    out_row = np.empty(bound, dtype=np.int64)
    out_rank = np.empty(bound, dtype=np.int64)
    out_dot = np.empty(bound)
    out_step = np.empty(bound, dtype=np.int64)
    n_out, p = 0, 0
    for r in range(n_rows):
        n_touched = 0
        while p < len(pre_row) and pre_row[p] == r:  # the prefix's items in item order, as the product adds them
            term = math.ldexp(1.0, -2 * pre_step[p])
            for t in range(ptr[pre_item[p]], ptr[pre_item[p] + 1]):
                s = idx[t]
                if mark[s] != r:
                    mark[s], real[s], dot[s] = r, 0.0, 0.0
                    touched[n_touched] = s
                    n_touched += 1
                real[s] += term
                dot[s] += weight[p]
            p += 1
        _sort_ints(touched, 0, n_touched)
        for t in range(min(n_touched, sample_size) if sample_size > 0 else n_touched):
            s = touched[t]
            out_row[n_out], out_rank[n_out], out_dot[n_out] = r, s, dot[s]
            out_step[n_out] = (1 - math.frexp(real[s])[1]) // 2
            n_out += 1
    return out_row[:n_out], out_rank[:n_out], out_dot[:n_out], out_step[:n_out]


# ---------------------------------------------------------------------- top-k
def top_k(row: np.ndarray, sim: np.ndarray, n_rows: int, k: int) -> np.ndarray:
    """As :func:`~sessrec_baselines._knn_core.top_k` for ``sim`` without NaN: per row a stable sort, its first ``k``."""
    _jit()
    return _top_k(np.ascontiguousarray(row, dtype=np.int64), np.ascontiguousarray(sim, dtype=np.float64), np.int64(k))


@_compile
def _top_k(row, sim, k):
    """The loop behind :func:`top_k`."""
    pos = np.arange(len(row))
    out = np.empty(len(row), dtype=np.int64)
    n_out, lo = 0, 0
    while lo < len(row):
        hi = lo
        while hi < len(row) and row[hi] == row[lo]:
            hi += 1
        _order_desc(pos, sim, lo, hi)
        for t in range(lo, min(hi, lo + k)):
            out[n_out] = pos[t]
            n_out += 1
        lo = hi
    return out[:n_out]


# ---------------------------------------------------------------------- item sums
@dataclass
class ItemTerms:
    """How a neighbour's items are valued, in the order the operations are applied.

    ``value = base[nb]``; then ``value *= decay[|q(i) - q(i*)|]`` (``anchor`` not
    ``ANCHOR_NONE``; ``q`` = position of the item's last click in the neighbour); then
    ``value = value + value * idf[i] * idf_scale`` (``idf`` given); then
    ``value *= post[nb]`` (``post`` given). Items are skipped when ``drop_current`` and the
    prefix contains them, or when ``successors`` (CSR, item x item) is given and the item
    never followed the prefix's last item.
    """

    base: np.ndarray
    anchor: int = ANCHOR_NONE
    decay: np.ndarray = field(default_factory=lambda: np.ones(1))
    idf: np.ndarray | None = None
    idf_scale: float = 0.0
    post: np.ndarray | None = None
    drop_current: bool = False
    successors: sp.csr_matrix | None = None


def item_sums(pre, nbrs, terms: ItemTerms, positions: sp.csr_matrix, n_items: int) -> sp.csr_matrix:
    """CSR (n_rows, n_items) of every prefix's summed item values, zeros not stored, indices unsorted.

    ``pre`` (:class:`~sessrec_baselines._knn_core.Prefixes`) and ``nbrs``
    (:class:`~sessrec_baselines._knn_core.Neighbours`, by row then decreasing similarity) as
    the NumPy route has them; ``positions`` is the index's session x item matrix of last
    positions (rank order, sorted indices).
    """
    _jit()
    starts = positions.indptr[nbrs.rank]
    bound = min(int((positions.indptr[nbrs.rank + 1] - starts).sum()), pre.n_rows * n_items)
    succ = terms.successors
    if succ is None:
        succ = sp.csr_matrix((n_items, n_items))
    empty = np.zeros(0)
    flags = np.array([terms.anchor, terms.idf is not None, terms.post is not None, terms.drop_current,
                      terms.successors is not None], dtype=np.int64)  # fmt: skip
    factors = (
        np.ascontiguousarray(terms.base, dtype=np.float64), np.ascontiguousarray(terms.decay, dtype=np.float64),
        empty if terms.idf is None else np.ascontiguousarray(terms.idf, dtype=np.float64), float(terms.idf_scale),
        empty if terms.post is None else np.ascontiguousarray(terms.post, dtype=np.float64),
    )  # fmt: skip
    indptr, indices, data = _item_sums(
        np.int64(pre.n_rows), np.int64(n_items), pre.row, pre.item, pre.pos, pre.length, pre.last_item.copy(),
        nbrs.row, nbrs.rank, nbrs.step.astype(np.int64), positions.indptr, positions.indices, positions.data,
        flags, *factors, succ.indptr, succ.indices, np.int64(bound),
    )  # fmt: skip
    return sp.csr_matrix((data, indices, indptr), shape=(pre.n_rows, n_items))


@_compile
def _emit(acc, touched, n_touched, indices, data, nnz):
    """Store the row's sums from ``nnz`` on (exact zeros are not stored), reset the accumulator; returns the new end."""
    for t in range(n_touched):
        item = touched[t]
        if acc[item] != 0.0:
            indices[nnz], data[nnz] = item, acc[item]
            nnz += 1
        acc[item] = 0.0
    return nnz


@_compile
def _item_sums(  # noqa: C901 - one compiled loop; helpers called per neighbour or per item cost 3x (array refcounts)
    n_rows, n_items, pre_row, pre_item, pre_pos, pre_len, last_item, nb_row, nb_rank, nb_step,
    pos_ptr, pos_idx, pos_val, flags, base, decay, idf, idf_scale, post, succ_ptr, succ_idx, bound,
):  # fmt: skip
    """The loop behind :func:`item_sums`: per prefix, mark its items, add every neighbour's items, emit the sums.

    A neighbour's anchor (``flags[0]``): session-rec's code takes the neighbour's last
    position of any prefix item; the paper the position in the neighbour of the prefix item
    ``step`` clicks from the end (the next position holding an item when ``step`` was
    clamped, as the NumPy route's search finds it).
    """
    anchor_rule = flags[0]
    use_idf, use_post, drop, use_succ = flags[1] != 0, flags[2] != 0, flags[3] != 0, flags[4] != 0
    acc = np.zeros(n_items)
    in_prefix = np.full(n_items, -1, dtype=np.int64)  # the row that last marked the item
    follows = np.full(n_items, -1, dtype=np.int64)
    touched_by = np.full(n_items, -1, dtype=np.int64)  # the row whose accumulator holds the item
    touched = np.empty(n_items, dtype=np.int64)
    item_at = np.full(int(pre_len.max()) + 2 if n_rows > 0 else 1, -1, dtype=np.int64)
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    indices, data = np.empty(bound, dtype=np.int64), np.empty(bound)
    p, j = 0, 0  # next prefix entry, next neighbour
    for r in range(n_rows):
        p0 = p
        while p < len(pre_row) and pre_row[p] == r:  # mark the prefix's items and where they sit
            in_prefix[pre_item[p]], item_at[pre_pos[p]] = r, pre_item[p]
            p += 1
        if use_succ and last_item[r] >= 0:
            for t in range(succ_ptr[last_item[r]], succ_ptr[last_item[r] + 1]):
                follows[succ_idx[t]] = r
        n_touched = 0
        while j < len(nb_row) and nb_row[j] == r:
            lo, hi = pos_ptr[nb_rank[j]], pos_ptr[nb_rank[j] + 1]
            anchor = 0
            if anchor_rule == ANCHOR_CODE:
                for t in range(lo, hi):
                    if in_prefix[pos_idx[t]] == r:
                        anchor = max(anchor, np.int64(pos_val[t]))
            elif anchor_rule == ANCHOR_PAPER:
                want = pre_len[r] - nb_step[j] + 1
                while item_at[want] < 0:
                    want += 1
                for t in range(lo, hi):
                    if pos_idx[t] == item_at[want]:
                        anchor = np.int64(pos_val[t])
            for t in range(lo, hi):
                item = pos_idx[t]
                if (drop and in_prefix[item] == r) or (use_succ and follows[item] != r):
                    continue
                value = base[j]  # the operations of ItemTerms, in its order
                if anchor_rule != ANCHOR_NONE:
                    value = value * decay[abs(np.int64(pos_val[t]) - anchor)]
                if use_idf:
                    value = value + value * idf[item] * idf_scale
                if use_post:
                    value = value * post[j]
                if touched_by[item] != r:
                    touched_by[item], touched[n_touched] = r, item
                    n_touched += 1
                acc[item] += value
            j += 1
        nnz = _emit(acc, touched, n_touched, indices, data, indptr[r])
        indptr[r + 1] = nnz
        for t in range(p0, p):
            item_at[pre_pos[t]] = -1
    return indptr, indices[: indptr[n_rows]], data[: indptr[n_rows]]
