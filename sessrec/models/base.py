"""The model protocol, :class:`BaseModel` and :class:`TorchModel`.

A session model follows scikit-learn's estimator conventions:

* hyperparameters are explicit keyword arguments of ``__init__``, stored verbatim
  (``__init__`` holds no logic);
* everything learned is set in :meth:`fit` and ends in ``_``;
* randomness comes only from ``random_state``, turned into local generators in ``fit``.

Scores are ``(batch_size, n_items)`` float tensors, higher is better, finite or ``-inf``
("never"). Ranking, ties, cutoffs and metrics belong to the evaluator.

A causal model may also implement the whole-session fast path::

    def score_sessions(self, batch: PrefixBatch) -> torch.Tensor:
        # (sum(batch.lengths), n_items): row for (b, t), t < lengths[b], in row-major
        # order, holds the scores after the prefix batch.items[b, :t+1]

which the evaluator uses when present; the conformance suite checks it equals
:meth:`score` on every prefix.
"""

from __future__ import annotations

import copy
import inspect
import time
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn

from sessrec.data.sessions import PrefixBatch, Sessions
from sessrec.progress import emit

__all__ = ["BaseModel", "NotFittedError", "SessionModel", "TorchModel", "resolve_device"]

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
    """

    tags: ClassVar[dict[str, Any]] = {"oracle": "popularity", "deterministic": True}
    test_params: ClassVar[dict[str, Any]] = {}

    # -------------------------------------------------------------- parameters
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        names = []
        for name, p in sig.parameters.items():
            if name == "self":
                continue
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise TypeError(f"{cls.__name__}.__init__ must list its hyperparameters explicitly, not *{name}")
            names.append(name)
        return names

    def get_params(self) -> dict[str, Any]:
        """Hyperparameters as given to ``__init__``."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> Self:
        valid = self._param_names()
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

    def _check_fitted(self) -> None:
        if not hasattr(self, "n_items_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit(train) first")

    @staticmethod
    def _seed(random_state: int | None) -> int:
        """An integer seed from ``random_state`` (``None`` draws one from OS entropy)."""
        if random_state is None:
            return int(np.random.default_rng().integers(2**31 - 1))
        return int(random_state)


class TorchModel(BaseModel):
    """A model whose learned state is an ``nn.Module`` in ``network_``.

    Subclasses define ``__init__`` with their hyperparameters, which must include
    ``epochs``, ``patience``, ``valid_cutoff``, ``device`` and ``random_state``, and implement

    ``_build_network(train) -> nn.Module``
    ``_build_optimizer(network) -> torch.optim.Optimizer``
    ``_train_epoch(train, optimizer, rng, generator) -> float`` (mean training loss)
    ``_scores(batch) -> Tensor (B, n_items)`` on ``self.device_``, called in eval mode under
    ``torch.no_grad``.

    :meth:`fit` runs the epochs. With a validation split it evaluates Recall@``valid_cutoff``
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
    def _build_network(self, train: Sessions) -> nn.Module:
        raise NotImplementedError

    def _build_optimizer(self, network: nn.Module) -> torch.optim.Optimizer:
        raise NotImplementedError

    def _train_epoch(
        self, train: Sessions, optimizer: torch.optim.Optimizer, rng: np.random.Generator, generator: torch.Generator
    ) -> float:
        raise NotImplementedError

    def _scores(self, batch: PrefixBatch) -> torch.Tensor:
        raise NotImplementedError

    # -------------------------------------------------------------- fit / score
    def fit(self, train: Sessions, *, valid: Sessions | None = None) -> Self:
        if train.n_cases == 0:
            raise ValueError("cannot fit on training data without a single next-item case")
        self.device_ = resolve_device(self.device)
        self.n_items_ = train.n_items
        seed = self._seed(self.random_state)
        rng = np.random.default_rng(seed)
        devices = [self.device_.index or 0] if self.device_.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            generator = torch.Generator(device="cpu").manual_seed(seed)
            self.network_ = self._build_network(train).to(self.device_)
            optimizer = self._build_optimizer(self.network_)
            self._run_epochs(train, valid, optimizer, rng, generator)
        return self

    def _run_epochs(
        self,
        train: Sessions,
        valid: Sessions | None,
        optimizer: torch.optim.Optimizer,
        rng: np.random.Generator,
        generator: torch.Generator,
    ) -> None:
        use_valid = valid is not None and valid.n_cases > 0
        best_metric, best_state, bad_epochs = -np.inf, None, 0
        self.history_: list[dict[str, float]] = []
        self.best_epoch_ = self.epochs - 1
        for epoch in range(self.epochs):
            t0 = time.perf_counter()
            self.network_.train()
            loss = float(self._train_epoch(train, optimizer, rng, generator))
            record: dict[str, float] = {"epoch": epoch + 1, "loss": loss, "seconds": time.perf_counter() - t0}
            if not np.isfinite(loss):
                raise FloatingPointError(
                    f"{type(self).__name__}: training loss became {loss} in epoch {epoch + 1}; "
                    "lower the learning rate or check the data"
                )
            if use_valid:
                assert valid is not None
                metric = self._validate(valid)
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

    def _validate(self, valid: Sessions) -> float:
        from sessrec.evaluation import evaluate  # local import: evaluation imports models

        result = evaluate(self, valid, cutoffs=(self.valid_cutoff,), ties="conservative", keep_ranks=False)
        return float(result.metrics[f"recall@{self.valid_cutoff}"])

    def score(self, batch: PrefixBatch) -> torch.Tensor:
        self._check_fitted()
        self.network_.eval()
        with torch.no_grad():
            return self._scores(batch.to(self.device_))
