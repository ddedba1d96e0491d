"""Machinery shared by the attention models (STAMP, SASRec, CORE): batching, training, scoring.

A network used here is *causal*: its representation after click ``t`` of a sequence depends
on clicks ``0..t`` only. It provides

``encode_all(items, lengths) -> (N, T, d)``
    the representation after every position of right-padded ``items`` (N, T);
``encode_last(items, lengths) -> (N, d)``
    the representation after the last click of every row;
``decode(reps) -> (N, n_items)``
    evaluation scores;
``train_items() -> (n_items, d)``
    the matrix whose products with the representations are the training logits,
    ``reps @ train_items().T`` (may differ from ``decode``'s by training-only noise, e.g.
    CORE's item dropout).

On a CPU the loss of a batch is :func:`~sessrec_baselines.common.linear_softmax_cross_entropy`
of the representations and ``train_items()`` (scores, softmax and both gradients block by block
of 128 rows in its forward pass, no (N, n_items) matrix kept); elsewhere, and under ``amp``,
``softmax_cross_entropy(reps @ train_items().T)``. Both give the same values to float rounding.

Prefixes longer than ``max_len`` keep their last ``max_len`` clicks (RecBole's
``MAX_ITEM_LIST_LENGTH``), with positions counted from the window's first click. A causal
pass over a whole session gives every prefix up to ``max_len`` clicks at once; a longer
prefix is a window that pass cannot give, so such rows are encoded one window each.

Devices: everything runs on the estimator's ``device`` (``"auto"``: CUDA when available).
On a CPU the encoder runs once per length group of a batch (short rows skip the padding); a
batch of prefixes (``training="prefixes"``, the windows of prefixes longer than ``max_len``,
``score``) of a network whose ``ragged_last`` is true (STAMP, CORE-ave) is encoded in one call
over its real clicks instead (epochs of ``training="prefixes"`` 1.26-1.29x faster than with the
length groups), while whole-session passes keep the groups; on a GPU once per batch, padded to its
longest row, since there each group's kernel launches cost more than the padding (on an H200
this made training epochs 1.8-4.8x faster).
``amp=True`` trains under bfloat16 autocast on CUDA: the encoder's and the item-score matrix
products run in bfloat16, the softmax loss upcasts the logits to float32
(:func:`~sessrec_baselines.common.softmax_cross_entropy`), parameters and Adam's state stay
float32 (no loss scaling is needed with bfloat16's range). Validation and test scoring stay
float32, so ranks and ties are those of float32 scores. On CPU it is refused: bfloat16 matrix
products there are slower than float32 without AMX or AVX-512-BF16.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from importlib import resources
from typing import Any, ClassVar, cast

import numpy as np
import tomllib
import torch
from torch import nn

from sessrec.data.sessions import PrefixBatch, Sessions
from sessrec.models import TrainingState, resolve_device
from sessrec.models.base import TorchModel
from sessrec.progress import EpochProgress

from .common import (
    ParamFileSets,
    encode_prefixes,
    encode_sessions,
    linear_softmax_cross_entropy,
    random_case_batches,
    session_positions,
    softmax_cross_entropy,
    window_rows,
)

try:  # Python 3.11+
    from typing import Self
except ImportError:  # pragma: no cover - Python 3.10
    from typing_extensions import Self

#: Upper ends (exclusive) of the length groups encoded separately on a CPU, so short rows skip padding.
_BUCKET_EDGES = np.array([3, 5, 8, 12, 20])
#: On a GPU every batch is one padded group: padding costs little there, each group's kernel launches a lot.
_ONE_GROUP = np.array([], dtype=np.int64)


def last_window(batch: PrefixBatch, max_len: int) -> PrefixBatch:
    """Every prefix cut to its last ``max_len`` clicks, left-aligned."""
    lengths = batch.lengths
    kept = lengths.clamp(max=max_len)
    width = min(batch.max_len, max_len)
    cols = (lengths - kept)[:, None] + torch.arange(width, device=lengths.device)[None, :]
    items = batch.items.gather(1, cols.clamp(max=batch.max_len - 1))
    items = items.masked_fill(torch.arange(width, device=lengths.device)[None, :] >= kept[:, None], -1)
    return PrefixBatch(items, kept)


def clip_grad_norm_per_tensor(params: Any, max_norm: float) -> None:
    """TensorFlow's ``clip_by_norm`` on every gradient separately (not torch's global norm)."""
    for p in params:
        if p.grad is not None:
            norm = p.grad.norm()
            if norm > max_norm:
                p.grad.mul_(max_norm / norm)


def load_space(model: str) -> dict[str, Any]:
    """The tuner's search space of ``model`` (``spaces/<model>.toml``): ``{param: {type, ...}}`` plus ``source``."""
    with (resources.files("sessrec_baselines") / "spaces" / f"{model}.toml").open("rb") as fh:
        return tomllib.load(fh)


