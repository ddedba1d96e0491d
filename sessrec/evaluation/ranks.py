"""From scores to rankings: the rank of each case's target and deterministic top-K lists.

Everything here is a pure function of tensors and runs on the tensors' device.

Tie rules
---------
A model may give the target the same score as other items. Where the target lands among
them is a choice, and published numbers depend on it, so it is a named parameter:

=================  ====================================  ===========================================
``ties``           rank of the target                    who it flatters
=================  ====================================  ===========================================
``conservative``   ``#{j : s_j >= s_target}``            nobody: the target is last of its tie group
``optimistic``     ``#{j : s_j >  s_target} + 1``        models with many equal scores (first of group)
``median``         mean of the two (may end in ``.5``)   the expected rank under a random tie break
=================  ====================================  ===========================================

Ranks are 1-based and count the target itself. ``-inf`` means "never": a target scored
``-inf`` ties with every other ``-inf`` item, so its conservative rank is ``n_items`` when
all scores are ``-inf``. ``NaN`` has no place in a ranking and raises.

Worked example (one case, five items, target = item 2)::

    scores = [0.9, 0.5, 0.5, 0.5, -inf]     s_target = 0.5
    conservative = #{s >= 0.5} = 4
    optimistic   = #{s >  0.5} + 1 = 2
    median       = (4 + 2) / 2 = 3.0
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

__all__ = ["TIES", "TIE_RULES", "Ties", "check_ties", "target_ranks", "top_k_items"]

Ties = Literal["conservative", "optimistic", "median"]

#: The valid values of the ``ties`` parameter.
TIES: tuple[str, ...] = ("conservative", "optimistic", "median")
#: One line per tie rule, as reports state it.
TIE_RULES: dict[str, str] = {
    "conservative": "rank = number of items scoring at least the target's score",
    "optimistic": "rank = number of items scoring above the target, plus one",
    "median": "rank = midpoint of the conservative and optimistic ranks",
}


def check_ties(ties: str) -> None:
    """Raise ``ValueError`` listing the valid choices when ``ties`` is not one of :data:`TIES`."""
    if ties not in TIES:
        raise ValueError(f"ties must be one of {', '.join(repr(t) for t in TIES)}; got {ties!r}")


def target_ranks(scores: torch.Tensor, targets: torch.Tensor, ties: str = "conservative") -> torch.Tensor:
    """Rank of every case's target among all items (full ranking, 1-based).

    Parameters
    ----------
    scores : Tensor of shape (n_cases, n_items), floating
        Higher is better; finite or ``-inf``. ``+inf`` is ranked like any value; ``NaN`` raises.
    targets : LongTensor of shape (n_cases,)
        ``item_idx`` of each case's target, in ``[0, n_items)``.
    ties : {"conservative", "optimistic", "median"}
        Where the target lands among items with its score (see the module docstring).

    Returns
    -------
    ranks : Tensor of shape (n_cases,)
        int64 for ``conservative`` and ``optimistic``; float64 for ``median`` (exact
        halves). On the device of ``scores``.

    Examples
    --------
    >>> import torch
    >>> s = torch.tensor([[0.9, 0.5, 0.5, 0.5, float("-inf")]])
    >>> t = torch.tensor([2])
    >>> [target_ranks(s, t, ties=m).item() for m in ("conservative", "optimistic", "median")]
    [4, 2, 3.0]
    """
    check_ties(ties)
    if scores.dim() != 2:
        raise ValueError(f"scores must have shape (n_cases, n_items), got shape {tuple(scores.shape)}")
    if not scores.is_floating_point():
        raise TypeError(f"scores must be a floating-point tensor, got {scores.dtype}")
    targets = torch.as_tensor(targets, device=scores.device)
    if targets.shape != (scores.shape[0],):
        raise ValueError(f"targets must have shape ({scores.shape[0]},) to match scores, got {tuple(targets.shape)}")
    if targets.dtype in (torch.bool,) or targets.is_floating_point() or targets.is_complex():
        raise TypeError(f"targets must be integer item indices, got {targets.dtype}")
    targets = targets.long()
    n_items = scores.shape[1]
    if len(targets) and (int(targets.min()) < 0 or int(targets.max()) >= n_items):
        raise ValueError(f"targets must lie in [0, {n_items}), found [{int(targets.min())}, {int(targets.max())}]")
    nan_rows = torch.isnan(scores).any(dim=1)
    if bool(nan_rows.any()):
        rows = torch.nonzero(nan_rows).flatten()[:5].tolist()
        raise ValueError(
            f"scores contain NaN (rows {rows}{'...' if int(nan_rows.sum()) > 5 else ''}); "
            "a ranking needs ordered values: use -inf for items that must never be recommended"
        )
    return _target_ranks_unchecked(scores, targets, ties)


def _target_ranks_unchecked(scores: torch.Tensor, targets: torch.Tensor, ties: str) -> torch.Tensor:
    """:func:`target_ranks` without validation (the evaluator validates once per chunk itself).

    Counting is a single compare-and-count pass per rule over the ``(n_cases, n_items)``
    matrix (:func:`_count_rows`); counts are exact integers, returned as int64.
    """
    target_scores = scores.gather(1, targets[:, None])
    if ties == "conservative":
        return _count_rows(scores, target_scores, strict=False)
    optimistic = _count_rows(scores, target_scores, strict=True) + 1
    if ties == "optimistic":
        return optimistic
    # ties == "median": conservative = optimistic + #{j != target : s_j == s_target}
    conservative = _count_rows(scores, target_scores, strict=False)
    return (conservative + optimistic).to(torch.float64) / 2.0


#: Rows per block of the CPU counting pass (its boolean temporary stays within ~16 MiB).
_COUNT_BLOCK_CELLS = 16 * 2**20


def _count_rows(scores: torch.Tensor, threshold: torch.Tensor, strict: bool) -> torch.Tensor:
    """``#{j : scores[b, j] > threshold[b]}`` (``strict``) or ``>=`` for every row ``b``, int64.

    On the CPU (float32/float64) NumPy's compare and ``count_nonzero`` run in row blocks
    (several times faster than torch's compare-and-sum on one thread, and a bounded
    temporary); elsewhere torch counts in int32 (exact: a rank never exceeds ``n_items``,
    far below ``2**31``).
    """
    if scores.device.type != "cpu" or scores.dtype not in (torch.float32, torch.float64):
        compare = scores > threshold if strict else scores >= threshold
        return torch.sum(compare, dim=1, dtype=torch.int32).long()
    values, limit = scores.detach().numpy(), threshold.detach().numpy()
    compare = np.greater if strict else np.greater_equal
    out = np.empty(values.shape[0], dtype=np.int64)
    step = max(1, _COUNT_BLOCK_CELLS // max(values.shape[1], 1))
    for lo in range(0, values.shape[0], step):  # one iteration per block of rows
        out[lo : lo + step] = np.count_nonzero(compare(values[lo : lo + step], limit[lo : lo + step]), axis=1)
    return torch.from_numpy(out)


def top_k_items(scores: torch.Tensor, k: int) -> torch.Tensor:
    """The ``k`` best items of every row, in a documented deterministic order.

    Order: higher score first; among equal scores, the lower ``item_idx`` first. This is
    exactly the order of a stable sort by descending score, and it does not depend on
    ``torch.topk``'s unspecified handling of ties, the device or the number of threads.

    Parameters
    ----------
    scores : Tensor of shape (n_cases, n_items), floating, without NaN
    k : int
        List length; lists are ``min(k, n_items)`` long.

    Returns
    -------
    items : LongTensor of shape (n_cases, min(k, n_items))
        ``items[b, 0]`` is row ``b``'s best item.

    Notes
    -----
    First the ``k + 1`` largest values are selected (``torch.topk``; for large catalogues a
    two-stage block selection, see ``_top_k_candidates``). Where the ``k``-th and
    ``(k+1)``-th values differ, the first ``k`` are exactly the items scoring at least the
    ``k``-th value, so re-sorting them by (score desc, item_idx asc) gives the exact order.
    Rows where a tie group crosses the cut (common with ``-inf`` or popularity-like
    scores) take an exact, vectorised, memory-bounded route: all items above the ``k``-th
    value, then the lowest indices among the items equal to it.

    Examples
    --------
    >>> import torch
    >>> top_k_items(torch.tensor([[0.1, 0.7, 0.7, 0.3, 0.7]]), 2).tolist()
    [[1, 2]]
    """
    if scores.dim() != 2:
        raise ValueError(f"scores must have shape (n_cases, n_items), got shape {tuple(scores.shape)}")
    if k < 1:
        raise ValueError(f"k must be a positive integer, got {k}")
    k_eff = min(int(k), scores.shape[1])
    values, items = _top_k_candidates(scores, k_eff)
    return _top_k_finish(scores, values, items, k_eff)


#: Block width of the two-stage selection in :func:`_top_k_candidates`.
_BLOCK = 64


def _top_k_candidates(scores: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k + 1`` largest values of every row (fewer when the catalogue is smaller), sorted.

    Returns ``(values, items)`` as ``torch.topk(scores, k + 1)`` would, up to the order of
    equal values (which :func:`_top_k_finish` fixes). ``values[:, 0]`` is each row's
    maximum, NaN included (NaN propagates through ``amax`` and ``topk`` orders it above all
    numbers), which the evaluator uses to validate scores without another pass.

    Large catalogues take a two-stage selection that reads the scores once instead of
    running a full-row ``topk``: each row is cut into blocks of :data:`_BLOCK` items, the
    ``k + 1`` blocks with the largest maxima are kept, and ``topk`` runs over their items
    (plus the last, partial block). Let ``tau`` be the ``(k+1)``-th largest block maximum.
    Every item scoring above ``tau`` lies in a kept block (at most ``k`` blocks have a
    larger maximum), and the kept blocks hold at least ``k + 1`` items scoring ``>= tau``.
    Hence the candidates' ``i``-th largest value equals the row's for every ``i <= k + 1``
    (values equal to ``tau`` may come from other blocks, which is why the caller treats a
    tie between the ``k``-th and ``(k+1)``-th value with the exact full-row route).
    """
    n_rows, n_items = scores.shape
    fetch = min(k + 1, n_items)
    if n_rows == 0 or fetch == 0:
        empty = torch.zeros((n_rows, fetch), dtype=torch.long, device=scores.device)
        return empty.to(scores.dtype), empty
    n_blocks = n_items // _BLOCK
    if n_blocks < 4 * fetch:
        values, items = torch.topk(scores, fetch, dim=1, largest=True, sorted=True)
        return values, items
    full = n_blocks * _BLOCK
    blocks = scores[:, :full].reshape(n_rows, n_blocks, _BLOCK)
    best = torch.topk(blocks.amax(dim=2), fetch, dim=1, largest=True, sorted=False).indices  # (R, fetch)
    candidates = blocks.gather(1, best[:, :, None].expand(n_rows, fetch, _BLOCK)).reshape(n_rows, fetch * _BLOCK)
    if full < n_items:
        candidates = torch.cat([candidates, scores[:, full:]], dim=1)
    values, position = torch.topk(candidates, fetch, dim=1, largest=True, sorted=True)
    in_blocks = position < fetch * _BLOCK
    block_of = best.gather(1, torch.div(position, _BLOCK, rounding_mode="floor").clamp(max=fetch - 1))
    items = torch.where(in_blocks, block_of * _BLOCK + position % _BLOCK, position - fetch * _BLOCK + full)
    return values, items


