"""The evaluator: full ranking of every test case, in memory-bounded chunks.

::

    test sessions ──► chunks of cases ──► model scores (B, n_items) on the model's device
                                             │ validated: shape, float dtype, no NaN / +inf
                                             ├─► target_ranks  (B,)   ── kept per case
                                             └─► top_k_items   (B, max K)
                                                     │
                                 MetricAccumulator.update(ranks, top lists) ──► metrics

Ranks are computed once per case; recall, MRR and NDCG at every cutoff derive from them,
coverage and popularity from one top list per case at the largest cutoff. Nothing is
sampled: every case is ranked against all ``n_items`` items.

Two ways to get scores:

* per prefix (any model): ``model.score(PrefixBatch)`` on batches of cases, in case order;
* whole sessions (the fast path, when the model has ``score_sessions``): each test session
  minus its last click is one row of a :class:`~sessrec.data.PrefixBatch`, and
  ``score_sessions`` returns one score row per position, ``(sum(lengths), n_items)``, which
  is exactly the sessions' cases in case order. A session whose cases alone exceed the
  chunk budget is scored per prefix instead, so the memory bound holds for any session.

Sparse scores (optional): a model whose scores are zero for most items may also define
``score_sessions_sparse(batch)``, the same rows as ``score_sessions`` as a SciPy CSR matrix
of shape ``(sum(lengths), n_items)``, float, where every item not stored in a row scores
exactly ``0.0`` (stored values may be any float or ``-inf``; duplicates are summed). Its
``toarray()`` must equal ``score_sessions``' output. With ``use_sparse=True`` (the default)
the fast path calls it instead of ``score_sessions`` and ranks from the stored entries
(:mod:`sessrec.evaluation.sparse`): ranks, top-K lists and therefore every metric are
identical to the dense route, at a cost proportional to the stored entries instead of
``n_cases x n_items``. Dense scores stay the contract: ``score`` and ``score_sessions`` are
unchanged, and a model without ``score_sessions_sparse`` is evaluated as before.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from sessrec.data.sessions import PrefixBatch, Sessions, concat_ranges
from sessrec.evaluation.accumulator import MetricAccumulator, check_cutoffs
from sessrec.evaluation.ranks import _target_ranks_unchecked, _top_k_candidates, _top_k_finish, check_ties
from sessrec.evaluation.sparse import canonical_csr, sparse_target_ranks, sparse_top_k_items
from sessrec.progress import emit

__all__ = ["SCORE_BUDGET_BYTES", "EvaluationResult", "InvalidScoresError", "default_batch_size", "evaluate"]

#: Bytes of float32 scores one chunk may hold (256 MiB). The comparison pass adds a bool
#: temporary of a quarter of that; everything else is per case, not per item.
SCORE_BUDGET_BYTES = 256 * 2**20

#: Upper bound on rows per chunk for small catalogues (keeps a model's own per-row
#: activations modest; 8192 rows already amortise the per-call overhead).
MAX_BATCH_ROWS = 8192


class InvalidScoresError(ValueError):
    """A model returned scores the evaluator cannot rank (wrong shape or dtype, NaN, +inf)."""


@dataclass(frozen=True)
class EvaluationResult:
    """What :func:`evaluate` returns.

    Attributes
    ----------
    metrics : dict of str to float
        ``recall@K``, ``mrr@K``, ``ndcg@K``, ``coverage@K`` and (with ``item_popularity``)
        ``popularity@K`` for every cutoff K.
    ranks : ndarray of shape (n_cases,) or None
        The target's 1-based rank for every test case, in case order
        (:meth:`Sessions.case_targets` order). int32 for ``conservative`` and
        ``optimistic`` ties; float64 for ``median`` ties, whose ranks may end in ``.5``
        (``metrics`` use these fractional ranks too). ``None`` with ``keep_ranks=False``.
    n_cases : int
    seconds : float
        Wall-clock time of the whole evaluation (scoring included).
    used_fast_path : bool
        Whether the whole-session fast path (``score_sessions``) produced scores (those of
        sessions too long for one chunk still come from ``score``).
    ties : str
    cutoffs : tuple of int
    device : str
        Device the scores (and ranks) were computed on.
    """

    metrics: dict[str, float]
    ranks: np.ndarray | None
    n_cases: int
    seconds: float
    used_fast_path: bool
    ties: str = "conservative"
    cutoffs: tuple[int, ...] = (5, 10, 20)
    device: str = "cpu"


def default_batch_size(n_items: int) -> int:
    """Rows per chunk so that one chunk of float32 scores stays within :data:`SCORE_BUDGET_BYTES`.

    >>> default_batch_size(40_000), default_batch_size(1_000_000)
    (1677, 67)
    """
    return int(max(1, min(MAX_BATCH_ROWS, SCORE_BUDGET_BYTES // (4 * max(int(n_items), 1)))))


def evaluate(
    model: Any,
    test: Sessions,
    *,
    cutoffs: tuple[int, ...] | list[int] = (5, 10, 20),
    ties: str = "conservative",
    item_popularity: np.ndarray | None = None,
    batch_size: int | None = None,
    keep_ranks: bool = True,
    use_fast_path: bool = True,
    use_sparse: bool = True,
) -> EvaluationResult:
    """Rank every test case's target among all items and compute the metrics.

    Parameters
    ----------
    model : SessionModel
        A fitted model: ``score(PrefixBatch) -> Tensor (B, n_items)``; optionally
        ``score_sessions(PrefixBatch) -> Tensor (sum(lengths), n_items)``.
    test : Sessions
        Test sessions; a session of length ``n`` gives ``n - 1`` cases.
    cutoffs : sequence of int
        The K of every metric (sorted, deduplicated).
    ties : {"conservative", "optimistic", "median"}
        Tie rule of :func:`sessrec.evaluation.target_ranks`.
    item_popularity : ndarray of shape (n_items,), optional
        Training popularity (e.g. ``train.item_counts()``); enables ``popularity@K``.
    batch_size : int, optional
        Score rows per model call; default :func:`default_batch_size` (≈ 256 MiB of scores: any catalogue fits).
    keep_ranks, use_fast_path, use_sparse : bool
        Return the per-case ranks; use ``model.score_sessions`` when the model has it, and on that path
        ``model.score_sessions_sparse`` (CSR, same metrics: see the module docstring) when it has that.

    Returns
    -------
    EvaluationResult

    Raises
    ------
    InvalidScoresError
        When the model's output has the wrong shape or dtype, or holds NaN or ``+inf``.

    Examples
    --------
    >>> import torch
    >>> from sessrec import Sessions
    >>> class Fixed:                       # always prefers item 0, then 1, then 2
    ...     def score(self, batch):
    ...         return torch.tensor([3.0, 2.0, 1.0]).expand(batch.batch_size, 3)
    >>> test = Sessions.from_lists([[0, 1, 2]], n_items=3)   # cases [0]->1, [0, 1]->2
    >>> r = evaluate(Fixed(), test, cutoffs=(1, 2))
    >>> r.ranks.tolist(), r.metrics["recall@2"], r.metrics["mrr@2"]
    ([2, 3], 0.5, 0.25)
    """
    t0 = time.perf_counter()
    ks, batch_size = _checked_arguments(model, test, cutoffs, ties, batch_size)
    fast = bool(use_fast_path) and callable(getattr(model, "score_sessions", None))
    sparse = fast and bool(use_sparse) and callable(getattr(model, "score_sessions_sparse", None))
    chunks = _score_chunks(model, test, batch_size, fast, getattr(model, "device_", None), sparse)
    return _RankingPass(type(model).__name__, test, ks, ties, item_popularity, keep_ranks).run(chunks, t0)


def _checked_arguments(
    model: Any, test: Sessions, cutoffs: tuple[int, ...] | list[int], ties: str, batch_size: int | None
) -> tuple[tuple[int, ...], int]:
    """Check :func:`evaluate`'s arguments in order; return the sorted cutoffs and the rows per chunk."""
    check_ties(ties)
    ks = check_cutoffs(cutoffs)
    n_items = int(test.n_items)
    fitted_items = getattr(model, "n_items_", None)
    if fitted_items is not None and int(fitted_items) != n_items:
        raise ValueError(
            f"{type(model).__name__} was fitted on a catalogue of {int(fitted_items)} items but the test sessions "
            f"have n_items={n_items}; prepare train and test together so they share one item index"
        )
    if batch_size is None:
        batch_size = default_batch_size(n_items)
    if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer or None, got {batch_size!r}")
    return ks, int(batch_size)


