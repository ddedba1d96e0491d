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
from sessrec.models import Interval, Options

from ._narm_batches import BatchSpec, prefix_batches, session_batches
from ._narm_network import NARMNetwork
from .common import mask_untrained, untrained_items

__all__ = ["NARM"]

try:  # Python 3.11+
    from typing import Self
except ImportError:  # pragma: no cover - Python 3.10
    from typing_extensions import Self

_CHOICES: dict[str, tuple[Any, ...]] = {
    "truncate": ("first", "last"),
    "attention_norm": ("softmax", "none"),
    "attention_activation": ("sigmoid", "hard_sigmoid"),
    "gru": ("torch", "authors"),
    "init": ("authors", "xavier"),
    "training": ("sessions", "prefixes"),
    "valid_split": ("random_cases", "time", None),
    "dropout_scaling": ("train", "test"),
}


@dataclass
class NARMTraining(TrainingState):
    """Per-fit state of :class:`NARM`: the loss mask over training cases (``None``: all) and the batching."""

    loss_cases: np.ndarray | None
    spec: BatchSpec


class NARM(TorchModel):
    """Neural Attentive Recommendation Machine (NARM), faithful to the paper and the authors' code.

    A GRU encodes the session prefix; the session representation concatenates the last
    hidden state (global encoder) with an attention-weighted sum of all hidden states (local
    encoder); a bilinear decoder tied to the item embeddings scores every item; training is
    softmax cross-entropy over the full catalogue with Adam, keeping the epoch with the best
    validation Recall@``valid_cutoff``.

    Parameters
    ----------
    embedding_dim : int, default 50
        Item embedding size ``d`` (paper and code: 50).
    hidden_size : int, default 100
        GRU hidden size ``H`` (paper and code: 100).
    lr : float, default 0.001
        Adam learning rate (paper and code).
    batch_size : int, default 512
        Training cases per mini-batch (paper and code). With ``training="sessions"`` whole
        sessions are packed until a batch holds about this many cases.
    emb_dropout : float, default 0.25
        Dropout between the embedding and the GRU (code).
    ct_dropout : float, default 0.5
        Dropout on ``c_t`` before the decoder (code).
    epochs : int, default 30
        Training epochs (paper and code).
    max_len : int, default 19
        Prefixes longer than this are truncated to ``max_len`` clicks (code: 19).
    truncate : {"first", "last"}, default "first"
        Which clicks of a long prefix are kept: the code keeps the *first* ``max_len``
        (``x[:maxlen]``); ``"last"`` keeps the most recent ones, which is what a user would
        expect of a recommender.
    attention_norm : {"none", "softmax"}, default "none"
        ``"none"``: raw scores weight the states, as the paper's equation (8) is written;
        ``"softmax"``: attention scores pass through a softmax masked to the prefix (code).
    attention_activation : {"sigmoid", "hard_sigmoid"}, default "sigmoid"
        ``sigma`` in ``v^T sigma(A1 h_t + A2 h_j)``: the paper names the logistic sigmoid;
        the code uses Theano's hard sigmoid ``clip(0.2 x + 0.5, 0, 1)``.
    gru : {"torch", "authors"}, default "torch"
        ``"torch"``: :class:`torch.nn.GRU` (logistic gates, reset gate applied after the
        recurrent matmul; fused and fast). ``"authors"``: the code's GRU (hard-sigmoid gates,
        reset gate applied to the previous state before the matmul), a per-step Python loop.
    init : {"xavier", "authors"}, default "xavier"
        Parameter initialisation (not fixed by the paper's equations). ``"xavier"``: RecBole
        1.2.1's NARM, ``xavier_normal_`` for E, A1, A2, v and B, torch's default uniform for
        the GRU weights, GRU biases 0. ``"authors"``: the code's ``init_weights`` (see
        Deviation 8).
    training : {"sessions", "prefixes"}, default "sessions"
        ``"sessions"``: one causal pass per session yields the loss of every case of the
        session (fast). ``"prefixes"``: every case is encoded on its own, as the code does.
    dropout_scaling : {"train", "test"}, default "train"
        ``"train"``: inverted dropout (:class:`torch.nn.Dropout`, kept units scaled by
        ``1 / (1 - p)`` in training, identity at test). ``"test"``: the code's
        ``dropout_layer``, a plain mask in training and ``x * (1 - p)`` at test.
    valid_split : {"random_cases", "time", None}, default None
        Validation data carved from ``train`` when ``fit`` gets no ``valid``, to keep the
        epoch with the best validation Recall@``valid_cutoff``.
        ``"random_cases"``: a random ``valid_fraction`` of the training *cases*, as the code
        does (those cases' prefixes still appear inside longer training cases, so it leaks;
        they stay as inputs and only leave the loss). ``"time"``: the ``valid_fraction`` of
        sessions that end last, removed from training (no leak). ``None`` (default): train
        on all cases for ``epochs`` epochs and keep the last, as the peers in the benchmark
        do: within 30 epochs NARM is still improving on DIGINETICA, so the held-out 10%
        costs more than the epoch choice gains (seed 0: Recall@20 0.571 with
        ``"random_cases"`` against 0.590 without; see ``tests/perf/narm_diginetica.py``).
    valid_fraction : float, default 0.1
        Fraction of cases (``"random_cases"``) or sessions (``"time"``) held out.
    patience : int or None, default None
        Stop after this many epochs without a better validation recall; ``None`` never stops
        early (the code's patience of 100 epochs never triggers within 30).
    valid_cutoff : int, default 20
        ``K`` of the validation Recall@K that picks the best epoch (code: 20).
    eval_batch_size : int, default 1024
        Cases per batch when scoring the internal validation split.
    device : str, default "auto"
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
    random_state : int or None, default None
        Seeds the validation split, initialisation, dropout and batch order.

    Attributes
    ----------
    network_ : torch.nn.Module
        The trained encoder-decoder (best validation epoch).
    n_items_ : int
        Catalogue size scores range over.
    history_ : list of dict
        Per epoch: loss, seconds and, with validation, ``valid_recall@K``.
    best_epoch_ : int
        0-based epoch whose parameters were kept.
    valid_cases_ : ndarray of int64
        With ``valid_split="random_cases"``: the held-out training case numbers (case order
        of ``train``); with ``"time"``: the positions of the held-out sessions. Empty otherwise.

    Notes
    -----
    **Deviations** from the paper and the authors' code (lijingsdu/sessionRec_NARM, ``NARM.py``
    and ``rsc2015_attention.py``):

    1. GRU cell: the default is :class:`torch.nn.GRU` (logistic gates, reset after the
       matmul) for speed; ``gru="authors"`` is the code's cell (hard-sigmoid gates, reset
       before the matmul). The paper does not specify the cell's variant.
    2. Training batches: the default ``training="sessions"`` computes every case of a session
       in one causal pass (the same representations and loss terms as encoding each prefix,
       so the objective is identical), with batches of whole sessions holding about
       ``batch_size`` cases; the cases of one session then share the embedding-dropout mask
       and the batch. ``training="prefixes"`` draws ``batch_size`` random cases per batch,
       as the code does.
    3. Dropout: the default ``dropout_scaling="train"`` is inverted (scaled by ``1/(1-p)`` in
       training, identity at test); the code scales by ``1-p`` at test time instead
       (``dropout_scaling="test"``). The two define the same function class, the weights
       after a dropout differing by the factor ``1-p``, but Adam's steps do not scale with
       the weights, so they learn differently: with the code's attention and initialisation,
       ``"test"`` reached Recall@20 0.5701 and 0.5722 (seeds 0, 1) against 0.5901 and 0.5939.
    4. Loss: ``F.cross_entropy`` (exact log-softmax); the code computes ``-log(softmax + 1e-8)``.
       The code's catalogue also holds the padding item 0 (never a target); ours does not.
    5. Adam: :class:`torch.optim.Adam`; the code's Adam additionally decays ``beta1`` by
       ``(1 - 1e-8)^t``, a change below 1e-6 over a full run.
    6. Best epoch: a strictly better validation recall replaces the kept epoch (the code also
       replaces on ties).
    7. ``[c_g ; c_l]`` order: the code concatenates ``[c_l ; c_g]``; B is learned, so the order
       is only a permutation of B's columns.
    8. Initialisation (not fixed by the paper's equations): the default ``init="xavier"``
       follows RecBole 1.2.1's ``recbole/model/sequential_recommender/narm.py``
       (``_init_weights``): every ``nn.Embedding`` and ``nn.Linear`` weight ``xavier_normal_``, i.e.
       N(0, 2 / (fan_in + fan_out)); its ``nn.GRU(..., bias=False)`` keeps torch's default
       U(-1/sqrt(H), 1/sqrt(H)); our GRU keeps its biases, initialised to 0.
       ``init="authors"`` follows the code (``init_weights`` in ``NARM.py``; see
       ``NARMNetwork._init_like_authors``): E N(0, 2/n_items), GRU input weights N(0, 2/d),
       recurrent weights one random orthogonal matrix per gate, A1, A2 N(0, 2/H), v N(0, 2),
       B N(0, 2/d), biases 0.
    9. Validation: the default ``valid_split=None`` trains on every training case and keeps
       the last epoch, like the peers of the benchmark; ``"random_cases"`` is the code's
       10% random hold-out with the best epoch by validation Recall@20 (see ``valid_split``).

    The paper's equations as written are the defaults ``attention_norm="none",
    attention_activation="sigmoid"`` (initialisation, GRU variant and truncation side are not
    part of its equations). The code's behaviour is reproduced, up to items 4-7, by
    ``attention_norm="softmax", attention_activation="hard_sigmoid", init="authors",
    gru="authors", training="prefixes", dropout_scaling="test", valid_split="random_cases"``
    with the defaults ``truncate="first"`` and ``max_len=19``.

    Why these defaults: on the DIGINETICA benchmark split of ``tests/perf/narm_diginetica.py``
    (3 seeds, 30 epochs, all training cases) the paper's attention with RecBole's
    initialisation (the defaults) gave Recall@20 0.6012 and MRR@20 0.2102; the code's
    attention and initialisation 0.5917 and 0.2113; the paper's attention with the code's
    initialisation 0.5925 and 0.2025; the code's attention with RecBole's initialisation
    0.5485 and 0.1781 (``tests/perf/narm_diginetica_results.md``). The choice holds without
    the test days: trained on the first 90% of the training sessions and evaluated on the
    last 10% (``--selection``), the defaults gave Recall@20 0.5338 against 0.5201 for the
    code's attention and initialisation. ``training="prefixes"`` with the defaults learned the
    same MRR@20 (0.2107) and a slightly lower Recall@20 (0.5942) than ``"sessions"``.

    Implementation: rows are grouped by length (````_narm_network.BUCKET_EDGES````) before the GRU and the
    attention, so short prefixes do not pay for the padding of the longest one; scores are
    the same as without grouping.

    References
    ----------
    .. [1] Jing Li, Pengjie Ren, Zhumin Chen, Zhaochun Ren, Tao Lian, Jun Ma. "Neural
       Attentive Session-based Recommendation". CIKM 2017. arXiv:1711.04725.
    .. [2] Reference implementation (Theano): https://github.com/lijingsdu/sessionRec_NARM

    Examples
    --------
    >>> from sessrec.data.sessions import PrefixBatch, Sessions
    >>> train = Sessions.from_lists([[0, 1, 2, 3], [1, 2, 3, 0]] * 20, n_items=4)
    >>> model = NARM(embedding_dim=8, hidden_size=8, epochs=2, device="cpu", random_state=0).fit(train)
    >>> model.score(PrefixBatch.from_lists([[0, 1], [2]])).shape
    torch.Size([2, 4])
    """

    tags: ClassVar[dict[str, Any]] = {"oracle": "sequence", "deterministic": False}
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
        **{name: [Options(str, {c for c in choices if c is not None})] for name, choices in _CHOICES.items()},
        "valid_split": [Options(str, {"random_cases", "time"}), None],
        **{
            name: [Interval(int, 1, None)]
            for name in ("embedding_dim", "hidden_size", "batch_size", "epochs", "max_len", "valid_cutoff")
        },
        "eval_batch_size": [Interval(int, 1, None)],
        "lr": [Interval(float, 0, None, closed="neither")],
        "emb_dropout": [Interval(float, 0, 1, closed="left")],
        "ct_dropout": [Interval(float, 0, 1, closed="left")],
        "valid_fraction": [Interval(float, 0, 1, closed="neither")],
        "patience": [Interval(int, 1, None), None],
        "device": [str],
        "random_state": [Interval(int, 0, None), None],
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

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        for name, choices in _CHOICES.items():
            value = getattr(self, name)
            if value not in choices:
                raise ValueError(f"NARM: {name}={value!r} is not supported; choose one of {list(choices)}")
        for name in ("embedding_dim", "hidden_size", "batch_size", "epochs", "max_len", "valid_cutoff"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"NARM: {name} must be a positive integer, got {value!r}")
        for name in ("emb_dropout", "ct_dropout"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ValueError(f"NARM: {name} must lie in [0, 1), got {value!r}")
        if self.valid_split is not None and not 0.0 < self.valid_fraction < 1.0:
            raise ValueError(
                f"NARM: valid_fraction must lie in (0, 1) when valid_split={self.valid_split!r}, "
                f"got {self.valid_fraction!r}; use valid_split=None to train without validation"
            )

    # ------------------------------------------------------------------ fit
    def fit(self, train: Sessions, *, valid: Sessions | ValidationCases | None = None) -> Self:
        """Train on ``train``; pick the best epoch on ``valid`` or on a split carved from ``train``.

        Overrides :meth:`TorchModel.fit` only to carve the validation split
        (``valid_split``) before the epoch loop of the base class runs: the held-out
        ``"random_cases"`` stay in ``train`` as inputs but are excluded from the loss; the
        held-out ``"time"`` sessions are removed from ``train``. A ``valid`` given here wins.
        """
        self._check_params()
        self.valid_cases_ = np.zeros(0, dtype=np.int64)
        if valid is None and self.valid_split is not None and train.n_cases > 1:
            train, valid = self._carve_validation(train)
        return super().fit(train, valid=valid)

    def _carve_validation(self, train: Sessions) -> tuple[Sessions, ValidationCases]:
        """(training sessions, held-out cases) of ``valid_split``; sets ``valid_cases_``."""
        split_rng = np.random.default_rng([seed_from(self.random_state), 1])
        fit_train = train
        if self.valid_split == "random_cases":
            n_valid = max(1, round(train.n_cases * self.valid_fraction))
            self.valid_cases_ = np.sort(split_rng.permutation(train.n_cases)[:n_valid])
            held_out = ValidationCases(train, self.valid_cases_)
        else:
            early, late = train.split_by_end_time(self.valid_fraction)
            self.valid_cases_ = late.astype(np.int64)
            fit_train = train.select(early)
            late_sessions = train.select(late)
            held_out = ValidationCases(late_sessions, np.arange(late_sessions.n_cases))
        if fit_train.n_cases == 0:
            raise ValueError(
                f"NARM: valid_split={self.valid_split!r} left no training case; use more data or valid_split=None"
            )
        return fit_train, held_out

    def validation_score(self, valid: Sessions | ValidationCases) -> float:
        """Validation Recall@``valid_cutoff`` (conservative ties), scored ``eval_batch_size`` cases at a time."""
        if isinstance(valid, ValidationCases):
            return valid.recall(self, self.valid_cutoff, batch_size=self.eval_batch_size)
        return super().validation_score(valid)

    # ------------------------------------------------------------------ TorchModel hooks
    def build_network(self, train: Sessions) -> nn.Module:
        self.untrained_items_ = untrained_items(train)
        return NARMNetwork(
            train.n_items,
            self.embedding_dim,
            self.hidden_size,
            self.emb_dropout,
            self.ct_dropout,
            self.gru,
            self.attention_activation,
            self.attention_norm,
            self.init,
            self.dropout_scaling,
        )

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
        total, count = 0.0, 0
        make = session_batches if self.training == "sessions" else prefix_batches
        for reps_fn, targets in make(train, state.loss_cases, state.spec, state.rng):
            logits = mask_untrained(net.decode(reps_fn(net)), self.untrained_items_)
            loss = F.cross_entropy(logits, targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(targets)
            count += len(targets)
        return total / max(count, 1)

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
        """Scores after every prefix of whole sessions, in one causal pass.

        Parameters
        ----------
        batch : PrefixBatch
            Whole sessions (or any sequences), right-padded, shape (B, L).

        Returns
        -------
        Tensor of shape (sum(batch.lengths), n_items)
            Row for ``(b, t)``, ``t < lengths[b]``, in row-major order: the scores
            :meth:`score` gives the prefix ``batch.items[b, :t+1]``, truncation included.
            With ``truncate="first"`` a prefix longer than ``max_len`` is its first
            ``max_len`` clicks, i.e. the representation at position ``max_len - 1``;
            with ``truncate="last"`` such a prefix is a window the causal pass cannot give,
            so those rows are encoded one window each.
        """
        net = cast(NARMNetwork, self.network_)
        lengths = batch.lengths
        dev = lengths.device
        n_rows = int(lengths.sum())
        b = torch.repeat_interleave(torch.arange(len(lengths), device=dev), lengths)
        t = torch.arange(n_rows, device=dev) - torch.repeat_interleave(torch.cumsum(lengths, 0) - lengths, lengths)
        width = min(batch.max_len, self.max_len)
        kept = lengths.clamp(max=self.max_len)
        states = net.encode_sessions(batch.items[:, :width], kept)  # (sum(kept), 2H)
        first_row = torch.cumsum(kept, 0) - kept
        reps = states[first_row[b] + t.clamp(max=self.max_len - 1)]
        if self.truncate == "last":
            long = t >= self.max_len
            if bool(long.any()):
                lb, lt = b[long], t[long]
                cols = (lt - self.max_len + 1)[:, None] + torch.arange(self.max_len, device=dev)[None, :]
                windows = batch.items[lb[:, None], cols]
                full = torch.full((len(lb),), self.max_len, dtype=torch.long, device=dev)
                reps[long] = net.encode_prefixes(windows, full)
        return mask_untrained(net.decode(reps), self.untrained_items_)
