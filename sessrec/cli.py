"""The ``sessrec`` command line: the only place that parses argv or prints.

::

    sessrec run [--models narm,gru4rec] [--dataset synthetic] [--data-dir DIR] [--out DIR]
                [--protocol narm|gru4rec] [--test-days N] [--cutoffs 5,10,20] [--ties conservative]
                [--device auto] [--seeds 0,1,2] [--config experiment.toml]
                [-o key=value ...] [-p model.key=value | -p model=paramset ...] [--force] [--quiet]
    sessrec report [DIR] [--format md|latex|csv|json]
    sessrec models
    sessrec datasets [stats NAME]
    sessrec check MODEL
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from sessrec.data.protocols import PROTOCOLS
from sessrec.errors import ConfigError, SessrecError
from sessrec.progress import progress_callback
from sessrec.study import (
    StudyConfig,
    check_days,
    coerce_dataset_options,
    named_params,
    parse_value,
    read_study,
    run_configs,
)

console = Console()
err_console = Console(stderr=True)
PROTOCOL_CHOICES = sorted(PROTOCOLS)


# ---------------------------------------------------------------------- helpers
def _csv_list(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def _ints(text: str, what: str) -> list[int]:
    try:
        return [int(t) for t in _csv_list(text)]
    except ValueError:
        raise ConfigError(f"{what} must be comma-separated integers like 5,10,20, got {text!r}") from None


def _key_values(pairs: tuple[str, ...], what: str) -> dict[str, Any]:
    """``key=value`` pairs; values parsed as literals (``path`` stays text)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"{what} expects key=value, got {pair!r}")
        key, value = pair.split("=", 1)
        key = key.strip()
        out[key] = value if key == "path" else parse_value(value)
    return out


def _model_params(pairs: tuple[str, ...]) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """``model.key=value`` -> params; ``model=name`` -> a named parameter set."""
    params: dict[str, dict[str, Any]] = {}
    sets: dict[str, str] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"--params expects model.key=value or model=paramset, got {pair!r}")
        lhs, value = pair.split("=", 1)
        if "." in lhs:
            model, key = lhs.split(".", 1)
            params.setdefault(model.strip(), {})[key.strip()] = parse_value(value)
        else:
            sets[lhs.strip()] = value.strip()
    return params, sets


_named_params = named_params  # kept for callers of the former private helper


