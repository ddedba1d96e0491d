"""The public model contract: :class:`BaseModel`, :class:`TorchModel` and their helpers.

A session model follows scikit-learn's estimator conventions:

* hyperparameters are explicit keyword arguments of ``__init__``, stored verbatim
  (``__init__`` holds no logic), listed by :func:`~sessrec.models.params.param_names` and
  declared in the class attribute ``parameter_constraints`` (see :mod:`sessrec.models.params`),
  which a study checks before any data is read;
* everything learned is set in :meth:`fit` and ends in ``_``; ``score`` starts with
  :func:`check_is_fitted`;
* randomness comes only from ``random_state``, turned into local generators in ``fit``
  (:func:`seed_from`).

Scores are ``(batch_size, n_items)`` float tensors, higher is better, finite or ``-inf``
("never"). Ranking, ties, cutoffs and metrics belong to the evaluator.

A causal model may also implement the whole-session fast path::

    def score_sessions(self, batch: PrefixBatch) -> torch.Tensor:
        # (sum(batch.lengths), n_items): row for (b, t), t < lengths[b], in row-major
        # order, holds the scores after the prefix batch.items[b, :t+1]

which the evaluator uses when present; the conformance suite checks it equals
:meth:`score` on every prefix. A :class:`TorchModel` gets it by defining
``network_session_scores``.

Everything a plugin needs is public and exported by :mod:`sessrec.models` (and
:mod:`sessrec`): a plugin never uses an ``_``-prefixed name of sessrec
(``baselines/tests/test_public_contract.py`` checks ours).
"""

from __future__ import annotations

import copy
import inspect
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn

from sessrec.data.sessions import PrefixBatch, Sessions
from sessrec.models.params import param_names
from sessrec.progress import emit, phase

__all__ = [
    "BaseModel",
    "NotFittedError",
    "SessionModel",
    "TorchModel",
    "TrainingState",
    "ValidationCases",
    "check_is_fitted",
    "resolve_device",
    "seed_from",
]

try:  # Python 3.11+
    from typing import Self
except ImportError:  # pragma: no cover - Python 3.10
    from typing_extensions import Self


@runtime_checkable
class SessionModel(Protocol):
    """What the evaluator and the runner need from a model."""

    def fit(self, train: Sessions, *, valid: Sessions | None = None) -> Self: ...

    def score(self, batch: PrefixBatch) -> torch.Tensor: ...


class NotFittedError(RuntimeError):
    """Raised when a model is used before :meth:`fit`."""


def check_is_fitted(model: Any, attributes: str | Sequence[str] = "n_items_") -> None:
    """Raise :class:`NotFittedError` unless ``model`` has every attribute in ``attributes``.

    Call it first in ``score`` (and ``score_sessions``): scoring an unfitted model must fail
    with a clear message (the conformance suite checks it).

    Parameters
    ----------
    model : object
        The model to check.
    attributes : str or sequence of str, default "n_items_"
        Learned attributes that :meth:`fit` sets.

    Examples
    --------
    >>> class Toy:
    ...     pass
    >>> check_is_fitted(Toy())
    Traceback (most recent call last):
    ...
    sessrec.models.base.NotFittedError: Toy is not fitted yet; call fit(train) first
    """
    names = [attributes] if isinstance(attributes, str) else list(attributes)
    if not all(hasattr(model, name) for name in names):
        raise NotFittedError(f"{type(model).__name__} is not fitted yet; call fit(train) first")


def seed_from(random_state: int | None) -> int:
    """An integer seed from ``random_state`` (``None`` draws one from OS entropy).

    Examples
    --------
    >>> seed_from(7)
    7
    >>> 0 <= seed_from(None) < 2**31
    True
    """
    if random_state is None:
        return int(np.random.default_rng().integers(2**31 - 1))
    return int(random_state)