class _RankingPass:
    """Ranks every chunk of scores and feeds the accumulator, with ``eval`` progress events.

    Attributes
    ----------
    acc : MetricAccumulator
    ranks : ndarray of shape (n_cases,) or None
        The per-case ranks (``None`` unless ``keep_ranks``).
    used_fast : bool
        Whether a chunk came from ``score_sessions``.
    device : str
        Device of the last chunk's scores (``"cpu"`` before any).
    """

    def __init__(
        self,
        name: str,
        test: Sessions,
        ks: tuple[int, ...],
        ties: str,
        item_popularity: np.ndarray | None,
        keep_ranks: bool,
    ) -> None:
        self.name = name
        self.ties = ties
        self.ks = ks
        self.n_items = int(test.n_items)
        self.n_cases = test.n_cases
        self.acc = MetricAccumulator(ks, self.n_items, item_popularity)
        self.ranks: np.ndarray | None = None
        if keep_ranks:
            self.ranks = np.empty(self.n_cases, dtype=np.float64 if ties == "median" else np.int32)
        self.targets = torch.from_numpy(test.case_targets())
        self.list_length = min(ks[-1], self.n_items)
        self.used_fast = False
        self.device = "cpu"

    def run(self, chunks: Iterator[tuple[torch.Tensor, np.ndarray, str]], t0: float) -> EvaluationResult:
        """Rank every chunk (under ``torch.no_grad``) and return the result, timed from ``t0``."""
        done = 0
        emit("eval", done=0, total=self.n_cases)
        with torch.no_grad():
            for scores, cases, method in chunks:
                self.add(scores, cases, method)
                del scores  # free this chunk before the next one is scored
                done += len(cases)
                emit("eval", done=done, total=self.n_cases)
        return EvaluationResult(
            metrics=self.acc.compute(),
            ranks=self.ranks,
            n_cases=self.n_cases,
            seconds=time.perf_counter() - t0,
            used_fast_path=self.used_fast,
            ties=self.ties,
            cutoffs=self.ks,
            device=self.device,
        )

    def add(self, scores: torch.Tensor | sp.csr_matrix, cases: np.ndarray, method: str) -> None:
        """Check one chunk of scores ``(len(cases), n_items)``, rank its targets and keep the results."""
        if method == "score_sessions_sparse":
            self.add_sparse(scores, cases)
            return
        _check_scores(scores, len(cases), self.n_items, self.name, method)
        self.used_fast = self.used_fast or method == "score_sessions"
        self.device = str(scores.device)
        targets = self.targets[cases].to(scores.device, non_blocking=True)
        ranks = _target_ranks_unchecked(scores, targets, self.ties)
        values, items = _top_k_candidates(scores, self.list_length)
        _check_finite(values[:, 0], cases, self.name, method)
        top = _top_k_finish(scores, values, items, self.list_length)
        del scores, values, items
        self.keep(ranks.cpu().numpy(), top.cpu().numpy(), cases)

    def add_sparse(self, scores: Any, cases: np.ndarray) -> None:
        """:meth:`add` for a CSR block of scores (unstored items score 0), with identical results."""
        block = _checked_sparse(scores, len(cases), self.n_items, self.name)
        _check_finite(torch.from_numpy(_row_max(block)), cases, self.name, "score_sessions_sparse")
        ranks = sparse_target_ranks(block, self.targets.numpy()[cases], self.ties)
        top = sparse_top_k_items(block, self.list_length)
        self.used_fast = True
        self.device = "cpu"
        self.keep(ranks, top, cases)

    def keep(self, ranks: np.ndarray, top: np.ndarray, cases: np.ndarray) -> None:
        """Feed one chunk's ranks and top lists to the accumulator and the per-case ranks."""
        self.acc.update(ranks, top)
        if self.ranks is not None:
            self.ranks[cases] = ranks


