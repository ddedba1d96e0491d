"""NARM: Neural Attentive Session-based Recommendation (Li et al., CIKM 2017).

The estimator :class:`NARM` holds hyperparameters, the validation split and the training
loop; the network (equations in its module docstring) is
:class:`~sessrec_baselines._narm_network.NARMNetwork` and the training batches (random
prefixes, or whole sessions in one causal pass) live in :mod:`sessrec_baselines._narm_batches`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sessrec import PrefixBatch, Sessions, TorchModel, TrainingState, ValidationCases, seed_from
from sessrec.models import Interval, Options, validate_params
from sessrec.progress import EpochProgress, emit

from ._narm_batches import BatchSpec, carve_validation, prefix_batches, session_batches
from ._narm_network import NARMNetwork
from .common import (
    TRAINING_CONSTRAINTS,
    ParamFileSets,
    mask_untrained,
    read_paramfile,
    session_positions,
    untrained_items,
    window_rows,
)

__all__ = ["NARM"]

try:  # Python 3.11+
    from typing import Self
except ImportError:  # pragma: no cover - Python 3.10
    from typing_extensions import Self


#: Below this many epochs :meth:`NARM.fit` warns (progress event ``"note"``) of the slow start.
SLOW_START_EPOCHS = 10
SLOW_START = (
    "NARM learns slowly in its first epochs (DIGINETICA 1-day: Recall@20 of a few percent after 2-3 "
    "epochs, about 0.60 after 30); train the paper's 30 epochs before comparing it"
)


@dataclass
class NARMTraining(TrainingState):
    """Per-fit state of :class:`NARM`: the loss mask over training cases (``None``: all) and the batching."""

    loss_cases: np.ndarray | None
    spec: BatchSpec


class NARM(ParamFileSets, TorchModel):
    """Neural Attentive Recommendation Machine (NARM), with named presets for the authors' code and RecBole.

    A GRU encodes the session prefix; the session representation concatenates the last
    hidden state (global encoder) with an attention-weighted sum of all hidden states (local
    encoder); a bilinear decoder tied to the item embeddings scores every item; training is
    softmax cross-entropy over the catalogue with Adam. Equations: :mod:`sessrec_baselines._narm_network`.

    **Presets** (``-p narm=NAME``, :meth:`from_paramfile`; files ``paramfiles/narm/*.toml`` with
    their provenance): ``authors`` reproduces the authors' Theano code (``attention_norm="softmax",
    attention_activation="hard_sigmoid", init="authors", gru="authors", training="prefixes",
    dropout_scaling="test", valid_split="random_cases"``); ``recbole`` is RecBole 1.2.1's
    formulation (no softmax, logistic sigmoid, ``xavier``, torch GRU, inverted dropout, no
    hold-out) at the paper's sizes and training settings. **The defaults are the ``recbole``
    preset**, chosen on a validation split and not on test days: trained on the 90% of the
    DIGINETICA training sessions that end first and evaluated on the 10% that end last
    (``tests/perf/narm_diginetica.py --selection``, 3 seeds), it scored a higher Recall@20
    than ``authors`` (figures in ``tests/perf/narm_diginetica_results.md``). Published numbers
    (the paper's Table 3) are the setup of ``authors`` only.

    **Slow start.** In its first epochs NARM is far below its final accuracy (DIGINETICA
    1-day: Recall@20 of a few percent after 2-3 epochs, about 0.60 after 30): the softmax
    over thousands of items starts from near-zero logits (every weight of the bilinear decoder
    is small at initialisation) and Adam's lr 0.001 takes only ~66 steps per epoch there. Train
    the full 30 epochs; :meth:`fit` says so (progress event ``"note"``, printed by the CLI)
    when asked for fewer than ``SLOW_START_EPOCHS`` (10) epochs.

    Parameters
    ----------
    embedding_dim, hidden_size : int, default 50, 100
        Item embedding size ``d`` and GRU hidden size ``H`` (paper and code).
    lr : float, default 0.001
        Adam learning rate (paper and code).
    batch_size : int, default 512
        Training cases per mini-batch (paper and code); with ``training="sessions"`` whole
        sessions are packed until a batch holds about this many cases.
    emb_dropout, ct_dropout : float, default 0.25, 0.5
        Dropout between the embedding and the GRU, and on ``c_t`` before the decoder (code).
    epochs : int, default 30
        Training epochs (paper and code).
    max_len : int, default 19
        Prefixes longer than this are truncated to ``max_len`` clicks (code: 19).
    truncate : {"first", "last"}, default "first"
        Which clicks of a long prefix are kept: the code keeps the *first* ``max_len``.
    attention_norm : {"none", "softmax"}, default "none"
        ``"none"``: raw scores weight the states, as the paper's equation (8) is written;
        ``"softmax"``: a softmax masked to the prefix (code).
    attention_activation : {"sigmoid", "hard_sigmoid"}, default "sigmoid"
        ``sigma`` in ``v^T sigma(A1 h_t + A2 h_j)``: the paper names the sigmoid as an example;
        the code uses Theano's hard sigmoid ``clip(0.2 x + 0.5, 0, 1)``.
    gru : {"torch", "authors"}, default "torch"
        ``"torch"``: :class:`torch.nn.GRU` (logistic gates, reset gate applied *after* the
        recurrent matmul; fused and fast). ``"authors"``: the cell of the paper's equations and
        the code (reset gate applied to the previous state *before* the recurrent matmul, as in
        Cho et al.'s GRU; hard-sigmoid gates in the code), a per-step Python loop.
    init : {"xavier", "authors"}, default "xavier"
        ``"xavier"``: RecBole's ``xavier_normal_`` for E, A1, A2, v, B, torch's uniform for the
        GRU, GRU biases 0. ``"authors"``: the code's ``init_weights`` (Deviation 5).
    training : {"sessions", "prefixes"}, default "sessions"
        ``"sessions"``: one causal pass per session gives the loss of all its cases (same
        objective, faster). ``"prefixes"``: random cases, each encoded on its own (code).
    dropout_scaling : {"train", "test"}, default "train"
        ``"train"``: inverted dropout (:class:`torch.nn.Dropout`). ``"test"``: the code's plain
        mask in training and ``x * (1 - p)`` at test.
    valid_split : {"random_cases", "time", None}, default None
        Validation data carved from ``train`` when ``fit`` gets no ``valid``; the best epoch by
        validation Recall@``valid_cutoff`` is kept. ``"random_cases"``: a random
        ``valid_fraction`` of the training cases, as the code does (they stay as inputs of
        longer prefixes and only leave the loss). ``"time"``: the sessions that end last,
        removed from training. ``None``: every case trains, the last epoch is kept.
    valid_fraction : float, default 0.1
        Fraction of cases (``"random_cases"``) or sessions (``"time"``) held out.
    patience : int or None, default None
        Stop after this many epochs without a better validation recall (``None``: never).
    valid_cutoff : int, default 20
        ``K`` of the validation Recall@K (code: 20).
    eval_batch_size : int, default 1024
        Cases per batch when scoring carved validation cases.
    device : str, default "auto"
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
    random_state : int or None, default None
        Seeds the validation split, initialisation, dropout and batch order.

    Attributes
    ----------
    network_ : NARMNetwork
        The trained encoder-decoder (best validation epoch).
    n_items_ : int
    untrained_items_ : ndarray of int64
        Items without a training click: left out of the softmax in training and scored ``-inf``
        (the code's item index holds training items only).
    history_ : list of dict
        Per epoch: loss, seconds and, with validation, ``valid_recall@K``.
    best_epoch_ : int
        0-based epoch whose parameters were kept.
    valid_cases_ : ndarray of int64
        ``"random_cases"``: held-out case numbers; ``"time"``: held-out session positions.

    Notes
    -----
    **Deviations** from the authors' code (lijingsdu/sessionRec_NARM, ``NARM.py``), with the
    ``authors`` preset:

    1. Loss: exact log-softmax; the code computes ``-log(softmax + 1e-8)`` and its catalogue
       holds the padding item 0.
    2. Adam: :class:`torch.optim.Adam`; the code also decays ``beta1`` by ``(1 - 1e-8)^t``.
    3. Best epoch: a strictly better validation recall replaces the kept one (code: ties too).
    4. ``[c_g ; c_l]`` order: the code concatenates ``[c_l ; c_g]`` (a permutation of B's columns).
    5. Initialisation ``"authors"``: E N(0, 2/n_items), GRU input weights N(0, 2/d), one random
       orthogonal matrix per recurrent gate block, A1, A2 N(0, 2/H), v N(0, 2), B N(0, 2/d), biases 0.

    With ``recbole``: the sizes and training settings are the paper's (RecBole's ``NARM.yaml``:
    embedding 64, hidden 128, batch 2048, last 50 clicks), and our GRU keeps biases
    (RecBole: ``bias=False``), initialised to 0.

    References
    ----------
    .. [1] Jing Li, Pengjie Ren, Zhumin Chen, Zhaochun Ren, Tao Lian, Jun Ma. "Neural
       Attentive Session-based Recommendation". CIKM 2017. arXiv:1711.04725.
    .. [2] Authors' code (Theano): https://github.com/lijingsdu/sessionRec_NARM
    .. [3] RecBole 1.2.1, ``recbole/model/sequential_recommender/narm.py``.

    Examples
    --------
    >>> from sessrec import PrefixBatch, Sessions
    >>> train = Sessions.from_lists([[0, 1, 2, 3], [1, 2, 3, 0]] * 20, n_items=4)
    >>> model = NARM(embedding_dim=8, hidden_size=8, epochs=2, device="cpu", random_state=0).fit(train)
    >>> model.score(PrefixBatch.from_lists([[0, 1], [2]])).shape
    torch.Size([2, 4])
    >>> NARM.from_paramfile("authors").gru
    'authors'
    """

    tags: ClassVar[dict[str, Any]] = {"oracle": "sequence", "deterministic": False}
    paramfile_name: ClassVar[str] = "narm"
    test_params: ClassVar[dict[str, Any]] = {
        "embedding_dim": 16,
        "hidden_size": 16,
        "batch_size": 128,
        "lr": 0.01,
        "epochs": 3,
        "emb_dropout": 0.0,
        "ct_dropout": 0.0,
        "valid_split": None,
    }
    parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **{name: [Interval(int, 1, None)] for name in ("embedding_dim", "hidden_size", "max_len")},
        "eval_batch_size": [Interval(int, 1, None)],
        "lr": [Interval(float, 0, None, closed="neither")],
        "emb_dropout": [Interval(float, 0, 1, closed="left")],
        "ct_dropout": [Interval(float, 0, 1, closed="left")],
        "truncate": [Options(str, {"first", "last"})],
        "attention_norm": [Options(str, {"softmax", "none"})],
        "attention_activation": [Options(str, {"sigmoid", "hard_sigmoid"})],
        "gru": [Options(str, {"torch", "authors"})],
        "init": [Options(str, {"authors", "xavier"})],
        "training": [Options(str, {"sessions", "prefixes"})],
        "dropout_scaling": [Options(str, {"train", "test"})],
        "valid_split": [Options(str, {"random_cases", "time"}), None],
        "valid_fraction": [Interval(float, 0, 1, closed="neither")],
        **TRAINING_CONSTRAINTS,
    }

    def __init__(
        self,
        *,
        embedding_dim: int = 50,
        hidden_size: int = 100,
        lr: float = 0.001,
        batch_size: int = 512,
        emb_dropout: float = 0.25,
        ct_dropout: float = 0.5,
        epochs: int = 30,
        max_len: int = 19,
        truncate: Literal["first", "last"] = "first",
        attention_norm: Literal["softmax", "none"] = "none",
        attention_activation: Literal["hard_sigmoid", "sigmoid"] = "sigmoid",
        gru: Literal["torch", "authors"] = "torch",
        init: Literal["authors", "xavier"] = "xavier",
        training: Literal["sessions", "prefixes"] = "sessions",
        dropout_scaling: Literal["train", "test"] = "train",
        valid_split: Literal["random_cases", "time"] | None = None,
        valid_fraction: float = 0.1,
        patience: int | None = None,
        valid_cutoff: int = 20,
        eval_batch_size: int = 1024,
        device: str = "auto",
        random_state: int | None = None,
    ) -> None:
        self.embedding_dim = embedding_dim
        self.hidden_size = hidden_size
        self.lr = lr
        self.batch_size = batch_size
        self.emb_dropout = emb_dropout
        self.ct_dropout = ct_dropout
        self.epochs = epochs
        self.max_len = max_len
        self.truncate = truncate
        self.attention_norm = attention_norm
        self.attention_activation = attention_activation
        self.gru = gru
        self.init = init
        self.training = training
        self.dropout_scaling = dropout_scaling
        self.valid_split = valid_split
        self.valid_fraction = valid_fraction
        self.patience = patience
        self.valid_cutoff = valid_cutoff
        self.eval_batch_size = eval_batch_size
        self.device = device
        self.random_state = random_state

    # ------------------------------------------------------------------ presets
    @classmethod
    def param_set_info(cls, name: str) -> dict[str, Any]:
        """Provenance of preset ``name``: ``reproduces``, ``same_setup_as_published``, sources."""
        return read_paramfile("narm", name)["provenance"]

    @classmethod
    def from_paramfile(cls, name: str, **overrides: Any) -> Self:
        """A model with preset ``name`` (``"authors"`` or ``"recbole"``), ``overrides`` applied."""
        return cls(**{**cls.named_params(name), **overrides})

    # ------------------------------------------------------------------ fit
    def fit(self, train: Sessions, *, valid: Sessions | ValidationCases | None = None) -> Self:
        """Train on ``train``; pick the best epoch on ``valid`` or on a split carved from ``train``.

        Overrides :meth:`TorchModel.fit` only to carve the validation split
        (``valid_split``) before the epoch loop of the base class runs: the held-out
        ``"random_cases"`` stay in ``train`` as inputs but are excluded from the loss; the
        held-out ``"time"`` sessions are removed from ``train``. A ``valid`` given here wins.
        """
        validate_params(type(self), self.get_params(), model_name="NARM")
        if self.epochs < SLOW_START_EPOCHS:
            emit("note", model="NARM", text=SLOW_START)
        self.valid_cases_ = np.zeros(0, dtype=np.int64)
        if valid is None and self.valid_split is not None and train.n_cases > 1:
            split = carve_validation(train, self.valid_split, self.valid_fraction, seed_from(self.random_state))
            train, valid, self.valid_cases_ = split
        return super().fit(train, valid=valid)

    def validation_score(self, valid: Sessions | ValidationCases) -> float:
        """Validation Recall@``valid_cutoff`` (conservative ties), scored ``eval_batch_size`` cases at a time."""
        if isinstance(valid, ValidationCases):
            return valid.recall(self, self.valid_cutoff, batch_size=self.eval_batch_size)
        return super().validation_score(valid)

    # ------------------------------------------------------------------ TorchModel hooks
    def build_network(self, train: Sessions) -> nn.Module:
        self.untrained_items_ = untrained_items(train)
        sizes = (train.n_items, self.embedding_dim, self.hidden_size, self.emb_dropout, self.ct_dropout)
        kinds = (self.gru, self.attention_activation, self.attention_norm, self.init, self.dropout_scaling)
        return NARMNetwork(*sizes, *kinds)

    def build_optimizer(self, network: nn.Module) -> torch.optim.Optimizer:
        return torch.optim.Adam(network.parameters(), lr=self.lr)

    def init_training(self, train: Sessions, rng: np.random.Generator, generator: torch.Generator) -> NARMTraining:
        """The batching settings and the loss mask (held-out ``random_cases`` leave the loss)."""
        loss_cases = None
        if self.valid_split == "random_cases" and len(self.valid_cases_):
            loss_cases = np.ones(train.n_cases, dtype=bool)
            loss_cases[self.valid_cases_] = False
        spec = BatchSpec(int(self.batch_size), int(self.max_len), self.truncate, self.device_)
        return NARMTraining(rng, generator, loss_cases, spec)

    def train_epoch(self, train: Sessions, optimizer: torch.optim.Optimizer, state: NARMTraining) -> float:
        net = cast(NARMNetwork, self.network_)
        make = session_batches if self.training == "sessions" else prefix_batches
        n_cases = train.n_cases if state.loss_cases is None else int(state.loss_cases.sum())
        progress = EpochProgress(n_cases)
        for reps_fn, targets in make(train, state.loss_cases, state.spec, state.rng):
            logits = mask_untrained(net.decode(reps_fn(net)), self.untrained_items_)
            loss = F.cross_entropy(logits, targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            progress.step(len(targets), float(loss.detach()))
        return progress.mean_loss

    # ------------------------------------------------------------------ scoring
    def network_scores(self, batch: PrefixBatch) -> torch.Tensor:
        net = cast(NARMNetwork, self.network_)
        lengths = batch.lengths
        kept = lengths.clamp(max=self.max_len)
        width = min(batch.max_len, self.max_len)
        if self.truncate == "first":
            items = batch.items[:, :width]
        else:
            cols = (lengths - kept)[:, None] + torch.arange(width, device=lengths.device)[None, :]
            items = batch.items.gather(1, cols.clamp(max=batch.max_len - 1))
        return mask_untrained(net.decode(net.encode_prefixes(items, kept)), self.untrained_items_)

    def network_session_scores(self, batch: PrefixBatch) -> torch.Tensor:
        """Scores after every prefix of whole sessions (the ``TorchModel`` fast path), in one causal pass.

        Shapes as :class:`~sessrec.models.base.TorchModel` says: (B, L) right-padded sessions in,
        (sum(lengths), n_items) out, row ``(b, t)`` what :meth:`score` gives the prefix
        ``batch.items[b, :t+1]``, truncation included. With ``truncate="first"`` a prefix
        longer than ``max_len`` is its first ``max_len`` clicks, i.e. the representation at
        position ``max_len - 1``; with ``truncate="last"`` such a prefix is a window the
        causal pass cannot give, so those rows are encoded one window each.
        """
        net = cast(NARMNetwork, self.network_)
        lengths = batch.lengths
        b, t = session_positions(lengths)
        width = min(batch.max_len, self.max_len)
        kept = lengths.clamp(max=self.max_len)
        states = net.encode_sessions(batch.items[:, :width], kept)  # (sum(kept), 2H)
        first_row = torch.cumsum(kept, 0) - kept
        reps = states[first_row[b] + t.clamp(max=self.max_len - 1)]
        if self.truncate == "last":
            long = t >= self.max_len
            if bool(long.any()):
                reps[long] = net.encode_prefixes(*window_rows(batch.items, b[long], t[long], self.max_len))
        return mask_untrained(net.decode(reps), self.untrained_items_)
