"""The report's figures, drawn from a section's analysis results (PNG files, nothing else).

Each function reads a :class:`~sessrec.reporting.analysis.SectionResult` and writes one figure
with :mod:`sessrec.reporting.plots`; every stored string (model labels, dataset names) goes
through :func:`~sessrec.reporting.escape.mpl_text` first.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sessrec.evaluation.metrics import metric_label
from sessrec.reporting import plots
from sessrec.reporting.analysis import CURVE_MAX_K, ReportSettings, SectionResult
from sessrec.reporting.escape import mpl_text

__all__ = ["FigureFile", "section_figures"]


@dataclass(frozen=True)
class FigureFile:
    """A figure written: its caption in the report and its path."""

    caption: str
    path: Path


def section_figures(sec: SectionResult, fig_dir: Path, settings: ReportSettings) -> tuple[FigureFile, ...]:
    """Every figure of one section, in the order the report shows them."""
    styles = plots.styles_for([mpl_text(r.label) for r in sec.rows])
    title = mpl_text(sec.label)
    out = [*_cutoff_figures(sec, fig_dir, styles, title)]
    out += _bar_figure(sec, fig_dir, styles, title, settings)
    out += _prefix_figure(sec, fig_dir, styles, title, settings.main_metric)
    out += _training_figure(sec, fig_dir, styles, title)
    return tuple(out)


def _cutoff_figures(sec: SectionResult, fig_dir: Path, styles: Mapping[str, Any], title: str) -> list[FigureFile]:
    if not sec.curves:
        return []
    out = []
    for j, (metric, caption) in enumerate(
        (
            ("recall", f"Recall@K for K = 1…{CURVE_MAX_K} (from the per-case ranks, mean over seeds)"),
            ("mrr", f"MRR@K for K = 1…{CURVE_MAX_K}"),
        )
    ):
        curves = {mpl_text(label): pair[j] for label, pair in sec.curves.items()}
        path = plots.plot_cutoff_curves(
            curves,
            metric,
            fig_dir / f"{sec.slug}-{metric}-at-k.png",
            styles=styles,
            title=f"{title}: {metric_label(metric)}@K, K = 1…{CURVE_MAX_K}",
        )
        out.append(FigureFile(caption, path))
    return out


def _bar_figure(
    sec: SectionResult, fig_dir: Path, styles: Mapping[str, Any], title: str, settings: ReportSettings
) -> list[FigureFile]:
    main, level = settings.main_metric, settings.level
    shown = [r for r in sec.rows if not math.isnan(r.values.get(main, np.nan))]
    if not shown:
        return []
    path = plots.plot_metric_bars(
        [mpl_text(r.label) for r in shown],
        [r.values[main] for r in shown],
        [r.ci.get(main) for r in shown],
        main,
        fig_dir / f"{sec.slug}-{main.replace('@', '')}-ci.png",
        styles=styles,
        level=level,
        title=f"{title}: {metric_label(main)} with {round(100 * level)}% bootstrap intervals",
    )
    return [FigureFile(f"{metric_label(main)} per model with its {round(100 * level)}% interval", path)]


def _prefix_figure(
    sec: SectionResult, fig_dir: Path, styles: Mapping[str, Any], title: str, main: str
) -> list[FigureFile]:
    if sec.by_prefix is None:
        return []
    series, counts = sec.by_prefix
    path = plots.plot_by_prefix_length(
        {mpl_text(label): values for label, values in series.items()},
        counts,
        main,
        fig_dir / f"{sec.slug}-{main.replace('@', '')}-by-prefix-length.png",
        styles=styles,
        title=f"{title}: {metric_label(main)} by test-prefix length",
    )
    return [FigureFile(f"{metric_label(main)} by test-prefix length (1…9, ≥10 clicks)", path)]


def _training_figure(sec: SectionResult, fig_dir: Path, styles: Mapping[str, Any], title: str) -> list[FigureFile]:
    histories = {mpl_text(r.label): [list(run.history) for run in r.runs] for r in sec.rows}
    path = plots.plot_training_curves(
        histories, fig_dir / f"{sec.slug}-training.png", styles=styles, title=f"{title}: training curves"
    )
    if path is None:
        return []
    return [FigureFile("Training loss and validation metric per epoch (one line per seed)", path)]