class _ProgressView:
    """Progress bars and one line per finished run, drawn from the library's progress events."""

    def __init__(self) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[info]}"),
            console=err_console,
            transient=True,
        )
        self.tasks: dict[str, Any] = {}
        self.plain = not err_console.is_terminal  # a pipe, nohup or a cluster log: plain lines, no bars
        self.last_line = 0.0

    def task(self, name: str, description: str, total: float | None) -> Any:
        """The bar ``name``, created on first use."""
        if name not in self.tasks:
            self.tasks[name] = self.progress.add_task(description, total=total, info="")
        return self.tasks[name]

    def on_event(self, kind: str, info: dict[str, Any]) -> None:
        handler = getattr(self, f"on_{kind}", None)
        if handler is not None:
            handler(info)

    def on_note(self, info: dict[str, Any]) -> None:
        _note(info)

    def on_run(self, info: dict[str, Any]) -> None:
        state = info.get("state")
        label = escape(f"{info.get('model')} (seed {info.get('seed')})")
        runs = self.task("runs", "runs", info.get("total"))
        if state == "started":
            self.progress.update(runs, info=label)
            return
        self.progress.advance(runs)
        for name in ("epochs", "eval"):
            if name in self.tasks:
                self.progress.remove_task(self.tasks.pop(name))
        if state == "finished":
            rec = info["record"]
            main = {k: v for k, v in rec["metrics"].items() if k in ("recall@20", "mrr@20")}
            shown = "  ".join(f"{k} {v:.4f}" for k, v in main.items())
            timing = f"fit {rec['fit_seconds']:.1f}s  eval {rec['eval_seconds']:.1f}s"
            err_console.print(f"[green]✓[/] {label}: {shown}  {timing}", highlight=False)
        elif state == "skipped":
            err_console.print(f"[dim]- {label}: already in the study, skipped (use --force to rerun)[/]")
        else:
            err_console.print(f"[red]✗ {label} failed:[/] {escape(str(info.get('error')))}", highlight=False)

    def on_prepare(self, info: dict[str, Any]) -> None:
        err_console.print(f"[dim]{escape(str(info.get('step')))}…[/]", highlight=False)

    def on_prepared(self, info: dict[str, Any]) -> None:
        st = info.get("stats", {})
        note = "  [bold yellow](SYNTHETIC data)[/]" if info.get("synthetic") else ""
        err_console.print(
            f"{escape(str(info.get('dataset')))}: {st.get('n_items', '?')} items, "
            f"{st.get('train_cases', '?')} train / {st.get('test_cases', '?')} test cases{note}",
            highlight=False,
        )

    def on_epoch(self, info: dict[str, Any]) -> None:
        epochs = self.task("epochs", "  epochs", info.get("epochs"))
        valid = [f"{k} {v:.4f}" for k, v in info.items() if k.startswith("valid_")]
        loss = f"loss {info.get('loss', 0):.4f} "
        self.progress.update(epochs, completed=info.get("epoch"), info=loss + " ".join(valid))
        if self.plain:
            took = f"{info.get('seconds', 0):.1f}s"
            step = f"epoch {info.get('epoch')}/{info.get('epochs')}"
            line = f"  {info.get('model', '')} {step}: {loss}{' '.join(valid)} {took}"
            err_console.print(escape(line), highlight=False)

    def on_eval(self, info: dict[str, Any]) -> None:
        self.progress.update(self.task("eval", "  evaluating", info.get("total")), completed=info.get("done"))
        now = time.monotonic()
        if self.plain and (now - self.last_line >= 15 or info.get("done") == info.get("total")):
            self.last_line = now  # a long evaluation never looks like a hang in a log: a line every 15 s
            err_console.print(f"  evaluating {info.get('done')}/{info.get('total')} cases", highlight=False)

    def on_tune(self, info: dict[str, Any]) -> None:
        model = escape(str(info.get("model")))
        if info.get("state") == "started":
            if "trials" in self.tasks:
                self.progress.remove_task(self.tasks.pop("trials"))
            self.task("trials", f"tuning {model}", info.get("trials"))
            return
        best = info.get("best")
        shown = "no complete trial" if best is None else f"best validation value {best:.4f}"
        err_console.print(f"[green]✓[/] tuned {model}: {shown} ({info.get('complete')} complete)", highlight=False)

    def on_trial(self, info: dict[str, Any]) -> None:
        trials = self.task("trials", "trials", None)
        if info.get("state") == "started":
            self.progress.update(trials, info=f"trial {info.get('number')}")
            return
        self.progress.advance(trials)
        for name in ("epochs", "eval"):
            if name in self.tasks:
                self.progress.remove_task(self.tasks.pop(name))
        value = info.get("value")
        shown = f"{value:.4f}" if isinstance(value, float) else escape(str(info.get("state")))
        err_console.print(f"[dim]  trial {info.get('number')}: {shown}[/]", highlight=False)


@contextmanager
def _progress(quiet: bool) -> Iterator[None]:
    if quiet:  # notes (what was assumed, what was repaired) are shown even then
        with progress_callback(lambda kind, info: _note(info) if kind == "note" else None):
            yield
        return
    view = _ProgressView()
    with view.progress, progress_callback(view.on_event):
        yield


def _note(info: dict[str, Any]) -> None:
    about = f"{info['model']}: " if info.get("model") else ""
    text = escape(about + str(info.get("text", "")))
    err_console.print("[yellow]note:[/] " + text, soft_wrap=True, highlight=False)


def _fail(exc: SessrecError) -> None:
    err_console.print(f"[bold red]Error:[/] {escape(str(exc))}", soft_wrap=True, markup=True, highlight=False)
    sys.exit(2)


