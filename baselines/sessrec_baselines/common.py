"""Building blocks shared by several baselines (one home each, public to every plugin).

* :class:`SparseSGD`, :func:`other_items`, :func:`mean_item_factors`,
  :func:`running_mean_item_factors`, :data:`FACTOR_CONSTRAINTS`: the BPR-trained factor models
  (BPR-MF, FPMC);
* :data:`TRAINING_CONSTRAINTS`: the training parameters the torch models share;
* :class:`CsrRows`: sparse item x item rows scattered into dense scores (Markov, Item-KNN);
* :func:`untrained_items`, :func:`mask_untrained`: the rule for items without a training click;
* :func:`paramfile_names`, :func:`read_paramfile`, :class:`ParamFileSets`: named parameter sets
  shipped as data (``paramfiles/<model>/<name>.toml``, each with its ``[provenance]``);
* :func:`random_case_batches`: every training case once, in random order (per-prefix training of
  SR-GNN, GCE-GNN, NARM and the attention models);
* :func:`uniform_reset`: the SR-GNN authors' initialisation (SR-GNN, GCE-GNN);
* :func:`length_buckets`, :func:`unpermute`, :func:`encode_prefixes`, :func:`encode_sessions`,
  :func:`session_positions`, :func:`window_rows`: causal sequence encoders run on rows grouped
  by length, so that short rows skip the padding (NARM and the attention models);
  :func:`ragged_clicks`, :func:`row_sums`: a batch's real clicks and sums over each row's, for
  networks that encode prefixes without padding at all (``ragged_last``: STAMP and CORE-ave on a CPU);
* :func:`softmax_cross_entropy`: full-catalogue softmax cross-entropy in fewer passes over the
  (cases x items) logits than ``F.cross_entropy`` (STAMP, SASRec, CORE).

Items without training data. Every reference implementation behind our models (GRU4Rec's
official code and its ``baselines.py``, khesui/FPMC, the NARM authors' code, session-rec)
builds its item index from the training data, so an item with no training click does not
exist there: it is never ranked and never drawn as a negative. sessrec ranks the whole
catalogue (the protocols' test sets and ``--valid-days`` fits can hold such items), so the
models that learn item vectors (GRU4Rec, NARM, BPR-MF, FPMC) score those items ``-inf`` and
never sample them; POP and Markov already rank them below every item with a training click
(their popularity is 0); S-POP ranks the current session's own clicks first, as its definition
says, trained or not; Item-KNN scores them 0, tied with every non-neighbour of the last click.
STAMP, SASRec and CORE score them like any other item, as RecBole does, whose item index also
holds the items of its validation and test files.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Iterator
from importlib import resources
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from sessrec import PrefixBatch, Sessions
from sessrec.models import Interval

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "FACTOR_CONSTRAINTS",
    "TRAINING_CONSTRAINTS",
    "CsrRows",
    "ParamFileSets",
    "SparseSGD",
    "encode_prefixes",
    "encode_sessions",
    "length_buckets",
    "linear_softmax_cross_entropy",
    "mask_untrained",
    "mean_item_factors",
    "other_items",
    "paramfile_names",
    "ragged_clicks",
    "random_case_batches",
    "read_paramfile",
    "row_sums",
    "running_mean_item_factors",
    "session_positions",
    "softmax_cross_entropy",
    "uniform_reset",
    "unpermute",
    "untrained_items",
    "window_rows",
]


#: ``parameter_constraints`` of the training parameters of the torch models (epoch loop, early
#: stopping on the validation ``recall@valid_cutoff``, device, seed).
TRAINING_CONSTRAINTS: dict[str, list[Any]] = {
    "epochs": [Interval(int, 1, None)],
    "batch_size": [Interval(int, 1, None)],
    "patience": [Interval(int, 1, None), None],
    "valid_cutoff": [Interval(int, 1, None)],
    "device": [str],
    "random_state": [Interval(int, 0, None), None],
}

#: ``parameter_constraints`` of the BPR-trained factor models (BPR-MF, FPMC): factors, plain SGD,
#: normal initialisation, L2 regularisation, and the training parameters.
FACTOR_CONSTRAINTS: dict[str, list[Any]] = {
    "n_factors": [Interval(int, 1, None)],
    "lr": [Interval(float, 0, None, closed="neither")],
    "sigma": [Interval(float, 0, None, closed="left")],
    "reg": [Interval(float, 0, None)],
    **TRAINING_CONSTRAINTS,
}


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


def other_items(positives: np.ndarray, candidates: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One uniform draw from ``candidates \\ {positive}`` per positive.

    Parameters
    ----------
    positives : ndarray of int64, shape (n,)
        Items, each one of ``candidates``.
    candidates : ndarray of int64, shape (m,)
        Sorted distinct items to draw from (the items with training clicks), ``m >= 2``.
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of int64, shape (n,)
        With ``candidates = arange(n_items)`` the draw is ``rng.integers(0, n_items - 1)``
        shifted past the positive: uniform over the other items.

    Examples
    --------
    >>> out = other_items(np.array([2, 2, 2]), np.array([0, 2, 5]), np.random.default_rng(0))
    >>> set(out.tolist()) <= {0, 5}
    True
    """
    m = len(candidates)
    if m < 2:
        raise ValueError(
            f"BPR training needs at least 2 items with training clicks to draw negatives from, got {m}; "
            "train on more sessions"
        )
    slot = np.searchsorted(candidates, positives)
    draw = rng.integers(0, m - 1, size=len(positives))
    return candidates[draw + (draw >= slot)]


