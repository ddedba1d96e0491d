"""Views of the progress events of :mod:`sessrec.progress`: terminal bars, log lines, notebook bars.

* :class:`RichView` draws rich progress bars (with ETA) on a terminal: the runs of a study,
  the epochs of a fit, the batches inside the current epoch (running loss), and one bar per
  evaluation pass, each sized for the split it ranks (``validation`` during training,
  ``test`` after it). Finished runs, notes and failures are printed as lines above the bars.
* :class:`LogView` writes plain :mod:`logging` lines for a pipe, ``nohup`` or a cluster job:
  one per epoch (loss, validation metric, seconds), one per finished run, and a line at
  most every ``every`` seconds inside long epochs and evaluations, so a log never looks hung.
* :class:`NotebookView` is a :class:`RichView` redrawn into one Jupyter output (an
  ``IPython.display`` handle, no widgets needed); :func:`sessrec.progress.emit` uses it by
  default in a Jupyter kernel.
"""

from __future__ import annotations

import io
import logging
import time
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

__all__ = ["LogView", "NotebookView", "RichView", "epoch_text", "note_text", "run_text"]

_EVAL_LABELS = {"validation": "    validating", "test": "  testing"}


def note_text(info: dict[str, Any]) -> str:
    """The text of a ``"note"`` event, prefixed with its model when it has one."""
    about = f"{info['model']}: " if info.get("model") else ""
    return about + str(info.get("text", ""))


def run_label(info: dict[str, Any]) -> str:
    """``narm (seed 0)``."""
    return f"{info.get('model')} (seed {info.get('seed')})"


def run_text(info: dict[str, Any]) -> str:
    """The line of a finished run: its main metrics and its fit and evaluation seconds."""
    rec = info["record"]
    shown = "  ".join(f"{k} {v:.4f}" for k, v in rec["metrics"].items() if k in ("recall@20", "mrr@20"))
    return f"{run_label(info)}: {shown}  fit {rec['fit_seconds']:.1f}s  eval {rec['eval_seconds']:.1f}s"


def split_text(info: dict[str, Any]) -> str:
    """``diginetica: 5519 items, 22237 train / 5899 validation / 4804 test cases``."""
    st = info.get("stats", {})
    valid = f"{st['valid_cases']} validation / " if st.get("valid_cases") else ""
    return (
        f"{info.get('dataset')}: {st.get('n_items', '?')} items, "
        f"{st.get('train_cases', '?')} train / {valid}{st.get('test_cases', '?')} test cases"
    )


def epoch_text(info: dict[str, Any]) -> str:
    """``loss 5.1234 valid_recall@20 0.4100``: the figures of a finished epoch."""
    valid = [f"{k} {v:.4f}" for k, v in info.items() if k.startswith("valid_") and isinstance(v, float)]
    loss = info.get("loss")
    return " ".join(([f"loss {loss:.4f}"] if isinstance(loss, float) else []) + valid)


def _columns() -> list[Any]:
    return [
        TextColumn("{task.description}"),
        BarColumn(bar_width=24),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
    ]


