"""One Optuna study per (dataset, model), on a validation split only.

::

    for each trial, until the study holds ``n_trials`` finished trials (or time is up):
        sampler seeded by (seed, trials so far)  ──► params = fixed + space.suggest(trial)
        model(**params).fit(train part, valid=valid)  ── per-epoch validation value ──► pruner
        evaluate(model, valid) ──► objective (e.g. mrr@20) ──► study.tell
    best trial ──► tuned/<dataset>/<model>.toml  (a parameter set: ``-p model=tuned``)

Everything is stored in an Optuna RDB storage (SQLite in the study folder by default, or any
SQLAlchemy URL), so an interrupted ``sessrec tune`` resumes where it stopped and several
processes, on one machine or many, share a study. Resuming is exact: the sampler of a trial
is seeded from the tuning seed and the number of trials before it that did not fail, so
the trial a ``kill -9`` interrupted is replayed with the same parameters, and the final
best equals that of an uninterrupted run. A trial left ``RUNNING`` by a dead process of
this machine is marked failed when tuning resumes.

Neural models report their per-epoch validation value (their own ``valid_cutoff`` recall,
which also selects their best epoch) to the pruner; the objective is measured on the
validation split after ``fit``. The tuned epoch count is the best trial's best epoch, so
the refit on the whole training part (which has no validation split) trains that long.
"""

from __future__ import annotations

import math
import os
import random
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sessrec.errors import ConfigError, SessrecError
from sessrec.progress import current_callback, emit, progress_callback
from sessrec.tuning.data import TuningData
from sessrec.tuning.spaces import SearchSpace

__all__ = ["TuneResult", "check_objective", "optuna_or_error", "tune_model"]

_METRICS = ("recall", "mrr", "ndcg")
_PRUNERS = ("median", "hyperband", "none")


def optuna_or_error() -> Any:
    """The ``optuna`` module, or one clear line saying how to install it."""
    try:
        import optuna
    except ImportError:
        raise ConfigError('tuning needs Optuna: pip install -e ".[tune]"') from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def check_objective(objective: str) -> tuple[str, int]:
    """``"mrr@20"`` -> ``("mrr", 20)``; anything else is a :class:`ConfigError`."""
    name, _, k = objective.lower().partition("@")
    if name not in _METRICS or not k.isdigit() or int(k) < 1:
        raise ConfigError(f"objective must be METRIC@K with METRIC one of {', '.join(_METRICS)}, got {objective!r}")
    return name, int(k)


def _pruner(optuna: Any, name: str) -> Any:
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner()
    if name == "none":
        return optuna.pruners.NopPruner()
    raise ConfigError(f"pruner must be one of {', '.join(_PRUNERS)}, got {name!r}")


@dataclass(frozen=True)
class TuneResult:
    """What one (dataset, model) study found and what it cost."""

    model: str
    study_name: str
    objective: str
    best_value: float | None
    best_params: dict[str, Any]
    best_trial: int | None
    n_complete: int
    n_pruned: int
    n_failed: int
    seconds: float
    space_digest: str
    space_source: str
    history: list[dict[str, Any]] = field(default_factory=list)


def _worker_tag() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fail_dead_trials(optuna: Any, study: Any) -> int:
    """Mark failed the trials left running by dead processes of this host; return how many."""
    host = socket.gethostname()
    n = 0
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        tag = str(t.user_attrs.get("worker", ""))
        thost, _, pid = tag.rpartition(":")
        if thost == host and pid.isdigit() and not _pid_alive(int(pid)):
            study.tell(t.number, state=optuna.trial.TrialState.FAIL)
            n += 1
    return n


def _counts(optuna: Any, study: Any) -> dict[str, int]:
    states = optuna.trial.TrialState
    trials = study.get_trials(deepcopy=False)
    return {
        "complete": sum(t.state == states.COMPLETE for t in trials),
        "pruned": sum(t.state == states.PRUNED for t in trials),
        "failed": sum(t.state == states.FAIL for t in trials),
        "running": sum(t.state in (states.RUNNING, states.WAITING) for t in trials),
    }


def _check_study_meta(study: Any, meta: Mapping[str, Any]) -> None:
    old = study.user_attrs
    for key, value in meta.items():
        if key in old and old[key] != value:
            raise ConfigError(
                f"tuning study {study.study_name!r} was started with {key}={old[key]!r}, now {value!r}; "
                "use another --out or storage, or the same settings"
            )
    for key, value in meta.items():
        if key not in old:
            study.set_user_attr(key, value)


