"""Vectorised machinery shared by the session-kNN models (SKNN, V-SKNN, S-SKNN, SF-SKNN, STAN, V-STAN).

Every model scores a *prefix* (the clicks of the current session so far) in four steps,
all of them batched over many prefixes with sparse products and segment operations:

1. **candidates** -- the training sessions that share an item with the prefix;
2. **sample** -- the ``sample_size`` first candidates in a fixed session order (latest last
   click first for ``sampling="recent"``, a random permutation for ``"random"``);
3. **neighbours** -- the ``k`` sampled candidates of largest similarity;
4. **item scores** -- every item of every neighbour receives the neighbour's weight (times
   item-level factors for V-SKNN, STAN and V-STAN), summed over neighbours: one sparse
   product when the value does not depend on the item, else the compiled loop of
   :mod:`sessrec_baselines._knn_kernel` (or, without Numba, the NumPy expansion below).

Scores come out dense (``score``/``score_sessions``: a float64 (rows, n_items) block) or
sparse (``score_sessions_sparse``: CSR, unstored items 0, which the evaluator ranks without
a dense block). Both hold bitwise the same sums: every route adds a row's terms one by one
in the same order (neighbours by decreasing similarity, each neighbour's items in item
order) -- ``csr_todense`` into the dense block, SciPy's sparse product (``sum_rows``,
``neighbour_sums``) into CSR.

Training sessions are renumbered in the sampling order once in ``fit``, so a candidate's
column in the prefix x session matrix *is* its sampling rank: step 2 keeps the first
``sample_size`` stored entries of each sorted row. Since a session among the first
``sample_size`` candidates is among the first ``sample_size`` sessions of every item list it
belongs to, each item's session list is truncated to its first ``sample_size`` sessions in
``fit``: the candidate product costs at most ``sample_size`` entries per distinct prefix item,
whatever the popularity of the items or the size of the training set.

Step 1 is one complex sparse product ``Q @ X.T`` whose real part carries the recency of the
shared items (``sum 4**-step``, from which the most recent shared item's distance to the end of
the prefix is read exactly by its binary exponent) and whose imaginary part carries the sum of
the prefix weights of the shared items (the numerator of every similarity).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

try:  # the kernel behind csr_matrix.toarray, called without toarray's zeroing pass
    from scipy.sparse._sparsetools import csr_todense as _csr_add_into
except ImportError:  # pragma: no cover - a SciPy that moved it: the public route below
    _csr_add_into = None

from sessrec.data.sessions import PrefixBatch, Sessions

#: Largest "distance from the end of the prefix" encoded exactly (``4**-step`` stays a normal float64).
MAX_STEP = 511
#: Budget of candidate-product entries per chunk of prefixes (bounds memory whatever the batch size).
CHUNK_ENTRIES = 4_000_000


@dataclass
class TrainIndex:
    """Training sessions renumbered in sampling order.

    Attributes
    ----------
    order : ndarray of shape (n_sessions,), int64
        ``order[r]`` is the training position of the session of rank ``r``.
    positions : scipy.sparse.csr_matrix of shape (n_sessions, n_items), float64
        Row ``r`` (rank order) holds the distinct items of session ``order[r]``; the value is
        the 1-based position of the item's last click in the session (repeats counted).
    last_time : ndarray of shape (n_sessions,), float64
        Time of the last click of every session, rank order.
    sessions_of_item : scipy.sparse.csr_matrix of shape (n_items, n_sessions), complex128
        Binary item x session matrix (columns = ranks, sorted), each row truncated to its
        first ``sample_size`` sessions (all when ``sample_size == 0``).
    n_distinct : ndarray of shape (n_sessions,), float64
        Number of distinct items of every session, rank order.
    """

    order: np.ndarray
    positions: sp.csr_matrix
    last_time: np.ndarray
    sessions_of_item: sp.csr_matrix
    n_distinct: np.ndarray

    @functools.cached_property
    def binary(self) -> sp.csr_matrix:
        """``positions`` with every stored value 1.0 (same structure), shape (n_sessions, n_items)."""
        p = self.positions
        return sp.csr_matrix((np.ones(p.nnz), p.indices, p.indptr), shape=p.shape)


def session_order(train: Sessions, sampling: str, rng: np.random.Generator | None) -> np.ndarray:
    """Sampling order of the training sessions: latest last click first (ties: earlier position first), or random."""
    if sampling == "random":
        assert rng is not None
        return rng.permutation(train.n_sessions).astype(np.int64)
    last = session_last_times(train)
    return np.lexsort((np.arange(train.n_sessions), -last)).astype(np.int64)


def session_last_times(train: Sessions) -> np.ndarray:
    """Time of the last click of every session, shape (n_sessions,); ``-inf`` for empty sessions."""
    ends = train.offsets[1:] - 1
    out = np.full(train.n_sessions, -np.inf)
    nonempty = train.lengths > 0
    out[nonempty] = train.timestamps[ends[nonempty]]
    return out


def last_positions(train: Sessions) -> sp.csr_matrix:
    """Session x item matrix of the 1-based position of each item's last click, shape (n_sessions, n_items)."""
    sess = np.repeat(np.arange(train.n_sessions), train.lengths)
    pos = np.arange(train.n_clicks) - train.offsets[sess] + 1
    key = sess * np.int64(max(train.n_items, 1)) + train.items
    rev_key = key[::-1]
    uniq, first_rev = np.unique(rev_key, return_index=True)  # first in reverse = last click
    keep = len(key) - 1 - first_rev
    n = max(train.n_items, 1)
    rows, cols = uniq // n, uniq % n
    m = sp.csr_matrix((pos[keep].astype(np.float64), (rows, cols)), shape=(train.n_sessions, train.n_items))
    m.sort_indices()
    return m