class TiedItemScores:
    """Network mixin: scores are ``reps @ E^T`` with the item embedding ``E`` (``self.embedding``), in training
    (``train_items``) and evaluation (``decode``) alike (SASRec, STAMP)."""

    embedding: nn.Embedding

    def decode(self, reps: torch.Tensor) -> torch.Tensor:
        """Scores (N, n_items) of the representations ``reps`` (N, d): ``reps @ E^T``."""
        return reps @ self.embedding.weight.T

    def train_items(self) -> torch.Tensor:
        """The item embedding ``E`` (n_items, d): training scores are those of :meth:`decode`."""
        return self.embedding.weight


class CausalSequenceModel(ParamFileSets, TorchModel):
    """Base estimator of STAMP, SASRec and CORE: whole-session or per-prefix training, causal fast path.

    Subclasses set ``paramfile_name`` (folder of their parameter sets), ``_choices`` (categorical
    hyperparameters and their options), ``_positive_ints``, ``_optional_positive_ints`` (or None)
    and ``_fractions`` (names checked in ``fit``), and implement ``_build_network``. Hyperparameters every subclass has:
    ``lr``, ``batch_size``, ``epochs``, ``max_len``, ``training``, ``amp``, ``max_grad_norm``,
    ``patience``, ``valid_cutoff``, ``device``, ``random_state``.
    """

    _choices: ClassVar[dict[str, tuple[Any, ...]]] = {}
    _positive_ints: ClassVar[tuple[str, ...]] = ("batch_size", "epochs", "max_len", "valid_cutoff")
    _optional_positive_ints: ClassVar[tuple[str, ...]] = ()  # positive integers or None
    _fractions: ClassVar[tuple[str, ...]] = ()

    lr: float
    batch_size: int
    max_len: int
    training: str
    amp: bool
    max_grad_norm: float | None

    # ------------------------------------------------------------------ parameter sets
    @classmethod
    def search_space(cls) -> dict[str, Any]:
        """The tuner's search space, read from ``spaces/<model>.toml``."""
        return load_space(cls.paramfile_name)

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        name = type(self).__name__
        for key, choices in self._choices.items():
            if getattr(self, key) not in choices:
                raise ValueError(
                    f"{name}: {key}={getattr(self, key)!r} is not supported; choose one of {list(choices)}"
                )
        for key in (*self._positive_ints, *self._optional_positive_ints):
            value = getattr(self, key)
            if value is None and key in self._optional_positive_ints:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                optional = " or None" if key in self._optional_positive_ints else ""
                raise ValueError(f"{name}: {key} must be a positive integer{optional}, got {value!r}")
        for key in self._fractions:
            value = getattr(self, key)
            if not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
                raise ValueError(f"{name}: {key} must lie in [0, 1), got {value!r}")
        if not isinstance(self.lr, (int, float)) or self.lr <= 0:
            raise ValueError(f"{name}: lr must be a positive number, got {self.lr!r}")
        if self.max_grad_norm is not None and not self.max_grad_norm > 0:
            raise ValueError(
                f"{name}: max_grad_norm must be positive or None (no clipping), got {self.max_grad_norm!r}"
            )

    # ------------------------------------------------------------------ fit
    def fit(self, train: Sessions, *, valid: Sessions | None = None) -> Self:
        """Train on ``train``; with ``valid``, keep the epoch of best validation Recall@``valid_cutoff``.

        Parameters
        ----------
        train : Sessions
            Training sessions.
        valid : Sessions, optional
            Validation sessions (e.g. ``prepare(..., valid_days=1).valid``); never the test split.
        """
        self._check_params()
        device = resolve_device(self.device)
        if self.amp and device.type != "cuda":
            raise ValueError(
                f"{type(self).__name__}: amp=True (bfloat16 mixed precision) needs a CUDA device, "
                f"got device={self.device!r} (resolved to {device})"
            )
        return super().fit(train, valid=valid)

    def build_optimizer(self, network: nn.Module) -> torch.optim.Optimizer:
        return self._adam(network)

    def _adam(self, network: nn.Module, betas: tuple[float, float] = (0.9, 0.999)) -> torch.optim.Optimizer:
        """Adam at ``lr``; on a CPU its fused kernel (the same update in one pass over each tensor,
        equal to the default per-tensor loop up to float rounding; on a 5,519 x 64 embedding 0.42 ms
        per step against that loop's 3.7 ms)."""
        fused = True if self.device_.type == "cpu" else None
        return torch.optim.Adam(network.parameters(), lr=self.lr, betas=betas, fused=fused)

    def _loss(
        self, net: nn.Module, reps: torch.Tensor, targets: torch.Tensor, generator: torch.Generator
    ) -> torch.Tensor:
        """Softmax cross-entropy over the full catalogue (subclasses may override)."""
        if self.device_.type == "cpu":
            return linear_softmax_cross_entropy(reps, net.train_items(), targets)
        return softmax_cross_entropy(reps @ net.train_items().T, targets)

    def train_epoch(self, train: Sessions, optimizer: torch.optim.Optimizer, state: TrainingState) -> float:
        rng, generator = state.rng, state.generator
        net = self.network_
        batches = self._session_batches(train, rng) if self.training == "sessions" else self._prefix_batches(train, rng)
        progress = EpochProgress(train.n_cases)
        device_type = self.device_.type
        for reps_fn, targets in batches:
            with torch.autocast(device_type, dtype=torch.bfloat16, enabled=self.amp):
                loss = self._loss(net, reps_fn(net), targets, generator)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if self.max_grad_norm is not None:
                clip_grad_norm_per_tensor(net.parameters(), self.max_grad_norm)
            optimizer.step()
            progress.step(len(targets), float(loss.detach()))
        return progress.mean_loss

    # ------------------------------------------------------------------ batching
    def _edges(self) -> np.ndarray:
        """Length groups of the encoder calls: :data:`_BUCKET_EDGES` on a CPU, one group elsewhere."""
        return _BUCKET_EDGES if self.device_.type == "cpu" else _ONE_GROUP

    def _prefix_batches(self, train: Sessions, rng: np.random.Generator) -> Iterator[tuple[Any, torch.Tensor]]:
        """``training="prefixes"``: ``batch_size`` random cases, each prefix (last ``max_len`` clicks) on its own."""
        dev = self.device_
        for starts, at in random_case_batches(train, self.batch_size, rng):
            kept = np.minimum(at - starts, self.max_len)
            batch = PrefixBatch.from_ranges(train.items, at - kept, kept).to(dev)
            targets = torch.from_numpy(train.items[at]).to(dev)

            def reps(net: nn.Module, batch: PrefixBatch = batch) -> torch.Tensor:
                return encode_prefixes(net, batch.items, batch.lengths, self._edges())

            yield reps, targets

    def _session_groups(self, train: Sessions, rng: np.random.Generator) -> Iterator[np.ndarray]:
        """Shuffled sessions with a case, packed into groups of about ``batch_size`` cases."""
        n_cases = np.maximum(train.lengths - 1, 0)
        order = rng.permutation(np.flatnonzero(n_cases > 0))
        cum = np.cumsum(n_cases[order])
        cuts = np.searchsorted(cum, np.arange(self.batch_size, cum[-1] if len(cum) else 0, self.batch_size), "left")
        bounds = np.unique(np.concatenate([[0], cuts + 1, [len(order)]]).clip(0, len(order)))
        for lo, hi in itertools.pairwise(bounds):
            if hi > lo:
                yield order[lo:hi]

    def _session_batches(self, train: Sessions, rng: np.random.Generator) -> Iterator[tuple[Any, torch.Tensor]]:
        """``training="sessions"``: whole sessions, about ``batch_size`` cases per batch, one causal pass each."""
        dev, cap = self.device_, self.max_len
        for sess in self._session_groups(train, rng):
            starts, n_cases = train.offsets[sess], train.lengths[sess] - 1
            kept = np.minimum(n_cases, cap)
            inputs = PrefixBatch.from_ranges(train.items, starts, kept).to(dev)
            # case (u, k): prefix of k clicks of session u; targets in row-major order of the pass,
            # then the cases longer than max_len (their windows)
            u = np.repeat(np.arange(len(sess)), kept)
            k = np.arange(len(u)) - np.repeat(np.cumsum(kept) - kept, kept) + 1
            long_u = np.repeat(np.arange(len(sess)), n_cases - kept)
            long_k = np.arange(len(long_u)) - np.repeat(np.cumsum(n_cases - kept) - (n_cases - kept), n_cases - kept)
            long_k = long_k + cap + 1
            windows = None
            if len(long_u):
                windows = PrefixBatch.from_ranges(train.items, starts[long_u] + long_k - cap, np.full(len(long_u), cap))
                windows = windows.to(dev)
            all_u, all_k = np.concatenate([u, long_u]), np.concatenate([k, long_k])
            targets = torch.from_numpy(train.items[starts[all_u] + all_k]).to(dev)

            def reps(
                net: nn.Module, inputs: PrefixBatch = inputs, windows: PrefixBatch | None = windows
            ) -> torch.Tensor:
                out = encode_sessions(net, inputs.items, inputs.lengths, self._edges())
                if windows is not None:
                    out = torch.cat([out, encode_prefixes(net, windows.items, windows.lengths, self._edges())])
                return out

            yield reps, targets

    # ------------------------------------------------------------------ scoring
    def network_scores(self, batch: PrefixBatch) -> torch.Tensor:
        net = self.network_
        window = last_window(batch, self.max_len)
        return cast(Any, net).decode(encode_prefixes(net, window.items, window.lengths, self._edges()))

    def network_session_scores(self, batch: PrefixBatch) -> torch.Tensor:
        """Scores after every prefix of whole sessions (the ``TorchModel`` fast path), in one causal pass.

        Shapes as :class:`~sessrec.models.base.TorchModel` says: (B, L) right-padded sessions in,
        (sum(lengths), n_items) out, rows in row-major order. Prefixes longer than ``max_len``
        are windows of their last ``max_len`` clicks, encoded one window each.
        """
        net = self.network_
        net.eval()
        with torch.no_grad():
            batch = batch.to(self.device_)
            lengths = batch.lengths
            cap = self.max_len
            kept = lengths.clamp(max=cap)
            reps = encode_sessions(net, batch.items[:, : min(batch.max_len, cap)], kept, self._edges())
            if bool((lengths > cap).any()):
                b, t = session_positions(lengths)
                first_row = torch.cumsum(kept, 0) - kept
                full = reps.new_empty(len(b), reps.shape[1])
                short = t < cap
                full[short] = reps[first_row[b[short]] + t[short]]
                windows, full_lengths = window_rows(batch.items, b[~short], t[~short], cap)
                full[~short] = encode_prefixes(net, windows, full_lengths, self._edges())
                reps = full
            return cast(Any, net).decode(reps)
