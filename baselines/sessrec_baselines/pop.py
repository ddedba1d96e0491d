"""POP: recommend the items clicked most often in the training sessions."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from sessrec import BaseModel, PrefixBatch, Sessions, check_is_fitted

try:
    from typing import Self
except ImportError:  # pragma: no cover - Python 3.10
    from typing_extensions import Self

__all__ = ["Pop"]


class Pop(BaseModel):
    """Global popularity: ``score(j)`` = number of clicks on ``j`` in the training sessions.

    Every prefix gets the same scores; items never clicked in training score 0, below every
    trained item, which is where the references' training-only item index leaves them (they
    cannot be ranked there): no ``-inf`` needed.

    Parameters
    ----------
    (none)

    Attributes
    ----------
    counts_ : ndarray of shape (n_items,), int64
        Training clicks per item.

    References
    ----------
    The POP baseline of Hidasi et al., "Session-based recommendations with recurrent neural
    networks", ICLR 2016, and Li et al., "Neural attentive session-based recommendation",
    CIKM 2017 (Table 3), both counting training occurrences.

    Examples
    --------
    >>> from sessrec import Sessions, PrefixBatch
    >>> m = Pop().fit(Sessions.from_lists([[0, 1], [1, 2], [1, 0]], n_items=4))
    >>> m.score(PrefixBatch.from_lists([[3]])).tolist()
    [[2.0, 3.0, 1.0, 0.0]]
    """

    tags: ClassVar[dict[str, Any]] = {"oracle": "popularity", "deterministic": True}
    parameter_constraints: ClassVar[dict[str, list[Any]]] = {}  # no hyperparameters

    def __init__(self) -> None:
        pass

    def fit(self, train: Sessions, *, valid: Sessions | None = None) -> Self:
        self.counts_ = train.item_counts()
        self.n_items_ = train.n_items
        self._scores_t = torch.from_numpy(self.counts_.astype(np.float64))
        return self

    def score(self, batch: PrefixBatch) -> torch.Tensor:
        check_is_fitted(self)
        return self._scores_t.to(batch.device).expand(batch.batch_size, -1)

    def score_sessions(self, batch: PrefixBatch) -> torch.Tensor:
        check_is_fitted(self)
        return self._scores_t.to(batch.device).expand(int(batch.lengths.sum()), -1)