# ---------------------------------------------------------------------- chunking
def _score_chunks(
    model: Any, test: Sessions, batch_size: int, fast: bool, device: Any, sparse: bool = False
) -> Iterator[tuple[torch.Tensor | sp.csr_matrix, np.ndarray, str]]:
    """Yield ``(scores, case numbers, method name)`` chunk by chunk, every case exactly once.

    With ``sparse`` the fast path's scores come from ``score_sessions_sparse`` (CSR blocks).
    """
    lengths = test.lengths
    rows = np.maximum(lengths - 1, 0)
    case_start = np.concatenate([[0], np.cumsum(rows)[:-1]]).astype(np.int64) if len(rows) else rows
    slow_cases = np.arange(test.n_cases, dtype=np.int64)
    if fast:
        eligible = np.flatnonzero((rows >= 1) & (rows <= batch_size))
        for group in _greedy_groups(rows[eligible], batch_size):
            sess = eligible[group]
            batch = PrefixBatch.from_ranges(test.items, test.offsets[sess], rows[sess], test.timestamps)
            if isinstance(device, torch.device):
                batch = batch.to(device)
            cases = concat_ranges(case_start[sess], rows[sess])
            if sparse:
                yield model.score_sessions_sparse(batch), cases, "score_sessions_sparse"
            else:
                yield model.score_sessions(batch), cases, "score_sessions"
        too_long = np.flatnonzero(rows > batch_size)
        slow_cases = concat_ranges(case_start[too_long], rows[too_long])
    if len(slow_cases) == 0:
        return
    lo = 0
    for batch, _targets in test.prefix_batches(batch_size, cases=slow_cases):
        cases = slow_cases[lo : lo + batch.batch_size]
        lo += batch.batch_size
        if isinstance(device, torch.device):
            batch = batch.to(device)
        yield model.score(batch), cases, "score"