def _top_k_finish(scores: torch.Tensor, values: torch.Tensor, items: torch.Tensor, k: int) -> torch.Tensor:
    """Exact, deterministically ordered top-``k`` from :func:`_top_k_candidates`' output."""
    if scores.shape[0] == 0 or k == 0:
        return items[:, :k]
    crossing = values[:, k] == values[:, k - 1] if values.shape[1] > k else None
    kth = values[:, k - 1 : k]
    values, items = values[:, :k], items[:, :k]
    if k > 1 and bool((values[:, 1:] == values[:, :-1]).any()):  # else already in the documented order
        values, items = _sort_desc_then_index(values, items)
    if crossing is not None and bool(crossing.any()):
        rows = torch.nonzero(crossing).flatten()
        items = items.clone()
        items[rows] = _fill_cut_ties(scores, rows, kth[rows], items[rows])
    return items


def _sort_desc_then_index(values: torch.Tensor, items: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Reorder each row's (value, item) pairs by value descending, then item ascending."""
    by_item = torch.argsort(items, dim=1)
    values, items = values.gather(1, by_item), items.gather(1, by_item)
    by_value = torch.sort(values, dim=1, descending=True, stable=True).indices
    return values.gather(1, by_value), items.gather(1, by_value)


#: Bytes of int32 temporaries the tie-crossing route may hold at once (64 MiB).
_TIE_BLOCK_BYTES = 64 * 2**20


def _fill_cut_ties(scores: torch.Tensor, rows: torch.Tensor, kth: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
    """Exact top-``k`` for ``rows`` whose ``k``-th value ties with items beyond the cut.

    ``items`` (shape (R, k)) is already sorted by (score desc, item_idx asc) over the
    candidates, so its entries scoring above the ``k``-th value ``kth`` are right. The
    remaining ``need`` places go to the ``need`` lowest ``item_idx`` among *all* items
    scoring exactly ``kth``: a smallest-``k`` selection over the key
    ``item_idx if score == kth else n_items`` (int32), done in row blocks so the
    temporaries stay within ``_TIE_BLOCK_BYTES`` whatever the catalogue size.

    The lowest indices come first, so a row's first columns are searched first (``4k``
    columns, then 8 times more, ...): a row whose first ``w`` columns already hold ``need``
    items scoring ``kth`` has its answer there (typical when ``kth`` is the score of most
    items, e.g. 0 for a model that scores few items), and only the other rows read further.
    """
    n_rows, k = items.shape
    n_items = scores.shape[1]
    above = (scores[rows[:, None], items] > kth).sum(dim=1, keepdim=True)  # (R, 1): places already right
    lowest_equal = torch.empty((n_rows, k), dtype=torch.long, device=scores.device)
    pending = torch.arange(n_rows, device=scores.device)
    width = min(n_items, max(4 * k, 256))
    while len(pending):  # at most log8(n_items) widenings
        if width >= n_items:
            lowest_equal[pending] = _lowest_equal(scores, rows[pending], kth[pending], k, n_items)
            break
        equal = scores[rows[pending], :width] == kth[pending]
        found = equal.sum(dim=1) >= (k - above[pending, 0])
        if bool(found.any()):
            done = pending[found]
            lowest_equal[done] = _lowest_equal(scores[:, :width], rows[done], kth[done], k, width)
        pending = pending[~found]
        width = min(n_items, width * 8)
    place = torch.arange(k, device=scores.device)[None, :]
    from_equal = lowest_equal.gather(1, (place - above).clamp(min=0))
    return torch.where(place >= above, from_equal, items)


def _lowest_equal(scores: torch.Tensor, rows: torch.Tensor, kth: torch.Tensor, k: int, width: int) -> torch.Tensor:
    """The ``k`` lowest column indices of ``scores[rows]`` equal to ``kth`` (``width`` where fewer), sorted."""
    columns = torch.arange(width, dtype=torch.int32, device=scores.device)
    absent = torch.tensor(width, dtype=torch.int32, device=scores.device)
    block = max(1, _TIE_BLOCK_BYTES // (5 * width))
    out = torch.empty((len(rows), k), dtype=torch.long, device=scores.device)
    for lo in range(0, len(rows), block):
        sub = scores[rows[lo : lo + block]]
        key = torch.where(sub == kth[lo : lo + block], columns, absent)
        out[lo : lo + block] = torch.topk(key, k, dim=1, largest=False, sorted=True).values.long()
    return out
