"""First-order Markov chain: the items that directly followed the prefix's last click."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
import torch

from sessrec import BaseModel, PrefixBatch, Sessions, check_is_fitted
from sessrec_baselines.common import CsrRows

try:  # Python 3.11+
    from typing import Self
except ImportError:  # pragma: no cover - Python 3.10
    from typing_extensions import Self

__all__ = ["Markov"]

#: Largest integer up to which every integer is exactly representable, per dtype.
_EXACT_INT = {torch.float32: 2**24, torch.float64: 2**53}


class Markov(BaseModel):
    """First-order Markov chain over item transitions, ties broken by popularity.

    ``score(j | prefix) = count(last -> j)``, the number of times item ``j`` directly
    follows the prefix's last item in the training sessions (every consecutive pair of
    clicks counts, repeated clicks ``i -> i`` included). Items with equal transition counts
    are ordered by training popularity (click counts), exactly as S-POP breaks its ties; a
    last item never seen with a successor therefore ranks by popularity alone, and items without
    a training click rank below every trained item (popularity rank 0, no transitions).

    The two keys are folded into one exact integer per item::

        score(j) = count(last -> j) * n_pop_ranks + pop_rank(j)

    where ``pop_rank(j)`` in ``[0, n_pop_ranks)`` is the dense rank of ``j``'s training click
    count (0 = least clicked; items with equal counts share a rank and stay tied) and
    ``n_pop_ranks`` is the number of distinct click counts. Since ``pop_rank < n_pop_ranks``,
    the order of scores is the lexicographic order of ``(count, popularity)`` and two items
    tie only when both keys are equal. The scores are integers stored as ``float32`` when the
    largest possible score is at most ``2**24`` (every integer up to it exact), else as
    ``float64`` (exact to ``2**53``): never a rounding collision, whatever the catalogue.

    The model has no hyperparameters.

    Attributes
    ----------
    n_items_ : int
        Catalogue size seen in ``fit``.
    transitions_ : scipy.sparse.csr_matrix of shape (n_items, n_items), int64
        ``transitions_[i, j]`` = number of times ``j`` directly follows ``i`` in training.
    pop_rank_ : ndarray of shape (n_items,), int64
        Dense popularity rank of every item (0 = least clicked).
    n_pop_ranks_ : int
        Number of distinct training click counts.
    score_dtype_ : torch.dtype
        ``torch.float32`` when exact for this training log, else ``torch.float64``.

    References
    ----------
    The Markov-chain baseline of session-based recommendation: the "MC" part of Rendle,
    Freudenthaler & Schmidt-Thieme, "Factorizing personalized Markov chains for next-basket
    recommendation", WWW 2010 (here estimated by counting, not factorised), and the
    ``MarkovModel`` of Ludewig & Jannach, "Evaluation of session-based recommendation
    algorithms", UMUAI 2018. Reference implementation checked: rn5l/session-rec
    ``algorithms/baselines/markov.py`` (counts every consecutive pair of a session, scores
    the successors of the last click by their count).

    Deviations from that implementation:

    * no pruning (session-rec keeps the 20 most frequent successors per item by default);
      every observed successor keeps its count;
    * ties are broken by training popularity (as S-POP does) instead of being left as ties,
      and items never seen after the last click score by popularity instead of 0;
    * scores are the encoded integers above, not counts divided by the row maximum (the
      order for a given last item is the same).

    Examples
    --------
    >>> from sessrec.data.sessions import PrefixBatch, Sessions
    >>> m = Markov().fit(Sessions.from_lists([[0, 1], [0, 1], [0, 2], [2, 2]], n_items=3))
    >>> m.score(PrefixBatch.from_lists([[0]])).argmax(dim=1).tolist()
    [1]
    """

    tags: ClassVar[dict[str, Any]] = {"oracle": "sequence", "deterministic": True}
    parameter_constraints: ClassVar[dict[str, list[Any]]] = {}  # no hyperparameters
    test_params: ClassVar[dict[str, Any]] = {}

    def __init__(self) -> None:
        pass

    def fit(self, train: Sessions, *, valid: Sessions | None = None) -> Self:
        """Count the transitions and the popularity of ``train`` (``valid`` is ignored)."""
        n = train.n_items
        pos = _pair_positions(train)
        data = np.ones(len(pos), dtype=np.int64)
        t = sp.csr_matrix((data, (train.items[pos], train.items[pos + 1])), shape=(n, n), dtype=np.int64)
        t.sum_duplicates()
        t.sort_indices()
        counts = train.item_counts()
        distinct, pop_rank = np.unique(counts, return_inverse=True)
        self.n_items_ = n
        self.transitions_ = t
        self.pop_rank_ = pop_rank.astype(np.int64).reshape(-1)
        self.n_pop_ranks_ = max(len(distinct), 1)
        max_count = int(t.data.max()) if t.nnz else 0
        max_score = (max_count + 1) * self.n_pop_ranks_ - 1
        self.score_dtype_ = torch.float32 if max_score <= _EXACT_INT[torch.float32] else torch.float64
        if max_score > _EXACT_INT[torch.float64]:  # pragma: no cover - needs > 2**53 / n_items clicks
            raise OverflowError(f"Markov scores up to {max_score} cannot be represented exactly in float64")
        self._rows_ = CsrRows(t.indptr, t.indices, t.data.astype(np.float64) * self.n_pop_ranks_, self.score_dtype_)
        self._base_ = torch.from_numpy(self.pop_rank_.astype(np.float64)).to(self.score_dtype_)
        return self

    def score(self, batch: PrefixBatch) -> torch.Tensor:
        """Scores of shape (batch_size, n_items), on the CPU; see the class docstring."""
        check_is_fitted(self)
        last = batch.last_items.to("cpu")
        out = self._base_.expand(len(last), self.n_items_).clone()
        self._rows_.add_into(out, last)
        return out

    def score_sessions(self, batch: PrefixBatch) -> torch.Tensor:
        """Scores after every prefix, shape (sum(lengths), n_items), rows in row-major order.

        The score depends on the last click only, so row ``(b, t)`` is the successor row of
        ``batch.items[b, t]``.
        """
        check_is_fitted(self)
        last = batch.items.to("cpu")[batch.mask.to("cpu")]
        out = self._base_.expand(len(last), self.n_items_).clone()
        self._rows_.add_into(out, last)
        return out


def _pair_positions(sessions: Sessions) -> np.ndarray:
    """Positions ``p`` such that clicks ``p`` and ``p + 1`` belong to the same session."""
    n = sessions.n_clicks
    if n < 2:
        return np.zeros(0, dtype=np.int64)
    same = np.ones(n - 1, dtype=bool)
    ends = sessions.offsets[1:-1]  # first click of every session but the first
    ends = ends[(ends > 0) & (ends < n)]
    same[ends - 1] = False
    return np.flatnonzero(same)