@dataclass(frozen=True)
class ValidationCases:
    """Some next-item cases of ``sessions``, held out for validation.

    A case is numbered in ``sessions``' case order (session by session, then position; see
    :meth:`Sessions.case_positions`). Models that carve validation data out of their training
    sessions (NARM's random 10% of the training cases) hand this to :meth:`TorchModel.fit` as
    ``valid``; the held-out cases may stay in the training sessions as inputs.

    Parameters
    ----------
    sessions : Sessions
        The sessions the cases belong to.
    cases : ndarray of int64, shape (n_cases,)
        Sorted case numbers.

    Examples
    --------
    >>> from sessrec.data.sessions import Sessions
    >>> held = ValidationCases(Sessions.from_lists([[0, 1, 2]], n_items=3), np.array([1]))
    >>> held.n_cases, held.sessions.case_targets()[held.cases].tolist()
    (1, [2])
    """

    sessions: Sessions
    cases: np.ndarray

    @property
    def n_cases(self) -> int:
        """Number of held-out cases."""
        return len(self.cases)

    def recall(self, model: Any, cutoff: int, *, batch_size: int = 1024) -> float:
        """Recall@``cutoff`` of ``model.score`` on these cases (conservative ties: rank = #scores >= target's)."""
        hits, done = 0, 0
        emit("eval", done=0, total=self.n_cases)
        for batch, targets in self.sessions.prefix_batches(batch_size, cases=self.cases):
            scores = model.score(batch)
            target_scores = scores.gather(1, torch.as_tensor(targets, device=scores.device)[:, None])
            ranks = (scores >= target_scores).sum(dim=1)
            hits += int((ranks <= cutoff).sum())
            done += len(targets)
            emit("eval", done=done, total=self.n_cases)
        return hits / max(self.n_cases, 1)


@dataclass
class TrainingState:
    """Per-fit training state that :meth:`TorchModel.init_training` returns.

    :meth:`TorchModel.fit` hands it to every :meth:`TorchModel.train_epoch` call and drops
    it at the end of ``fit``, so nothing but learned attributes stays on the model. Subclass
    it (as a dataclass) to add a model's own state: precomputed batches, sample caches, ...

    Attributes
    ----------
    rng : numpy.random.Generator
        Seeded from ``random_state``: batch order, negative samples, ...
    generator : torch.Generator
        A CPU torch generator seeded from ``random_state``.
    """

    rng: np.random.Generator
    generator: torch.Generator


def _same(a: Any, b: Any) -> bool:
    """Parameter equality as a run record stores it (lists and tuples alike, ints and floats alike)."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return bool(a == b) and isinstance(a, bool) == isinstance(b, bool)


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``"auto"``/``None`` -> CUDA when available else CPU; anything else as torch reads it."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(device)!r} was requested but CUDA is not available here; use 'cpu' or 'auto'")
    return dev


class BaseModel:
    """Base class with sklearn-style parameter handling.

    Class attributes a model may override:

    ``tags``
        ``{"oracle": "sequence" | "popularity" | "session"}`` says which oracle pattern the
        conformance suite expects the model to learn (see :mod:`sessrec.testing.oracle`);
        ``"deterministic": False`` when scores depend on ``random_state``.
    ``test_params``
        Keyword arguments that make the model cheap enough for the conformance suite
        (e.g. few epochs); the suite still checks the defaults' API.
    ``parameter_constraints``
        ``{name: [allowed forms]}`` (``int``, ``float``, ``str``, ``bool``, ``None``,
        :class:`~sessrec.models.params.Interval`, :class:`~sessrec.models.params.Options`):
        what each hyperparameter accepts, checked by
        :func:`~sessrec.models.params.validate_params` when a study is built. Parameters
        left out are checked against the type of their default.
    """

    tags: ClassVar[dict[str, Any]] = {"oracle": "popularity", "deterministic": True}
    test_params: ClassVar[dict[str, Any]] = {}
    parameter_constraints: ClassVar[dict[str, list[Any]]] = {}

    def get_params(self) -> dict[str, Any]:
        """Hyperparameters as given to ``__init__``."""
        return {name: getattr(self, name) for name in param_names(type(self))}

    def set_params(self, **params: Any) -> Self:
        valid = param_names(type(self))
        for key, value in params.items():
            if key not in valid:
                raise ValueError(
                    f"{type(self).__name__} has no parameter {key!r}; valid parameters: {', '.join(valid)}"
                )
            setattr(self, key, value)
        return self

    @classmethod
    def param_set_names(cls) -> list[str]:
        """Names of the model's named hyperparameter sets (e.g. tuned per dataset)."""
        return []

    @classmethod
    def named_params(cls, name: str) -> dict[str, Any]:
        """The hyperparameters of the named set ``name`` (``sessrec run -p model=name``)."""
        from sessrec.errors import ConfigError

        names = cls.param_set_names()
        raise ConfigError(
            f"{cls.__name__} has no parameter set {name!r}; "
            + (f"available: {', '.join(names)}" if names else "it ships none; give parameters as model.key=value")
        )

    @classmethod
    def param_set_info(cls, name: str) -> dict[str, Any]:
        """Provenance of the named set ``name``: what it reproduces and where its values come from.

        Keys a report reads: ``reproduces`` (e.g. ``"authors' code"``, ``"RecBole"``) and
        ``same_setup_as_published`` (``True`` only when a run with this set is the setup behind
        the paper's published numbers). The default: no provenance.
        """
        return {}

    @classmethod
    def param_set_of(cls, params: dict[str, Any]) -> str | None:
        """The named set that ``params`` (a run's hyperparameters) follow, if any.

        A run follows a set when every parameter of the set has the set's value in ``params``
        (missing keys count as the ``__init__`` default); the first such set by name.
        """
        defaults = {k: v.default for k, v in inspect.signature(cls.__init__).parameters.items() if k != "self"}
        merged = {**defaults, **params}
        for name in cls.param_set_names():
            wanted = cls.named_params(name)
            if all(_same(merged.get(key), value) for key, value in wanted.items()):
                return name
        return None

    def clone(self) -> Self:
        """An unfitted copy with the same hyperparameters."""
        return type(self)(**copy.deepcopy(self.get_params()))

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

    # -------------------------------------------------------------- protocol
    def fit(self, train: Sessions, *, valid: Sessions | None = None) -> Self:
        raise NotImplementedError

    def score(self, batch: PrefixBatch) -> torch.Tensor:
        raise NotImplementedError


