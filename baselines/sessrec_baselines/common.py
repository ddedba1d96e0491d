"""Building blocks shared by several baselines (one home each, public to every plugin).

* :class:`SparseSGD`, :func:`other_items`, :func:`mean_item_factors`,
  :func:`running_mean_item_factors`: the BPR-trained factor models (BPR-MF, FPMC);
* :class:`CsrRows`: sparse item x item rows scattered into dense scores (Markov, Item-KNN);
* :func:`concat_ranges`: the click positions of many prefixes at once (FPMC's training).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from sessrec import PrefixBatch

__all__ = [
    "CsrRows",
    "SparseSGD",
    "concat_ranges",
    "mean_item_factors",
    "other_items",
    "running_mean_item_factors",
]


class SparseSGD:
    """Plain SGD, ``p -= lr * grad``, for parameters with sparse (row) gradients.

    Duck-types the two methods :class:`~sessrec.models.base.TorchModel`'s loop uses
    (``zero_grad``, ``step``). Not ``torch.optim.SGD`` because a torch optimiser imports
    ``torch._dynamo`` on first use, which costs 3-14 s per process here (more than a whole
    BPR-MF fit on the DIGINETICA split); the arithmetic is the same. A sparse gradient is
    added with ``index_add_``, so rows listed twice get both contributions, without coalescing.

    Parameters
    ----------
    params : iterable of Tensor
    lr : float
    """

    def __init__(self, params: Iterable[torch.Tensor], lr: float) -> None:
        self.params = list(params)
        self.lr = float(lr)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        for p in self.params:
            g = p.grad
            if g is None:
                continue
            if g.is_sparse:
                p.index_add_(0, g._indices()[0], g._values(), alpha=-self.lr)
            else:
                p.add_(g, alpha=-self.lr)


def running_mean_item_factors(weight: torch.Tensor, batch: PrefixBatch) -> torch.Tensor:
    """Mean of ``weight[i]`` over every prefix ``items[b, :t+1]``, shape (sum(lengths), k), row-major."""
    mask = batch.mask
    rows = weight[batch.items.clamp(min=0)] * mask[..., None].to(weight.dtype)
    counts = torch.arange(1, batch.max_len + 1, device=weight.device, dtype=weight.dtype)
    return (rows.cumsum(dim=1) / counts[None, :, None])[mask]


def mean_item_factors(weight: torch.Tensor, batch: PrefixBatch) -> torch.Tensor:
    """Mean of ``weight[i]`` over every prefix's items, shape (batch_size, k).

    Parameters
    ----------
    weight : Tensor of shape (n_items, k)
    batch : PrefixBatch
        On ``weight``'s device.
    """
    mask = batch.mask
    rows = weight[batch.items.clamp(min=0)] * mask[..., None].to(weight.dtype)
    return rows.sum(dim=1) / batch.lengths[:, None].to(weight.dtype)


def other_items(positives: np.ndarray, n_items: int, rng: np.random.Generator) -> np.ndarray:
    """One uniform draw from ``[0, n_items) \\ {positive}`` per positive (needs n_items >= 2)."""
    if n_items < 2:
        raise ValueError(f"BPR training needs at least 2 items to draw negatives from, got n_items={n_items}")
    draw = rng.integers(0, n_items - 1, size=len(positives))
    return draw + (draw >= positives)


def concat_ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(start, start + length)`` for every pair (lengths >= 1)."""
    total = int(lengths.sum())
    heads = np.cumsum(lengths) - lengths
    return np.arange(total) - np.repeat(heads - starts, lengths)


class CsrRows:
    """Rows of a sparse ``(n_items, n_items)`` matrix, scattered into dense score tensors.

    Holds the CSR arrays as torch tensors so that gathering the rows of a batch is a few
    vectorised tensor operations: no Python loop over rows or entries.

    Parameters
    ----------
    indptr : ndarray of shape (n_rows + 1,)
    indices : ndarray of shape (nnz,)
        Column of every stored entry; no duplicates inside a row.
    data : ndarray of shape (nnz,)
        Stored values.
    dtype : torch.dtype
        dtype of the values written into score tensors.
    """

    def __init__(self, indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, dtype: torch.dtype) -> None:
        self.indptr = torch.from_numpy(np.asarray(indptr, dtype=np.int64).copy())
        self.indices = torch.from_numpy(np.asarray(indices, dtype=np.int64).copy())
        self.data = torch.from_numpy(np.asarray(data, dtype=np.float64).copy()).to(dtype)

    def _entries(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(batch row, position in ``indices``/``data``) of every stored entry of ``rows``."""
        starts = self.indptr[rows]
        counts = self.indptr[rows + 1] - starts
        total = int(counts.sum())
        batch_row = torch.repeat_interleave(torch.arange(len(rows)), counts, output_size=total)
        first = torch.cumsum(counts, 0) - counts  # where each row's entries start in the output
        pos = torch.arange(total) - torch.repeat_interleave(first - starts, counts, output_size=total)
        return batch_row, pos

    def add_into(self, out: torch.Tensor, rows: torch.Tensor) -> None:
        """``out[b] += matrix[rows[b]]`` in place; ``out`` has shape (len(rows), n_cols)."""
        batch_row, pos = self._entries(rows)
        out.index_put_((batch_row, self.indices[pos]), self.data[pos], accumulate=True)

    def dense(self, rows: torch.Tensor, n_cols: int) -> torch.Tensor:
        """``matrix[rows]`` as a dense tensor of shape (len(rows), n_cols)."""
        out = torch.zeros(len(rows), n_cols, dtype=self.data.dtype)
        batch_row, pos = self._entries(rows)
        out[batch_row, self.indices[pos]] = self.data[pos]
        return out