class _Group(click.Group):
    """Turns user mistakes into one clear line instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SessrecError as exc:
            _fail(exc)
        except FileNotFoundError as exc:
            _fail(SessrecError(str(exc)))
        except KeyboardInterrupt:
            err_console.print("[yellow]Interrupted.[/] Finished runs are kept; rerun the same command to resume.")
            sys.exit(130)


@click.group(cls=_Group)
@click.version_option(package_name="sessrec")
def main() -> None:
    """Benchmark session-based recommenders faithfully, with full ranking."""


# ---------------------------------------------------------------------- run
@main.command()
@click.option("--models", "models_opt", help="Comma-separated model names (default: every installed model).")
@click.option("--dataset", help="Dataset recipe (default: synthetic). See `sessrec datasets`.")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Data root (default: $SESSREC_DATA or ./datasets).")
@click.option("--out", type=click.Path(file_okay=False), help="Study folder (default: reports/<dataset>).")
@click.option("--protocol", type=click.Choice(PROTOCOL_CHOICES), help="Preprocessing/split protocol.")
@click.option("--test-days", type=float, help="Days of test data (overrides the dataset's default).")
@click.option("--valid-days", type=float, help="Carve a validation split of this many days from training.")
@click.option("--cutoffs", help="Cutoffs K, e.g. 5,10,20.")
@click.option("--ties", type=click.Choice(["conservative", "optimistic", "median"]), help="Tie rule for ranks.")
@click.option("--device", help="auto, cpu, cuda, cuda:1 …")
@click.option("--seeds", help="Comma-separated seeds, e.g. 0,1,2.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False), help="experiment.toml.")
@click.option("-o", "--option", "options", multiple=True, help="Dataset option key=value (e.g. path=FILE).")
@click.option("-p", "--params", "param_pairs", multiple=True, help="model.key=value, or model=paramset.")
@click.option("--force", is_flag=True, help="Rerun runs already in the study.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.option("--no-report", is_flag=True, help="Do not write report.md after the runs.")
@click.option("--threads", type=int, help="CPU threads for torch (default: torch's choice).")
@click.option(
    "--executor", type=click.Choice(["inprocess", "ray"]), default="inprocess", help="Where runs are computed."
)
@click.option("--ray-address", help="Address of a running Ray cluster (default: start a local one).")
@click.option("--cpus-per-run", type=float, default=1.0, show_default=True, help="CPUs of each Ray task.")
@click.option("--gpus-per-run", type=float, default=0.0, show_default=True, help="GPUs of each Ray task.")
@click.option("--save-models", is_flag=True, help="Keep each fitted model in <out>/models/<run_id>.pt.")
@click.option("--track", type=click.Choice(["mlflow"]), help="Log each run to an experiment tracker.")
@click.option("--track-uri", help="Tracking URI (default for mlflow: a local ./mlruns file store).")
def run(
    models_opt: str | None,
    dataset: str | None,
    data_dir: str | None,
    out: str | None,
    protocol: str | None,
    test_days: float | None,
    valid_days: float | None,
    cutoffs: str | None,
    ties: str | None,
    device: str | None,
    seeds: str | None,
    config_path: str | None,
    options: tuple[str, ...],
    param_pairs: tuple[str, ...],
    force: bool,
    quiet: bool,
    no_report: bool,
    threads: int | None,
    executor: str,
    ray_address: str | None,
    cpus_per_run: float,
    gpus_per_run: float,
    save_models: bool,
    track: str | None,
    track_uri: str | None,
) -> None:
    """Fit and evaluate models; results go to the study folder, then report.md.

    ``-p MODEL=tuned`` takes the parameters ``sessrec tune`` found for MODEL on this dataset
    (``<out>/tuned/<dataset>/<model>.toml``) and refits them on the whole training part.
    """
    _set_threads(threads)
    engine = _executor(executor, ray_address, cpus_per_run, gpus_per_run)
    params, sets = _model_params(param_pairs)
    overrides = {
        "models": None if models_opt is None else tuple(_csv_list(models_opt)),
        "dataset": dataset,
        "out": out,
        "data_dir": data_dir,
        "protocol": protocol,
        "test_days": test_days,
        "valid_days": valid_days,
        "cutoffs": _ints(cutoffs, "--cutoffs") if cutoffs is not None else None,
        "ties": ties,
        "device": device,
        "seeds": _ints(seeds, "--seeds") if seeds is not None else None,
        "dataset_options": _key_values(options, "--option") or None,
        "params": params or None,
        "param_sets": sets or None,
    }
    entries = read_study(config_path) if config_path else [StudyConfig()]
    every = models_opt is None  # no --models: the file's models, else every installed model
    configs = [_check_param_models(e.with_overrides(**overrides), params, sets, every) for e in entries]
    tracker = _tracker(track, track_uri)
    records: list[dict[str, Any]] = []
    with _progress(quiet):
        outcome = run_configs(
            configs,
            force=force,
            executor=engine,
            save_models=save_models,
            on_record=records.append if tracker is not None else None,
        )
    out_dir = configs[0].out_dir
    _summary(outcome, out_dir)
    if not no_report and (outcome.ran or outcome.skipped):
        _report(out_dir, ("md",), quiet)
    if tracker is not None:
        _track(tracker, records, None if no_report else out_dir / "report.md")
    if outcome.failed:
        sys.exit(1)


def _tracker(name: str | None, uri: str | None) -> Any:
    """The experiment tracker of ``--track`` (``None`` without); made before any run, so a missing extra fails early."""
    if name is None:
        if uri is not None:
            raise ConfigError("--track-uri needs --track mlflow")
        return None
    from sessrec.tracking import MlflowTracker

    return MlflowTracker(uri)


def _track(tracker: Any, records: list[dict[str, Any]], report: Path | None) -> None:
    """Log each finished run (params, metrics, per-epoch history) and the report as its artifact."""
    for record in records:
        tracker.log_run(record, report_path=report if report is not None and report.is_file() else None)
    if records:
        err_console.print(f"[dim]logged {len(records)} run(s) to {escape(tracker.uri)}[/]", highlight=False)


def _executor(name: str, address: str | None, cpus: float, gpus: float) -> Any:
    from sessrec.executors import make_executor

    return make_executor(name, address=address, cpus_per_run=cpus, gpus_per_run=gpus)


def _set_threads(threads: int | None) -> None:
    if threads is None:
        return
    if threads < 1:
        raise ConfigError(f"--threads must be a positive integer, got {threads}")
    import torch

    torch.set_num_threads(threads)


def _check_param_models(cfg: StudyConfig, params: dict[str, Any], sets: dict[str, str], every: bool) -> StudyConfig:
    """The config checked, its models resolved; ``-p`` may only name models of the study."""
    cfg = cfg.validate(default_models=every)
    for model in [*params, *sets]:
        if model not in cfg.models:
            raise ConfigError(f"--params names model {model!r}, which is not in --models ({', '.join(cfg.models)})")
    return cfg


def _summary(outcome: Any, out_dir: Path) -> None:
    err_console.print(
        f"{len(outcome.ran)} run(s) finished, {len(outcome.skipped)} skipped, {len(outcome.failed)} failed → "
        + escape(str(out_dir)),
        highlight=False,
    )
    for failure in outcome.failed:
        err_console.print(
            f"[red]failed:[/] {escape(failure.spec.model)} seed {failure.spec.seed}: {escape(failure.error)}",
            highlight=False,
        )
    if not (outcome.ran or outcome.skipped):
        err_console.print("[yellow]no run finished, so no report was written[/]")


# ---------------------------------------------------------------------- tune
@main.command()
@click.option("--models", "models_opt", help="Comma-separated model names (or the [study] models of --config).")
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False),
    help="A study file: its [study] and [tune].",
)
@click.option("--dataset", default="synthetic", show_default=True, help="Dataset recipe. See `sessrec datasets`.")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Data root (default: $SESSREC_DATA or ./datasets).")
@click.option("--out", type=click.Path(file_okay=False), help="Study folder (default: reports/<dataset>).")
@click.option("--protocol", type=click.Choice(PROTOCOL_CHOICES), help="Preprocessing/split protocol.")
@click.option("--test-days", type=float, help="Days of test data (the tuner never reads them).")
@click.option("--valid-days", type=float, help="Validation days carved from training (default: the test days).")
@click.option("--trials", type=int, default=30, show_default=True, help="Finished trials per model (equal budget).")
@click.option("--timeout-per-model", type=float, help="Seconds per model (equal wall-clock budget).")
@click.option("--objective", default="mrr@20", show_default=True, help="Validation metric to maximise.")
@click.option("--storage", help="Optuna storage URL (default: SQLite tuning.db in the study folder).")
@click.option("--space", "spaces", multiple=True, help="model=FILE: a search space of your own.")
@click.option("--pruner", type=click.Choice(["median", "hyperband", "none"]), default="median", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Sampler seed (and the models' random_state).")
@click.option("-o", "--option", "options", multiple=True, help="Dataset option key=value (e.g. path=FILE).")
@click.option("-p", "--params", "param_pairs", multiple=True, help="model.key=value held fixed while tuning.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda …")
@click.option("--threads", type=int, help="CPU threads for torch.")
@click.option("--executor", type=click.Choice(["inprocess", "ray"]), default="inprocess", show_default=True)
@click.option("--ray-address", help="Address of a running Ray cluster (default: start a local one).")
@click.option("--parallel", type=int, default=1, show_default=True, help="Trials at once (with --executor ray).")
@click.option("--cpus-per-run", type=float, default=1.0, show_default=True, help="CPUs of each Ray trial.")
@click.option("--gpus-per-run", type=float, default=0.0, show_default=True, help="GPUs of each Ray trial.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def tune(**kw: Any) -> None:
    """Tune models with equal budgets on a validation split; write tuned parameter sets.

    The best parameters of MODEL go to <out>/tuned/<dataset>/<model>.toml; then
    `sessrec run -p MODEL=tuned` refits them on the whole training part and tests them.
    """
    from sessrec.study.values import coerce_dataset_options
    from sessrec.tuning import tune as tune_models

    if kw["config_path"]:
        _tune_from_config(kw)
        return
    _set_threads(kw["threads"])
    settings = _tune_settings(kw)
    engine = _executor(kw["executor"], kw["ray_address"], kw["cpus_per_run"], kw["gpus_per_run"])
    params, _ = _model_params(kw["param_pairs"])
    ds_options = coerce_dataset_options(kw["dataset"], kw["protocol"], _key_values(kw["options"], "--option"))
    out_dir = Path(kw["out"] or Path("reports") / kw["dataset"])
    with _progress(kw["quiet"]):
        results = tune_models(
            _csv_list(kw["models_opt"]),
            kw["dataset"],
            out_dir,
            settings=settings,
            dataset_options=ds_options,
            protocol=kw["protocol"],
            test_days=kw["test_days"],
            valid_days=kw["valid_days"],
            data_root=kw["data_dir"],
            space_files=_key_values(kw["spaces"], "--space"),
            base_params=params,
            executor=engine,
        )
    for name, r in results.items():
        best = "no complete trial" if r.best_value is None else f"{r.objective} {r.best_value:.4f}"
        done = f"{r.n_complete} complete, {r.n_pruned} pruned, {r.n_failed} failed, {r.seconds:.0f}s"
        console.print(f"{escape(name)}: {best}  ({done})", highlight=False)
    where = escape(str(out_dir / "tuned" / kw["dataset"]))
    console.print(f"tuned parameter sets in {where}; use them with -p MODEL=tuned", highlight=False)


def _tune_from_config(kw: dict[str, Any]) -> None:
    """``sessrec tune --config FILE``: the file's study and [tune] table; options given on the command line win."""
    ctx = click.get_current_context()
    given = {k for k in kw if ctx.get_parameter_source(k) is click.core.ParameterSource.COMMANDLINE}
    _set_threads(kw["threads"])
    cfg = StudyConfig.from_toml(kw["config_path"])
    study = {k: kw[k] for k in ("dataset", "out", "data_dir", "protocol", "test_days") if k in given}
    if "models_opt" in given:
        study["models"] = tuple(_csv_list(kw["models_opt"]))
    cfg = cfg.with_overrides(**study)
    names = {
        "trials": "trials",
        "timeout_per_model": "timeout_per_model",
        "objective": "objective",
        "storage": "storage",
        "pruner": "pruner",
        "seed": "seed",
        "parallel": "parallel",
        "valid_days": "valid_days",
    }
    overrides = {names[k]: kw[k] for k in names if k in given}
    engine = _executor(kw["executor"], kw["ray_address"], kw["cpus_per_run"], kw["gpus_per_run"])
    with _progress(kw["quiet"]):
        results = cfg.run_tuning(executor=engine, **overrides)
    for name, r in results.items():
        best = "no complete trial" if r.best_value is None else f"{r.objective} {r.best_value:.4f}"
        console.print(f"{escape(name)}: {best}  ({r.n_complete} complete, {r.n_pruned} pruned)", highlight=False)