class RichView:
    """Progress bars drawn from progress events (see the module doc).

    Parameters
    ----------
    console : rich.console.Console
        Where bars and lines go (the CLI uses standard error).
    live : bool, default True
        Redraw the bars on the console (a terminal); ``False`` keeps them for :meth:`render`.
    """

    def __init__(self, console: Console, *, live: bool = True) -> None:
        self.console = console
        self.live = live
        self.progress = Progress(
            *_columns(), console=console, transient=True, auto_refresh=live, speed_estimate_period=3600
        )
        self.tasks: dict[str, Any] = {}
        self.started = False
        self.epoch = 1

    # ------------------------------------------------------------ bars
    def _task(self, name: str, description: str, total: float | None) -> Any:
        if name not in self.tasks:
            if self.live and not self.started:
                self.progress.start()
                self.started = True
            self.tasks[name] = self.progress.add_task(description, total=total, info="")
        return self.tasks[name]

    def _drop(self, *names: str) -> None:
        if self.tasks and set(self.tasks) <= set(names):
            self.refresh(force=True)  # the final state of the work that ends here
        for name in names:
            if name in self.tasks:
                self.progress.remove_task(self.tasks.pop(name))
        if not self.tasks:
            self.idle()

    def idle(self) -> None:
        """No bar is left: stop redrawing (the next event starts again)."""
        if self.started:
            self.progress.stop()
            self.started = False

    def close(self) -> None:
        """Remove every bar and stop redrawing."""
        self._drop(*list(self.tasks))
        self.idle()

    def print(self, text: str) -> None:
        """A line above the bars (rich markup)."""
        self.console.print(text, highlight=False, soft_wrap=True)

    def refresh(self, force: bool = False) -> None:
        """Redraw now (a live view redraws itself)."""

    # ------------------------------------------------------------ events
    def on_event(self, kind: str, info: dict[str, Any]) -> None:
        handler = getattr(self, f"on_{kind}", None)
        if handler is not None:
            handler(info)
            self.refresh()

    def on_note(self, info: dict[str, Any]) -> None:
        self.print("[yellow]note:[/] " + escape(note_text(info)))

    def on_prepare(self, info: dict[str, Any]) -> None:
        self.print(f"[dim]{escape(str(info.get('step')))}…[/]")

    def on_prepared(self, info: dict[str, Any]) -> None:
        note = "  [bold yellow](SYNTHETIC data)[/]" if info.get("synthetic") else ""
        self.print(f"{escape(split_text(info))}{note}")

    def on_run(self, info: dict[str, Any]) -> None:
        state = info.get("state")
        runs = self._task("runs", "runs", info.get("total"))
        if state == "started":
            self.progress.update(runs, info=escape(run_label(info)))
            return
        self.progress.advance(runs)
        if state == "finished":
            self.print(f"[green]✓[/] {escape(run_text(info))}")
        elif state == "skipped":
            self.print(f"[dim]- {escape(run_label(info))}: already in the study, skipped (use --force to rerun)[/]")
        else:
            self.print(f"[red]✗ {escape(run_label(info))} failed:[/] {escape(str(info.get('error')))}")
        done = all(t.finished for t in self.progress.tasks if t.id == runs)
        self._drop("epochs", "batches", "eval:validation", "eval:test", "eval:", *(["runs"] if done else []))

    def _epochs_task(self, info: dict[str, Any]) -> Any:
        return self._task("epochs", f"  {escape(str(info.get('model', 'training')))} epochs", info.get("epochs"))

    def on_epoch_start(self, info: dict[str, Any]) -> None:
        epochs = self._epochs_task(info)
        self.epoch = int(info.get("epoch", 1))
        self.progress.update(epochs, completed=self.epoch - 1)
        self._drop("batches")
        self._task("batches", f"    epoch {info.get('epoch')}", None)

    def on_batch(self, info: dict[str, Any]) -> None:
        batches = self._task("batches", "    epoch", info.get("total"))
        loss = info.get("loss")
        shown = f"batch {info.get('batch')}" + (f"  loss {loss:.4f}" if isinstance(loss, float) else "")
        self.progress.update(batches, total=info.get("total"), completed=info.get("done"), info=shown)
        if "epochs" in self.tasks and info.get("total"):  # the epochs bar moves (and has an ETA) inside an epoch
            fraction = min(1.0, float(info["done"]) / float(info["total"]))
            self.progress.update(self.tasks["epochs"], completed=self.epoch - 1 + fraction)

    def on_epoch(self, info: dict[str, Any]) -> None:
        epochs = self._epochs_task(info)
        self.progress.update(epochs, completed=info.get("epoch"), info=escape(epoch_text(info)))
        self._drop("batches")

    def on_fit(self, info: dict[str, Any]) -> None:
        self._drop("epochs", "batches", "eval:validation")

    def on_eval(self, info: dict[str, Any]) -> None:
        where = info.get("phase") or ""
        name = f"eval:{where}"
        total, done = info.get("total"), info.get("done")
        task = self._task(name, _EVAL_LABELS.get(where, "  evaluating"), total)
        if done == 0:
            self.progress.reset(task, total=total)
        self.progress.update(task, total=total, completed=done)
        if total is not None and done is not None and done >= total:
            self._drop(name)

    def on_tune(self, info: dict[str, Any]) -> None:
        model = escape(str(info.get("model")))
        if info.get("state") == "started":
            self._drop("trials")
            self._task("trials", f"tuning {model}", info.get("trials"))
            return
        best = info.get("best")
        shown = "no complete trial" if best is None else f"best validation value {best:.4f}"
        self.print(f"[green]✓[/] tuned {model}: {shown} ({info.get('complete')} complete)")
        self._drop("trials")

    def on_trial(self, info: dict[str, Any]) -> None:
        trials = self._task("trials", "trials", None)
        if info.get("state") == "started":
            self.progress.update(trials, info=f"trial {info.get('number')}")
            return
        self.progress.advance(trials)
        self._drop("epochs", "batches", "eval:validation", "eval:test", "eval:")
        value = info.get("value")
        shown = f"{value:.4f}" if isinstance(value, float) else escape(str(info.get("state")))
        self.print(f"[dim]  trial {info.get('number')}: {shown}[/]")


