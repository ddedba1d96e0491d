"""SR-GNN: Session-based Recommendation with Graph Neural Networks (Wu et al., AAAI 2019).

For a prefix ``x_1 .. x_t`` (see :mod:`sessrec_baselines._srgnn_graph` and
:mod:`sessrec_baselines._srgnn_network` for the pieces)::

    G      = session graph: one node per distinct item, edges x_j -> x_{j+1},
             in/out adjacency normalised by in/out degree
    h      = GGNN^step(E[nodes], G)                       gated graph network, E: (n_items, d)
    v_j    = h[node of x_j]
    alpha  = q^T sigmoid(W_1 v_t + W_2 v_j + c)           soft attention with the last click
    s_g    = sum_j alpha_j v_j ;  s_h = W_3 [s_g ; v_t]    (``nonhybrid``: s_h = s_g)
    scores = s_h E^T                                      over the whole catalogue

trained with softmax cross-entropy on every prefix of every training session.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sessrec.data.sessions import PrefixBatch, Sessions
from sessrec.models import TrainingState
from sessrec.models.base import TorchModel
from sessrec.progress import EpochProgress

from ._srgnn_graph import session_graphs
from ._srgnn_network import SRGNNNetwork
from .common import ParamFileSets, random_case_batches

try:  # Python 3.11+
    from typing import Self
except ImportError:  # pragma: no cover - Python 3.10
    from typing_extensions import Self

__all__ = ["SRGNN", "carve_validation", "case_batches", "step_lr"]


def step_lr(lr: float, lr_dc: float, lr_dc_step: int, epoch: int, schedule: str) -> float:
    """Learning rate of 0-based ``epoch`` under the step decay.

    ``schedule="code"``: the authors' ``train_test`` calls ``scheduler.step()`` *before* each
    epoch's training, so ``StepLR`` counts epoch ``e`` as ``e + 1``: the first decay applies
    from epoch index ``lr_dc_step - 1`` (with 3: epochs 0-1 at ``lr``, 2-4 at ``lr * lr_dc``...).
    ``schedule="paper"``: decay after every ``lr_dc_step`` full epochs (0-2, 3-5, ...), which is
    also what the authors' TensorFlow code and GCE-GNN's code do.

    Examples
    --------
    >>> [round(step_lr(1.0, 0.1, 3, e, "code"), 6) for e in range(6)]
    [1.0, 1.0, 0.1, 0.1, 0.1, 0.01]
    >>> [round(step_lr(1.0, 0.1, 3, e, "paper"), 6) for e in range(6)]
    [1.0, 1.0, 1.0, 0.1, 0.1, 0.1]
    """
    counted = epoch + 1 if schedule == "code" else epoch
    return lr * lr_dc ** (counted // lr_dc_step)


class SRGNN(ParamFileSets, TorchModel):
    """SR-GNN, faithful to the authors' PyTorch code, with validation-only epoch selection.

    Parameters
    ----------
    hidden_size : int, default 100
        Embedding and node-state size ``d`` (code: ``hiddenSize`` 100).
    step : int, default 1
        GGNN propagation steps (code: 1).
    nonhybrid : bool, default False
        Use only the attention-pooled global preference ``s_g`` (code: ``--nonhybrid``).
    lr : float, default 0.001
        Adam learning rate (code).
    lr_dc : float, default 0.1
        Multiplicative learning-rate decay (code).
    lr_dc_step : int, default 3
        Epochs between decays (code).
    lr_schedule : {"code", "paper"}, default "code"
        When the decays happen; see :func:`step_lr` (Deviation 1 of the code from the paper).
    l2 : float, default 1e-5
        Adam ``weight_decay`` (L2 added to the gradient of every parameter, as the code).
    batch_size : int, default 100
        Training prefixes per mini-batch (code).
    epochs : int, default 30
        Training epochs (code).
    valid_split : {"time", None}, default None
        Validation data carved from ``train`` when ``fit`` gets no ``valid``: ``"time"`` holds
        out the ``valid_fraction`` of sessions that end last. ``None``: no carving.
    valid_fraction : float, default 0.1
        Fraction of sessions held out by ``valid_split="time"`` (code: ``valid_portion`` 0.1).
    keep : {"best", "last"}, default "best"
        ``"best"``: with validation data (given to ``fit`` or carved), keep the epoch with the
        best validation Recall@``valid_cutoff`` and stop after ``patience`` epochs without
        improvement. ``"last"``: train ``epochs`` epochs and keep the last, ignoring any
        validation data (the authors' runs evaluated at their last epoch).
    patience : int or None, default 10
        Early-stopping patience in epochs (code: 10); ``None`` never stops.
    valid_cutoff : int, default 20
        ``K`` of the validation Recall@K.
    device : str, default "auto"
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
    random_state : int or None, default None
        Seeds initialisation, batch order and the validation split.

    Attributes
    ----------
    network_ : SRGNNNetwork
    n_items_ : int
    history_ : list of dict
        Per epoch: loss, seconds and, with validation, ``valid_recall@K``.
    best_epoch_ : int
        0-based epoch whose parameters were kept.

    Notes
    -----
    **Deviations from that implementation** (CRIPAC-DIG/SR-GNN ``pytorch_code/``, commit
    e21cfa431f74c25ae6e4ae9261deefe11d1cb488):

    1. Epoch selection: the code reports, over all epochs, the best *test* Recall@20 and,
       separately, the best *test* MRR@20 (possibly from different epochs), with patience on
       the test metrics. Here epochs are chosen on validation data only (``keep="best"``) or
       the last epoch is kept (``keep="last"``); the test split is never read during ``fit``.
    2. Catalogue: the code's embedding has a row for the padding item 0 (``n_node`` rows,
       scores over rows 1..); ours has exactly ``n_items`` rows. Padding nodes of a batch
       look up item 0's embedding here, which is never read by a real node or position.
       The code also creates ``linear_edge_f`` which it never uses; ours omits it. Both
       change only which random numbers the initialisation draws.
    3. Batches: the code pads every prefix to the longest training session and builds each
       session graph in a Python loop; ours pads to the batch's longest prefix and builds
       all graphs of a batch at once (:func:`session_graphs`). The graphs, adjacencies and
       scores are the same.
    4. Learning-rate schedule: ``lr_schedule="code"`` reproduces the code's timing (the
       ``StepLR`` is stepped before each epoch, so the first decay comes after 2 epochs); the
       paper's "every 3 epochs" is ``lr_schedule="paper"``. The rate is set from the epoch
       number at the start of every epoch instead of through a ``StepLR`` object.
    5. Validation split: the code's ``--validation`` holds out a random 10% of the training
       *cases* (prefixes that also occur inside longer training cases); ``valid_split="time"``
       holds out the sessions that end last instead, so no held-out prefix is trained on.

    Layout: the adjacency products use the padded dense ``(B, N, N)`` matrices (``bmm``); every
    per-node layer (edge linears, GRU gates) and the attention run on the real nodes and
    positions only, packed. On DIGINETICA training batches (``tests/perf/gnn_graph_layout.py``,
    ``tests/perf/gnn_results.md``) padding everything cost 2.7x the packed form; one
    block-diagonal sparse matrix per batch was 0.8x the packed form in one measurement on a
    heavily loaded machine. The dense products were kept: simpler and without sparse kernels
    on the GPU.

    Whole-session fast path: none. The graph of prefix ``x_1..x_t`` is not a restriction of
    the graph of a longer prefix (the degree normalisation changes as edges arrive) and the
    readout attends over all GGNN outputs of that prefix, so every prefix is propagated on
    its own graph; scoring a session costs ``O(T)`` graphs. What is shared is batching:
    graphs of all prefixes of a batch are built and propagated together.

    References
    ----------
    .. [1] Shu Wu, Yuyuan Tang, Yanqiao Zhu, Liang Wang, Xing Xie, Tieniu Tan. "Session-based
       Recommendation with Graph Neural Networks". AAAI 2019. arXiv:1811.00855.
    .. [2] Reference implementation: https://github.com/CRIPAC-DIG/SR-GNN (``pytorch_code/``).

    Examples
    --------
    >>> from sessrec.data.sessions import PrefixBatch, Sessions
    >>> train = Sessions.from_lists([[0, 1, 2, 3], [1, 2, 3, 0]] * 20, n_items=4)
    >>> model = SRGNN(hidden_size=8, epochs=2, device="cpu", random_state=0).fit(train)
    >>> model.score(PrefixBatch.from_lists([[0, 1], [2]])).shape
    torch.Size([2, 4])
    """

    tags: ClassVar[dict[str, Any]] = {"oracle": "sequence", "deterministic": False}
    paramfile_name: ClassVar[str] = "srgnn"
    test_params: ClassVar[dict[str, Any]] = {"hidden_size": 16, "lr": 0.01, "epochs": 3, "batch_size": 64}

    def __init__(
        self,
        *,
        hidden_size: int = 100,
        step: int = 1,
        nonhybrid: bool = False,
        lr: float = 0.001,
        lr_dc: float = 0.1,
        lr_dc_step: int = 3,
        lr_schedule: Literal["code", "paper"] = "code",
        l2: float = 1e-5,
        batch_size: int = 100,
        epochs: int = 30,
        valid_split: Literal["time"] | None = None,
        valid_fraction: float = 0.1,
        keep: Literal["best", "last"] = "best",
        patience: int | None = 10,
        valid_cutoff: int = 20,
        device: str = "auto",
        random_state: int | None = None,
    ) -> None:
        self.hidden_size = hidden_size
        self.step = step
        self.nonhybrid = nonhybrid
        self.lr = lr
        self.lr_dc = lr_dc
        self.lr_dc_step = lr_dc_step
        self.lr_schedule = lr_schedule
        self.l2 = l2
        self.batch_size = batch_size
        self.epochs = epochs
        self.valid_split = valid_split
        self.valid_fraction = valid_fraction
        self.keep = keep
        self.patience = patience
        self.valid_cutoff = valid_cutoff
        self.device = device
        self.random_state = random_state

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        for name in ("hidden_size", "step", "lr_dc_step", "batch_size", "epochs", "valid_cutoff"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"SRGNN: {name} must be a positive integer, got {value!r}")
        choices = {"lr_schedule": ("code", "paper"), "valid_split": ("time", None), "keep": ("best", "last")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"SRGNN: {name}={getattr(self, name)!r} is not supported; choose one of {allowed}")
        if not (self.lr > 0 and self.lr_dc > 0 and self.l2 >= 0):
            raise ValueError(f"SRGNN: need lr > 0, lr_dc > 0, l2 >= 0; got {self.lr}, {self.lr_dc}, {self.l2}")
        if self.valid_split is not None and not 0.0 < self.valid_fraction < 1.0:
            raise ValueError(f"SRGNN: valid_fraction must lie in (0, 1), got {self.valid_fraction!r}")

    # ------------------------------------------------------------------ fit
    def fit(self, train: Sessions, *, valid: Sessions | None = None) -> Self:
        """Train on ``train``; choose the epoch on ``valid`` (or a carved split) unless ``keep="last"``."""
        self._check_params()
        valid, train = carve_validation(train, valid, self.valid_split, self.valid_fraction, self.random_state)
        return super().fit(train, valid=None if self.keep == "last" else valid)

    # ------------------------------------------------------------------ TorchModel hooks
    def build_network(self, train: Sessions) -> nn.Module:
        return SRGNNNetwork(train.n_items, self.hidden_size, self.step, self.nonhybrid)

    def build_optimizer(self, network: nn.Module) -> torch.optim.Optimizer:
        return torch.optim.Adam(network.parameters(), lr=self.lr, weight_decay=self.l2)

    def train_epoch(self, train: Sessions, optimizer: torch.optim.Optimizer, state: TrainingState) -> float:
        rng = state.rng
        net = cast(SRGNNNetwork, self.network_)
        epoch = len(self.history_)
        lr = step_lr(self.lr, self.lr_dc, self.lr_dc_step, epoch, self.lr_schedule)
        for group in optimizer.param_groups:
            group["lr"] = lr
        progress = EpochProgress(train.n_cases)
        for batch, targets in case_batches(train, self.batch_size, rng, self.device_):
            logits = net.decode(net.session_representation(session_graphs(batch.items, batch.lengths), batch.lengths))
            loss = F.cross_entropy(logits, targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            progress.step(len(targets), float(loss.detach()))
        return progress.mean_loss

    def network_scores(self, batch: PrefixBatch) -> torch.Tensor:
        net = cast(SRGNNNetwork, self.network_)
        return net.decode(net.session_representation(session_graphs(batch.items, batch.lengths), batch.lengths))


def carve_validation(
    train: Sessions, valid: Sessions | None, valid_split: str | None, fraction: float, random_state: int | None
) -> tuple[Sessions | None, Sessions]:
    """``(valid, train)``: ``valid`` when given; else the last-ending sessions when ``valid_split="time"``."""
    if valid is not None or valid_split is None or train.n_sessions < 2:
        return valid, train
    early, late = train.split_by_end_time(fraction)
    kept = train.select(early)
    if kept.n_cases == 0:
        raise ValueError("valid_split='time' left no training case; use more data or valid_split=None")
    return train.select(late), kept


def case_batches(train: Sessions, batch_size: int, rng: np.random.Generator, device: torch.device) -> Any:
    """Every training case once, in random order: ``(PrefixBatch, targets)`` of ``batch_size`` cases."""
    for starts, targets in random_case_batches(train, batch_size, rng):
        batch = PrefixBatch.from_ranges(train.items, starts, targets - starts).to(device)
        yield batch, torch.from_numpy(train.items[targets]).to(device)
