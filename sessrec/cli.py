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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from sessrec.errors import ConfigError, SessrecError
from sessrec.progress import progress_callback

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

console = Console()
err_console = Console(stderr=True)


# ---------------------------------------------------------------------- helpers
def _parse_value(text: str) -> Any:
    """A TOML/JSON-ish literal: numbers, booleans, lists, quoted strings; else the text."""
    low = text.strip()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    try:
        return json.loads(low)
    except json.JSONDecodeError:
        return text


def _csv_list(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def _ints(text: str, what: str) -> list[int]:
    try:
        return [int(t) for t in _csv_list(text)]
    except ValueError:
        raise ConfigError(f"{what} must be comma-separated integers like 5,10,20, got {text!r}") from None


def _key_values(pairs: tuple[str, ...], what: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"{what} expects key=value, got {pair!r}")
        key, value = pair.split("=", 1)
        out[key.strip()] = _parse_value(value)
    return out


def _model_params(pairs: tuple[str, ...], models: list[str]) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """``model.key=value`` -> params; ``model=name`` -> a named parameter set."""
    params: dict[str, dict[str, Any]] = {}
    sets: dict[str, str] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"--params expects model.key=value or model=paramset, got {pair!r}")
        lhs, value = pair.split("=", 1)
        if "." in lhs:
            model, key = lhs.split(".", 1)
            params.setdefault(model, {})[key] = _parse_value(value)
        else:
            sets[lhs] = value
    for model in [*params, *sets]:
        if model not in models:
            raise ConfigError(f"--params names model {model!r}, which is not in --models ({', '.join(models)})")
    return params, sets


def _named_params(model: str, name: str) -> dict[str, Any]:
    from sessrec.registry import load_model

    cls = load_model(model)
    getter = getattr(cls, "named_params", None)
    if getter is None:
        raise ConfigError(f"model {model!r} has no named parameter sets; give parameters as {model}.key=value")
    return dict(getter(name))


@contextmanager
def _progress(quiet: bool) -> Iterator[None]:
    if quiet:  # notes (what was assumed, what was repaired) are shown even then
        with progress_callback(lambda kind, info: _note(info) if kind == "note" else None):
            yield
        return
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[info]}"),
        console=err_console,
        transient=True,
    )
    tasks: dict[str, Any] = {}

    def task(name: str, description: str, total: float | None) -> Any:
        if name in tasks:
            progress.remove_task(tasks[name])
        tasks[name] = progress.add_task(description, total=total, info="")
        return tasks[name]

    def on_event(kind: str, info: dict[str, Any]) -> None:
        if kind == "run":
            state = info.get("state")
            label = f"{info.get('model')} (seed {info.get('seed')})"
            if state == "started":
                if "runs" not in tasks:
                    task("runs", "runs", info.get("total"))
                progress.update(tasks["runs"], info=label)
            elif state in ("finished", "skipped", "failed"):
                if "runs" not in tasks:
                    task("runs", "runs", info.get("total"))
                progress.advance(tasks["runs"])
                for name in ("epochs", "eval"):
                    if name in tasks:
                        progress.remove_task(tasks.pop(name))
                if state == "finished":
                    rec = info["record"]
                    main = {k: v for k, v in rec["metrics"].items() if k in ("recall@20", "mrr@20")}
                    shown = "  ".join(f"{k} {v:.4f}" for k, v in main.items())
                    err_console.print(
                        f"[green]✓[/] {label}: {shown}  fit {rec['fit_seconds']:.1f}s  eval {rec['eval_seconds']:.1f}s"
                    )
                elif state == "skipped":
                    err_console.print(f"[dim]- {label}: already in the study, skipped (use --force to rerun)[/]")
                else:
                    err_console.print(f"[red]✗ {label} failed:[/] {info.get('error')}")
        elif kind == "note":
            _note(info)
        elif kind == "prepare":
            err_console.print(f"[dim]{info.get('step')}…[/]")
        elif kind == "prepared":
            st = info.get("stats", {})
            note = "  [bold yellow](SYNTHETIC data)[/]" if info.get("synthetic") else ""
            err_console.print(
                f"{info.get('dataset')}: {st.get('n_items', '?')} items, {st.get('train_cases', '?')} train / "
                f"{st.get('test_cases', '?')} test cases{note}"
            )
        elif kind == "epoch":
            if "epochs" not in tasks:
                task("epochs", "  epochs", info.get("epochs"))
            valid = [f"{k} {v:.4f}" for k, v in info.items() if k.startswith("valid_")]
            progress.update(
                tasks["epochs"], completed=info.get("epoch"), info=f"loss {info.get('loss', 0):.4f} " + " ".join(valid)
            )
        elif kind == "eval":
            if "eval" not in tasks:
                task("eval", "  evaluating", info.get("total"))
            progress.update(tasks["eval"], completed=info.get("done"))

    with progress, progress_callback(on_event):
        yield


