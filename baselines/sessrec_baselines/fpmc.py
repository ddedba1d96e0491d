"""FPMC for anonymous sessions: a factorised session part plus a factorised Markov chain."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sessrec import PrefixBatch, Sessions, TorchModel, TrainingState
from sessrec.data.sessions import concat_ranges
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

__all__ = ["FPMC"]


class _FPMCNetwork(nn.Module):
    """Four (n_items, k) factor tables, sparse gradients.

    ``session_item``  V^{S}: an item as a member of the session (builds the session factor)
    ``item_session``  V^{I,U}: an item as candidate, against the session factor
    ``item_last``     V^{I,L}: an item as candidate, against the last click
    ``last_item``     V^{L,I}: an item as the last click
    """

    def __init__(self, n_items: int, n_factors: int, sigma: float) -> None:
        super().__init__()
        self.session_item = nn.EmbeddingBag(n_items, n_factors, mode="mean", sparse=True)
        self.item_session = nn.Embedding(n_items, n_factors, sparse=True)
        self.item_last = nn.Embedding(n_items, n_factors, sparse=True)
        self.last_item = nn.Embedding(n_items, n_factors, sparse=True)
        for table in (self.session_item, self.item_session, self.item_last, self.last_item):
            nn.init.normal_(table.weight, std=sigma)


class FPMC(TorchModel):
    """Factorized personalized Markov chain with the session in the user's place.

    Rendle et al.'s FPMC scores item ``i`` for user ``u`` after basket ``B_{t-1}`` as
    ``<V^{U,I}_u, V^{I,U}_i> + mean_{l in B_{t-1}} <V^{I,L}_i, V^{L,I}_l>``. For anonymous
    sessions the basket is the last click and the session plays the user; since test
    sessions are new, a session has no factor of its own but the mean of its prefix items'
    "session-member" factors ``V^S``. The exact form used, for training and prediction alike::

        s = mean_{k in prefix} V^S_k
        score(i | prefix) = <s, V^{I,U}_i> + <V^{L,I}_last, V^{I,L}_i>

    Why this form: (1) it is FPMC's two-term score with the user factor replaced by what
    can be computed for an unseen session; (2) unlike BPR-MF as GRU4Rec applies it (train a
    per-session factor, predict with the mean of *item* factors), the session factor is
    built the same way in training and at prediction, so nothing learnt is thrown away and
    there is no per-test-session optimisation; (3) the session factor of a training case
    uses only the case's prefix, so the target never leaks into its own representation. A
    separate table ``V^S`` (rather than reusing ``V^{I,U}``) keeps "an item describes the
    session" apart from "an item is recommended to the session", as FPMC keeps
    ``V^{U,I}``/``V^{I,U}`` apart.

    Training is S-BPR: every training case (prefix -> target ``i``) is visited once per epoch
    in random order with one negative ``j`` drawn uniformly from the other items, and a
    stochastic gradient step is taken on::

        -log sigmoid(score(i) - score(j)) + reg / 2 * (|s|^2 + |V^{I,U}_i|^2 + |V^{I,U}_j|^2
                                                       + |V^{I,L}_i|^2 + |V^{I,L}_j|^2 + |V^{L,I}_last|^2)

    summed over ``batch_size`` cases (each case moves its rows by ``lr`` times its own
    gradient, as the reference's sequential per-sample steps do).

    Parameters
    ----------
    n_factors : int, default=100
        Latent dimension of every table (FPMC's ``k_{U,I} = k_{I,L}``).
    lr : float, default=0.01
        SGD learning rate (per case).
    sigma : float, default=0.01
        Standard deviation of the normal initialisation.
    reg : float, default=0.001
        L2 regularisation of the rows (and session factor) a step touches.
    epochs : int, default=10
        Passes over the training cases.
    batch_size : int, default=1024
        Cases per vectorised SGD step.
    patience : int or None, default=None
        Early stopping on the validation split (see :class:`~sessrec.models.base.TorchModel`).
    valid_cutoff : int, default=20
        Recall cutoff used for validation.
    device : str, default="auto"
        ``"auto"`` = CUDA when available, else CPU.
    random_state : int or None, default=None
        Seed of initialisation, case order and negative sampling.

    Attributes
    ----------
    n_items_ : int
    untrained_items_ : ndarray of int64
        Items without a training click, scored ``-inf`` and never drawn as negatives.
    network_ : torch.nn.Module
        The four factor tables, each (n_items, k).
    history_ : list of dict
        Loss (mean S-BPR loss per case, without the L2 term) and seconds per epoch.

    References
    ----------
    Rendle, Freudenthaler & Schmidt-Thieme, "Factorizing personalized Markov chains for
    next-basket recommendation", WWW 2010 (model, S-BPR, ``LearnSBPR`` with per-sample SGD
    and normal initialisation). Used for sessions, with the user left out, by Hidasi et al.
    (ICLR 2016) and Li et al. (NARM, CIKM 2017, Table 3). Reference implementation checked:
    khesui/FPMC ``FPMC.py`` (the same four tables, S-BPR updates of all of them with
    ``delta = 1 - sigmoid(x_i - x_j)``, defaults ``learn_rate=0.01, regular=0.001``, init
    std 0.01; ours follow those defaults).

    Deviations from that implementation:

    * the user factor ``V^{U,I}_u`` is replaced by the mean of the prefix items' ``V^S``
      factors, trained through that mean (see above); NARM's FPMC drops the user term
      altogether, which is ``FPMC`` with the first term removed;
    * the previous "basket" is the single last click;
    * items without a training click score ``-inf`` and are never drawn as negatives (the
      reference's item set is the training data's);
    * one uniform negative per case (khesui samples 10 per case, and picks cases with
      replacement), so one of our epochs makes a tenth of the updates of one of theirs;
      ``batch_size`` cases stepped at once.

    The defaults are the reference's, not tuned. On the DIGINETICA split of issue 3 they
    under-fit in 10 epochs: validation Recall@20 (last training day held out) was still
    rising after 30 epochs (0.21 at lr=0.01; 0.40 at lr=0.2, sigma=0.1). Tune ``lr``,
    ``sigma`` and ``epochs`` per dataset (``tests/perf/baselines_diginetica.py`` reports
    both).

    Examples
    --------
    >>> from sessrec.data.sessions import PrefixBatch, Sessions
    >>> train = Sessions.from_lists([[0, 1, 2, 3], [2, 3, 0, 1]] * 20, n_items=4)
    >>> m = FPMC(n_factors=8, lr=0.1, epochs=5, device="cpu", random_state=0).fit(train)
    >>> m.score(PrefixBatch.from_lists([[0], [2, 3]])).shape
    torch.Size([2, 4])
    """

    tags: ClassVar[dict[str, Any]] = {"oracle": "sequence", "deterministic": False}
    test_params: ClassVar[dict[str, Any]] = {"n_factors": 16, "lr": 0.1, "sigma": 0.1, "epochs": 10, "batch_size": 256}
    parameter_constraints: ClassVar[dict[str, list[Any]]] = FACTOR_CONSTRAINTS

    def __init__(
        self,
        n_factors: int = 100,
        lr: float = 0.01,
        sigma: float = 0.01,
        reg: float = 0.001,
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
        return _FPMCNetwork(train.n_items, int(self.n_factors), float(self.sigma))

    def build_optimizer(self, network: nn.Module) -> SparseSGD:
        return SparseSGD(network.parameters(), lr=float(self.lr))

    def train_epoch(self, train: Sessions, optimizer: SparseSGD, state: TrainingState) -> float:
        rng = state.rng
        net = self.network_
        dev = self.device_
        bs = int(self.batch_size)
        reg = float(self.reg)
        positions = train.case_positions()  # target click of every case
        starts = train.offsets[train.case_session()]  # first click of its session
        order = rng.permutation(len(positions))
        positions, starts = positions[order], starts[order]
        targets = train.items[positions]
        negatives = other_items(targets, np.flatnonzero(train.item_counts() > 0), rng)
        items = torch.from_numpy(np.array(train.items)).to(dev)  # a writable copy
        total = torch.zeros((), dtype=torch.float64, device=dev)
        progress = EpochProgress(len(order))
        for lo in range(0, len(order), bs):
            pos, st = positions[lo : lo + bs], starts[lo : lo + bs]
            lengths = pos - st
            flat = torch.from_numpy(concat_ranges(st, lengths)).to(dev)
            offsets = torch.from_numpy(np.concatenate([[0], np.cumsum(lengths)[:-1]])).to(dev)
            s = net.session_item(items[flat], offsets)  # (B, k) mean over each prefix
            last = net.last_item(items[torch.from_numpy(pos - 1).to(dev)])
            t = torch.from_numpy(targets[lo : lo + bs]).to(dev)
            n = torch.from_numpy(negatives[lo : lo + bs]).to(dev)
            iu_t, iu_n = net.item_session(t), net.item_session(n)
            il_t, il_n = net.item_last(t), net.item_last(n)
            diff = (s * (iu_t - iu_n)).sum(dim=1) + (last * (il_t - il_n)).sum(dim=1)
            bpr = -F.logsigmoid(diff).sum()
            loss = bpr
            if reg > 0:
                sq = sum(x.square().sum() for x in (s, iu_t, iu_n, il_t, il_n, last))
                loss = loss + 0.5 * reg * sq
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += bpr.detach()
            progress.step(len(pos), bpr.detach() / len(pos))
        return float(total) / max(len(order), 1)

    def network_scores(self, batch: PrefixBatch) -> torch.Tensor:
        net = self.network_
        s = mean_item_factors(net.session_item.weight, batch)
        last = net.last_item(batch.last_items)
        query = torch.cat([s, last], dim=1)  # (B, 2k)
        keys = torch.cat([net.item_session.weight, net.item_last.weight], dim=1)  # (n_items, 2k)
        return mask_untrained(query @ keys.T, self.untrained_items_)

    def network_session_scores(self, batch: PrefixBatch) -> torch.Tensor:
        """Scores after every prefix, shape (sum(lengths), n_items), rows in row-major order."""
        net = self.network_
        s = running_mean_item_factors(net.session_item.weight, batch)
        last = net.last_item(batch.items[batch.mask])
        query = torch.cat([s, last], dim=1)
        keys = torch.cat([net.item_session.weight, net.item_last.weight], dim=1)
        return mask_untrained(query @ keys.T, self.untrained_items_)
