"""The conformance suite: what every sessrec model must satisfy.

Each check is a function ``check_x(name, factory, ctx)`` that raises ``AssertionError``
with a message saying what was expected and what was found. :func:`check_model` runs them
all and returns one :class:`CheckResult` per check; :func:`parametrize_with_checks` turns
them into pytest parameters (as scikit-learn's ``parametrize_with_checks`` does), so a plugin
author runs exactly the checks sessrec's own models pass::

    from sessrec.testing import parametrize_with_checks

    @parametrize_with_checks(["mymodel"])
    def test_conformance(model_name, check):
        check()

Checks
------
api            hyperparameters are ``__init__`` keywords stored verbatim; no learned state
               (``*_``) before fit; ``clone`` and ``repr`` work
not_fitted     scoring before ``fit`` raises
fit_returns_self
score_contract scores are (B, n_items), floating, finite or -inf, for any prefix lengths
batch_invariance  a row's scores do not depend on the other rows of its batch
order_invariance  permuting rows permutes scores
no_mutation    neither the training data nor the batch is modified
degenerate     one training session of length 2; prefixes of never-seen items; a catalogue
               larger than the items seen
seeding        equal ``random_state`` gives equal scores; the global RNG is left untouched
pickle         a pickled and restored model scores the same
oracle         the model learns the oracle pattern its ``tags["oracle"]`` names
fast_path      ``score_sessions`` (when present) equals ``score`` on every prefix, and
               ``score_sessions_sparse`` (when present) equals ``score_sessions`` exactly
cuda           (CUDA only) a model fitted on the GPU scores like one fitted on the CPU
               (deterministic models) or learns the oracle equally (others)
"""

from __future__ import annotations

import copy
import pickle
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from sessrec.data.sessions import PrefixBatch, Sessions
from sessrec.models.params import param_names
from sessrec.registry import load_model
from sessrec.testing.oracle import chance_recall, oracle_data

__all__ = ["CHECKS", "CheckResult", "SkipCheck", "check_model", "parametrize_with_checks"]


class SkipCheck(Exception):
    """A check that does not apply (e.g. no CUDA, no fast path)."""


@dataclass
class CheckResult:
    check: str
    status: str  # "passed" | "failed" | "skipped"
    message: str = ""
    seconds: float = 0.0


@dataclass
class _Context:
    """Shared state of one model's checks: oracle data and a model fitted on it (lazily)."""

    factory: Callable[..., Any]
    params: dict[str, Any]
    kind: str
    train: Sessions = field(init=False)
    test: Sessions = field(init=False)
    _fitted: Any = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.train, self.test = oracle_data(self.kind, seed=0)

    def new(self, **overrides: Any) -> Any:
        params = {**self.params, **overrides}
        if "random_state" in _param_names(self.factory) and "random_state" not in params:
            params["random_state"] = 0
        if "device" in _param_names(self.factory) and "device" not in params:
            params["device"] = "cpu"
        return self.factory(**params)

    @property
    def fitted(self) -> Any:
        if self._fitted is None:
            self._fitted = self.new().fit(self.train)
        return self._fitted

    def batch(self, n: int = 24, seed: int = 1) -> PrefixBatch:
        """Test prefixes of mixed lengths, shuffled."""
        rng = np.random.default_rng(seed)
        cases = rng.permutation(self.test.n_cases)[:n]
        batch, _ = next(self.test.prefix_batches(len(cases), cases=np.sort(cases)))
        return batch


def _param_names(factory: Any) -> list[str]:
    """The parameters of a model class; ``[]`` for a function or an ``**kwargs`` class."""
    if not isinstance(factory, type):
        return []
    try:
        return param_names(factory)
    except TypeError:
        return []


def _scores(model: Any, batch: PrefixBatch) -> torch.Tensor:
    return model.score(batch).detach().to("cpu", torch.float64)


def _close(a: torch.Tensor, b: torch.Tensor, what: str) -> None:
    if a.shape != b.shape:
        raise AssertionError(f"{what}: shapes differ, {tuple(a.shape)} vs {tuple(b.shape)}")
    same_inf = torch.equal(torch.isneginf(a), torch.isneginf(b))
    fa, fb = torch.where(torch.isfinite(a), a, 0), torch.where(torch.isfinite(b), b, 0)
    scale = max(1.0, float(fa.abs().max()) if fa.numel() else 1.0)
    err = float((fa - fb).abs().max()) if fa.numel() else 0.0
    if not same_inf or err > 1e-5 * scale:
        raise AssertionError(f"{what}: expected equal scores, max abs difference {err:.3g} (scale {scale:.3g})")