def build_index(train: Sessions, sampling: str, sample_size: int, rng: np.random.Generator | None) -> TrainIndex:
    """Renumber ``train`` in sampling order and build the truncated item -> sessions lists."""
    order = session_order(train, sampling, rng)
    positions = last_positions(train)[order]
    positions.sort_indices()
    ranks_of_item = positions.T.tocsr()
    ranks_of_item.sort_indices()
    if sample_size > 0:
        ranks_of_item = truncate_rows(ranks_of_item, sample_size)
    ranks_of_item = sp.csr_matrix(
        (np.ones(ranks_of_item.nnz, dtype=np.complex128), ranks_of_item.indices, ranks_of_item.indptr),
        shape=ranks_of_item.shape,
    )  # complex once here, so that every candidate product multiplies without a copy
    return TrainIndex(
        order=order,
        positions=positions,
        last_time=session_last_times(train)[order],
        sessions_of_item=ranks_of_item,
        n_distinct=np.diff(positions.indptr).astype(np.float64),
    )


def truncate_rows(m: sp.csr_matrix, n_keep: int) -> sp.csr_matrix:
    """The first ``n_keep`` stored entries of every row of a CSR matrix (sorted indices)."""
    counts = np.diff(m.indptr)
    rows = np.repeat(np.arange(m.shape[0]), counts)
    within = np.arange(m.nnz) - m.indptr[rows]
    keep = within < n_keep
    indptr = np.concatenate([[0], np.cumsum(np.minimum(counts, n_keep))]).astype(np.int64)
    return sp.csr_matrix((m.data[keep], m.indices[keep], indptr), shape=m.shape)


