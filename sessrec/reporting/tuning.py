"""Where each model's parameters came from, and what tuning cost: read from ``tuned/``.

A study folder may hold ``tuned/<dataset>/<model>.toml`` files written by ``sessrec tune``.
They are read as untrusted input (a study folder may come from someone else): a file that
is not valid TOML, or whose fields have the wrong types, is left out with a note.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:  # Python 3.11+
    import tomllib
except ImportError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

__all__ = ["TunedSet", "budget_warning", "param_source", "plot_histories", "read_tuned_sets"]

_MAX_BYTES = 1 << 20


@dataclass(frozen=True)
class TunedSet:
    """One tuned parameter set as the report shows it."""

    dataset: str
    model: str
    objective: str
    best_value: float
    trials_complete: int
    trials_pruned: int
    trials_failed: int
    seconds: float
    valid_days: float | None
    params: dict[str, Any] = field(default_factory=dict)
    history_trial: tuple[int, ...] = ()
    history_value: tuple[float, ...] = ()


def _num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _parse(path: Path, dataset: str, model: str) -> TunedSet:
    if path.stat().st_size > _MAX_BYTES:
        raise ValueError("larger than 1 MiB")
    data = tomllib.loads(path.read_bytes().decode("utf-8"))
    params = data.get("params")
    ints = ("trials_complete", "trials_pruned", "trials_failed")
    if data.get("model") != model or not isinstance(params, dict) or not isinstance(data.get("objective"), str):
        raise ValueError("no model/objective/params matching its file name")
    if not _num(data.get("best_value")) or not all(isinstance(data.get(k), int) and data[k] >= 0 for k in ints):
        raise ValueError("best_value or trial counts missing or out of range")
    trials, values = data.get("history_trial", []), data.get("history_value", [])
    if not (isinstance(trials, list) and isinstance(values, list) and len(trials) == len(values)):
        raise ValueError("history_trial and history_value differ in length")
    if not all(isinstance(t, int) for t in trials) or not all(_num(v) for v in values):
        raise ValueError("history holds non-numbers")
    vdays = data.get("valid_days")
    return TunedSet(
        dataset,
        model,
        data["objective"],
        float(data["best_value"]),
        data["trials_complete"],
        data["trials_pruned"],
        data["trials_failed"],
        float(data.get("seconds", 0.0)) if _num(data.get("seconds", 0.0)) else 0.0,
        float(vdays) if _num(vdays) else None,
        dict(params),
        tuple(trials),
        tuple(float(v) for v in values),
    )


def read_tuned_sets(study_dir: str | Path) -> tuple[list[TunedSet], list[str]]:
    """Every readable ``tuned/<dataset>/<model>.toml`` and a note per file left out."""
    root = Path(study_dir) / "tuned"
    found: list[TunedSet] = []
    notes: list[str] = []
    if not root.is_dir():
        return found, notes
    for path in sorted(root.glob("*/*.toml")):
        if path.is_symlink() or not path.is_file():
            notes.append(f"tuned/{path.parent.name}/{path.name}: not a regular file, left out")
            continue
        try:
            found.append(_parse(path, path.parent.name, path.stem))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, ValueError, TypeError) as exc:
            notes.append(f"tuned/{path.parent.name}/{path.name}: unreadable ({exc}), left out")
    return found, notes


def param_source(
    model: str, dataset: str, param_set: str | None, params: Mapping[str, Any], tuned: Sequence[TunedSet]
) -> str:
    """``defaults``, ``given parameters``, ``published set NAME`` or ``tuned (…)`` for one row."""
    if param_set == "tuned":
        match = [t for t in tuned if t.model == model and t.dataset == dataset]
        if not match:
            return "tuned (its tuned/ file is missing)"
        t = match[0]
        return (
            f"tuned: {t.trials_complete} trials ({t.trials_pruned} pruned), validation {t.objective} {t.best_value:.4f}"
        )
    if param_set:
        return f"parameter set {param_set}"
    return "given parameters" if params else "defaults"


def budget_warning(sources: Mapping[str, str], tuned: Sequence[TunedSet]) -> str | None:
    """A legend line when the models of one comparison had unequal tuning budgets."""
    kinds = {"tuned" if s.startswith("tuned") else "untuned" for s in sources.values()}
    if kinds == {"tuned", "untuned"}:
        untuned = sorted(m for m, s in sources.items() if not s.startswith("tuned"))
        return f"Unequal tuning budgets: {', '.join(untuned)} ran without tuning while others were tuned."
    budgets = {t.model: t.trials_complete + t.trials_pruned for t in tuned if t.model in sources}
    if len(set(budgets.values())) > 1:
        shown = ", ".join(f"{m} {n}" for m, n in sorted(budgets.items()))
        return f"Unequal tuning budgets (finished trials): {shown}."
    return None


def plot_histories(tuned: Sequence[TunedSet], out_dir: str | Path) -> Path | None:
    """One figure: each tuned model's validation value per trial and its best so far."""
    drawable = [t for t in tuned if t.history_trial]
    if not drawable:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for i, t in enumerate(drawable):
        colour = f"C{i % 10}"
        best = [max(t.history_value[: j + 1]) for j in range(len(t.history_value))]
        ax.scatter(t.history_trial, t.history_value, s=10, color=colour, alpha=0.5)
        ax.step(t.history_trial, best, where="post", color=colour, label=f"{t.model} ({t.dataset})")
    ax.set_xlabel("trial")
    ax.set_ylabel(f"validation {drawable[0].objective}")
    ax.set_title("Optimisation history (dots: trials, line: best so far)")
    ax.legend(fontsize=8)
    out = Path(out_dir) / "tuning_history.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
