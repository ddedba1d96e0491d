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
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sessrec.data.protocols import PROTOCOLS
from sessrec.errors import ConfigError, SessrecError
from sessrec.progress import progress_callback
from sessrec.progress_view import LogView, RichView, note_text
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


@contextmanager
def _progress(quiet: bool) -> Iterator[None]:
    """Progress while the block runs: bars on a terminal, ``logging`` lines on a pipe, notes only with ``quiet``."""
    if quiet:  # notes (what was assumed, what was repaired) are shown even then
        with progress_callback(lambda kind, info: _note(info) if kind == "note" else None):
            yield
        return
    if err_console.is_terminal:
        view: Any = RichView(err_console)
        with progress_callback(view.on_event):
            try:
                yield
            finally:
                view.close()
        return
    logger = logging.getLogger("sessrec")
    handler = logging.StreamHandler(sys.stderr)  # a pipe, nohup or a cluster log: plain timestamped lines
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        with progress_callback(LogView(logger).on_event):
            yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _note(info: dict[str, Any]) -> None:
    err_console.print("[yellow]note:[/] " + escape(note_text(info)), soft_wrap=True, highlight=False)


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
@click.option("--seeds", help="Comma-separated seeds, e.g. 0,1,2 (deterministic models run once, with the first).")
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
        on_record = records.append if tracker is not None else None
        outcome = run_configs(configs, force=force, executor=engine, save_models=save_models, on_record=on_record)
    _after_runs(outcome, configs[0].out_dir, quiet=quiet, report=not no_report, tracker=tracker, records=records)


def _after_runs(outcome: Any, out_dir: Path, *, quiet: bool, report: bool, tracker: Any, records: list[Any]) -> None:
    """The summary, the report, the tracker's log; exit status 1 when a run failed."""
    _summary(outcome, out_dir)
    if report and (outcome.ran or outcome.skipped):
        _report(out_dir, ("md",), quiet)
    if tracker is not None:
        _track(tracker, records, out_dir / "report.md" if report else None)
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
    from sessrec.reporting.render_terminal import terminal_legend, terminal_tables

    result = write_report(study_dir, formats=formats)
    if not quiet and result.study is not None:
        for table in terminal_tables(result.study, console.width):
            console.print(table)
        console.print(terminal_legend(result.study), highlight=False)
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

    root = resolve_data_root(data_dir).resolve()
    for name in sorted(list_recipes()):
        try:
            cls = get_recipe(name)
        except SessrecError as exc:
            _print_block(name, f"[red]{escape(str(exc))}[/]", [])
            continue
        _print_block(name, escape(cls.description), _recipe_lines(cls, root))
    console.print(f"data root: {escape(str(root))}  (--data-dir, else $SESSREC_DATA, else ./datasets)", highlight=False)


def _recipe_lines(cls: Any, root: Path) -> list[tuple[str, str]]:
    """``(label, text)`` lines of one recipe: raw files (full paths) and whether present, source, protocol."""
    lines: list[tuple[str, str]] = []
    folder = root / (cls.folder or cls.name)
    if cls.synthetic:
        lines.append(("raw file", "[green]built in[/] (generated from a seed)"))
    elif not cls.raw_files:
        lines.append(("raw file", "your file: -o path=FILE"))
    for f in cls.raw_files:
        present = "[green]present[/]" if (folder / f.name).is_file() else "[yellow]missing[/]"
        lines.append(("raw file", f"{escape(str(folder / f.name))}  ({present})"))
        if f.url:
            lines.append(("get it at", escape(f.url)))
    days = cls.default_test_days.get(cls.default_protocol)
    shown = f", {days:g} test day(s)" if isinstance(days, (int, float)) else ""
    lines.append(("protocol", f"{escape(cls.default_protocol)}{shown}"))
    return lines


def _print_block(name: str, description: str, lines: list[tuple[str, str]]) -> None:
    """One recipe as a few lines that read at 80 columns and on a pipe (long paths and URLs never cut)."""
    console.print(f"[bold]{escape(name)}[/] — {description}", highlight=False, soft_wrap=True)
    for label, text in lines:
        console.print(f"    {label:<10} {text}", highlight=False, soft_wrap=True)
    console.print()


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
    synthetic = "  (SYNTHETIC data)" if getattr(prepared, "synthetic", False) else ""
    params = ", ".join(f"{k}={v}" for k, v in prepared.protocol.get("params", {}).items())
    table = Table("statistic", "value", title=f"Statistics of {escape(name)}{synthetic}", title_justify="left")
    for key, value in stats.items():
        table.add_row(escape(key), escape(_stat_text(value)))
    console.print(table)
    protocol = f"protocol {escape(str(prepared.protocol['name']))}: {escape(params)}"
    console.print(protocol, highlight=False, soft_wrap=True)
    console.print(f"[dim]fingerprint {escape(str(prepared.fingerprint))}[/]")


def _stat_text(value: Any) -> str:
    """A statistic as shown: thousands separators, two decimals, timestamps to the second."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    text = str(value)
    if len(text) > 19 and text[10:11] == "T" and text[4:5] == "-":  # an ISO timestamp
        return text[:10] + " " + text[11:19] + (" UTC" if text.endswith("+00:00") else "")
    return text


# ---------------------------------------------------------------------- check
@main.command()
@click.argument("model")
@click.option("--checks", help="Comma-separated subset of checks.")
@click.option("-p", "--params", "param_pairs", multiple=True, help="key=value overriding the model's test_params.")
def check(model: str, checks: str | None, param_pairs: tuple[str, ...]) -> None:
    """Run the conformance suite on one installed model."""
    from sessrec.testing import check_model

    colours = {"passed": "green", "failed": "red", "skipped": "yellow"}

    def show(res: Any) -> None:  # each check once, as it finishes
        why = f": {escape(res.message)}" if res.message and res.status != "passed" else ""
        console.print(
            f"[{colours[res.status]}]{res.status:>7}[/] {escape(res.check)} ({res.seconds:.1f}s){why}",
            highlight=False,
            soft_wrap=True,
        )

    results = check_model(
        model, params=_key_values(param_pairs, "--params") or None, checks=_csv_list(checks) or None, on_result=show
    )
    counts = {s: sum(r.status == s for r in results) for s in ("passed", "failed", "skipped")}
    console.print(f"{escape(model)}: " + ", ".join(f"{n} {s}" for s, n in counts.items()), highlight=False)
    if counts["failed"]:
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