def _note(info: dict[str, Any]) -> None:
    about = f"{info['model']}: " if info.get("model") else ""
    text = escape(about + str(info.get("text", "")))
    err_console.print("[yellow]note:[/] " + text, soft_wrap=True, highlight=False)


def _fail(exc: SessrecError) -> None:
    err_console.print(f"[bold red]Error:[/] {exc}", soft_wrap=True, markup=True, highlight=False)
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
@click.option("--protocol", type=click.Choice(["narm", "gru4rec"]), help="Preprocessing/split protocol.")
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
) -> None:
    """Fit and evaluate models; results go to the study folder, then report.md."""
    if threads is not None:
        if threads < 1:
            raise ConfigError(f"--threads must be a positive integer, got {threads}")
        import torch

        torch.set_num_threads(threads)
    from sessrec.registry import model_names
    from sessrec.runner import RunSpec, run_study

    cfg: dict[str, Any] = {}
    if config_path:
        try:
            cfg = tomllib.loads(Path(config_path).read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config_path} is not valid TOML: {exc}") from None
    study = cfg.get("study", {})
    model_list = _csv_list(models_opt) or list(study.get("models", [])) or model_names()
    dataset = dataset or study.get("dataset", "synthetic")
    out_dir = Path(out or study.get("out") or Path("reports") / dataset)
    cut = _ints(cutoffs, "--cutoffs") if cutoffs else list(study.get("cutoffs", [5, 10, 20]))
    seed_list = _ints(seeds, "--seeds") if seeds else list(study.get("seeds", [0]))
    ds_options = {**cfg.get("dataset_options", {}), **_key_values(options, "--option")}
    params, sets = _model_params(param_pairs, model_list)
    sets = {**cfg.get("param_sets", {}), **sets}
    cfg_params = cfg.get("params", {})

    specs = []
    for model in model_list:
        merged: dict[str, Any] = {}
        if model in sets:
            merged.update(_named_params(model, sets[model]))
        merged.update(cfg_params.get(model, {}))
        merged.update(params.get(model, {}))
        for seed in seed_list:
            specs.append(
                RunSpec(
                    model=model,
                    dataset=dataset,
                    params=merged,
                    dataset_options=ds_options,
                    protocol=protocol or study.get("protocol"),
                    test_days=test_days if test_days is not None else study.get("test_days"),
                    valid_days=valid_days if valid_days is not None else study.get("valid_days"),
                    seed=seed,
                    cutoffs=tuple(cut),
                    ties=ties or study.get("ties", "conservative"),
                    device=device or study.get("device", "auto"),
                )
            )
    with _progress(quiet):
        outcome = run_study(specs, out_dir, data_root=data_dir or study.get("data_dir"), force=force)
    _write_experiment(out_dir, specs, config_path)
    err_console.print(
        f"{len(outcome.ran)} run(s) finished, {len(outcome.skipped)} skipped, {len(outcome.failed)} failed → {out_dir}"
    )
    for failure in outcome.failed:
        err_console.print(f"[red]failed:[/] {failure.spec.model} seed {failure.spec.seed}: {failure.error}")
    if not no_report:
        _report(out_dir, ("md",), quiet)
    if outcome.failed:
        sys.exit(1)