def _tune_settings(kw: dict[str, Any]) -> Any:
    """The checked :class:`~sessrec.tuning.TuneSettings` of ``sessrec tune``'s options."""
    from sessrec.tuning import TuneSettings
    from sessrec.tuning.tuner import check_objective

    if not _csv_list(kw["models_opt"]):
        raise ConfigError("--models names no model; e.g. --models fpmc,iknn")
    if kw["trials"] < 1 or kw["parallel"] < 1:
        raise ConfigError(f"--trials and --parallel must be positive, got {kw['trials']} and {kw['parallel']}")
    check_objective(kw["objective"])
    return TuneSettings(
        n_trials=kw["trials"],
        timeout=kw["timeout_per_model"],
        objective=kw["objective"],
        storage=kw["storage"],
        seed=kw["seed"],
        pruner=kw["pruner"],
        device=kw["device"],
        n_parallel=kw["parallel"],
    )


# ---------------------------------------------------------------------- report
def _report(study_dir: Path, formats: tuple[str, ...], quiet: bool) -> None:
    from sessrec.reporting import write_report

    result = write_report(study_dir, formats=formats)
    if not quiet:
        console.print(result.main_table, markup=False, highlight=False, soft_wrap=True)
    for path in result.paths:
        err_console.print(f"[dim]wrote {escape(str(path))}[/]", highlight=False)
    for line_no, why in result.skipped:
        err_console.print(f"[yellow]skipped results.jsonl line {line_no}:[/] {escape(str(why))}", highlight=False)