# ---------------------------------------------------------------------- prefixes
@dataclass
class Prefixes:
    """Prefixes as distinct items with the position of their last click.

    Attributes
    ----------
    row, item, pos : ndarray of shape (n_entries,), int64
        Distinct (prefix row, item) pairs sorted by row then item; ``pos`` is the 1-based
        position of the item's last click in the prefix (repeats counted).
    length : ndarray of shape (n_rows,), int64
        Number of clicks of every prefix (repeats counted).
    time : ndarray of shape (n_rows,), float64
        Time of every prefix's last click.
    tail : ndarray of shape (n_rows, 3), int64
        The last three clicks (oldest first), -1 where the prefix is shorter.
    """

    row: np.ndarray
    item: np.ndarray
    pos: np.ndarray
    length: np.ndarray
    time: np.ndarray
    tail: np.ndarray

    @property
    def n_rows(self) -> int:
        return len(self.length)

    @property
    def step(self) -> np.ndarray:
        """Distance of every entry's last click from the end of its prefix (1 = last click)."""
        return self.length[self.row] - self.pos + 1

    @property
    def last_item(self) -> np.ndarray:
        return self.tail[:, -1]

    def take(self, rows: np.ndarray) -> Prefixes:
        """The prefixes ``rows`` (sorted, contiguous range) renumbered from 0."""
        lo, hi = np.searchsorted(self.row, [rows[0], rows[-1] + 1])
        return Prefixes(
            self.row[lo:hi] - rows[0], self.item[lo:hi], self.pos[lo:hi],
            self.length[rows], self.time[rows], self.tail[rows],
        )  # fmt: skip


def prefixes_from_batch(batch: PrefixBatch, whole_sessions: bool, default_time: float, n_items: int) -> Prefixes:
    """Every prefix of ``batch`` (its rows) or, with ``whole_sessions``, every prefix of every row."""
    items = batch.items.to("cpu").numpy()
    lengths = batch.lengths.to("cpu").numpy().astype(np.int64)
    times = None if batch.timestamps is None else batch.timestamps.to("cpu").numpy()
    if whole_sessions:
        src = np.repeat(np.arange(len(lengths)), lengths)
        plen = np.arange(len(src)) - np.repeat(np.cumsum(lengths) - lengths, lengths) + 1
    else:
        src, plen = np.arange(len(lengths)), lengths
    entry_row = np.repeat(np.arange(len(src)), plen)
    col = np.arange(len(entry_row)) - np.repeat(np.cumsum(plen) - plen, plen)
    entry_item = items[src[entry_row], col]
    key = entry_row * np.int64(max(n_items, 1)) + entry_item
    _, first_rev = np.unique(key[::-1], return_index=True)
    keep = len(key) - 1 - first_rev
    tail = np.full((len(src), 3), -1, dtype=np.int64)
    for j in range(3):  # the last three clicks, a fixed number of columns
        back = plen - 3 + j
        ok = back >= 0
        tail[ok, j] = items[src[ok], back[ok]]
    if times is None:
        time = np.full(len(src), float(default_time))
    else:
        time = times[src, plen - 1].astype(np.float64)
    return Prefixes(entry_row[keep], entry_item[keep], col[keep] + 1, plen, time, tail)