# ---------------------------------------------------------------------- checks
def check_api(name: str, ctx: _Context) -> None:
    model = ctx.new()
    names = _param_names(ctx.factory)
    params = model.get_params()
    if list(params) != names:
        raise AssertionError(f"get_params() keys {list(params)} differ from __init__ parameters {names}")
    for key, value in ctx.params.items():
        if params.get(key) is not value:
            raise AssertionError(f"parameter {key!r} was not stored verbatim: gave {value!r}, got {params.get(key)!r}")
    learned = [a for a in vars(model) if a.endswith("_") and not a.startswith("_")]
    if learned:
        raise AssertionError(f"__init__ must not set learned attributes, found {learned}")
    clone = model.clone()
    if clone.get_params().keys() != params.keys():
        raise AssertionError("clone() changed the parameters")
    repr(model)


def check_not_fitted(name: str, ctx: _Context) -> None:
    try:
        ctx.new().score(ctx.batch(4))
    except Exception:
        return
    raise AssertionError("score() before fit() should raise, but it returned scores")


def check_fit_returns_self(name: str, ctx: _Context) -> None:
    model = ctx.new()
    out = model.fit(ctx.train)
    if out is not model:
        raise AssertionError(f"fit() must return self, returned {type(out).__name__}")
    learned = [a for a in vars(model) if a.endswith("_") and not a.startswith("_")]
    if not learned:
        raise AssertionError("fit() set no learned attribute ending in '_'")


def check_score_contract(name: str, ctx: _Context) -> None:
    batch = ctx.batch(24)
    s = ctx.fitted.score(batch)
    if not isinstance(s, torch.Tensor):
        raise AssertionError(f"score() must return a torch.Tensor, returned {type(s).__name__}")
    if tuple(s.shape) != (batch.batch_size, ctx.train.n_items):
        raise AssertionError(f"score() shape: expected {(batch.batch_size, ctx.train.n_items)}, got {tuple(s.shape)}")
    if not s.is_floating_point():
        raise AssertionError(f"score() dtype must be floating, got {s.dtype}")
    s = s.detach().cpu()
    if torch.isnan(s).any():
        raise AssertionError(f"score() returned NaN in {int(torch.isnan(s).sum())} entries")
    if torch.isposinf(s).any():
        raise AssertionError("score() returned +inf; use large finite values (or -inf for 'never')")


def check_batch_invariance(name: str, ctx: _Context) -> None:
    batch = ctx.batch(24)
    whole = _scores(ctx.fitted, batch)
    pieces = [
        _scores(ctx.fitted, batch.select(list(range(lo, min(lo + 5, batch.batch_size)))))
        for lo in range(0, batch.batch_size, 5)
    ]
    alone = [_scores(ctx.fitted, batch.select([i])) for i in range(batch.batch_size)]
    _close(whole, torch.cat(pieces), "scores in one batch vs in batches of 5")
    _close(whole, torch.cat(alone), "scores in one batch vs each row alone")


def check_order_invariance(name: str, ctx: _Context) -> None:
    batch = ctx.batch(24)
    perm = torch.from_numpy(np.random.default_rng(3).permutation(batch.batch_size))
    _close(_scores(ctx.fitted, batch)[perm], _scores(ctx.fitted, batch.select(perm)), "permuted rows")


def check_no_mutation(name: str, ctx: _Context) -> None:
    items, offsets = ctx.train.items.copy(), ctx.train.offsets.copy()
    model = ctx.new().fit(ctx.train)
    if not (np.array_equal(items, ctx.train.items) and np.array_equal(offsets, ctx.train.offsets)):
        raise AssertionError("fit() modified the training sessions")
    batch = ctx.batch(12)
    before_items, before_len = batch.items.clone(), batch.lengths.clone()
    model.score(batch)
    if not (torch.equal(before_items, batch.items) and torch.equal(before_len, batch.lengths)):
        raise AssertionError("score() modified the PrefixBatch it was given")
    if hasattr(model, "score_sessions"):
        model.score_sessions(batch)
        if not torch.equal(before_items, batch.items):
            raise AssertionError("score_sessions() modified the PrefixBatch it was given")


