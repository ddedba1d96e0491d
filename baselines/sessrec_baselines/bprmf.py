"""BPR-MF on the session x item matrix; a prefix is the mean of its items' factors."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sessrec import PrefixBatch, Sessions, TorchModel, TrainingState
from sessrec.progress import EpochProgress
from sessrec_baselines.common import (
    FACTOR_CONSTRAINTS,
    SparseSGD,
    mask_untrained,
    mean_item_factors,
    other_items,
    running_mean_item_factors,
    untrained_items,
)

__all__ = ["BPRMF", "SparseSGD", "mean_item_factors", "running_mean_item_factors"]


class _BPRMFNetwork(nn.Module):
    """Session factors (n_sessions, k) and item factors (n_items, k), sparse gradients."""

    def __init__(self, n_sessions: int, n_items: int, n_factors: int, sigma: float) -> None:
        super().__init__()
        self.session_factors = nn.Embedding(n_sessions, n_factors, sparse=True)
        self.item_factors = nn.Embedding(n_items, n_factors, sparse=True)
        nn.init.normal_(self.session_factors.weight, std=sigma)
        nn.init.normal_(self.item_factors.weight, std=sigma)


class BPRMF(TorchModel):
    """Matrix factorisation of the session x item matrix trained with BPR (GRU4Rec's BPR-MF).

    Training treats every training session as a user. One epoch visits every training click
    ``(session s, item p)`` once, in random order, draws a negative item ``n`` uniformly from
    the other items, and takes a stochastic gradient step on::

        -log sigmoid(<U_s, I_p> - <U_s, I_n>) + reg / 2 * (|U_s|^2 + |I_p|^2 + |I_n|^2)

    This is the reference implementation's per-click SGD update, applied to ``batch_size``
    clicks at once (the loss is *summed* over the batch, so each click moves its rows by
    ``lr`` times its own gradient, exactly as one sequential step would; rows hit twice in a
    batch get both steps). Gradients are sparse: a step touches only the batch's rows.

    Prediction cannot use a session factor (test sessions are new), so, as in the GRU4Rec
    paper, a prefix is represented by the mean of its items' factors::

        score(j | prefix) = < mean_{i in prefix} I_i , I_j >

    Parameters
    ----------
    n_factors : int, default=100
        Latent dimension ``k``.
    lr : float, default=0.01
        SGD learning rate (per click).
    sigma : float, default=0.05
        Standard deviation of the normal initialisation of all factors.
    reg : float, default=0.0
        L2 regularisation of the rows a step touches (GRU4Rec's ``lambda_session`` =
        ``lambda_item``, default 0 there too).
    epochs : int, default=10
        Passes over the training clicks (GRU4Rec's ``n_iterations``).
    batch_size : int, default=1024
        Clicks per vectorised SGD step.
    patience : int or None, default=None
        Early stopping on the validation split (see :class:`~sessrec.models.base.TorchModel`).
    valid_cutoff : int, default=20
        Recall cutoff used for validation.
    device : str, default="auto"
        ``"auto"`` = CUDA when available, else CPU.
    random_state : int or None, default=None
        Seed of initialisation, click order and negative sampling.

    Attributes
    ----------
    n_items_ : int
    untrained_items_ : ndarray of int64
        Items without a training click, scored ``-inf`` and never drawn as negatives.
    network_ : torch.nn.Module
        ``session_factors`` (n_train_sessions, k) and ``item_factors`` (n_items, k).
    history_ : list of dict
        Loss (mean BPR loss per click, without the L2 term) and seconds per epoch.

    References
    ----------
    Rendle, Freudenthaler, Gantner & Schmidt-Thieme, "BPR: Bayesian personalized ranking
    from implicit feedback", UAI 2009; applied to sessions as in Hidasi et al., "Session-based
    recommendations with recurrent neural networks", ICLR 2016 ("one session is one user;
    the session is represented by the average of its items' feature vectors"), with the
    NARM paper's settings ``n_factors=100, lr=0.01, sigma=0.05`` (Li et al., CIKM 2017).
    Reference implementation checked: hidasib/GRU4Rec ``baselines.py`` class ``BPR``
    (per-event SGD with this update, 10 iterations, prediction = mean item factor).

    Deviations from that implementation:

    * normal initialisation with std ``sigma`` (``BPR`` defaults to uniform on
      ``[-sigma, sigma]``; its ``init_normal=True`` is ours);
    * negatives are uniform over the items with a training click other than the positive
      (``BPR`` takes the item of a random *event* among the first ``n_items`` rows of the
      data, which may equal the positive);
    * items without a training click score ``-inf``: ``BPR``'s item index holds training items
      only, so it never ranks them (ours would otherwise rank them by random factors);
    * no item bias: ``BPR`` declares one but never updates it (it stays 0);
    * ``batch_size`` clicks are stepped simultaneously (vectorised), see above.

    Examples
    --------
    >>> from sessrec.data.sessions import PrefixBatch, Sessions
    >>> train = Sessions.from_lists([[0, 1, 2], [3, 4, 5]] * 20, n_items=6)
    >>> m = BPRMF(n_factors=8, lr=0.1, epochs=20, device="cpu", random_state=0).fit(train)
    >>> m.score(PrefixBatch.from_lists([[0], [3, 4]])).shape
    torch.Size([2, 6])
    """

    tags: ClassVar[dict[str, Any]] = {"oracle": "session", "deterministic": False}
    test_params: ClassVar[dict[str, Any]] = {"n_factors": 16, "lr": 0.1, "epochs": 10, "batch_size": 256}
    parameter_constraints: ClassVar[dict[str, list[Any]]] = FACTOR_CONSTRAINTS

    def __init__(
        self,
        n_factors: int = 100,
        lr: float = 0.01,
        sigma: float = 0.05,
        reg: float = 0.0,
        epochs: int = 10,
        batch_size: int = 1024,
        patience: int | None = None,
        valid_cutoff: int = 20,
        device: str = "auto",
        random_state: int | None = None,
    ) -> None:
        self.n_factors = n_factors
        self.lr = lr
        self.sigma = sigma
        self.reg = reg
        self.epochs = epochs
        self.batch_size = batch_size
        self.patience = patience
        self.valid_cutoff = valid_cutoff
        self.device = device
        self.random_state = random_state

    def build_network(self, train: Sessions) -> nn.Module:
        self.untrained_items_ = untrained_items(train)
        return _BPRMFNetwork(train.n_sessions, train.n_items, int(self.n_factors), float(self.sigma))

    def build_optimizer(self, network: nn.Module) -> SparseSGD:
        return SparseSGD(network.parameters(), lr=float(self.lr))

    def train_epoch(self, train: Sessions, optimizer: SparseSGD, state: TrainingState) -> float:
        rng = state.rng
        net = self.network_
        dev = self.device_
        order = rng.permutation(train.n_clicks)
        sessions = np.repeat(np.arange(train.n_sessions), train.lengths)[order]
        positives = train.items[order]
        negatives = other_items(positives, np.flatnonzero(train.item_counts() > 0), rng)
        s_all = torch.from_numpy(sessions).to(dev)
        p_all = torch.from_numpy(positives).to(dev)
        n_all = torch.from_numpy(negatives).to(dev)
        reg = float(self.reg)
        total = torch.zeros((), dtype=torch.float64, device=dev)
        progress = EpochProgress(len(order), "clicks")
        for lo in range(0, len(order), int(self.batch_size)):
            s, p, n = (t[lo : lo + int(self.batch_size)] for t in (s_all, p_all, n_all))
            u = net.session_factors(s)
            ip, in_ = net.item_factors(p), net.item_factors(n)
            bpr = -F.logsigmoid((u * (ip - in_)).sum(dim=1)).sum()
            loss = bpr
            if reg > 0:
                loss = loss + 0.5 * reg * (u.square().sum() + ip.square().sum() + in_.square().sum())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += bpr.detach()
            progress.step(len(s), bpr.detach() / len(s))
        return float(total) / max(len(order), 1)

    def network_scores(self, batch: PrefixBatch) -> torch.Tensor:
        weight = self.network_.item_factors.weight
        return mask_untrained(mean_item_factors(weight, batch) @ weight.T, self.untrained_items_)

    def network_session_scores(self, batch: PrefixBatch) -> torch.Tensor:
        """Scores after every prefix, shape (sum(lengths), n_items), rows in row-major order."""
        weight = self.network_.item_factors.weight
        return mask_untrained(running_mean_item_factors(weight, batch) @ weight.T, self.untrained_items_)