def _greedy_groups(rows: np.ndarray, budget: int) -> Iterator[np.ndarray]:
    """Split consecutive positions into groups whose ``rows`` sum to at most ``budget``.

    Every entry of ``rows`` is ``<= budget``; groups keep the input order.
    """
    cum = np.cumsum(rows)
    start, base = 0, 0
    while start < len(rows):
        end = int(np.searchsorted(cum, base + budget, side="right"))
        end = max(end, start + 1)
        yield np.arange(start, end)
        base = int(cum[end - 1])
        start = end


# ---------------------------------------------------------------------- validation
def _check_scores(scores: Any, n_rows: int, n_items: int, name: str, method: str) -> None:
    if not isinstance(scores, torch.Tensor):
        raise InvalidScoresError(f"{name}.{method} must return a torch.Tensor, got {type(scores).__name__}")
    if tuple(scores.shape) != (n_rows, n_items):
        raise InvalidScoresError(
            f"{name}.{method} returned scores of shape {tuple(scores.shape)}; expected ({n_rows}, {n_items}) = "
            f"(rows of the batch, n_items of the test sessions)"
        )
    if not scores.is_floating_point():
        raise InvalidScoresError(
            f"{name}.{method} returned {scores.dtype} scores; expected a floating-point tensor "
            "(cast with .float(); use -inf for items that must never be recommended)"
        )


def _checked_sparse(scores: Any, n_rows: int, n_items: int, name: str) -> sp.csr_matrix:
    """A sparse chunk as a canonical CSR matrix, after the same checks as :func:`_check_scores`."""
    method = "score_sessions_sparse"
    if not sp.issparse(scores):
        raise InvalidScoresError(f"{name}.{method} must return a scipy.sparse matrix, got {type(scores).__name__}")
    if tuple(scores.shape) != (n_rows, n_items):
        raise InvalidScoresError(
            f"{name}.{method} returned scores of shape {tuple(scores.shape)}; expected ({n_rows}, {n_items}) = "
            f"(rows of the batch, n_items of the test sessions)"
        )
    if not np.issubdtype(scores.dtype, np.floating):
        raise InvalidScoresError(
            f"{name}.{method} returned {scores.dtype} scores; expected floating-point values "
            "(unstored items score 0; store -inf for items that must never be recommended)"
        )
    return canonical_csr(scores)


def _row_max(block: sp.csr_matrix) -> np.ndarray:
    """Largest stored value of every row (``-inf`` for an empty row), NaN propagated, shape (n_rows,)."""
    out = np.full(block.shape[0], -np.inf)
    nonempty = np.flatnonzero(np.diff(block.indptr) > 0)
    if len(nonempty):
        out[nonempty] = np.maximum.reduceat(np.asarray(block.data, dtype=np.float64), block.indptr[nonempty])
    return out


def _check_finite(row_max: torch.Tensor, cases: np.ndarray, name: str, method: str) -> None:
    """NaN and +inf surface in each row's maximum (``torch.topk`` orders NaN above everything)."""
    if bool((row_max < float("inf")).all()):  # False for NaN and +inf alike
        return
    bad = torch.isnan(row_max) | torch.isposinf(row_max)
    if bool(bad.any()):
        rows = torch.nonzero(bad).flatten().cpu().numpy()
        what = "NaN" if bool(torch.isnan(row_max[rows[0]])) else "+inf"
        raise InvalidScoresError(
            f"{name}.{method} returned {what} scores for {len(rows)} test case(s) (first: case "
            f"{int(cases[rows[0]])}); scores must be finite floats, or -inf for 'never'"
        )