@main.command()
@click.argument("study_dir", required=False, type=click.Path(file_okay=False))
@click.option(
    "--format",
    "formats",
    multiple=True,
    type=click.Choice(["md", "latex", "csv", "json"]),
    help="Extra table formats (markdown is always written).",
)
@click.option("--quiet", is_flag=True, help="Do not print the main table.")
def report(study_dir: str | None, formats: tuple[str, ...], quiet: bool) -> None:
    """Write DIR/report.md and DIR/figures from a study folder (trains nothing)."""
    if study_dir is None:
        candidates = sorted(Path("reports").glob("*/results.jsonl"), key=lambda p: p.stat().st_mtime)
        if not candidates:
            raise ConfigError("no study folder given and none found under ./reports; run `sessrec run` first")
        study = candidates[-1].parent
    else:
        study = Path(study_dir)
        if not (study / "results.jsonl").exists():
            raise ConfigError(f"{study} holds no results.jsonl; expected a study folder written by `sessrec run`")
    _report(study, tuple(dict.fromkeys(("md", *formats))), quiet)


# ---------------------------------------------------------------------- models
@main.command("models")
def models_cmd() -> None:
    """List installed models: name, class, distribution, version, load errors."""
    from sessrec.registry import models

    table = Table("name", "class", "distribution", "version", "status")
    for name, entry in sorted(models.entries().items()):
        error = entry.error
        table.add_row(
            escape(name),
            escape(entry.value),
            escape(entry.distribution or "(registered in-process)"),
            escape(entry.version or ""),
            f"[red]{escape(error)}[/]" if error else "[green]ok[/]",
        )
    console.print(table)