def row_chunks(
    prefixes: Prefixes, index: TrainIndex, budget: int | None = None, row_limit: int | None = None
) -> list[np.ndarray]:
    """Split the prefix rows into consecutive groups that bound every per-chunk array.

    A row's cost is the length of its candidate product (the summed truncated session lists
    of its distinct items, at least 1). A group's summed cost stays within ``budget`` (the
    candidate product and everything per candidate) and its row count times the largest row
    cost too (the padded row x candidate matrix of the top-``k`` selection); with
    ``row_limit``, a group also has at most that many rows.
    """
    budget = CHUNK_ENTRIES if budget is None else budget
    per_item = np.diff(index.sessions_of_item.indptr)
    cost = np.bincount(prefixes.row, weights=per_item[prefixes.item], minlength=prefixes.n_rows) + 1
    max_rows = max(1, int(budget // cost.max())) if len(cost) else 1
    if row_limit is not None:
        max_rows = min(max_rows, max(1, int(row_limit)))
    cum = np.cumsum(cost)
    groups, start, base = [], 0, 0.0
    while start < prefixes.n_rows:  # one iteration per chunk
        end = max(int(np.searchsorted(cum, base + budget, side="right")), start + 1)
        end = min(end, start + max_rows)
        groups.append(np.arange(start, end))
        base, start = float(cum[end - 1]), end
    return groups


# ---------------------------------------------------------------------- candidates
@dataclass
class Candidates:
    """Sampled candidate sessions of every prefix (entries sorted by row, then rank).

    ``rank`` is the session's rank, ``dot`` the sum of the prefix weights of the shared
    items, ``step`` the distance of the most recent shared item from the end of the prefix.
    """

    row: np.ndarray
    rank: np.ndarray
    dot: np.ndarray
    step: np.ndarray


def candidates(prefixes: Prefixes, weights: np.ndarray, index: TrainIndex, sample_size: int) -> Candidates:
    """Sampled candidates with their weighted overlap and most recent shared item (one sparse product)."""
    step = np.minimum(prefixes.step, MAX_STEP)
    value = np.ldexp(1.0, -2 * step) + 1j * weights
    q = sp.csr_matrix((value, (prefixes.row, prefixes.item)), shape=(prefixes.n_rows, index.positions.shape[1]))
    prod = (q @ index.sessions_of_item).tocsr()
    prod.sort_indices()
    counts = np.diff(prod.indptr)
    rows = np.repeat(np.arange(prefixes.n_rows), counts)
    if sample_size > 0:
        keep = (np.arange(prod.nnz) - prod.indptr[rows]) < sample_size
        rows, cols, data = rows[keep], prod.indices[keep], prod.data[keep]
    else:
        cols, data = prod.indices, prod.data
    _, exponent = np.frexp(data.real)
    return Candidates(rows, cols.astype(np.int64), data.imag.copy(), (1 - exponent) // 2)


def top_k(row: np.ndarray, sim: np.ndarray, n_rows: int, k: int) -> np.ndarray:
    """Positions of the ``k`` largest ``sim`` of every row, ordered by row, then decreasing ``sim``.

    Entries are sorted by row; ties keep the entries' order (the earlier entry first), both
    for the choice at the ``k``-th place and for the order. Only rows with more than ``k``
    entries need a choice: one partial selection per such row (``torch.topk``) finds its
    ``k``-th value; a row-wise stable sort orders the chosen entries. Both work on padded
    blocks of rows of similar length (:func:`_row_bands`), so that the padding stays small.
    """
    counts = np.bincount(row, minlength=n_rows)
    if len(row) == 0:
        return np.zeros(0, dtype=np.int64)
    chosen = np.arange(len(row))
    if counts.max() > k:
        starts = np.cumsum(counts) - counts
        kth = np.full(n_rows, -np.inf)
        for rows in _row_bands(np.where(counts > k, counts, 0)):  # rows with a choice to make
            block = _padded(sim, starts[rows], counts[rows], -np.inf)
            kth[rows] = torch.topk(torch.from_numpy(block), k, dim=1, sorted=False).values.amin(dim=1).numpy()
        over = (counts > k)[row]
        above = sim > kth[row]
        tied = over & (sim == kth[row])
        room = k - np.bincount(row, weights=above, minlength=n_rows)
        tie_rank = np.cumsum(tied) - np.concatenate([[0], np.cumsum(tied)])[starts][row]
        chosen = np.flatnonzero(~over | above | (tied & (tie_rank <= room[row])))
    return chosen[_row_sort_desc(row[chosen], sim[chosen], n_rows)]


def _row_bands(counts: np.ndarray) -> list[np.ndarray]:
    """Rows with ``counts > 0`` grouped by ``ceil(log2(count))`` (lengths within a factor 2 in a group)."""
    rows = np.flatnonzero(counts > 0)
    band = np.ceil(np.log2(counts[rows])).astype(np.int64)
    return [rows[band == b] for b in np.unique(band)]  # at most ~log2(max count) groups


def _padded(value: np.ndarray, starts: np.ndarray, counts: np.ndarray, pad: float) -> np.ndarray:
    """Rows ``value[starts[r] : starts[r] + counts[r]]`` as a (len(starts), max count) block, ``pad`` after."""
    cols = np.arange(int(counts.max()))
    valid = cols[None, :] < counts[:, None]
    return np.where(valid, value[np.where(valid, starts[:, None] + cols[None, :], 0)], pad)


def _row_sort_desc(row: np.ndarray, value: np.ndarray, n_rows: int) -> np.ndarray:
    """Permutation ordering entries (sorted by row) by row, then decreasing ``value``, ties in input order."""
    counts = np.bincount(row, minlength=n_rows)
    if len(row) == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.cumsum(counts) - counts
    out = np.empty(len(row), dtype=np.int64)
    for rows in _row_bands(counts):
        order = np.argsort(_padded(-value, starts[rows], counts[rows], np.inf), axis=1, kind="stable")
        first = starts[rows][:, None]
        valid = np.arange(order.shape[1])[None, :] < counts[rows][:, None]
        out[(first + np.arange(order.shape[1])[None, :])[valid]] = (first + order)[valid]
    return out


# ---------------------------------------------------------------------- item scores
@dataclass
class Neighbours:
    """The chosen neighbours (sorted by row, then decreasing similarity)."""

    row: np.ndarray
    rank: np.ndarray
    weight: np.ndarray
    step: np.ndarray


def order_neighbours(cand: Candidates, sel: np.ndarray, sim: np.ndarray) -> Neighbours:
    """Neighbours ``sel`` of ``cand`` (already ordered by row, then decreasing similarity)."""
    return Neighbours(cand.row[sel], cand.rank[sel], sim[sel], cand.step[sel])


@dataclass
class Expanded:
    """Every item of every neighbour: ``nb`` (neighbour number), ``item``, ``pos`` (last position in the neighbour).

    ``at`` is the entry's place in the index's ``positions`` matrix; ``pos`` is read from it
    on first use (only STAN's item decay needs it).
    """

    nb: np.ndarray
    item: np.ndarray
    at: np.ndarray
    source: sp.csr_matrix

    @functools.cached_property
    def pos(self) -> np.ndarray:
        return self.source.data[self.at].astype(np.int64)


def expand(nbrs: Neighbours, index: TrainIndex) -> Expanded:
    """Gather the distinct items of every neighbour session (CSR row gather, vectorised)."""
    p = index.positions
    starts = p.indptr[nbrs.rank]
    counts = p.indptr[nbrs.rank + 1] - starts
    nb = np.repeat(np.arange(len(nbrs.rank)), counts)
    at = np.arange(len(nb)) + np.repeat(starts - (np.cumsum(counts) - counts), counts)
    return Expanded(nb, p.indices[at].astype(np.int64), at, p)


#: Largest bit table :func:`pairs_contain` builds (32 MiB); above it, a binary search.
MAX_TABLE_BITS = 2**28


def in_prefix(prefixes: Prefixes, row: np.ndarray, item: np.ndarray, n_items: int) -> np.ndarray:
    """Whether ``item`` is a click of prefix ``row``, elementwise."""
    return pairs_contain(prefixes.row, prefixes.item, prefixes.n_rows, row, item, n_items)


def pairs_contain(
    key_row: np.ndarray, key_item: np.ndarray, n_rows: int, row: np.ndarray, item: np.ndarray, n_items: int
) -> np.ndarray:
    """Whether each probe ``(row, item)`` is one of the pairs ``(key_row, key_item)`` (sorted by row, then item).

    A bit per possible pair (``n_rows x n_items``), set for the pairs and read for every
    probe (no search); a binary search over the sorted pairs when that table would exceed
    :data:`MAX_TABLE_BITS`.
    """
    n = np.int64(max(n_items, 1))
    keys = key_row * n + key_item
    probe = row * n + item
    if n_rows * int(n) <= MAX_TABLE_BITS:
        bits = np.zeros((n_rows * int(n) + 7) // 8, dtype=np.uint8)
        np.bitwise_or.at(bits, keys >> 3, np.left_shift(1, keys & 7).astype(np.uint8))
        return ((bits[probe >> 3] >> (probe & 7).astype(np.uint8)) & 1).astype(bool)
    if len(keys) == 0:
        return np.zeros(len(probe), dtype=bool)
    at = np.minimum(np.searchsorted(keys, probe), len(keys) - 1)
    return keys[at] == probe


def accumulate_into(out: np.ndarray, row: np.ndarray, item: np.ndarray, value: np.ndarray) -> None:
    """``out[row, item] += value`` for every entry (``row`` non-decreasing), added in input order.

    The entries are the rows of a CSR matrix with duplicates, added into ``out`` entry by
    entry in storage order (SciPy's ``csr_todense`` kernel): the sums are bitwise
    reproducible. The kernel adds into ``out`` as it is; ``toarray(out=...)``, the public
    route, would first write zeros over all of ``out`` (here: freshly allocated zeros, so
    that pass costs nearly half the scoring time of a session-kNN model and changes nothing).
    """
    add_csr_into(out, _row_pointers(row, out.shape[0]), item, value)


def add_csr_into(out: np.ndarray, indptr: np.ndarray, item: np.ndarray, value: np.ndarray) -> None:
    """:func:`accumulate_into` for entries already laid out as CSR rows (``indptr`` of ``out``'s rows)."""
    index = np.ascontiguousarray(item, dtype=np.int64)
    data = np.ascontiguousarray(value, dtype=np.float64)
    indptr = np.ascontiguousarray(indptr, dtype=np.int64)
    if _csr_add_into is not None and out.dtype == np.float64 and out.flags.c_contiguous:
        _csr_add_into(out.shape[0], out.shape[1], indptr, index, data, out)
        return
    m = sp.csr_matrix((data, index, indptr), shape=out.shape)  # pragma: no cover - SciPy without the kernel
    m.has_canonical_format = False
    out += m.toarray()


@functools.lru_cache(maxsize=4)
def _identity(n_items: int) -> sp.csr_matrix:
    return sp.identity(n_items, format="csr")


def _row_pointers(row: np.ndarray, n_rows: int) -> np.ndarray:
    """CSR ``indptr`` (n_rows + 1,) of entries whose rows ``row`` are non-decreasing."""
    return np.concatenate([[0], np.cumsum(np.bincount(row, minlength=n_rows))]).astype(np.int64)


def sum_rows(row: np.ndarray, item: np.ndarray, value: np.ndarray, n_rows: int, n_items: int) -> sp.csr_matrix:
    """CSR (n_rows, n_items) of the sums of ``value`` per ``(row, item)`` (``row`` non-decreasing), zeros dropped.

    The entries form a CSR matrix with duplicates, multiplied by the identity: SciPy's
    sparse product adds every row's entries one by one in storage order into a per-row
    accumulator, exactly the additions of :func:`accumulate_into` (``v * 1.0 == v``), so
    every sum is bitwise the dense one; sums equal to 0 are not stored, indices are
    distinct but unsorted within a row.
    """
    indptr = _row_pointers(row, n_rows)
    entries = sp.csr_matrix((np.asarray(value, dtype=np.float64), item, indptr), shape=(n_rows, n_items))
    return sp.csr_matrix(entries @ _identity(n_items))


def neighbour_sums(
    row: np.ndarray, rank: np.ndarray, value: np.ndarray, n_rows: int, index: TrainIndex
) -> sp.csr_matrix:
    """CSR (n_rows, n_items): every neighbour ``rank`` adds ``value`` to each of its items in its prefix ``row``.

    The neighbours (``row`` non-decreasing, in the order of addition) form a row x session
    matrix, multiplied by the binary session x item matrix: SciPy's sparse product adds,
    row by row, each neighbour's value to its items in the neighbour order and each
    neighbour's items in item order -- the additions of :func:`accumulate_into` on the
    expanded neighbour items (``v * 1.0 == v``), so every sum is bitwise the dense one.
    """
    indptr = _row_pointers(row, n_rows)
    weights = sp.csr_matrix((np.asarray(value, dtype=np.float64), rank, indptr), shape=(n_rows, len(index.order)))
    return sp.csr_matrix(weights @ index.binary)


class SparseRows:
    """Scores of consecutive row chunks, computed in one small dense scratch block, kept as CSR.

    Every chunk adds its scores into the scratch block (``chunk_rows x n_items``, float64,
    allocated once per call and reused, so it stays in cache and is never page-faulted
    again), then :meth:`collect` reads the positions the chunk may have written, keeps the
    nonzero ones and writes zeros back there: the stored values are bitwise the dense values,
    and every unstored item scores exactly 0, as in the dense block.

    Parameters
    ----------
    chunk_rows, n_items : int
        Largest number of rows of a chunk; catalogue size.
    """

    def __init__(self, chunk_rows: int, n_items: int) -> None:
        self.n_items = int(n_items)
        self.block = np.zeros((max(int(chunk_rows), 1), self.n_items))
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def scratch(self, n_rows: int) -> np.ndarray:
        """The zeroed scratch rows of the next chunk, shape (n_rows, n_items)."""
        return self.block[:n_rows]

    def collect(self, n_rows: int, row: np.ndarray, item: np.ndarray) -> None:
        """Keep the chunk's nonzero scores at the positions ``(row, item)`` (duplicates allowed) and re-zero them.

        Every nonzero of the chunk's scratch rows must lie at one of these positions. The
        kept entries of a row are in no particular item order (the CSR matrix is duplicate
        free, its indices unsorted); rows need not be sorted.
        """
        flat = row * self.n_items + item
        scores = self.block.reshape(-1)
        values = scores[flat]
        where = np.arange(len(flat), dtype=np.float64)
        scores[flat] = where  # exact small integers: one entry per distinct position keeps its own number
        first = (scores[flat] == where) & (values != 0)
        scores[flat] = 0.0
        rows, items, values = row[first], item[first], values[first]
        if len(rows) > 1 and bool((rows[1:] < rows[:-1]).any()):
            by_row = np.argsort(rows, kind="stable")
            rows, items, values = rows[by_row], items[by_row], values[by_row]
        self.parts.append((np.bincount(rows, minlength=n_rows), items, values))

    def to_csr(self) -> sp.csr_matrix:
        """All collected chunks, in order, as one CSR matrix (sum of chunk rows x n_items), duplicate free."""
        counts = np.concatenate([p[0] for p in self.parts]) if self.parts else np.zeros(0, dtype=np.int64)
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        indices = np.concatenate([p[1] for p in self.parts]) if self.parts else np.zeros(0, dtype=np.int64)
        data = np.concatenate([p[2] for p in self.parts]) if self.parts else np.zeros(0)
        return sp.csr_matrix((data, indices, indptr), shape=(len(counts), self.n_items))


def accumulate(row: np.ndarray, item: np.ndarray, value: np.ndarray, n_rows: int, n_items: int) -> np.ndarray:
    """Dense (n_rows, n_items) float64 sums of ``value``, added in input order."""
    out = np.zeros((n_rows, n_items))
    accumulate_into(out, row, item, value)
    return out


def successor_sets(train: Sessions) -> sp.csr_matrix:
    """Binary (n_items, n_items) matrix: ``[i, j] = 1`` when ``j`` directly follows ``i`` in a training session."""
    n = train.n_clicks
    same = np.ones(max(n - 1, 0), dtype=bool)
    heads = train.offsets[1:-1]
    heads = heads[(heads > 0) & (heads < n)]
    same[heads - 1] = False
    pos = np.flatnonzero(same)
    m = sp.csr_matrix(
        (np.ones(len(pos)), (train.items[pos], train.items[pos + 1])), shape=(train.n_items, train.n_items)
    )
    m.sum_duplicates()
    m.data[:] = 1.0
    return m
