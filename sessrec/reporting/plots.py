"""Report figures as PNG files (matplotlib, Agg canvas, no pyplot global state).

Every figure stays readable in grayscale: each model keeps one colour (Okabe–Ito, safe for
colour-blind readers), one marker and one line style across all figures, so lines differ
by shape even where colours print as similar greys; bars carry hatch patterns. Axes are
labelled with their units (percent of test cases, list length in items, epochs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from sessrec.evaluation.metrics import metric_label

__all__ = [
    "ModelStyle",
    "plot_by_prefix_length",
    "plot_cutoff_curves",
    "plot_metric_bars",
    "plot_training_curves",
    "styles_for",
]

_COLOURS = ("#000000", "#E69F00", "#56B4E9", "#009E73", "#D55E00", "#0072B2", "#CC79A7", "#999999", "#F0E442")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">")
_LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)))
_HATCHES = ("", "//", "..", "xx", "\\\\", "--", "++", "oo", "**", "||")
_PNG_METADATA = {"Software": None}  # no version string: the same study gives the same bytes


#: Keyword arguments for ``Axes.plot`` (``color``, ``marker``, ``linestyle``) plus a bar ``hatch``.
ModelStyle = dict[str, Any]


def styles_for(labels: Sequence[str]) -> dict[str, ModelStyle]:
    """One fixed style per label, in order: colour, marker, line style and hatch all differ."""
    out = {}
    for i, label in enumerate(labels):
        out[label] = {
            "color": _COLOURS[i % len(_COLOURS)],
            "marker": _MARKERS[i % len(_MARKERS)],
            "linestyle": _LINESTYLES[i % len(_LINESTYLES)],
            "hatch": _HATCHES[i % len(_HATCHES)],
        }
    return out


def _line_kwargs(style: ModelStyle) -> dict[str, Any]:
    return {k: v for k, v in style.items() if k != "hatch"}


def _save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=120, metadata=_PNG_METADATA)
    return path


def _legend_outside(ax: Any) -> None:
    """Legend to the right of the axes, so it never hides a line."""
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, borderaxespad=0.0)


def _finish_line_chart(fig: Any, ax: Any, title: str, path: Path) -> Path:
    """The end every line chart shares: y axis from 0, light grid, ``title``, legend outside; saved to ``path``."""
    ax.set_ylim(bottom=0)
    ax.grid(True, color="#dddddd", linewidth=0.6)
    ax.set_title(title)
    _legend_outside(ax)
    fig.tight_layout()
    return _save(fig, path)


def plot_cutoff_curves(
    curves: Mapping[str, np.ndarray],
    metric: str,
    path: Path,
    *,
    styles: Mapping[str, ModelStyle],
    title: str = "",
) -> Path:
    """A metric at every list length ``K = 1 … len(curve)``, one line per model.

    Parameters
    ----------
    curves : mapping label -> array of shape (n_cutoffs,)
        Values as fractions at ``K = 1, 2, …``; plotted in percent.
    metric : str
        ``"recall"`` or ``"mrr"`` (names the y axis).
    """
    fig = Figure(figsize=(7.6, 4.2))
    ax = fig.add_subplot()
    n = max((len(c) for c in curves.values()), default=0)
    ks = np.arange(1, n + 1)
    for label, values in curves.items():
        ax.plot(
            ks[: len(values)],
            100 * np.asarray(values),
            label=label,
            markevery=5,
            markersize=5,
            linewidth=1.4,
            **_line_kwargs(styles[label]),
        )
    name = metric_label(metric)
    ax.set_xlabel("K: length of the recommendation list (items)")
    ax.set_ylabel(f"{name}@K (% of test cases)" if metric == "recall" else f"{name}@K (%)")
    ax.set_xlim(1, max(n, 2))
    return _finish_line_chart(fig, ax, title or f"{name}@K for K = 1…{n}", path)


def plot_metric_bars(
    labels: Sequence[str],
    values: Sequence[float],
    intervals: Sequence[tuple[float, float] | None],
    metric: str,
    path: Path,
    *,
    styles: Mapping[str, ModelStyle],
    level: float = 0.95,
    title: str = "",
) -> Path:
    """Horizontal bars of one metric per model (best on top) with confidence intervals.

    Parameters
    ----------
    labels, values : the models and their metric values (fractions, plotted in percent)
    intervals : (low, high) fractions per model, or None where no interval exists
    """
    fig = Figure(figsize=(6.4, 0.9 + 0.45 * max(len(labels), 1)))
    ax = fig.add_subplot()
    y = np.arange(len(labels))[::-1]
    for yi, label, v, ci in zip(y, labels, values, intervals):
        st = styles[label]
        ax.barh(
            yi, 100 * v, height=0.6, color=st["color"], alpha=0.55, hatch=st["hatch"], edgecolor="black", linewidth=0.8
        )
        if ci is not None:
            lo, hi = 100 * ci[0], 100 * ci[1]
            ax.errorbar(
                100 * v, yi, xerr=[[100 * v - lo], [hi - 100 * v]], fmt="none", ecolor="black", capsize=4, linewidth=1.2
            )
        right = 100 * (ci[1] if ci is not None else v)
        text = f"  {100 * v:.2f}" + ("" if ci is not None else " (no interval: no per-case ranks)")
        ax.text(right, yi, text, va="center", ha="left", fontsize=8)
    ax.set_yticks(y, labels)
    name = metric_label(metric)
    ax.set_xlabel(f"{name} (% of test cases)" if metric.startswith("recall") else f"{name} (%)")
    top = max([100 * (ci[1] if ci is not None else v) for v, ci in zip(values, intervals)], default=1.0)
    ax.set_xlim(0, top * (1.18 if all(ci is not None for ci in intervals) else 1.6) + 1e-9)
    ax.grid(True, axis="x", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.set_title(title or f"{name} with {round(100 * level)}% bootstrap intervals (test sessions resampled)")
    fig.tight_layout()
    return _save(fig, path)


def plot_by_prefix_length(
    series: Mapping[str, np.ndarray],
    counts: np.ndarray,
    metric: str,
    path: Path,
    *,
    styles: Mapping[str, ModelStyle],
    title: str = "",
) -> Path:
    """A metric by test-prefix length ``1, 2, …, 9, ≥10``, one line per model.

    Parameters
    ----------
    series : mapping label -> array of shape (10,)
        Metric (fraction) over the cases of each length bucket; NaN where a bucket is empty.
    counts : array of shape (10,)
        Test cases per bucket (shown under the tick labels).
    """
    fig = Figure(figsize=(8.0, 4.4))
    ax = fig.add_subplot()
    x = np.arange(1, 11)
    for label, values in series.items():
        ax.plot(x, 100 * np.asarray(values), label=label, markersize=5, linewidth=1.4, **_line_kwargs(styles[label]))
    ticks = [f"{i}\nn={int(c):,}" for i, c in zip(range(1, 10), counts[:9])] + [f"≥10\nn={int(counts[9]):,}"]
    ax.set_xticks(x, ticks, fontsize=7)
    name = metric_label(metric)
    ax.set_xlabel("length of the test prefix (clicks seen before the target); n = test cases")
    ax.set_ylabel(f"{name} (% of test cases)" if metric.startswith("recall") else f"{name} (%)")
    return _finish_line_chart(fig, ax, title or f"{name} by test-prefix length", path)


def _label_training_axes(axes: Sequence[Any], valid_keys: Sequence[str], log_scale: bool) -> None:
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("training loss (each model's own objective)" + (", log scale" if log_scale else ""))
    axes[0].set_title("training loss")
    for ax, vk in zip(axes[1:], valid_keys):
        name = metric_label(vk.removeprefix("valid_"))
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"validation {name} (%)")
        ax.set_title(f"validation {name}")
    for ax in axes:
        ax.grid(True, color="#dddddd", linewidth=0.6)
        ax.xaxis.get_major_locator().set_params(integer=True)


def plot_training_curves(
    histories: Mapping[str, Sequence[Sequence[Mapping[str, Any]]]],
    path: Path,
    *,
    styles: Mapping[str, ModelStyle],
    title: str = "",
) -> Path | None:
    """Training loss and validation metric per epoch (one panel each), one line per model and seed.

    Parameters
    ----------
    histories : mapping label -> list (one per seed) of per-epoch dicts
        Each dict has ``epoch`` and ``loss``, and maybe validation metrics ``valid_<metric>``
        (fractions, plotted in percent).

    Returns
    -------
    Path or None
        None when no model recorded any epoch (nothing is written).
    """
    usable = {k: [h for h in hs if h] for k, hs in histories.items()}
    usable = {k: hs for k, hs in usable.items() if hs}
    if not usable:
        return None
    valid_keys = sorted({key for hs in usable.values() for h in hs for e in h for key in e if key.startswith("valid_")})
    panels = 1 + len(valid_keys)  # the loss, then one panel per validation metric
    fig = Figure(figsize=(5.0 * panels + 1.4, 4.0))
    axes = [fig.add_subplot(1, panels, i + 1) for i in range(panels)]
    for label, hs in usable.items():
        kw = _line_kwargs(styles[label])
        for seed_pos, h in enumerate(hs):
            epochs = [e.get("epoch", i + 1) for i, e in enumerate(h)]
            loss = [e.get("loss", np.nan) for e in h]
            axes[0].plot(epochs, loss, label=label if seed_pos == 0 else None, markersize=4, linewidth=1.2, **kw)
            for ax, vk in zip(axes[1:], valid_keys):
                vals = [100 * e[vk] if e.get(vk) is not None else np.nan for e in h]
                if not np.all(np.isnan(vals)):
                    ax.plot(epochs, vals, markersize=4, linewidth=1.2, **kw)
    losses = np.array([e.get("loss", np.nan) for hs in usable.values() for h in hs for e in h], dtype=np.float64)
    losses = losses[np.isfinite(losses)]
    log_scale = losses.size > 0 and losses.min() > 0 and losses.max() / losses.min() > 20
    if log_scale:  # models' objectives differ in scale (e.g. cross-entropy vs BPR-max): keep all readable
        axes[0].set_yscale("log")
    _label_training_axes(axes, valid_keys, log_scale)
    handles, labels = axes[0].get_legend_handles_labels()  # every model plots its loss
    axes[-1].legend(
        handles, labels, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, borderaxespad=0.0
    )
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)