def _pruning_callback(optuna: Any, trial: Any) -> Callable[[str, dict[str, Any]], None]:
    outer = current_callback()

    def callback(kind: str, info: dict[str, Any]) -> None:
        if outer is not None:
            outer(kind, info)
        if kind != "epoch":
            return
        values = [v for k, v in info.items() if k.startswith("valid_") and isinstance(v, (int, float))]
        if values and math.isfinite(values[0]):
            trial.report(float(values[0]), step=int(info.get("epoch", 0)))
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at epoch {info.get('epoch')}")

    return callback


def _fit_and_score(
    model_name: str, params: dict[str, Any], data: TuningData, objective: str, ties: str
) -> tuple[float, Any]:
    from sessrec.evaluation import evaluate
    from sessrec.registry import load_model

    model = load_model(model_name)(**params)
    model.fit(data.train, valid=data.valid)
    _, k = check_objective(objective)
    result = evaluate(model, data.valid, cutoffs=(k,), ties=ties, keep_ranks=False)
    return float(result.metrics[objective.lower()]), model


def trial_params(
    model_name: str,
    space: SearchSpace,
    trial: Any,
    *,
    seed: int,
    device: str,
    base: Mapping[str, Any],
    scales: dict[str, float] | None = None,
) -> dict[str, Any]:
    """The constructor arguments of one trial: ``base`` + fixed + drawn, checked, seeded."""
    from sessrec.models.params import param_names, validate_params
    from sessrec.registry import load_model

    cls = load_model(model_name)
    clash = sorted(set(base) & set(space.names))
    if clash:
        raise ConfigError(f"{model_name}: {', '.join(clash)} is tuned by the search space and cannot also be fixed")
    drawn = space.suggest(trial, scales)  # fixed values first, then the draws; a user's base values override fixed ones
    params = validate_params(cls, {**drawn, **dict(base), **{k: drawn[k] for k in space.names}}, model_name=model_name)
    names = param_names(cls)
    if "random_state" in names:
        params.setdefault("random_state", seed)
    if "device" in names:
        params.setdefault("device", device)
    return params


@dataclass(frozen=True)
class TuneSettings:
    """How to tune: budget, objective, storage, seed, pruner, ties, device."""

    n_trials: int = 30
    timeout: float | None = None
    objective: str = "mrr@20"
    storage: str | None = None
    seed: int = 0
    pruner: str = "median"
    ties: str = "conservative"
    device: str = "auto"
    n_startup_trials: int = 10
    n_parallel: int = 1


def open_study(optuna: Any, settings: TuneSettings, study_name: str, attempts: int = 5) -> Any:
    """Create or load the study; workers starting together may race to create the schema, so retry."""
    for attempt in range(attempts):
        try:
            return optuna.create_study(
                storage=settings.storage,
                study_name=study_name,
                direction="maximize",
                pruner=_pruner(optuna, settings.pruner),
                load_if_exists=True,
            )
        except Exception as exc:  # sqlalchemy's IntegrityError/OperationalError of a concurrent CREATE
            if attempt == attempts - 1 or "sqlalchemy" not in type(exc).__module__:
                raise
            time.sleep(0.2 + random.random())
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class TrialOutcome:
    """How a trial ended: ``state`` is ``complete``, ``pruned`` or ``failed``."""

    state: str
    value: float | None = None
    best_epochs: int | None = None
    seconds: float = 0.0
    error: str | None = None


@dataclass(frozen=True)
class _StudyRun:
    """What every step of one model's tuning reads: optuna, the study, the model, its space, the data,
    the settings and the fixed parameters (``base``)."""

    optuna: Any
    study: Any
    model_name: str
    space: SearchSpace
    data: TuningData
    settings: TuneSettings
    base: Mapping[str, Any]


