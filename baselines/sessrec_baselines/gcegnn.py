"""GCE-GNN: Global Context Enhanced Graph Neural Networks (Wang et al., SIGIR 2020).

For a prefix read backwards (position 0 = the last click; see :mod:`._gcegnn_graph` and
:mod:`._gcegnn_network`)::

    h_local  = LocalAggregator(E[nodes], session graph with 4 edge types)     per node
    h_global = n_iter x GlobalAggregator over sampled global-graph neighbours  per position
    h_v      = dropout(h_local[v]) + dropout(h_global[v])                     per node, read at each position
    z_p      = tanh(W_1 [pos_p ; h_p]);  beta_p = q^T sigmoid(W_2 z_p + W_3 mean(h) + c)
    S        = sum_p beta_p h_p ;  scores = S E^T

The global graph is built in ``fit`` from the training sessions only.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sessrec.data.sessions import PrefixBatch, Sessions
from sessrec.models import TrainingState, seed_from
from sessrec.models.base import TorchModel
from sessrec.progress import EpochProgress

from ._gcegnn_graph import global_graph, sample_neighbors, session_graphs
from ._gcegnn_network import GCEGNNNetwork
from .common import ParamFileSets
from .srgnn import carve_validation, case_batches, step_lr  # shared by the two graph models

try:  # Python 3.11+
    from typing import Self
except ImportError:  # pragma: no cover - Python 3.10
    from typing_extensions import Self

__all__ = ["GCEGNN"]

#: Rows of the position-embedding table (the code's ``nn.Embedding(200, dim)``).
MAX_POSITION = 200


class GCEGNN(ParamFileSets, TorchModel):
    """GCE-GNN, faithful to the authors' code, with validation-only epoch selection.

    Defaults are the code's ``main.py`` for its default dataset, DIGINETICA (``n_iter`` 2,
    ``dropout_gcn`` 0.2, ``dropout_local`` 0); the code's settings for Tmall and Nowplaying
    are the parameter sets ``authors-tmall`` and ``authors-nowplaying``.

    Parameters
    ----------
    hidden_size : int, default 100
        Embedding size (code: ``hiddenSize``).
    n_iter : int, default 2
        Global aggregation layers, i.e. hops over the global graph (code: ``n_iter``).
    n_neighbors : int, default 12
        Neighbours kept and sampled per item (code: ``n_sample_all`` = ``n_sample`` = 12).
    graph_hops : int, default 3
        ``epsilon``: items up to this many clicks apart are neighbours (``build_graph.py``: 3).
    dropout_local, dropout_global, dropout_gcn : float, default 0.0, 0.5, 0.2
        Dropout on the session-level output, the global-level output and inside every
        global aggregation layer (code).
    activation : {"relu", "tanh"}, default "relu"
        Activation of the global aggregation layers (code: ``activate``).
    alpha : float, default 0.2
        Negative slope of the LeakyReLU of the session-level attention (code).
    lr, lr_dc, lr_dc_step, l2 : float, float, int, float, default 0.001, 0.1, 3, 1e-5
        Adam with ``weight_decay=l2``, the rate multiplied by ``lr_dc`` after every
        ``lr_dc_step`` epochs (the code steps its ``StepLR`` after each epoch).
    batch_size : int, default 100
    epochs : int, default 20
    valid_split, valid_fraction, keep, patience, valid_cutoff :
        As :class:`~sessrec_baselines.srgnn.SRGNN` (code's patience: 3).
    device : str, default "auto"
    random_state : int or None, default None
        Seeds the neighbour sampling, initialisation, dropout, batch order and validation split.

    Attributes
    ----------
    network_ : GCEGNNNetwork
    n_items_ : int
    neighbors_, neighbor_counts_ : list of ndarray
        Top ``n_neighbors`` global-graph neighbours of every item and their pair counts.
    history_ : list of dict
    best_epoch_ : int

    Notes
    -----
    **Deviations from that implementation** (CCIIPLab/GCE-GNN, commit
    212575302e42d64b8cf0b9ffe1b71b0db398d5be):

    1. Dropout on ``h_global`` is drawn per real node of the batch; the code draws it for every
       node slot of its padded ``(B, N_max, d)`` tensor. The kept values and their
       distribution are the same; only the random numbers consumed differ.
    2. Epoch selection: the code keeps the best *test* Recall@20 and MRR@20 separately, with
       patience on the test metrics; here only validation data choose (``keep``).
    3. Catalogue: the padding item is the embedding's *last* row (the code's first); the
       unused parameters of the code (``LocalAggregator.bias``, ``GlobalAggregator.bias``,
       ``linear_transform``) are omitted. Both only change which random numbers the
       initialisation draws.
    4. Batches: padded to the batch's longest prefix instead of the data set's; graphs of
       a batch are built together in torch, not one per session in a ``DataLoader`` with
       4 worker processes; the global aggregation runs on the real nodes only (the code
       also aggregates for every padding slot, whose results are never read). Prefixes longer
       than 200 clicks keep their last 200 (the code's position table has 200 rows and fails
       on longer ones).
    5. Neighbour sampling uses numpy's ``Generator.choice`` seeded from ``random_state``
       (the code: the global ``np.random.choice``), once per fit, as the code does once per run.

    References
    ----------
    .. [1] Ziyang Wang, Wei Wei, Gao Cong, Xiao-Li Li, Xian-Ling Mao, Minghui Qiu. "Global
       Context Enhanced Graph Neural Networks for Session-based Recommendation". SIGIR 2020.
    .. [2] Reference implementation: https://github.com/CCIIPLab/GCE-GNN

    Examples
    --------
    >>> from sessrec.data.sessions import PrefixBatch, Sessions
    >>> train = Sessions.from_lists([[0, 1, 2, 3], [1, 2, 3, 0]] * 20, n_items=4)
    >>> model = GCEGNN(hidden_size=8, epochs=2, device="cpu", random_state=0).fit(train)
    >>> model.score(PrefixBatch.from_lists([[0, 1], [2]])).shape
    torch.Size([2, 4])
    """

    tags: ClassVar[dict[str, Any]] = {"oracle": "sequence", "deterministic": False}
    paramfile_name: ClassVar[str] = "gcegnn"
    test_params: ClassVar[dict[str, Any]] = {
        "hidden_size": 16,
        "lr": 0.01,
        "epochs": 3,
        "batch_size": 64,
        "n_iter": 1,
        "n_neighbors": 4,
    }

    def __init__(
        self,
        *,
        hidden_size: int = 100,
        n_iter: int = 2,
        n_neighbors: int = 12,
        graph_hops: int = 3,
        dropout_local: float = 0.0,
        dropout_global: float = 0.5,
        dropout_gcn: float = 0.2,
        activation: Literal["relu", "tanh"] = "relu",
        alpha: float = 0.2,
        lr: float = 0.001,
        lr_dc: float = 0.1,
        lr_dc_step: int = 3,
        l2: float = 1e-5,
        batch_size: int = 100,
        epochs: int = 20,
        valid_split: Literal["time"] | None = None,
        valid_fraction: float = 0.1,
        keep: Literal["best", "last"] = "best",
        patience: int | None = 3,
        valid_cutoff: int = 20,
        device: str = "auto",
        random_state: int | None = None,
    ) -> None:
        self.hidden_size = hidden_size
        self.n_iter = n_iter
        self.n_neighbors = n_neighbors
        self.graph_hops = graph_hops
        self.dropout_local = dropout_local
        self.dropout_global = dropout_global
        self.dropout_gcn = dropout_gcn
        self.activation = activation
        self.alpha = alpha
        self.lr = lr
        self.lr_dc = lr_dc
        self.lr_dc_step = lr_dc_step
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
        ints = ("hidden_size", "n_iter", "n_neighbors", "graph_hops", "lr_dc_step", "batch_size", "epochs")
        for name in (*ints, "valid_cutoff"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"GCEGNN: {name} must be a positive integer, got {value!r}")
        for name in ("dropout_local", "dropout_global", "dropout_gcn"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"GCEGNN: {name} must lie in [0, 1), got {getattr(self, name)!r}")
        choices = {
            "activation": ("relu", "tanh"),
            "valid_split": ("time", None),
            "keep": ("best", "last"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"GCEGNN: {name}={getattr(self, name)!r} is not supported; choose one of {allowed}")
        if not (self.lr > 0 and self.lr_dc > 0 and self.l2 >= 0):
            raise ValueError(f"GCEGNN: need lr > 0, lr_dc > 0, l2 >= 0; got {self.lr}, {self.lr_dc}, {self.l2}")

    # ------------------------------------------------------------------ fit
    def fit(self, train: Sessions, *, valid: Sessions | None = None) -> Self:
        """Build the global graph from ``train``, then train; epochs chosen on validation only."""
        self._check_params()
        valid, train = carve_validation(train, valid, self.valid_split, self.valid_fraction, self.random_state)
        self.neighbors_, self.neighbor_counts_ = global_graph(train, self.graph_hops, self.n_neighbors)
        return super().fit(train, valid=None if self.keep == "last" else valid)

    # ------------------------------------------------------------------ TorchModel hooks
    def build_network(self, train: Sessions) -> nn.Module:
        rng = np.random.default_rng([seed_from(self.random_state), 2])
        table, weight = sample_neighbors(self.neighbors_, self.neighbor_counts_, self.n_neighbors, train.n_items, rng)
        return GCEGNNNetwork(
            train.n_items,
            self.hidden_size,
            self.n_iter,
            torch.from_numpy(table),
            torch.from_numpy(weight),
            self.dropout_local,
            self.dropout_global,
            self.dropout_gcn,
            self.activation,
            self.alpha,
            MAX_POSITION,
        )

    def build_optimizer(self, network: nn.Module) -> torch.optim.Optimizer:
        return torch.optim.Adam(network.parameters(), lr=self.lr, weight_decay=self.l2)

    def train_epoch(self, train: Sessions, optimizer: torch.optim.Optimizer, state: TrainingState) -> float:
        rng = state.rng
        net = cast(GCEGNNNetwork, self.network_)
        lr = step_lr(self.lr, self.lr_dc, self.lr_dc_step, len(self.history_), "paper")
        for group in optimizer.param_groups:
            group["lr"] = lr
        progress = EpochProgress(train.n_cases)
        for batch, targets in case_batches(train, self.batch_size, rng, self.device_):
            loss = F.cross_entropy(self._forward(net, batch), targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            progress.step(len(targets), float(loss.detach()))
        return progress.mean_loss

    def _forward(self, net: GCEGNNNetwork, batch: PrefixBatch) -> torch.Tensor:
        lengths = batch.lengths
        if batch.max_len > MAX_POSITION:  # keep the last MAX_POSITION clicks
            kept = lengths.clamp(max=MAX_POSITION)
            cols = (lengths - kept)[:, None] + torch.arange(MAX_POSITION, device=lengths.device)[None, :]
            batch = PrefixBatch(batch.items.gather(1, cols.clamp(max=batch.max_len - 1)), kept)
        graphs = session_graphs(batch.items, batch.lengths, net.n_items)
        return net.decode(net.session_representation(graphs))

    def network_scores(self, batch: PrefixBatch) -> torch.Tensor:
        return self._forward(cast(GCEGNNNetwork, self.network_), batch)