class NotebookView(RichView):
    """A :class:`RichView` shown in one Jupyter output, updated in place (at most every ``interval`` s)."""

    def __init__(self, interval: float = 0.2) -> None:
        super().__init__(Console(force_jupyter=True), live=False)
        self.interval = interval
        self.handle: Any = None
        self.last = 0.0

    def render(self) -> str:
        """The bars as plain text."""
        buffer = io.StringIO()
        table = self.progress.make_tasks_table(self.progress.tasks)
        Console(file=buffer, width=110, force_terminal=False, force_jupyter=False, color_system=None).print(table)
        return buffer.getvalue()

    def refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if not self.tasks or (not force and now - self.last < self.interval):
            return
        self.last = now
        from IPython.display import Pretty, display

        text = Pretty(self.render())
        if self.handle is None:
            self.handle = display(text, display_id=True)
        else:
            self.handle.update(text)

    def idle(self) -> None:
        """The work shown is over: the next event starts a new output."""
        self.handle = None


class LogView:
    """Plain :mod:`logging` lines for unattended runs (see the module doc).

    Parameters
    ----------
    logger : logging.Logger
        Where lines go (the CLI uses ``logging.getLogger("sessrec")`` with a stderr handler).
    every : float, default 60
        Seconds between progress lines inside one epoch or one evaluation pass.
    """

    def __init__(self, logger: logging.Logger, every: float = 60.0) -> None:
        self.log = logger
        self.every = every
        self.last = 0.0
        self.epoch: dict[str, Any] = {}

    def on_event(self, kind: str, info: dict[str, Any]) -> None:
        handler = getattr(self, f"on_{kind}", None)
        if handler is not None:
            handler(info)

    def close(self) -> None:
        """Nothing to undo (the lines are written)."""

    def _due(self, final: bool) -> bool:
        now = time.monotonic()
        if final or now - self.last >= self.every:
            self.last = now
            return True
        return False

    def on_note(self, info: dict[str, Any]) -> None:
        self.log.warning("note: %s", note_text(info))

    def on_prepare(self, info: dict[str, Any]) -> None:
        self.log.info("%s", info.get("step"))

    def on_prepared(self, info: dict[str, Any]) -> None:
        self.log.info("%s%s", split_text(info), " (SYNTHETIC data)" if info.get("synthetic") else "")

    def on_run(self, info: dict[str, Any]) -> None:
        state = info.get("state")
        where = f"run {int(info['index']) + 1}/{info['total']} " if "index" in info and "total" in info else ""
        if state == "started":
            self.log.info("%sstarted: %s", where, run_label(info))
        elif state == "finished":
            self.log.info("finished %s", run_text(info))
        elif state == "skipped":
            self.log.info("skipped %s: already in the study", run_label(info))
        else:
            self.log.error("failed %s: %s", run_label(info), info.get("error"))

    def on_epoch_start(self, info: dict[str, Any]) -> None:
        self.epoch = info
        self.last = time.monotonic()

    def on_batch(self, info: dict[str, Any]) -> None:
        if self._due(False):
            loss = info.get("loss")
            self.log.info(
                "%s epoch %s/%s: %s/%s %s, batch %s%s",
                self.epoch.get("model", ""),
                self.epoch.get("epoch"),
                self.epoch.get("epochs"),
                info.get("done"),
                info.get("total"),
                info.get("unit"),
                info.get("batch"),
                f", loss {loss:.4f}" if isinstance(loss, float) else "",
            )

    def on_epoch(self, info: dict[str, Any]) -> None:
        self.log.info(
            "%s epoch %s/%s: %s (%.1f s)",
            info.get("model", ""),
            info.get("epoch"),
            info.get("epochs"),
            epoch_text(info),
            info.get("seconds", 0.0),
        )

    def on_fit(self, info: dict[str, Any]) -> None:
        if info.get("best_epoch") is not None:
            self.log.info("%s: kept epoch %s (best validation)", info.get("model", ""), info.get("best_epoch"))

    def on_eval(self, info: dict[str, Any]) -> None:
        done, total = info.get("done"), info.get("total")
        if done and self._due(done == total) and info.get("phase") != "validation":
            self.log.info("%s %s/%s cases", info.get("phase") or "evaluating", done, total)

    def on_tune(self, info: dict[str, Any]) -> None:
        if info.get("state") == "started":
            self.log.info("tuning %s: %s trials", info.get("model"), info.get("trials"))
        else:
            self.log.info("tuned %s: best validation value %s", info.get("model"), info.get("best"))

    def on_trial(self, info: dict[str, Any]) -> None:
        if info.get("state") != "started":
            self.log.info("trial %s: %s", info.get("number"), info.get("value", info.get("state")))
