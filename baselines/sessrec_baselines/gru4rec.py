"""GRU4Rec (Hidasi et al., ICLR 2016; Hidasi & Karatzoglou, CIKM 2018), faithful to the official code.

The estimator :class:`GRU4Rec` holds hyperparameters and the training loop; the network is
:class:`~sessrec_baselines._gru4rec_network.GRU4RecNetwork`, the optimizer
:class:`~sessrec_baselines._gru4rec_optim.AdagradM`, the session-parallel mini-batches and the
negative-sample cache live in :mod:`sessrec_baselines._gru4rec_batches` and the losses in
:mod:`sessrec_baselines._gru4rec_losses`.

Tuned parameters of the official README are shipped as data (``paramfiles/gru4rec/*.toml``,
each with its provenance): :func:`paramfile_names`, :func:`load_paramfile`,
:meth:`GRU4Rec.from_paramfile`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from sessrec import PrefixBatch, Sessions, TorchModel, TrainingState, ValidationCases
from sessrec.models import Interval, Options
from sessrec.progress import EpochProgress

from . import common
from ._gru4rec_batches import SampleCache, SessionParallelPlan, build_plan
from ._gru4rec_losses import bpr_max_loss, cross_entropy_loss, top1_max_loss
from ._gru4rec_network import GRU4RecNetwork
from ._gru4rec_optim import AdagradM
from .common import TRAINING_CONSTRAINTS, ParamFileSets, mask_untrained, untrained_items

if sys.version_info >= (3, 11):
    pass
else:  # pragma: no cover - Python 3.10
    pass

try:  # Python 3.11+
    from typing import Self
except ImportError:  # pragma: no cover - Python 3.10
    from typing_extensions import Self

__all__ = ["GRU4Rec", "load_paramfile", "paramfile_names"]

LOSSES = ("cross-entropy", "bpr-max", "top1-max")


def paramfile_names() -> list[str]:
    """Names of the shipped GRU4Rec parameter files, e.g. ``"diginetica-bprmax"``.

    Examples
    --------
    >>> "diginetica-bprmax" in paramfile_names()
    True
    """
    return common.paramfile_names("gru4rec")


def load_paramfile(name: str) -> dict[str, Any]:
    """The parameter file ``name`` as ``{"params": {...}, "provenance": {...}}``.

    ``params`` holds :class:`GRU4Rec` keyword arguments (``layers`` as a tuple); ``provenance``
    says where the values come from (repository, file, commit, README table).
    """
    data = common.read_paramfile("gru4rec", name)
    if "layers" in data["params"]:
        data["params"]["layers"] = tuple(data["params"]["layers"])
    return data


@dataclass
class GRU4RecTraining(TrainingState):
    """Per-fit state of :class:`GRU4Rec`: the session-parallel plan, its device copies, negatives, log-popularity."""

    plan: SessionParallelPlan
    tensors: dict[str, Any]
    cache: SampleCache | None
    log_pop: torch.Tensor | None


class GRU4Rec(ParamFileSets, TorchModel):
    """GRU4Rec: a GRU over the session's clicks, trained with session-parallel mini-batches.

    Parameters
    ----------
    layers : tuple of int
        Hidden sizes of the stacked GRU layers (official ``layers``, default ``(100,)``).
    loss : {"cross-entropy", "bpr-max", "top1-max"}
        ``cross-entropy`` over a softmax of the sampled scores (optionally logQ-corrected),
        ``bpr-max`` with score regularisation ``bpreg`` and optional ELU final activation,
        ``top1-max`` (CIKM 2018; not in the official PyTorch release).
    batch_size : int
        Number of sessions trained in parallel.
    dropout_p_embed, dropout_p_hidden : float
        Dropout on the input embedding and on each GRU layer's output (carried state included).
    learning_rate, momentum : float
        Adagrad learning rate and (classical) momentum; item-indexed matrices are updated on the
        touched rows only.
    sample_alpha : float
        Negatives are drawn ∝ ``count ** sample_alpha`` (training clicks per item).
    n_sample : int
        Extra negatives shared by the whole mini-batch (``0``: in-batch negatives only).
    embedding : int or "layersize"
        Input embedding size when ``constrained_embedding`` is False (``0``: one-hot input,
        ``"layersize"``: the first layer's size).
    constrained_embedding : bool
        Shared embedding: the input embedding is the output item matrix (overrides ``embedding``).
    bpreg : float
        Score regularisation weight of BPR-max.
    elu_param : float
        ELU parameter of the final activation for BPR-max/TOP1-max (``0``: linear).
    logq : float
        Weight of the logQ correction of cross-entropy (``0``: none).
    epochs : int
        Training epochs (official ``n_epochs``).
    sample_cache_max_size : int
        Item indices drawn per refill of the negative-sample cache.
    patience, valid_cutoff : int or None, int
        Early stopping on a validation split, if one is given to :meth:`fit` (see TorchModel).
    device : str
        ``"auto"`` (CUDA if available), ``"cpu"``, ``"cuda"``, ...
    random_state : int or None
        Seed of the initialisation, dropout and negative samples.

    Attributes
    ----------
    network_ : GRU4RecNetwork
    n_items_ : int
    untrained_items_ : ndarray of int64
        Items without a training click, scored ``-inf``.
    history_ : list of dict
        Per epoch: mean step loss, seconds, and the validation metric if any.

    Notes
    -----
    Training (per epoch, sessions in the order of the ``Sessions`` given to :meth:`fit`; see
    Deviation 6):
    ``batch_size`` slots each hold one session; every step feeds each slot's current item and
    scores the batch's targets plus ``n_sample`` shared negatives; a slot whose session ends
    takes the next session and its hidden state is zeroed; no BPTT. The loss of a step is
    summed over rows and divided by ``batch_size``.

    Scoring: :meth:`score` runs the GRU over every prefix from a zero state and scores all
    items with ``h @ Wy.T + By`` (the raw output; ELU is monotone and does not change ranks).
    :meth:`score_sessions` carries the state along whole sessions in one pass.

    Items without a training click (possible under ``yoochoose-1-64``/``yoochoose-1-4``, whose
    catalogue is the full split's, and with ``--valid-days``) score ``-inf`` and are never
    sampled as negatives: the official code builds its item index from the training data and
    never ranks them (``untrained_items_``).

    Accuracy and speed against the official implementation, run side by side on the same
    data: the DIGINETICA slice of ``/work/shared/data`` under sessrec's ``narm`` protocol with
    1 test day (``tests/perf/gru4rec_diginetica_results.md``; *not* the official Diginetica
    split, whose published Recall@20 0.4995 / MRR@20 0.1542 has not been reproduced here).
    With the official Diginetica BPR-max parameters, Recall@20 0.6154 and MRR@20 0.1930 over
    3 seeds against the official code's 0.6153 and 0.1938 on that slice;
    trained side by side with the official code on one 2-core machine
    (``tests/perf/gru4rec_vs_official.py``), 0.855x its seconds per epoch with 2 threads and
    0.923x with 1 thread (medians of 5 and 3 rounds).

    Deviations from the official implementation (hidasib/GRU4Rec_PyTorch_Official):

    1. Initial weights are drawn from ``random_state``; the official ``compatibility_mode``
       re-seeds NumPy's global generator with 42 (same init on every run). Same distribution:
       U(±sqrt(6/(fan_in+fan_out))) per gate block, zero biases.
    2. Item-indexed matrices are gathered as dense leaf copies of their unique touched rows and
       handed to the optimizer as an already coalesced sparse gradient, instead of
       ``nn.Embedding(sparse=True)`` plus ``coalesce``: the same update, less overhead.
    3. The logQ correction of cross-entropy uses the true number of active rows at the end of
       an epoch, where the official code keeps slicing at the configured ``batch_size``.
    4. Cross-entropy uses ``log_softmax`` instead of ``log(softmax + 1e-24)`` (identical unless a
       probability falls below ~1e-20).
    5. Sessions shorter than 2 clicks are skipped (they hold no next-item event); the official
       preprocessing removes them beforehand.
    6. Sessions are taken in the order of the ``Sessions`` given to ``fit``; the official code
       argsorts by each session's first timestamp. The ``gru4rec``, ``gru4rec-rsc15`` and
       ``window`` protocols list sessions by start time (the same order); ``narm`` lists them by
       session *date* (day resolution on DIGINETICA, file order within a day).
    7. ``top1-max`` is offered in addition (it is in the Theano original, not in the PyTorch port).
    8. The negative-sample cache draws its uniforms from a generator seeded from ``random_state``
       (float64 inverse CDF on the CPU, then moved to the device); the official one draws float32
       uniforms with the global torch generator on the device. Same distribution.

    References
    ----------
    .. [1] B. Hidasi, A. Karatzoglou, L. Baltrunas, D. Tikk. "Session-based Recommendations with
       Recurrent Neural Networks". ICLR 2016. arXiv:1511.06939.
    .. [2] B. Hidasi, A. Karatzoglou. "Recurrent Neural Networks with Top-k Gains for
       Session-based Recommendations". CIKM 2018. arXiv:1706.03847.
    .. [3] B. Hidasi, Á. Czapp. "The Effect of Third Party Implementations on Reproducibility".
       RecSys 2023. arXiv:2307.14956.
    .. [4] hidasib/GRU4Rec_PyTorch_Official, ``gru4rec_pytorch.py`` and ``evaluation.py`` at commit
       bf9179a8fb976ef49801f3dec168fc513366fe4a (also read at 4e7d23674cc3f1ea2fdee78246de11fbf6d47087,
       which differs only in the one-hot layer), ``paramfiles/*.py``, README at
       d1fc31105577665d2f105de1c8d9a38d223a9a22. Original Theano code: hidasib/GRU4Rec.

    Examples
    --------
    >>> from sessrec.data.sessions import Sessions, PrefixBatch
    >>> train = Sessions.from_lists([[0, 1, 2, 3]] * 20, n_items=4)
    >>> model = GRU4Rec(layers=(8,), n_sample=0, epochs=2, random_state=0).fit(train)
    >>> model.score(PrefixBatch.from_lists([[0, 1]])).shape
    torch.Size([1, 4])
    """

    tags: ClassVar[dict[str, Any]] = {"oracle": "sequence", "deterministic": False}
    paramfile_name: ClassVar[str] = "gru4rec"
    test_params: ClassVar[dict[str, Any]] = {
        "layers": (32,),
        "batch_size": 32,
        "n_sample": 16,
        "epochs": 4,
        "learning_rate": 0.2,
        "sample_cache_max_size": 4096,
        "device": "cpu",
    }
    parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "layers": [tuple, list, Interval(int, 1, None)],
        "loss": [Options(str, LOSSES)],
        "dropout_p_embed": [Interval(float, 0, 1, closed="left")],
        "dropout_p_hidden": [Interval(float, 0, 1, closed="left")],
        "learning_rate": [Interval(float, 0, None, closed="neither")],
        "momentum": [Interval(float, 0, 1, closed="left")],
        "sample_alpha": [Interval(float, 0, None)],
        "n_sample": [Interval(int, 0, None)],
        "embedding": [Interval(int, 0, None), Options(str, {"layersize"})],
        "constrained_embedding": [bool],
        "bpreg": [Interval(float, 0, None)],
        "elu_param": [Interval(float, 0, None)],
        "logq": [Interval(float, 0, None)],
        "sample_cache_max_size": [Interval(int, 1, None)],
        **TRAINING_CONSTRAINTS,
    }

    def __init__(
        self,
        *,
        layers: tuple[int, ...] = (100,),
        loss: str = "cross-entropy",
        batch_size: int = 64,
        dropout_p_embed: float = 0.0,
        dropout_p_hidden: float = 0.0,
        learning_rate: float = 0.05,
        momentum: float = 0.0,
        sample_alpha: float = 0.5,
        n_sample: int = 2048,
        embedding: int | str = 0,
        constrained_embedding: bool = True,
        bpreg: float = 1.0,
        elu_param: float = 0.5,
        logq: float = 0.0,
        epochs: int = 10,
        sample_cache_max_size: int = 10_000_000,
        patience: int | None = None,
        valid_cutoff: int = 20,
        device: str = "auto",
        random_state: int | None = None,
    ) -> None:
        self.layers = layers
        self.loss = loss
        self.batch_size = batch_size
        self.dropout_p_embed = dropout_p_embed
        self.dropout_p_hidden = dropout_p_hidden
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.sample_alpha = sample_alpha
        self.n_sample = n_sample
        self.embedding = embedding
        self.constrained_embedding = constrained_embedding
        self.bpreg = bpreg
        self.elu_param = elu_param
        self.logq = logq
        self.epochs = epochs
        self.sample_cache_max_size = sample_cache_max_size
        self.patience = patience
        self.valid_cutoff = valid_cutoff
        self.device = device
        self.random_state = random_state

    # ------------------------------------------------------------------ construction
    @classmethod
    def read_param_set(cls, name: str) -> dict[str, Any]:
        """Parameter file ``name`` (:func:`load_paramfile`: ``layers`` as a tuple)."""
        return load_paramfile(name)

    @classmethod
    def from_paramfile(cls, name: str, **overrides: Any) -> Self:
        """A model with the tuned parameters of file ``name`` (see :func:`paramfile_names`).

        Examples
        --------
        >>> GRU4Rec.from_paramfile("diginetica-bprmax", random_state=0).layers
        (512,)
        """
        params = load_paramfile(name)["params"]
        params.update(overrides)
        return cls(**params)

    def _layers(self) -> tuple[int, ...]:
        layers = (self.layers,) if isinstance(self.layers, int) else tuple(int(n) for n in self.layers)
        if not layers or min(layers) < 1:
            raise ValueError(f"GRU4Rec: layers must be a non-empty sequence of positive sizes, got {self.layers!r}")
        return layers

    def _input_mode(self) -> tuple[str, int]:
        if self.constrained_embedding:
            return "shared", 0
        emb = self._layers()[0] if self.embedding == "layersize" else int(self.embedding)
        if emb < 0:
            raise ValueError(f"GRU4Rec: embedding must be >= 0 or 'layersize', got {self.embedding!r}")
        return ("separate", emb) if emb > 0 else ("onehot", 0)

    def _check_params(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"GRU4Rec: unknown loss {self.loss!r}; choose one of {', '.join(LOSSES)}")
        if int(self.batch_size) < 1:
            raise ValueError(f"GRU4Rec: batch_size must be >= 1, got {self.batch_size}")
        if int(self.n_sample) < 0:
            raise ValueError(f"GRU4Rec: n_sample must be >= 0, got {self.n_sample}")
        for name in ("dropout_p_embed", "dropout_p_hidden"):
            p = getattr(self, name)
            if not 0.0 <= p < 1.0:
                raise ValueError(f"GRU4Rec: {name} must be in [0, 1), got {p}")
        self._layers()
        self._input_mode()

    # ------------------------------------------------------------------ fit
    def fit(self, train: Sessions, *, valid: Sessions | ValidationCases | None = None) -> Self:
        """Train on ``train`` (sessions in time order); ``valid`` enables early stopping."""
        self._check_params()
        return super().fit(train, valid=valid)

    def build_network(self, train: Sessions) -> nn.Module:
        self.untrained_items_ = untrained_items(train)
        mode, emb = self._input_mode()
        return GRU4RecNetwork(
            train.n_items, self._layers(), mode, emb, float(self.dropout_p_embed), float(self.dropout_p_hidden)
        )

    def build_optimizer(self, network: nn.Module) -> torch.optim.Optimizer:
        return AdagradM(network.parameters(), lr=float(self.learning_rate), momentum=float(self.momentum))

    def init_training(self, train: Sessions, rng: np.random.Generator, generator: torch.Generator) -> GRU4RecTraining:
        """The epoch's slot schedule (the same every epoch), its device copies, the sample cache and log-popularity.

        Set-up that the official code also does before its first epoch (not timed as
        training); the first chunk of negative samples is drawn here.
        """
        dev = self.device_
        min_rows = 2 if int(self.n_sample) == 0 else 1
        plan = build_plan(train.items, train.offsets, int(self.batch_size), min_rows=min_rows)
        tensors = {
            "inputs": torch.from_numpy(plan.inputs).to(dev),
            "targets": torch.from_numpy(plan.targets).to(dev),
            "keep": {k: torch.from_numpy(v).to(dev) for k, v in plan.keep.items()},
            "reset": {k: torch.from_numpy(v).to(dev) for k, v in plan.reset.items()},
        }
        counts = train.item_counts().astype(np.float64)
        cache = None
        if int(self.n_sample) > 0:
            # fit() runs under fork_rng seeded from random_state: this seed is reproducible
            seed = int(torch.randint(0, 2**62, (1,)))
            # only items with training clicks exist for the official code: 0 ** 0 = 1 must not
            # make the untrained ones samples (with logq > 0 their log-count is -inf)
            weights = np.where(counts > 0, counts ** float(self.sample_alpha), 0.0)
            cache = SampleCache(
                weights,
                int(self.n_sample),
                int(self.sample_cache_max_size),
                torch.Generator().manual_seed(seed),
                dev,
            )
            cache.next()  # draw the first chunk now
            cache.rewind()
        log_pop = None
        if self.loss == "cross-entropy" and self.logq > 0:
            with np.errstate(divide="ignore"):
                log_pop = torch.from_numpy(np.log(counts)).to(dev, torch.float32)
        return GRU4RecTraining(rng, generator, plan, tensors, cache, log_pop)

    def _step_loss(
        self, scores: torch.Tensor, cols: torch.Tensor, n_rows: int, log_pop: torch.Tensor | None
    ) -> torch.Tensor:
        if self.loss == "cross-entropy":
            log_q = None
            if self.logq > 0:
                assert log_pop is not None
                lp = log_pop.index_select(0, cols)
                if len(cols) > n_rows:  # sampled columns follow count**alpha
                    lp = torch.cat([lp[:n_rows], lp[n_rows:] * float(self.sample_alpha)])
                log_q = float(self.logq) * lp
            return cross_entropy_loss(scores, log_q)
        if self.loss == "bpr-max":
            return bpr_max_loss(scores, float(self.bpreg), float(self.elu_param))
        return top1_max_loss(scores, float(self.elu_param))

    def train_epoch(
        self,
        train: Sessions,
        optimizer: torch.optim.Optimizer,
        state: GRU4RecTraining,
        hidden_hook: Any = None,
    ) -> float:
        """One epoch over the precomputed plan; returns the mean loss per step.

        ``hidden_hook(step, hidden)``, if given, sees the states entering every step after the
        resets (used by the tests to check the reset at session boundaries).
        """
        net: GRU4RecNetwork = self.network_  # type: ignore[assignment]
        plan, pt, cache = state.plan, state.tensors, state.cache
        offsets = plan.step_offsets.tolist()
        inputs, targets, keep, reset = pt["inputs"], pt["targets"], pt["keep"], pt["reset"]
        hidden = net.init_hidden(int(offsets[1] - offsets[0]) if plan.n_steps else 0, self.device_)
        total = torch.zeros((), device=self.device_)
        scale = 1.0 / float(self.batch_size)
        progress = EpochProgress(plan.n_steps, "steps")
        for k in range(plan.n_steps):
            lo, hi = offsets[k], offsets[k + 1]
            if k in keep:
                idx = keep[k]
                hidden = [h.index_select(0, idx) for h in hidden]
            if k in reset:
                idx = reset[k]
                hidden = [h.index_fill(0, idx, 0.0) for h in hidden]
            if hidden_hook is not None:
                hidden_hook(k, [h.clone() for h in hidden])
            x, y = inputs[lo:hi], targets[lo:hi]
            cols = torch.cat([y, cache.next()]) if cache is not None else y
            optimizer.zero_grad(set_to_none=True)
            scores = net.train_step(x, cols, hidden)
            loss = self._step_loss(scores, cols, hi - lo, state.log_pop) * scale
            loss.backward()
            net.sparse_grads()
            optimizer.step()
            hidden = [h.detach() for h in hidden]
            total += loss.detach()
            progress.step(1, loss.detach())
        return float(total) / max(plan.n_steps, 1)

    # ------------------------------------------------------------------ scoring
    def _run_prefixes(self, batch: PrefixBatch, collect: bool) -> torch.Tensor:
        """Last-layer states after each position ((B, L, H) if ``collect``) or after each prefix (B, H)."""
        net: GRU4RecNetwork = self.network_  # type: ignore[assignment]
        items, lengths = batch.items, batch.lengths
        n, width = items.shape
        hidden = net.init_hidden(n, items.device)
        outs = []
        for t in range(width):
            active = (lengths > t)[:, None]
            new = list(hidden)
            net.step(items[:, t].clamp(min=0), new)
            hidden = [torch.where(active, hn, h) for hn, h in zip(new, hidden)]
            if collect:
                outs.append(hidden[-1])
        if collect:
            return torch.stack(outs, dim=1) if outs else torch.zeros(n, 0, net.layers[-1], device=items.device)
        return hidden[-1]

    def network_scores(self, batch: PrefixBatch) -> torch.Tensor:
        net: GRU4RecNetwork = self.network_  # type: ignore[assignment]
        return mask_untrained(net.score_all(self._run_prefixes(batch, collect=False)), self.untrained_items_)

    def network_session_scores(self, batch: PrefixBatch) -> torch.Tensor:
        """Scores after every position of every session in one pass.

        Parameters
        ----------
        batch : PrefixBatch
            Whole sessions (or prefixes), right-padded.

        Returns
        -------
        Tensor of shape (sum(batch.lengths), n_items)
            Row for ``(b, t)``, ``t < lengths[b]``, in row-major order: the scores after
            ``batch.items[b, :t+1]``, with the hidden state carried along the session.
        """
        net: GRU4RecNetwork = self.network_  # type: ignore[assignment]
        states = self._run_prefixes(batch, collect=True)
        return mask_untrained(net.score_all(states[batch.mask]), self.untrained_items_)
