"""Raw ``item_id`` <-> contiguous ``item_idx``.

Models only ever see ``item_idx`` in ``[0, n_items)``; the external ``item_id`` of a dataset
(an integer in DIGINETICA/YOOCHOOSE/RetailRocket, possibly a string in a user's own log) is
kept here so predictions can be translated back::

    item_ids = [81766, 31331, 32118]        ItemIndex.ids, position = item_idx
    to_idx([31331, 81766]) -> [1, 0]
    to_ids([2])            -> [32118]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["ItemIndex"]


@dataclass(frozen=True, eq=False)
class ItemIndex:
    """Bijection between external item ids and ``item_idx``.

    Parameters
    ----------
    ids : ndarray of shape (n_items,)
        ``ids[item_idx]`` is the external id of ``item_idx``. Integer or string ids; no duplicates.

    Examples
    --------
    >>> index = ItemIndex.from_ids([30, 10, 30, 20])
    >>> len(index), index.ids.tolist()
    (3, [30, 10, 20])
    >>> index.to_idx([20, 30]).tolist()
    [2, 0]
    >>> index.to_ids([1]).tolist()
    [10]
    """

    ids: np.ndarray

    def __post_init__(self) -> None:
        ids = np.asarray(self.ids)
        if ids.ndim != 1:
            raise ValueError(f"ItemIndex ids must be one-dimensional, got shape {ids.shape}")
        if ids.dtype == object:
            ids = ids.astype(str)
        ids = np.array(ids, copy=True)
        sorter = np.argsort(ids, kind="stable")
        sorted_ids = ids[sorter]
        if len(ids) > 1 and np.any(sorted_ids[1:] == sorted_ids[:-1]):
            dup = sorted_ids[1:][sorted_ids[1:] == sorted_ids[:-1]][0]
            raise ValueError(f"ItemIndex ids must be unique; {dup!r} occurs more than once")
        ids.flags.writeable = False
        sorter.flags.writeable = False
        sorted_ids.flags.writeable = False
        object.__setattr__(self, "ids", ids)
        object.__setattr__(self, "_sorter", sorter)
        object.__setattr__(self, "_sorted", sorted_ids)

    @classmethod
    def from_ids(cls, ids: np.ndarray | list) -> ItemIndex:
        """Index of the distinct ids, numbered in order of first appearance."""
        uniq = pd.unique(pd.Series(np.asarray(ids)))
        return cls(np.asarray(uniq))

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def n_items(self) -> int:
        return len(self.ids)

    def contains(self, ids: np.ndarray | list) -> np.ndarray:
        """Boolean mask of shape (n,): which ``ids`` are in the index."""
        ids = np.asarray(ids)
        if len(self.ids) == 0 or len(ids) == 0:
            return np.zeros(len(ids), dtype=bool)
        pos = np.searchsorted(self._sorted, ids)  # type: ignore[attr-defined]
        pos = np.minimum(pos, len(self.ids) - 1)
        return self._sorted[pos] == ids  # type: ignore[attr-defined]

    def to_idx(self, ids: np.ndarray | list, *, missing: str = "raise") -> np.ndarray:
        """``item_idx`` of every id, shape (n,), int64.

        ``missing="raise"`` (default) raises ``KeyError`` naming the first unknown id;
        ``missing="ignore"`` maps unknown ids to ``-1``.
        """
        ids = np.asarray(ids)
        found = self.contains(ids)
        out = np.full(len(ids), -1, dtype=np.int64)
        if found.any():
            pos = np.searchsorted(self._sorted, ids[found])  # type: ignore[attr-defined]
            out[found] = self._sorter[pos]  # type: ignore[attr-defined]
        if missing == "raise" and not found.all():
            raise KeyError(f"item id {ids[~found][0].item()!r} is not in the item index ({len(self)} items)")
        if missing not in ("raise", "ignore"):
            raise ValueError(f"missing must be 'raise' or 'ignore', got {missing!r}")
        return out

    def to_ids(self, idx: np.ndarray | list) -> np.ndarray:
        """External ids of ``item_idx`` values, shape (n,)."""
        idx = np.asarray(idx, dtype=np.int64)
        if len(idx) and (idx.min() < 0 or idx.max() >= len(self)):
            raise IndexError(f"item_idx must lie in [0, {len(self)}), found [{idx.min()}, {idx.max()}]")
        return self.ids[idx]

    # ------------------------------------------------------------------ persistence
    def to_arrays(self) -> dict[str, np.ndarray]:
        """The arrays that define the index (for ``np.savez``)."""
        return {"item_ids": self.ids}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray] | np.lib.npyio.NpzFile) -> ItemIndex:
        return cls(np.asarray(arrays["item_ids"]))

    def save(self, path: str | Path) -> None:
        """Write the index to ``path`` (``.npy``; no pickling)."""
        with open(path, "wb") as fh:
            np.save(fh, self.ids, allow_pickle=False)

    @classmethod
    def load(cls, path: str | Path) -> ItemIndex:
        return cls(np.load(path, allow_pickle=False))

    def __repr__(self) -> str:
        return f"ItemIndex(n_items={len(self)}, dtype={self.ids.dtype})"