def check_degenerate(name: str, ctx: _Context) -> None:
    n_items = 12
    tiny = Sessions.from_lists([[0, 1]], n_items=n_items)
    model = ctx.new().fit(tiny)
    batch = PrefixBatch.from_lists([[0], [5], [11, 7], [1, 0, 1, 0]])
    s = _scores(model, batch)
    if tuple(s.shape) != (4, n_items):
        raise AssertionError(
            f"after fitting on one session, scores have shape {tuple(s.shape)}, expected (4, {n_items})"
        )
    if torch.isnan(s).any() or torch.isposinf(s).any():
        raise AssertionError("scores for never-seen items contain NaN or +inf")


def check_seeding(name: str, ctx: _Context) -> None:
    state = torch.random.get_rng_state()
    np_state = np.random.get_state()[1].copy()  # noqa: NPY002 - verifies fit leaves the global RNG alone
    batch = ctx.batch(12)
    a = _scores(ctx.new().fit(ctx.train), batch)
    b = _scores(ctx.new().fit(ctx.train), batch)
    _close(a, b, "two fits with the same random_state")
    if not torch.equal(state, torch.random.get_rng_state()):
        raise AssertionError("fit() changed torch's global RNG state; use local generators or fork_rng")
    if not np.array_equal(np_state, np.random.get_state()[1]):  # noqa: NPY002 - same check
        raise AssertionError("fit() changed numpy's global RNG state; use np.random.default_rng(random_state)")


def check_pickle(name: str, ctx: _Context) -> None:
    batch = ctx.batch(12)
    restored = pickle.loads(pickle.dumps(ctx.fitted))
    _close(_scores(ctx.fitted, batch), _scores(restored, batch), "scores after a pickle round trip")
    copied = copy.deepcopy(ctx.fitted)
    _close(_scores(ctx.fitted, batch), _scores(copied, batch), "scores after deepcopy")


def _oracle_recall(model: Any, test: Sessions, k: int) -> float:
    from sessrec.evaluation import evaluate

    return float(evaluate(model, test, cutoffs=(k,), keep_ranks=False).metrics[f"recall@{k}"])


def check_oracle(name: str, ctx: _Context) -> None:
    k = 5
    recall = _oracle_recall(ctx.fitted, ctx.test, k)
    chance = chance_recall(ctx.test, k)
    need = 0.8 if ctx.kind in ("sequence", "session") else 1.5 * chance
    if recall < need:
        raise AssertionError(
            f"on the {ctx.kind!r} oracle, Recall@{k} = {recall:.3f}; expected >= {need:.3f} (chance {chance:.3f})"
        )


def check_fast_path(name: str, ctx: _Context) -> None:
    model = ctx.fitted
    if not hasattr(model, "score_sessions"):
        raise SkipCheck("no score_sessions fast path")
    sessions = ctx.test.select(np.arange(min(12, ctx.test.n_sessions)))
    keep = sessions.lengths - 1
    starts = sessions.offsets[:-1]
    batch = PrefixBatch.from_ranges(sessions.items, starts[keep > 0], keep[keep > 0])
    fast = model.score_sessions(batch).detach().to("cpu", torch.float64)
    prefixes = [
        sessions.items[s : s + t + 1].tolist() for s, n in zip(starts[keep > 0], keep[keep > 0]) for t in range(n)
    ]
    slow = _scores(model, PrefixBatch.from_lists(prefixes))
    _close(fast, slow, "score_sessions() vs score() on every prefix")
    if hasattr(model, "score_sessions_sparse"):
        _check_sparse_fast_path(model, batch, fast)


def _check_sparse_fast_path(model: Any, batch: PrefixBatch, dense: torch.Tensor) -> None:
    """``score_sessions_sparse`` is a SciPy sparse matrix whose dense form is ``score_sessions``, exactly."""
    import scipy.sparse as sp

    block = model.score_sessions_sparse(batch)
    if not sp.issparse(block) or tuple(block.shape) != tuple(dense.shape):
        raise AssertionError(
            f"score_sessions_sparse() returned {type(block).__name__} of shape {getattr(block, 'shape', None)}; "
            f"expected a scipy.sparse matrix of shape {tuple(dense.shape)} (as score_sessions)"
        )
    got = torch.from_numpy(np.asarray(block.toarray(), dtype=np.float64))
    if not torch.equal(got, dense):
        worst = int((got != dense).sum())
        raise AssertionError(
            f"score_sessions_sparse().toarray() differs from score_sessions() in {worst} entries; the evaluator "
            "ranks either one, so they must be identical (unstored items score exactly 0)"
        )