def untrained_items(train: Sessions) -> np.ndarray:
    """Items of ``train``'s catalogue without a single training click (sorted int64).

    The reference implementations build their item index from the training data, so such
    an item does not exist for them: they never rank it. Models that follow them give it
    the score ``-inf`` (see :func:`mask_untrained`).
    """
    return np.flatnonzero(train.item_counts() == 0).astype(np.int64)


def mask_untrained(scores: torch.Tensor, untrained: np.ndarray) -> torch.Tensor:
    """``scores`` (N, n_items) with the columns ``untrained`` set to ``-inf`` (in place when any)."""
    if len(untrained):
        scores.index_fill_(1, torch.from_numpy(untrained).to(scores.device), float("-inf"))
    return scores


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


def _paramfile_dir(model: str) -> Any:
    return resources.files("sessrec_baselines") / "paramfiles" / model


def paramfile_names(model: str) -> list[str]:
    """Names of the parameter files shipped for ``model`` (``"narm"`` -> ``["authors", "recbole"]``)."""
    folder = _paramfile_dir(model)
    if not folder.is_dir():
        return []
    return sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml"))


def read_paramfile(model: str, name: str) -> dict[str, Any]:
    """Parameter file ``name`` of ``model`` as ``{"params": {...}, "provenance": {...}}``.

    ``[params]`` holds the model's keyword arguments; the keys listed in ``[none] keys`` are
    set to ``None`` (TOML has no null). ``[provenance]`` says what the set reproduces
    (``reproduces``: "authors' code", "RecBole", ...), where the values come from, and
    ``same_setup_as_published``: whether a run with this set is the setup of the paper's
    published numbers.

    Raises
    ------
    ValueError
        For an unknown name, listing the available ones.
    """
    names = paramfile_names(model)
    if name not in names:
        raise ValueError(f"unknown {model} parameter file {name!r}; available: {', '.join(names) or 'none'}")
    with (_paramfile_dir(model) / f"{name}.toml").open("rb") as fh:
        data = tomllib.load(fh)
    params = dict(data["params"])
    params.update(dict.fromkeys(data.get("none", {}).get("keys", [])))
    return {"params": params, "provenance": dict(data.get("provenance", {}))}


class ParamFileSets:
    """Mixin: a model's named parameter sets are the files ``paramfiles/<paramfile_name>/*.toml``.

    List it before the model's base class (``class SRGNN(ParamFileSets, TorchModel)``) so that
    its :meth:`param_set_names` and :meth:`named_params` replace :class:`sessrec.BaseModel`'s;
    an unknown name falls through to the base class, whose error lists the available sets.
    """

    #: Folder of the model's parameter files under ``paramfiles/``.
    paramfile_name: ClassVar[str] = ""

    @classmethod
    def param_set_names(cls) -> list[str]:
        """The shipped parameter sets (``paramfiles/<paramfile_name>/*.toml``)."""
        return paramfile_names(cls.paramfile_name)

    @classmethod
    def named_params(cls, name: str) -> dict[str, Any]:
        """Keyword arguments of parameter set ``name`` (``sessrec run -p <model>=NAME``)."""
        if name not in cls.param_set_names():
            return super().named_params(name)  # type: ignore[misc]
        return cls.read_param_set(name)["params"]

    @classmethod
    def read_param_set(cls, name: str) -> dict[str, Any]:
        """Parameter set ``name`` as ``{"params": {...}, "provenance": {...}}`` (:func:`read_paramfile`)."""
        return read_paramfile(cls.paramfile_name, name)


