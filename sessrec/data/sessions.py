"""Session containers: :class:`Sessions` (CSR clicks) and :class:`PrefixBatch` (padded prefixes).

A collection of sessions is stored the way ``scipy.sparse.csr_matrix`` stores rows::

    items      = [ 3  7  7  1 | 2  5 | 4  3  9 ]      item_idx of every click, time-ordered
    offsets    = [ 0           4     6        9 ]     session s = items[offsets[s]:offsets[s+1]]
    timestamps = [ t  t  t  t | t  t | t  t  t ]      seconds, aligned with ``items``

so ``offsets`` is a CSR ``indptr`` and :meth:`Sessions.to_csr` is the session x item
matrix, while the same arrays feed session-parallel (GRU4Rec) and padded (NARM) batches.

Every session of length ``n`` yields ``n - 1`` *cases*: prefix ``seq[:i]`` -> target
``seq[i]`` for ``i = 1 .. n-1``. Cases are always listed session by session, and inside a
session by increasing prefix length; per-case results (ranks) use this order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

__all__ = ["PAD", "PrefixBatch", "Sessions", "concat_ranges"]

#: Padding value of :class:`PrefixBatch`. It is not a valid ``item_idx``: an embedding
#: lookup or a gather that forgets the mask raises instead of silently reading item 0.
PAD = -1


def _readonly(a: np.ndarray) -> np.ndarray:
    """A read-only array with ``a``'s values; the caller's array is never flagged or changed."""
    if a.flags.writeable or not a.flags.c_contiguous:
        a = np.array(a, copy=True, order="C")
    a.flags.writeable = False
    return a


@dataclass(frozen=True, eq=False)
class Sessions:
    """Time-ordered sessions of ``item_idx`` clicks in CSR layout.

    Parameters
    ----------
    items : ndarray of shape (n_clicks,), int64
        ``item_idx`` of every click, in ``[0, n_items)``.
    offsets : ndarray of shape (n_sessions + 1,), int64
        CSR ``indptr``: session ``s`` is ``items[offsets[s]:offsets[s+1]]``.
    timestamps : ndarray of shape (n_clicks,), float64
        Click times in seconds (any epoch); only their order and gaps matter.
    n_items : int
        Size of the item catalogue that scores range over.
    session_ids : ndarray of shape (n_sessions,), optional
        External session ids, kept for traceability.

    Arrays are made read-only, so nothing downstream can mutate a dataset in place.

    Examples
    --------
    >>> s = Sessions.from_lists([[0, 1, 2], [2, 0]], n_items=3)
    >>> s.n_sessions, s.n_clicks, s.n_cases
    (2, 5, 3)
    >>> s[1].tolist()
    [2, 0]
    """

    items: np.ndarray
    offsets: np.ndarray
    timestamps: np.ndarray
    n_items: int
    session_ids: np.ndarray | None = None

    def __post_init__(self) -> None:
        items = np.asarray(self.items)
        offsets = np.asarray(self.offsets)
        timestamps = np.asarray(self.timestamps, dtype=np.float64)
        if items.ndim != 1 or offsets.ndim != 1 or timestamps.ndim != 1:
            raise ValueError("Sessions arrays must be one-dimensional")
        if not np.issubdtype(items.dtype, np.integer) or not np.issubdtype(offsets.dtype, np.integer):
            raise TypeError(f"Sessions.items and offsets must be integer arrays, got {items.dtype} and {offsets.dtype}")
        items = items.astype(np.int64, copy=False)
        offsets = offsets.astype(np.int64, copy=False)
        if len(offsets) == 0 or offsets[0] != 0 or offsets[-1] != len(items):
            raise ValueError(
                f"Sessions.offsets must start at 0 and end at len(items)={len(items)}, "
                f"got {offsets[:1].tolist()}...{offsets[-1:].tolist()}"
            )
        if np.any(np.diff(offsets) < 0):
            raise ValueError("Sessions.offsets must be non-decreasing")
        if len(timestamps) != len(items):
            raise ValueError(f"Sessions.timestamps has {len(timestamps)} entries, items has {len(items)}")
        n_items = int(self.n_items)
        if len(items) and (items.min() < 0 or items.max() >= n_items):
            raise ValueError(f"Sessions.items must lie in [0, {n_items}), found [{items.min()}, {items.max()}]")
        object.__setattr__(self, "items", _readonly(items))
        object.__setattr__(self, "offsets", _readonly(offsets))
        object.__setattr__(self, "timestamps", _readonly(timestamps))
        object.__setattr__(self, "n_items", n_items)
        if self.session_ids is not None:
            ids = np.asarray(self.session_ids)
            if len(ids) != len(offsets) - 1:
                raise ValueError(f"session_ids has {len(ids)} entries for {len(offsets) - 1} sessions")
            object.__setattr__(self, "session_ids", _readonly(ids))

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_lists(
        cls,
        sessions: Sequence[Sequence[int]],
        n_items: int | None = None,
        timestamps: Sequence[Sequence[float]] | None = None,
    ) -> Sessions:
        """Build from a list of ``item_idx`` lists (tests, notebooks).

        Timestamps default to the click's global position, so sessions are in time order.
        """
        lengths = np.array([len(s) for s in sessions], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        items = np.fromiter((i for s in sessions for i in s), dtype=np.int64, count=int(offsets[-1]))
        if timestamps is None:
            ts = np.arange(len(items), dtype=np.float64)
        else:
            ts = np.fromiter((t for s in timestamps for t in s), dtype=np.float64, count=len(items))
        if n_items is None:
            n_items = int(items.max()) + 1 if len(items) else 0
        return cls(items, offsets, ts, n_items)

    # ------------------------------------------------------------------ sizes
    @property
    def n_sessions(self) -> int:
        return len(self.offsets) - 1

    @property
    def n_clicks(self) -> int:
        return len(self.items)

    @property
    def lengths(self) -> np.ndarray:
        """Length of every session, shape (n_sessions,)."""
        return np.diff(self.offsets)

    @property
    def n_cases(self) -> int:
        """Number of next-item cases: ``sum(max(length - 1, 0))``."""
        return int(np.maximum(self.lengths - 1, 0).sum())

    def __len__(self) -> int:
        return self.n_sessions

    def __getitem__(self, s: int) -> np.ndarray:
        return self.items[self.offsets[s] : self.offsets[s + 1]]

    def __iter__(self) -> Iterator[np.ndarray]:
        for s in range(self.n_sessions):
            yield self[s]

    def __repr__(self) -> str:
        return (
            f"Sessions(n_sessions={self.n_sessions}, n_clicks={self.n_clicks}, "
            f"n_cases={self.n_cases}, n_items={self.n_items})"
        )

    # ------------------------------------------------------------------ views
    def select(self, index: np.ndarray | Sequence[int]) -> Sessions:
        """Sessions ``index`` (integer positions or a boolean mask), in the given order."""
        idx = np.asarray(index)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        idx = idx.astype(np.int64)
        starts, ends = self.offsets[idx], self.offsets[idx + 1]
        lengths = ends - starts
        new_offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        gather = concat_ranges(starts, lengths)
        ids = None if self.session_ids is None else self.session_ids[idx]
        return Sessions(self.items[gather], new_offsets, self.timestamps[gather], self.n_items, ids)

    def split_by_end_time(self, fraction: float) -> tuple[np.ndarray, np.ndarray]:
        """Positions ``(early, late)`` of the sessions: ``late`` the ``fraction`` that end last.

        Sessions are ordered by the time of their last click (ties keep their order);
        ``late`` holds ``max(1, round(fraction * n_sessions))`` of them. Both arrays are
        sorted, so ``select`` keeps the sessions' order.
        """
        ends = self.timestamps[np.maximum(self.offsets[1:] - 1, 0)]
        order = np.argsort(ends, kind="stable")
        n_late = max(1, round(self.n_sessions * fraction))
        cut = len(order) - n_late
        return np.sort(order[:cut]), np.sort(order[cut:])

    def to_csr(self, binary: bool = False) -> sp.csr_matrix:
        """Session x item matrix of shape (n_sessions, n_items).

        Entry ``(s, i)`` counts the clicks of session ``s`` on item ``i`` (1 when ``binary``).
        """
        data = np.ones(self.n_clicks, dtype=np.float64)
        m = sp.csr_matrix((data, self.items.copy(), self.offsets.copy()), shape=(self.n_sessions, self.n_items))
        m.sum_duplicates()
        if binary:
            m.data[:] = 1.0
        return m

    def item_counts(self) -> np.ndarray:
        """Clicks per item, shape (n_items,), int64."""
        return np.bincount(self.items, minlength=self.n_items).astype(np.int64)

    # ------------------------------------------------------------------ cases
    def case_session(self) -> np.ndarray:
        """Session position of every case, shape (n_cases,)."""
        return np.repeat(np.arange(self.n_sessions), np.maximum(self.lengths - 1, 0))

    def case_positions(self) -> np.ndarray:
        """Global click position of every case's target, shape (n_cases,).

        The case's prefix is ``items[offsets[s]:pos]`` and its target ``items[pos]``.
        """
        starts = self.offsets[:-1] + 1
        return concat_ranges(starts, np.maximum(self.lengths - 1, 0))

    def case_targets(self) -> np.ndarray:
        """Target ``item_idx`` of every case, shape (n_cases,)."""
        return self.items[self.case_positions()]

    def case_prefix_lengths(self) -> np.ndarray:
        """Prefix length of every case, shape (n_cases,)."""
        pos = self.case_positions()
        return pos - self.offsets[self.case_session()]

    def prefix_batches(
        self, batch_size: int, cases: np.ndarray | None = None
    ) -> Iterator[tuple[PrefixBatch, np.ndarray]]:
        """Yield ``(PrefixBatch, targets)`` over the cases (all by default), in case order.

        ``cases`` selects case numbers (positions in case order).
        """
        sess = self.case_session()
        pos = self.case_positions()
        if cases is not None:
            sess, pos = sess[cases], pos[cases]
        for lo in range(0, len(pos), batch_size):
            p, s = pos[lo : lo + batch_size], sess[lo : lo + batch_size]
            starts = self.offsets[s]
            yield PrefixBatch.from_ranges(self.items, starts, p - starts, self.timestamps), self.items[p]


def concat_ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``concatenate([arange(s, s + n) for s, n in zip(starts, lengths)])``, vectorised.

    Parameters
    ----------
    starts, lengths : int arrays of shape (n_ranges,)
        First value and length (``>= 0``) of each range.

    Returns
    -------
    ndarray of shape (lengths.sum(),), int64

    Examples
    --------
    >>> concat_ranges(np.array([5, 0, 9]), np.array([2, 0, 3])).tolist()
    [5, 6, 9, 10, 11]
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    total = int(lengths.sum())
    heads = np.cumsum(lengths) - lengths  # position of each range's first element
    return np.repeat(np.asarray(starts, dtype=np.int64) - heads, lengths) + np.arange(total, dtype=np.int64)



@dataclass(frozen=True, eq=False)
class PrefixBatch:
    """Right-padded session prefixes.

    Parameters
    ----------
    items : LongTensor of shape (batch_size, max_len)
        ``items[b, :lengths[b]]`` is prefix ``b`` in time order; the rest is :data:`PAD`.
    lengths : LongTensor of shape (batch_size,)
        Prefix lengths, all >= 1.
    timestamps : DoubleTensor of shape (batch_size, max_len), optional
        Click times in seconds, aligned with ``items`` (padding positions are 0); ``None``
        when the prefixes were built without times (e.g. :meth:`from_lists`). Models that
        use time (session-recency decays) read the prefix's time from here.
    """

    items: torch.Tensor
    lengths: torch.Tensor
    timestamps: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.items.dim() != 2 or self.lengths.dim() != 1 or len(self.lengths) != len(self.items):
            raise ValueError(
                f"PrefixBatch expects items (B, L) and lengths (B,), got {tuple(self.items.shape)} "
                f"and {tuple(self.lengths.shape)}"
            )
        if self.timestamps is not None and tuple(self.timestamps.shape) != tuple(self.items.shape):
            raise ValueError(
                f"PrefixBatch timestamps must have the shape of items {tuple(self.items.shape)}, "
                f"got {tuple(self.timestamps.shape)}"
            )

    @classmethod
    def from_lists(cls, prefixes: Sequence[Sequence[int]], device: str | torch.device = "cpu") -> PrefixBatch:
        lengths = np.array([len(p) for p in prefixes], dtype=np.int64)
        if len(lengths) and lengths.min() < 1:
            raise ValueError("every prefix needs at least one item")
        flat = np.fromiter((i for p in prefixes for i in p), dtype=np.int64, count=int(lengths.sum()))
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        return cls.from_ranges(flat, starts, lengths).to(device)

    @classmethod
    def from_ranges(
        cls, items: np.ndarray, starts: np.ndarray, lengths: np.ndarray, timestamps: np.ndarray | None = None
    ) -> PrefixBatch:
        """Prefix ``b`` is ``items[starts[b] : starts[b] + lengths[b]]``; its times the same range of ``timestamps``."""
        lengths = np.asarray(lengths, dtype=np.int64)
        width = int(lengths.max()) if len(lengths) else 0
        col = np.arange(width, dtype=np.int64)
        mask = col[None, :] < lengths[:, None]
        idx = np.asarray(starts, dtype=np.int64)[:, None] + col[None, :]
        out = np.full((len(lengths), width), PAD, dtype=np.int64)
        out[mask] = np.asarray(items)[idx[mask]]
        times = None
        if timestamps is not None:
            t = np.zeros((len(lengths), width), dtype=np.float64)
            t[mask] = np.asarray(timestamps, dtype=np.float64)[idx[mask]]
            times = torch.from_numpy(t)
        return cls(torch.from_numpy(out), torch.from_numpy(lengths.copy()), times)

    @property
    def batch_size(self) -> int:
        return int(self.items.shape[0])

    @property
    def max_len(self) -> int:
        return int(self.items.shape[1])

    @property
    def device(self) -> torch.device:
        return self.items.device

    @property
    def mask(self) -> torch.Tensor:
        """Bool tensor (B, L): True on real clicks."""
        width = self.items.shape[1]
        return torch.arange(width, device=self.items.device)[None, :] < self.lengths[:, None]

    @property
    def last_items(self) -> torch.Tensor:
        """The last click of every prefix, shape (B,)."""
        return self.items.gather(1, (self.lengths - 1).clamp(min=0)[:, None]).squeeze(1)

    def to(self, device: str | torch.device) -> PrefixBatch:
        times = None if self.timestamps is None else self.timestamps.to(device)
        return PrefixBatch(self.items.to(device), self.lengths.to(device), times)

    def select(self, rows: torch.Tensor | Sequence[int]) -> PrefixBatch:
        rows_t = torch.as_tensor(rows, dtype=torch.long, device=self.items.device)
        lengths = self.lengths[rows_t]
        width = int(lengths.max()) if len(lengths) else 0
        times = None if self.timestamps is None else self.timestamps[rows_t, :width].clone()
        return PrefixBatch(self.items[rows_t, :width].clone(), lengths.clone(), times)

    def __len__(self) -> int:
        return self.batch_size