def check_cuda(name: str, ctx: _Context) -> None:
    if not torch.cuda.is_available():
        raise SkipCheck("no CUDA device")
    if "device" not in _param_names(ctx.factory):
        raise SkipCheck("the model has no device parameter")
    gpu = ctx.new(device="cuda").fit(ctx.train)
    if ctx.fitted.tags.get("deterministic", False):
        batch = ctx.batch(12)
        _close(_scores(ctx.fitted, batch), _scores(gpu, batch.to("cuda")), "CPU-fitted vs GPU-fitted scores")
    else:
        cpu_r, gpu_r = _oracle_recall(ctx.fitted, ctx.test, 5), _oracle_recall(gpu, ctx.test, 5)
        if abs(cpu_r - gpu_r) > 0.1:
            raise AssertionError(f"oracle Recall@5 on CPU {cpu_r:.3f} vs GPU {gpu_r:.3f}")


CHECKS: dict[str, Callable[[str, _Context], None]] = {
    "api": check_api,
    "not_fitted": check_not_fitted,
    "fit_returns_self": check_fit_returns_self,
    "score_contract": check_score_contract,
    "batch_invariance": check_batch_invariance,
    "order_invariance": check_order_invariance,
    "no_mutation": check_no_mutation,
    "degenerate": check_degenerate,
    "seeding": check_seeding,
    "pickle": check_pickle,
    "oracle": check_oracle,
    "fast_path": check_fast_path,
    "cuda": check_cuda,
}


def _context(model: str | Callable[..., Any], params: dict[str, Any] | None) -> tuple[str, _Context]:
    factory = load_model(model) if isinstance(model, str) else model
    name = model if isinstance(model, str) else getattr(factory, "__name__", repr(factory))
    tags = getattr(factory, "tags", {}) or {}
    merged = {**getattr(factory, "test_params", {}), **(params or {})}
    return name, _Context(factory, merged, tags.get("oracle", "popularity"))


def check_model(
    model: str | Callable[..., Any],
    *,
    params: dict[str, Any] | None = None,
    checks: list[str] | None = None,
    on_result: Callable[[CheckResult], None] | None = None,
) -> list[CheckResult]:
    """Run the conformance checks on a registered model name or a model class.

    ``params`` override the class's ``test_params``. Returns one result per check; never
    raises for a failing check (the result says why).
    """
    name, ctx = _context(model, params)
    unknown = set(checks or []) - set(CHECKS)
    if unknown:
        raise ValueError(f"unknown checks {sorted(unknown)}; valid: {', '.join(CHECKS)}")
    results = []
    for check_name in checks or list(CHECKS):
        t0 = time.perf_counter()
        try:
            CHECKS[check_name](name, ctx)
            res = CheckResult(check_name, "passed")
        except SkipCheck as exc:
            res = CheckResult(check_name, "skipped", str(exc))
        except AssertionError as exc:
            res = CheckResult(check_name, "failed", str(exc))
        except Exception as exc:  # a crash inside the model is a failure of that check
            res = CheckResult(check_name, "failed", f"{type(exc).__name__}: {exc}")
        res.seconds = time.perf_counter() - t0
        results.append(res)
        if on_result is not None:
            on_result(res)
    return results


def parametrize_with_checks(models: list[str | Callable[..., Any]]) -> Callable[[Any], Any]:
    """A pytest decorator yielding ``(model_name, check)`` for every model and check.

    The fitted oracle model is shared by the checks of one model, so the suite fits each
    model only a few times.
    """
    import pytest

    contexts: dict[int, tuple[str, _Context]] = {}

    def make(i: int, model: str | Callable[..., Any], check_name: str) -> Callable[[], None]:
        def run() -> None:
            if i not in contexts:
                contexts[i] = _context(model, None)
            name, ctx = contexts[i]
            try:
                CHECKS[check_name](name, ctx)
            except SkipCheck as exc:
                pytest.skip(str(exc))

        return run

    params, ids = [], []
    for i, model in enumerate(models):
        label = model if isinstance(model, str) else getattr(model, "__name__", str(i))
        for check_name in CHECKS:
            marks = [pytest.mark.cuda] if check_name == "cuda" else []
            params.append(pytest.param(label, make(i, model, check_name), marks=marks))
            ids.append(f"{label}-{check_name}")
    return pytest.mark.parametrize(("model_name", "check"), params, ids=ids)