def _write_experiment(out_dir: Path, specs: list[Any], config_path: str | None) -> None:
    """Record the study's specification beside its results (kept if the user wrote one)."""
    target = out_dir / "experiment.toml"
    if config_path and Path(config_path).resolve() == target.resolve():
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    first = specs[0]
    lines = [
        "# Written by `sessrec run`; rerun with `sessrec run --config <this file>`.",
        "[study]",
        f"models = {json.dumps(sorted({s.model for s in specs}))}",
        f"dataset = {json.dumps(first.dataset)}",
        f"seeds = {json.dumps(sorted({s.seed for s in specs}))}",
        f"cutoffs = {json.dumps(list(first.cutoffs))}",
        f"ties = {json.dumps(first.ties)}",
        f"device = {json.dumps(first.device)}",
        f"out = {json.dumps(str(out_dir))}",
    ]
    for key in ("protocol", "test_days", "valid_days"):
        value = getattr(first, key)
        if value is not None:
            lines.append(f"{key} = {json.dumps(value)}")
    if first.dataset_options:
        lines += ["", "[dataset_options]"] + [f"{k} = {json.dumps(v)}" for k, v in first.dataset_options.items()]
    for model in sorted({s.model for s in specs}):
        params = next(s.params for s in specs if s.model == model)
        if params:
            lines += ["", f"[params.{model}]"] + [f"{k} = {json.dumps(v)}" for k, v in params.items()]
    target.write_text("\n".join(lines) + "\n")


# ---------------------------------------------------------------------- report
def _report(study_dir: Path, formats: tuple[str, ...], quiet: bool) -> None:
    from sessrec.reporting import write_report

    result = write_report(study_dir, formats=formats)
    if not quiet:
        console.print(result.main_table, markup=False, highlight=False, soft_wrap=True)
    for path in result.paths:
        err_console.print(f"[dim]wrote {path}[/]")
    for line_no, why in result.skipped:
        err_console.print(f"[yellow]skipped results.jsonl line {line_no}:[/] {why}")


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
            name,
            entry.value,
            entry.distribution or "(registered in-process)",
            entry.version or "",
            f"[red]{error}[/]" if error else "[green]ok[/]",
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
            table.add_row(name, f"[red]{exc}[/]", "", "", "", "")
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
            name,
            cls.description,
            where,
            status,
            ", ".join(f.url for f in files if f.url),
            f"{cls.default_protocol} ({days:g})" if isinstance(days, (int, float)) else cls.default_protocol,
        )
    console.print(table)
    console.print(f"[dim]data root: {root}  (--data-dir, else $SESSREC_DATA, else ./datasets)[/]")


@datasets.command("stats")
@click.argument("name")
@click.option("--protocol", type=click.Choice(["narm", "gru4rec"]))
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

    with _progress(as_json):
        prepared = prepare(
            name,
            data_root=ctx.obj["data_dir"],
            protocol=protocol,
            test_days=test_days,
            **_key_values(options, "--option"),
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
        table.add_row(key, f"{value:,}" if isinstance(value, int) else str(value))
    console.print(table)
    console.print(f"[dim]fingerprint {prepared.fingerprint}[/]")


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
        err_console.print(f"[{colours[res.status]}]{res.status:>7}[/] {res.check} ({res.seconds:.1f}s)")

    results = check_model(
        model, params=_key_values(param_pairs, "--params") or None, checks=_csv_list(checks) or None, on_result=show
    )
    for res in results:
        table.add_row(res.check, f"[{colours[res.status]}]{res.status}[/]", f"{res.seconds:.1f}", res.message)
    console.print(table)
    failed = [r for r in results if r.status == "failed"]
    if failed:
        err_console.print(f"[red]{len(failed)} of {len(results)} checks failed for {model!r}[/]")
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
