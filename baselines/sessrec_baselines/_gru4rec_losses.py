"""GRU4Rec's sampled ranking losses over a mini-batch score matrix.

Every loss takes the score matrix of one training step,

``scores[i, j]`` for row ``i`` (one active session) and column ``j`` (an output item),

where the columns are the batch's own targets followed by the ``n_sample`` shared negatives,
so column ``i`` holds row ``i``'s target and every other column is a negative for row ``i``
(the other rows' targets included: "in-batch negatives", exactly as the official
implementation treats them, even when an item occurs twice). Each loss returns the **sum**
over rows; the trainer divides by the configured ``batch_size`` like the official code.

References
----------
Hidasi & Karatzoglou, "Recurrent Neural Networks with Top-k Gains for Session-based
Recommendations", CIKM 2018 (BPR-max, TOP1-max, score regularisation, softmax over negatives);
hidasib/GRU4Rec_PyTorch_Official ``gru4rec_pytorch.py`` (``xe_loss_with_softmax``,
``softmax_neg``, ``bpr_max_loss_with_elu``), commit bf9179a8fb976ef49801f3dec168fc513366fe4a.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["bpr_max_loss", "cross_entropy_loss", "softmax_negatives", "top1_max_loss"]

#: Added inside the logarithm of BPR-max, as the official implementation does.
LOG_EPS = 1e-24


def _target_mask(scores: torch.Tensor) -> torch.Tensor:
    """Bool mask (n_rows, n_cols), True at ``(i, i)``: the target of every row."""
    n_rows, n_cols = scores.shape
    return torch.eye(n_rows, n_cols, dtype=torch.bool, device=scores.device)


def cross_entropy_loss(scores: torch.Tensor, log_q: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy of a softmax over the sampled columns, summed over rows.

    Parameters
    ----------
    scores : Tensor of shape (n_rows, n_cols)
        Column ``i`` is row ``i``'s target; ``n_cols >= n_rows``.
    log_q : Tensor of shape (n_cols,), optional
        logQ correction subtracted from every column before the softmax. The official code
        uses ``logq * log(count(target))`` for the target columns and
        ``logq * sample_alpha * log(count(sample))`` for the sampled ones.

    Returns
    -------
    Tensor, scalar
        ``-sum_i log softmax(scores_i - log_q)[i]``.

    Notes
    -----
    The official code computes ``-log(softmax[i, i] + 1e-24)``; ``log_softmax`` gives the same
    value and gradient wherever the probability is above ~1e-20 and stays finite below.
    """
    if log_q is not None:
        scores = scores - log_q[None, :]
    logp = F.log_softmax(scores, dim=1)
    return -torch.diagonal(logp).sum()


def softmax_negatives(scores: torch.Tensor) -> torch.Tensor:
    """Row-wise softmax over the negatives only (the diagonal gets weight 0).

    Parameters
    ----------
    scores : Tensor of shape (n_rows, n_cols)

    Returns
    -------
    Tensor of shape (n_rows, n_cols)
        ``s[i, j] = exp(scores[i, j]) / sum_{k != i} exp(scores[i, k])`` for ``j != i``, ``s[i, i] = 0``.
    """
    return torch.softmax(scores.masked_fill(_target_mask(scores), float("-inf")), dim=1)


def bpr_max_loss(scores: torch.Tensor, bpreg: float, elu_param: float = 0.0) -> torch.Tensor:
    """BPR-max with score regularisation, summed over rows.

    For row ``i`` with target score ``r_i`` and softmax-over-negatives weights ``s_ij``::

        L_i = -log( sum_j s_ij * sigmoid(r_i - r_ij) + 1e-24 ) + bpreg * sum_j s_ij * r_ij**2

    Parameters
    ----------
    scores : Tensor of shape (n_rows, n_cols)
        Column ``i`` is row ``i``'s target.
    bpreg : float
        Weight of the score regularisation.
    elu_param : float
        ``> 0``: the scores first go through ``ELU(alpha=elu_param)`` (the final activation);
        ``0``: linear.

    Returns
    -------
    Tensor, scalar
    """
    if elu_param > 0:
        scores = F.elu(scores, alpha=elu_param)
    weights = softmax_negatives(scores)
    target = torch.diagonal(scores)[:, None]
    hit = torch.sum(torch.sigmoid(target - scores) * weights, dim=1)
    reg = torch.sum(scores * scores * weights, dim=1)
    return torch.sum(-torch.log(hit + LOG_EPS) + bpreg * reg)


def top1_max_loss(scores: torch.Tensor, elu_param: float = 0.0) -> torch.Tensor:
    """TOP1-max, summed over rows.

    ``L_i = sum_j s_ij * (sigmoid(r_ij - r_i) + sigmoid(r_ij**2))`` with ``s_ij`` the softmax over
    row ``i``'s negatives (CIKM 2018, eq. for TOP1-max). Not part of the official PyTorch
    release (it kept cross-entropy and BPR-max only); offered because it is cheap.

    Parameters
    ----------
    scores : Tensor of shape (n_rows, n_cols)
    elu_param : float
        Optional ELU final activation, as for :func:`bpr_max_loss`.
    """
    if elu_param > 0:
        scores = F.elu(scores, alpha=elu_param)
    weights = softmax_negatives(scores)
    target = torch.diagonal(scores)[:, None]
    terms = torch.sigmoid(scores - target) + torch.sigmoid(scores * scores)
    return torch.sum(terms * weights)