def _ask(run: _StudyRun) -> tuple[Any, dict[str, Any]]:
    """A new trial with its sampler seeded by (seed, trials before it that did not fail)."""
    optuna, study, model_name, settings, data = run.optuna, run.study, run.model_name, run.settings, run.data
    k_before = sum(t.state != optuna.trial.TrialState.FAIL for t in study.get_trials(deepcopy=False))
    study.sampler = optuna.samplers.TPESampler(
        seed=settings.seed * 1_000_003 + k_before, n_startup_trials=settings.n_startup_trials
    )
    trial = study.ask()
    trial.set_user_attr("worker", _worker_tag())
    emit("trial", model=model_name, number=trial.number, state="started")
    try:
        scales = {"mean_session_length": data.train.n_clicks / max(1, data.train.n_sessions)}
        params = trial_params(
            model_name, run.space, trial, seed=settings.seed, device=settings.device, base=run.base, scales=scales
        )
        chosen = {k: v for k, v in params.items() if k not in ("random_state", "device")}
        trial.set_user_attr("model_params", chosen)  # what a refit uses; random_state and device are per run
        trial.set_user_attr("tuple_params", sorted(k for k, v in chosen.items() if isinstance(v, tuple)))
        return trial, params
    except BaseException:
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        raise


def evaluate_trial(
    model_name: str, params: dict[str, Any], data: TuningData, settings: TuneSettings, trial: Any
) -> TrialOutcome:
    """Fit with ``params``, score on validation; per-epoch values go to ``trial``'s pruner."""
    optuna = optuna_or_error()
    t0 = time.perf_counter()
    try:
        with progress_callback(_pruning_callback(optuna, trial)):
            value, model = _fit_and_score(model_name, params, data, settings.objective, settings.ties)
    except optuna.TrialPruned:
        return TrialOutcome("pruned", seconds=time.perf_counter() - t0)
    except (SessrecError, KeyboardInterrupt):
        raise
    except Exception as exc:  # a failing configuration is a failed trial, not a failed study
        return TrialOutcome("failed", seconds=time.perf_counter() - t0, error=f"{type(exc).__name__}: {exc}"[:500])
    best_epoch = getattr(model, "best_epoch_", None)
    epochs = int(best_epoch) + 1 if best_epoch is not None and "epochs" in params else None
    return TrialOutcome("complete", value, epochs, time.perf_counter() - t0)


def _remote_trial(
    model_name: str, params: dict[str, Any], data: TuningData, settings: TuneSettings, study_name: str, trial_id: int
) -> TrialOutcome:
    """A trial inside a Ray task: it reports to the pruner through the shared storage."""
    optuna = optuna_or_error()
    study = optuna.load_study(study_name=study_name, storage=settings.storage, pruner=_pruner(optuna, settings.pruner))
    return evaluate_trial(model_name, params, data, settings, optuna.trial.Trial(study, trial_id))


def _tell(run: _StudyRun, trial: Any, outcome: TrialOutcome) -> None:
    optuna, study, model_name = run.optuna, run.study, run.model_name
    states = optuna.trial.TrialState
    trial.set_user_attr("seconds", outcome.seconds)
    if outcome.best_epochs is not None:
        trial.set_user_attr("best_epochs", outcome.best_epochs)
    if outcome.state == "complete":
        study.tell(trial, outcome.value)
    elif outcome.state == "pruned":
        study.tell(trial, state=states.PRUNED)
    else:
        trial.set_user_attr("error", outcome.error)
        study.tell(trial, state=states.FAIL)
    emit("trial", model=model_name, number=trial.number, state=outcome.state, value=outcome.value, error=outcome.error)


def _run_trial(run: _StudyRun) -> None:
    trial, params = _ask(run)
    try:
        outcome = evaluate_trial(run.model_name, params, run.data, run.settings, trial)
    except BaseException:
        run.study.tell(trial, state=run.optuna.trial.TrialState.FAIL)
        raise
    _tell(run, trial, outcome)


def _room(run: _StudyRun, budget: int, t0: float) -> int:
    """How many more trials may start now (0 when the budget or the time is spent)."""
    optuna, study, model_name, settings = run.optuna, run.study, run.model_name, run.settings
    c = _counts(optuna, study)
    if c["failed"] >= max(10, 2 * settings.n_trials):
        errors = [t.user_attrs.get("error") for t in study.get_trials(deepcopy=False) if t.user_attrs.get("error")]
        raise SessrecError(f"{model_name}: {c['failed']} trials failed; the last: {errors[-1] if errors else '?'}")
    if settings.timeout is not None and time.perf_counter() - t0 >= settings.timeout:
        return 0
    return budget - (c["complete"] + c["pruned"] + c["running"])