# ---------------------------------------------------------------------- datasets
@main.group(invoke_without_command=True)
@click.option("--data-dir", type=click.Path(file_okay=False), help="Data root (default: $SESSREC_DATA or ./datasets).")
@click.pass_context
def datasets(ctx: click.Context, data_dir: str | None) -> None:
    """List dataset recipes, where their raw files go and whether they are present."""
    ctx.obj = {"data_dir": data_dir}
    if ctx.invoked_subcommand is not None:
        return
    from sessrec.data import get_recipe, list_recipes, resolve_data_root

    root = resolve_data_root(data_dir)
    table = Table("name", "description", "raw file", "present", "get it from", "protocol (test days)")
    for name in sorted(list_recipes()):
        try:
            cls = get_recipe(name)
        except SessrecError as exc:
            table.add_row(escape(name), f"[red]{escape(str(exc))}[/]", "", "", "", "")
            continue
        files = cls.raw_files
        where = ", ".join(str(root / (cls.folder or cls.name) / f.name) for f in files) or "(generated)"
        present = all((root / (cls.folder or cls.name) / f.name).is_file() for f in files)
        if cls.synthetic:
            status = "[green]built in[/]"
        elif not files:
            where, status = "your file: -o path=FILE", "[dim]-[/]"
        else:
            status = "[green]yes[/]" if present else "[dim]no[/]"
        days = cls.default_test_days.get(cls.default_protocol, "?")
        table.add_row(
            escape(name),
            escape(cls.description),
            escape(where),
            status,
            escape(", ".join(f.url for f in files if f.url)),
            f"{cls.default_protocol} ({days:g})" if isinstance(days, (int, float)) else cls.default_protocol,
        )
    console.print(table)
    console.print(f"[dim]data root: {escape(str(root))}  (--data-dir, else $SESSREC_DATA, else ./datasets)[/]")