def length_buckets(lengths: torch.Tensor, edges: np.ndarray) -> list[torch.Tensor]:
    """Row positions grouped by length, each group a LongTensor on ``lengths``' device.

    Parameters
    ----------
    lengths : Tensor of shape (N,)
        Row lengths.
    edges : ndarray of shape (G,)
        Upper ends (exclusive) of the first ``G`` groups; the last group holds the longer rows.

    Returns
    -------
    list of Tensor
        The non-empty groups, shortest lengths first, rows in their original order.

    Examples
    --------
    >>> [g.tolist() for g in length_buckets(torch.tensor([5, 1, 2, 9]), np.array([3, 6]))]
    [[1, 2], [0], [3]]
    """
    group = np.searchsorted(edges, lengths.cpu().numpy(), side="right")
    order = np.argsort(group, kind="stable")
    cuts = np.cumsum(np.bincount(group, minlength=len(edges) + 1))[:-1]
    return [torch.from_numpy(rows).to(lengths.device) for rows in np.split(order, cuts) if len(rows)]


def unpermute(parts: list[torch.Tensor], order: list[torch.Tensor]) -> torch.Tensor:
    """Rows ``parts[g][i]`` belong at position ``order[g][i]``; return them in position order."""
    values, positions = (parts[0], order[0]) if len(parts) == 1 else (torch.cat(parts), torch.cat(order))
    inverse = torch.empty_like(positions)
    inverse[positions] = torch.arange(len(positions), device=positions.device)
    return values[inverse]