class TorchModel(BaseModel):
    """A model whose learned state is an ``nn.Module`` in ``network_``.

    Subclasses define ``__init__`` with their hyperparameters, which must include
    ``epochs``, ``patience``, ``valid_cutoff``, ``device`` and ``random_state``, and implement
    the public hooks

    ``build_network(train) -> nn.Module``
        The freshly initialised network (moved to ``device_`` by :meth:`fit`). Its shape may
        depend on ``train`` only through ``train.n_sessions`` and ``train.n_items`` (recorded
        in ``train_shape_``): a saved model rebuilds it from the parameters on a stand-in
        of those sizes (:mod:`sessrec.models.saving`).
    ``build_optimizer(network) -> optimizer``
        Anything with ``zero_grad()`` and ``step()``.
    ``init_training(train, rng, generator) -> TrainingState``
        Optional. Per-fit state (precomputed batches, sample caches, ...) returned to
        :meth:`fit`, which hands it to every epoch and drops it afterwards; the default holds
        only ``rng`` and ``generator``.
    ``train_epoch(train, optimizer, state) -> float``
        One epoch; returns the mean training loss.
    ``network_scores(batch) -> Tensor (B, n_items)``
        Scores on ``device_``; :meth:`score` calls it in eval mode under ``torch.no_grad``
        with the batch on ``device_``, after checking that the model is fitted.
    ``network_session_scores(batch) -> Tensor (sum(lengths), n_items)``
        Optional whole-session fast path, called the same way by :meth:`score_sessions`;
        ``score_sessions`` exists exactly when a subclass defines it.
    ``validation_score(valid) -> float``
        Optional. The metric that picks the best epoch (default: Recall@``valid_cutoff``
        with conservative ties, on :class:`Sessions` or on :class:`ValidationCases`).

    :meth:`fit` calls ``build_network``, ``build_optimizer`` and ``init_training`` in this
    order, then runs the epochs. With validation data it evaluates :meth:`validation_score`
    after each epoch, keeps a copy of the best epoch's parameters, stops after ``patience``
    epochs without improvement (``patience=None``: never) and restores the best epoch at the
    end. ``history_`` records loss, validation metric and seconds per epoch.

    Randomness: parameter initialisation and dropout use torch's default generator, so
    ``fit`` runs inside ``torch.random.fork_rng`` seeded from ``random_state``: results are
    reproducible and the caller's global RNG state is left exactly as it was.
    """

    tags: ClassVar[dict[str, Any]] = {"oracle": "sequence", "deterministic": False}

    epochs: int
    patience: int | None
    valid_cutoff: int
    device: str
    random_state: int | None

    # -------------------------------------------------------------- hooks
    def build_network(self, train: Sessions) -> nn.Module:
        """The network to train, freshly initialised (from torch's default generator)."""
        raise NotImplementedError

    def build_optimizer(self, network: nn.Module) -> Any:
        """The optimizer of ``network``'s parameters: anything with ``zero_grad()`` and ``step()``."""
        raise NotImplementedError

    def init_training(self, train: Sessions, rng: np.random.Generator, generator: torch.Generator) -> TrainingState:
        """Per-fit training state, built after the network and the optimizer (see the class doc)."""
        return TrainingState(rng=rng, generator=generator)

    def train_epoch(self, train: Sessions, optimizer: Any, state: TrainingState) -> float:
        """Train ``network_`` (already in train mode) for one epoch; return the mean loss."""
        raise NotImplementedError

    def network_scores(self, batch: PrefixBatch) -> torch.Tensor:
        """Scores (B, n_items) of ``batch`` (on ``device_``), in eval mode under ``no_grad``."""
        raise NotImplementedError

    def validation_score(self, valid: Sessions | ValidationCases) -> float:
        """Recall@``valid_cutoff`` (conservative ties) on ``valid``: higher is better."""
        if isinstance(valid, ValidationCases):
            return valid.recall(self, self.valid_cutoff)
        from sessrec.evaluation import evaluate  # local import: evaluation imports models

        result = evaluate(self, valid, cutoffs=(self.valid_cutoff,), ties="conservative", keep_ranks=False)
        return float(result.metrics[f"recall@{self.valid_cutoff}"])

    # -------------------------------------------------------------- fit / score
    def fit(self, train: Sessions, *, valid: Sessions | ValidationCases | None = None) -> Self:
        if train.n_cases == 0:
            raise ValueError("cannot fit on training data without a single next-item case")
        self.device_ = resolve_device(self.device)
        self.n_items_ = train.n_items
        self.train_shape_ = {"n_sessions": train.n_sessions, "n_items": train.n_items}
        seed = seed_from(self.random_state)
        rng = np.random.default_rng(seed)
        devices = [self.device_.index or 0] if self.device_.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            generator = torch.Generator(device="cpu").manual_seed(seed)
            self.network_ = self.build_network(train).to(self.device_)
            optimizer = self.build_optimizer(self.network_)
            state = self.init_training(train, rng, generator)
            self._run_epochs(train, valid, optimizer, state)
        return self

    def _run_epochs(
        self, train: Sessions, valid: Sessions | ValidationCases | None, optimizer: Any, state: TrainingState
    ) -> None:
        use_valid = valid is not None and valid.n_cases > 0
        best_metric, best_state, bad_epochs = -np.inf, None, 0
        self.history_: list[dict[str, float]] = []
        self.best_epoch_ = self.epochs - 1
        for epoch in range(self.epochs):
            t0 = time.perf_counter()
            emit("epoch_start", model=type(self).__name__, epoch=epoch + 1, epochs=self.epochs)
            self.network_.train()
            loss = float(self.train_epoch(train, optimizer, state))
            record: dict[str, float] = {"epoch": epoch + 1, "loss": loss, "seconds": time.perf_counter() - t0}
            if not np.isfinite(loss):
                raise FloatingPointError(
                    f"{type(self).__name__}: training loss became {loss} in epoch {epoch + 1}; "
                    "lower the learning rate or check the data"
                )
            if use_valid:
                assert valid is not None
                with phase("validation"):
                    metric = self.validation_score(valid)
                record[f"valid_recall@{self.valid_cutoff}"] = metric
                if metric > best_metric:
                    best_metric, bad_epochs, self.best_epoch_ = metric, 0, epoch
                    best_state = {k: v.detach().to("cpu", copy=True) for k, v in self.network_.state_dict().items()}
                else:
                    bad_epochs += 1
            self.history_.append(record)
            emit("epoch", model=type(self).__name__, epochs=self.epochs, **record)
            if use_valid and self.patience is not None and bad_epochs >= self.patience:
                break
        if best_state is not None:
            self.network_.load_state_dict(best_state)
        best = self.best_epoch_ + 1 if best_state is not None else None
        emit("fit", model=type(self).__name__, state="finished", best_epoch=best, epochs=len(self.history_))

    def score(self, batch: PrefixBatch) -> torch.Tensor:
        """Scores (B, n_items) after every prefix of ``batch``, on ``device_`` (see :meth:`network_scores`)."""
        check_is_fitted(self)
        self.network_.eval()
        with torch.no_grad():
            return self.network_scores(batch.to(self.device_))

    def _score_sessions(self, batch: PrefixBatch) -> torch.Tensor:
        check_is_fitted(self)
        self.network_.eval()
        with torch.no_grad():
            return self.network_session_scores(batch.to(self.device_))  # type: ignore[attr-defined]

    @property
    def score_sessions(self) -> Callable[[PrefixBatch], torch.Tensor]:
        """The whole-session fast path: ``score_sessions(batch) -> (sum(lengths), n_items)``.

        Row ``(b, t)``, ``t < lengths[b]``, in row-major order, holds the scores after
        ``batch.items[b, :t+1]``. Present (``hasattr``) exactly when the class defines
        ``network_session_scores``; it then checks that the model is fitted, switches to eval
        mode, disables gradients and moves ``batch`` to ``device_`` before calling it.
        """
        if not callable(getattr(type(self), "network_session_scores", None)):
            raise AttributeError(f"{type(self).__name__} has no score_sessions fast path (no network_session_scores)")
        return self._score_sessions