@datasets.command("stats")
@click.argument("name")
@click.option("--protocol", type=click.Choice(PROTOCOL_CHOICES))
@click.option("--test-days", type=float)
@click.option("-o", "--option", "options", multiple=True, help="Dataset option key=value (e.g. path=FILE).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def datasets_stats(
    ctx: click.Context,
    name: str,
    protocol: str | None,
    test_days: float | None,
    options: tuple[str, ...],
    as_json: bool,
) -> None:
    """Statistics papers print (clicks, sessions, cases, items, average length) and what was dropped."""
    from sessrec.data import prepare

    opts = coerce_dataset_options(name, protocol, _key_values(options, "--option"))
    with _progress(as_json):
        prepared = prepare(
            name, data_root=ctx.obj["data_dir"], protocol=protocol, test_days=check_days("test_days", test_days), **opts
        )
    stats = dict(prepared.stats)
    if as_json:
        click.echo(
            json.dumps(
                {"dataset": name, "protocol": prepared.protocol, "fingerprint": prepared.fingerprint, "stats": stats},
                indent=2,
                default=str,
            )
        )
        return
    title = f"{name} — protocol {prepared.protocol['name']} {prepared.protocol.get('params', {})}"
    if getattr(prepared, "synthetic", False):
        title += "  (SYNTHETIC data)"
    table = Table("statistic", "value", title=title)
    for key, value in stats.items():
        table.add_row(escape(key), f"{value:,}" if isinstance(value, int) else escape(str(value)))
    console.print(table)
    console.print(f"[dim]fingerprint {escape(str(prepared.fingerprint))}[/]")


# ---------------------------------------------------------------------- check
@main.command()
@click.argument("model")
@click.option("--checks", help="Comma-separated subset of checks.")
@click.option("-p", "--params", "param_pairs", multiple=True, help="key=value overriding the model's test_params.")
def check(model: str, checks: str | None, param_pairs: tuple[str, ...]) -> None:
    """Run the conformance suite on one installed model."""
    from sessrec.testing import check_model

    table = Table("check", "result", "seconds", "message")
    colours = {"passed": "green", "failed": "red", "skipped": "yellow"}

    def show(res: Any) -> None:
        err_console.print(f"[{colours[res.status]}]{res.status:>7}[/] {escape(res.check)} ({res.seconds:.1f}s)")

    results = check_model(
        model, params=_key_values(param_pairs, "--params") or None, checks=_csv_list(checks) or None, on_result=show
    )
    for res in results:
        table.add_row(
            escape(res.check), f"[{colours[res.status]}]{res.status}[/]", f"{res.seconds:.1f}", escape(res.message)
        )
    console.print(table)
    failed = [r for r in results if r.status == "failed"]
    if failed:
        err_console.print(f"[red]{len(failed)} of {len(results)} checks failed for {escape(repr(model))}[/]")
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