def ragged_clicks(items: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The real clicks of right-padded ``items`` (N, T), concatenated row by row, and the row of each.

    Examples
    --------
    >>> [x.tolist() for x in ragged_clicks(torch.tensor([[4, -1, -1], [5, 6, 7]]), torch.tensor([1, 3]))]
    [[4, 5, 6, 7], [0, 1, 1, 1]]
    """
    mask = torch.arange(items.shape[1], device=items.device)[None, :] < lengths[:, None]
    return items[mask], torch.repeat_interleave(torch.arange(len(lengths), device=items.device), lengths)


def row_sums(values: torch.Tensor, rows: torch.Tensor, n_rows: int) -> torch.Tensor:
    """(n_rows, d): the sum of the rows of ``values`` (M, d) that ``rows`` (M,) assigns to each row."""
    return values.new_zeros(n_rows, values.shape[1]).index_add_(0, rows, values)


def encode_prefixes(net: Any, items: torch.Tensor, lengths: torch.Tensor, edges: np.ndarray) -> torch.Tensor:
    """``net.encode_last(items, lengths)`` (N, d) run per length group (:func:`length_buckets` of ``edges``).

    Each group is cut to its longest row, so short prefixes skip the padding of ``items`` (N, T).
    A network whose ``ragged_last`` is true skips the padding itself and gets every row in one call.
    """
    if getattr(net, "ragged_last", False):
        return net.encode_last(items, lengths)
    parts, order = [], []
    for rows in length_buckets(lengths, edges):
        width = int(lengths[rows].max())
        parts.append(net.encode_last(items[rows, :width], lengths[rows]))
        order.append(rows)
    return unpermute(parts, order)


def encode_sessions(net: Any, items: torch.Tensor, lengths: torch.Tensor, edges: np.ndarray) -> torch.Tensor:
    """``net.encode_all(items, lengths)`` at every real position: (sum(lengths), d), rows ``(n, t)`` row-major.

    ``net.encode_all`` must be causal (position ``t`` sees clicks ``0..t``); it runs per length
    group (:func:`length_buckets` of ``edges``), each cut to its longest row.
    """
    first_row = torch.cumsum(lengths, 0) - lengths
    parts, order = [], []
    for rows in length_buckets(lengths, edges):
        group_lengths = lengths[rows]
        width = int(group_lengths.max())
        reps = net.encode_all(items[rows, :width], group_lengths)  # (n, width, d)
        cols = torch.arange(width, device=items.device)[None, :]
        mask = cols < group_lengths[:, None]
        parts.append(reps[mask])
        order.append((first_row[rows][:, None] + cols)[mask])
    return unpermute(parts, order)


def session_positions(lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Row ``b`` and position ``t`` of every click of right-padded sequences, both (sum(lengths),), row-major.

    Examples
    --------
    >>> [x.tolist() for x in session_positions(torch.tensor([2, 3]))]
    [[0, 0, 1, 1, 1], [0, 1, 0, 1, 2]]
    """
    dev = lengths.device
    b = torch.repeat_interleave(torch.arange(len(lengths), device=dev), lengths)
    first = torch.repeat_interleave(torch.cumsum(lengths, 0) - lengths, lengths)
    t = torch.arange(int(lengths.sum()), device=dev) - first
    return b, t


def window_rows(items: torch.Tensor, b: torch.Tensor, t: torch.Tensor, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``width`` clicks of row ``b`` of ``items`` (B, L) ending at position ``t`` (every ``t >= width - 1``).

    Returns
    -------
    windows : Tensor of shape (len(b), width)
    lengths : Tensor of shape (len(b),)
        ``width`` everywhere.
    """
    cols = (t - width + 1)[:, None] + torch.arange(width, device=items.device)[None, :]
    return items[b[:, None], cols], torch.full((len(b),), width, dtype=torch.long, device=items.device)


@torch.no_grad()
def uniform_reset(module: nn.Module, dim: int) -> None:
    """Every parameter of ``module`` drawn from U(-1/sqrt(dim), 1/sqrt(dim)), in ``parameters()`` order.

    The ``reset_parameters`` of the SR-GNN authors' code, which GCE-GNN's authors kept.
    """
    bound = 1.0 / math.sqrt(dim)
    for weight in module.parameters():
        weight.uniform_(-bound, bound)


def random_case_batches(
    train: Sessions, batch_size: int, rng: np.random.Generator, cases: np.ndarray | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Training cases once each, in the random order ``rng.permutation``, ``batch_size`` at a time.

    Parameters
    ----------
    train : Sessions
    batch_size : int
    rng : numpy.random.Generator
        Draws one permutation, at the first batch.
    cases : ndarray of int, optional
        The case numbers to use (default: all ``train.n_cases``).

    Yields
    ------
    starts : ndarray of shape (B,)
        Offset of the first click of each case's session.
    targets : ndarray of shape (B,)
        Offset of each case's target click: the prefix is ``items[starts:targets]``.
    """
    order = rng.permutation(train.n_cases if cases is None else cases)
    session, position = train.case_session(), train.case_positions()
    for lo in range(0, len(order), batch_size):
        chosen = order[lo : lo + batch_size]
        yield train.offsets[session[chosen]], position[chosen]


def _softmax_of_shifted_(shifted: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Turn ``shifted`` (N, C), scores minus each row's maximum, into its softmax in place; return the
    rows' cross-entropy losses ``log sum exp - target score`` (N,)."""
    target = shifted.gather(1, targets[:, None]).squeeze(1)
    shifted.exp_()
    total = shifted.sum(1)
    shifted.div_(total[:, None])
    return total.log() - target


class _SoftmaxCrossEntropy(torch.autograd.Function):
    """Mean softmax cross-entropy whose forward keeps the softmax for the backward pass."""

    @staticmethod
    def forward(ctx: Any, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        probs = logits - logits.amax(1, keepdim=True)  # a new buffer: the caller's logits stay as they were
        losses = _softmax_of_shifted_(probs, targets)
        ctx.save_for_backward(probs, targets)
        return losses.mean()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        probs, targets = ctx.saved_tensors
        scale = grad / probs.shape[0]
        out = probs * scale  # out of place: a retained graph can run backward again
        out[torch.arange(len(targets), device=out.device), targets] -= scale
        return out, None


#: Rows per block of :func:`linear_softmax_cross_entropy`. Its three matrix products run faster on
#: larger blocks, its softmax passes on blocks that stay in cache. Measured on a 2-core AVX2 machine
#: (with the (C, rows) score layout): 128 rows beat 64 in loss steps at d 100 (batches of 512 and
#: 2,048, 5,519 and 30,711 items) and beat 256 at batch 512; at d 64 and 5,519 items 64 and 128 tie.
_BLOCK_ROWS = 128


#: :func:`linear_softmax_cross_entropy` exponentiates a block's scores without subtracting their
#: maximum when Cauchy-Schwarz bounds every score by ``B`` with ``B + log(C)`` under this: then
#: ``exp(score)`` lies in ``[exp(-B), exp(B)]``, far from float32's underflow (``exp(-87)``) and the
#: sum of the ``C`` terms from its overflow (``exp(88)``). Cosine scores (CORE: ``B = 1 / 0.07``)
#: always qualify.
_UNSHIFTED_BOUND = 80.0


class _LinearSoftmaxCrossEntropy(torch.autograd.Function):
    """Mean softmax cross-entropy of ``reps @ items.T`` whose forward pass also computes both gradients.

    Per block of rows of ``reps``: the block's scores, transposed (C, rows), exponentiated (after
    subtracting each column's maximum unless the scores are bounded, :data:`_UNSHIFTED_BOUND`),
    their column sums ``Z``, then the block's share of the gradients,
    ``G @ items = (U.T @ items) / Z - items[targets]`` and ``G.T @ block = U @ (block / Z) -
    onehot.T @ block``, where ``U`` are the exponentials and ``G = U / Z - onehot`` (the division
    by ``Z`` goes to the (rows, d) factors, not the (C, rows) matrix); no (N, C) matrix outlives
    its block. Backward scales the stored gradients by the incoming gradient over N.
    """

    @staticmethod
    def forward(
        ctx: Any, reps: torch.Tensor, items: torch.Tensor, targets: torch.Tensor, with_grad: bool
    ) -> torch.Tensor:
        n, rows = reps.shape[0], _BLOCK_ROWS
        want_reps, want_items = (with_grad and need for need in ctx.needs_input_grad[:2])
        scratch = reps.new_empty(items.shape[0], min(rows, n))
        losses = reps.new_empty(n)
        grad_reps = reps.new_empty(reps.shape) if want_reps else None
        grad_items = items.new_zeros(items.shape) if want_items else None
        # |score| <= max |item| * max |row of the block| (Cauchy-Schwarz)
        item_norm = float(torch.linalg.vector_norm(items, dim=1).max()) if len(items) else 0.0
        row_norms = torch.linalg.vector_norm(reps, dim=1)
        room = _UNSHIFTED_BOUND - math.log(max(items.shape[0], 1))
        for lo in range(0, n, rows):
            hi = min(lo + rows, n)
            block, cases, block_targets = reps[lo:hi], torch.arange(hi - lo, device=reps.device), targets[lo:hi]
            scores = scratch if hi - lo == scratch.shape[1] else scratch.new_empty(items.shape[0], hi - lo)
            torch.mm(items, block.T, out=scores)  # (C, rows): written faster than the (rows, C) product
            if item_norm * float(row_norms[lo:hi].max()) >= room:
                scores.sub_(scores.amax(0, keepdim=True))
            target = scores[block_targets, cases]
            scores.exp_()
            total = scores.sum(0)
            losses[lo:hi] = total.log() - target
            inv_total = total.reciprocal_()[:, None]
            if grad_reps is not None:
                out = grad_reps[lo:hi]
                torch.mm(scores.T, items, out=out)
                out.mul_(inv_total).sub_(items[block_targets])
            if grad_items is not None:
                grad_items.addmm_(scores, block * inv_total)
                grad_items.index_add_(0, block_targets, block, alpha=-1.0)
        ctx.save_for_backward(grad_reps, grad_items)
        ctx.n_rows = n
        return losses.mean()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None, None, None]:
        grad_reps, grad_items = ctx.saved_tensors
        scale = grad / ctx.n_rows
        return (
            grad_reps * scale if ctx.needs_input_grad[0] else None,
            grad_items * scale if ctx.needs_input_grad[1] else None,
            None,
            None,
        )


def linear_softmax_cross_entropy(reps: torch.Tensor, items: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """:func:`softmax_cross_entropy` of the scores ``reps @ items.T``, block by block of rows.

    The forward pass takes a block of rows of ``reps`` at a time and computes its scores, as the
    (C, rows) product ``items @ block.T``, their exponentials ``U`` and column sums ``Z`` (the
    softmax is ``P = U / Z``), and from them the block's share of the gradients of ``reps``
    (``G @ items`` with ``G = P - onehot``) and ``items`` (``G.T @ block``, summed over blocks),
    while the block is still in cache, dividing the small (rows, d) factors by ``Z`` rather than
    the (C, rows) matrix. Scores are exponentiated as they are when Cauchy-Schwarz bounds them
    well inside float32's range (cosines over a temperature, as CORE's), after subtracting each
    column's maximum otherwise. The backward pass only scales the gradients by the incoming
    gradient over N. No (N, C) matrix is kept: the scratch buffer is one block of 128 rows. Against
    ``softmax_cross_entropy(reps @ items.T, targets)`` that saves the (N, C) allocations and the
    passes over them from memory; and MKL (torch's CPU BLAS) writes the tall (C, rows) product
    markedly faster than the wide (N, C) or (rows, C) one (``tests/perf/bench_loss.py``). Values
    equal ``softmax_cross_entropy``'s to float rounding (the same operations per row; blocked
    products may round differently). Under ``torch.no_grad()`` only the loss is computed.

    Parameters
    ----------
    reps : Tensor of shape (N, d)
    items : Tensor of shape (C, d)
        One row per class (the item embeddings, or what the model scores with).
    targets : LongTensor of shape (N,)

    Examples
    --------
    >>> reps = torch.tensor([[1.0, 0.0]], requires_grad=True)
    >>> items = torch.tensor([[0.0, 0.0], [math.log(3.0), 0.0]], requires_grad=True)
    >>> loss = linear_softmax_cross_entropy(reps, items, torch.tensor([1]))
    >>> round(loss.item(), 6) == round(math.log(4 / 3), 6)
    True
    >>> loss.backward()
    >>> [round(x, 6) for x in (*reps.grad[0].tolist(), *items.grad[:, 0].tolist())]
    [-0.274653, 0.0, 0.25, -0.25]
    """
    if reps.ndim != 2 or items.ndim != 2 or reps.shape[1] != items.shape[1] or targets.shape != reps.shape[:1]:
        raise ValueError(
            f"linear_softmax_cross_entropy expects reps (N, d), items (C, d) and targets (N,), got "
            f"{tuple(reps.shape)}, {tuple(items.shape)} and {tuple(targets.shape)}"
        )
    return _LinearSoftmaxCrossEntropy.apply(reps, items, targets, torch.is_grad_enabled())


def softmax_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean softmax cross-entropy, the value and gradient of ``F.cross_entropy(logits, targets)``.

    ``F.cross_entropy`` takes ``log_softmax`` (storing it), then ``nll_loss``, whose backward
    fills a zero (N, C) gradient, then ``log_softmax``'s backward exponentiates again. Here the
    forward pass exponentiates once and keeps the softmax ``P``; the backward pass is
    ``(P - onehot(targets)) * grad / N``. With a full catalogue (C in the tens of thousands)
    those passes over the (N, C) logits are a large share of a training step. Results equal
    ``F.cross_entropy``'s to float rounding (the summation order differs).

    Parameters
    ----------
    logits : Tensor of shape (N, C), float
        Scores of every class; ``-inf`` entries get probability 0. Half-precision logits (from
        a matrix product under autocast) are upcast to float32 first, as autocast does for
        ``F.cross_entropy``.
    targets : LongTensor of shape (N,)
        The class of every row.

    Returns
    -------
    Tensor of shape ()
        ``mean_n (logsumexp(logits[n]) - logits[n, targets[n]])``.

    Examples
    --------
    >>> logits = torch.tensor([[0.0, math.log(3.0)]], requires_grad=True)
    >>> loss = softmax_cross_entropy(logits, torch.tensor([1]))
    >>> round(loss.item(), 6) == round(math.log(4 / 3), 6)
    True
    >>> loss.backward(); logits.grad
    tensor([[ 0.2500, -0.2500]])
    """
    if logits.ndim != 2 or targets.shape != logits.shape[:1]:
        raise ValueError(
            f"softmax_cross_entropy expects logits (N, C) and targets (N,), got {tuple(logits.shape)} "
            f"and {tuple(targets.shape)}"
        )
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()
    return _SoftmaxCrossEntropy.apply(logits, targets)