def _run_parallel(run: _StudyRun, executor: Any, budget: int, t0: float) -> None:
    """Keep ``settings.n_parallel`` trials running as Ray tasks until the budget is spent."""
    optuna, study, model_name, settings = run.optuna, run.study, run.model_name, run.settings
    ray = executor.start()
    data_ref = ray.put(run.data)
    pending: dict[Any, Any] = {}
    try:
        while True:
            room = _room(run, budget, t0)
            while room > 0 and len(pending) < max(1, settings.n_parallel):
                trial, params = _ask(run)
                # optuna names a trial in its storage by this id; the task reopens the trial with it
                ref = executor.submit(
                    _remote_trial, model_name, params, data_ref, settings, study.study_name, trial._trial_id
                )
                pending[ref], room = trial, room - 1
            if not pending:
                return
            done, _ = ray.wait(list(pending), num_returns=1)
            trial, outcome = pending.pop(done[0]), ray.get(done[0])
            if isinstance(outcome, SessrecError):
                raise outcome
            if isinstance(outcome, BaseException):
                outcome = TrialOutcome("failed", error=f"{type(outcome).__name__}: {outcome}"[:500])
            _tell(run, trial, outcome)
    finally:
        for ref, trial in pending.items():
            ray.cancel(ref, force=True)
            study.tell(trial, state=optuna.trial.TrialState.FAIL)


def tune_model(
    model_name: str,
    data: TuningData,
    space: SearchSpace,
    settings: TuneSettings,
    *,
    study_name: str,
    base_params: Mapping[str, Any] | None = None,
    executor: Any = None,
) -> TuneResult:
    """Run (or resume) the study ``study_name`` until it has ``settings.n_trials`` finished trials.

    Finished means complete or pruned; failed trials do not count towards the budget (they
    are retried with the same sampler seed). Several processes may call this on one study.
    With a Ray ``executor`` (:mod:`sessrec.executors`), ``settings.n_parallel`` trials run at
    once as Ray tasks; they report to the pruner through the storage.
    """
    optuna = optuna_or_error()
    check_objective(settings.objective)
    study = open_study(optuna, settings, study_name)
    _check_study_meta(
        study,
        {
            "model": model_name,
            "objective": settings.objective,
            "space": space.digest(),
            "fingerprint": data.fingerprint,
            "seed": settings.seed,
        },
    )
    fail_dead_trials(optuna, study)
    t0 = time.perf_counter()
    base = dict(base_params or {})
    budget = settings.n_trials if space.dimensions else min(settings.n_trials, 1)  # nothing to search
    run = _StudyRun(optuna, study, model_name, space, data, settings, base)
    if executor is not None and getattr(executor, "name", "") == "ray":
        _run_parallel(run, executor, budget, t0)
    else:
        while _room(run, budget, t0) > 0:
            _run_trial(run)
    return summarise(optuna, study, model_name, space, settings, time.perf_counter() - t0)


def summarise(
    optuna: Any, study: Any, model_name: str, space: SearchSpace, settings: TuneSettings, seconds: float
) -> TuneResult:
    """The study's best trial, counts and history as a :class:`TuneResult`."""
    c = _counts(optuna, study)
    done = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
    history = [{"number": t.number, "value": t.value, "state": t.state.name} for t in study.get_trials(deepcopy=False)]
    spent = sum(float(t.user_attrs.get("seconds", 0.0)) for t in study.get_trials(deepcopy=False))
    if not done:
        return TuneResult(
            model_name,
            study.study_name,
            settings.objective,
            None,
            {},
            None,
            c["complete"],
            c["pruned"],
            c["failed"],
            spent or seconds,
            space.digest(),
            space.source,
            history,
        )
    best = max(done, key=lambda t: (t.value, -t.number))
    tuples = set(best.user_attrs.get("tuple_params", []))
    params = {k: tuple(v) if k in tuples else v for k, v in dict(best.user_attrs.get("model_params", {})).items()}
    if "best_epochs" in best.user_attrs:
        params["epochs"] = int(best.user_attrs["best_epochs"])
    return TuneResult(
        model_name,
        study.study_name,
        settings.objective,
        float(best.value),
        params,
        best.number,
        c["complete"],
        c["pruned"],
        c["failed"],
        spent,
        space.digest(),
        space.source,
        history,
    )


def study_name_for(data: TuningData, model_name: str, objective: str) -> str:
    """``<dataset>-<fingerprint[:12]>/<model>/<objective>``: one study per data, model and objective."""
    return f"{data.name}-{data.fingerprint[:12]}/{model_name}/{objective.lower()}"


def default_storage(out_dir: str | Path) -> str:
    """SQLite in the study folder."""
    path = Path(out_dir).resolve() / "tuning.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"
