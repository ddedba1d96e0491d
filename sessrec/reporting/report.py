"""``write_report``: a study folder in, ``report.md`` + ``figures/*.png`` (+ tables) out.

The reporter is pure. It reads ``results.jsonl`` (:meth:`StudyStore.read`), the per-case
ranks ``ranks/<run_id>.npy`` and the case tables ``cases/<fingerprint>.npz``; it trains and
evaluates nothing. Every number in the report derives from those files.

It is three steps, each in its own module:

1. :func:`~sessrec.reporting.analysis.analyse_study` turns the folder into frozen results
   (rows, intervals, tests, curves, notes; how runs become rows is described there);
2. :mod:`~sessrec.reporting.figures` draws the figures from those results;
3. :mod:`~sessrec.reporting.render_markdown` and :mod:`~sessrec.reporting.render_tables`
   write ``report.md`` and the LaTeX / CSV / JSON tables from them.

The settings that change numbers are one frozen :class:`~sessrec.reporting.analysis.ReportSettings`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sessrec.errors import ConfigError, SessrecError
from sessrec.reporting.analysis import CURVE_MAX_K, ReportSettings, StudyResult, analyse_study
from sessrec.reporting.escape import md_text
from sessrec.reporting.extras import extras_markdown
from sessrec.reporting.figures import FigureFile, section_figures
from sessrec.reporting.published import load_published
from sessrec.reporting.render_markdown import main_tables_markdown, report_markdown
from sessrec.reporting.render_tables import csv_doc, json_doc, latex_doc
from sessrec.results.store import StudyStore

__all__ = ["CURVE_MAX_K", "FORMATS", "FigureFile", "ReportResult", "ReportSettings", "analyse", "write_report"]

#: Table formats beside ``report.md``: name -> file written.
FORMATS = {"md": "report.md", "latex": "tables.tex", "csv": "tables.csv", "json": "tables.json"}
_FORMAT_ALIASES = {"markdown": "md", "tex": "latex"}
_RENDERERS = {"latex": latex_doc, "csv": csv_doc, "json": json_doc}


@dataclass(frozen=True)
class ReportResult:
    """What :func:`write_report` wrote.

    Attributes
    ----------
    report_path : Path
        ``<study>/report.md``.
    figure_paths : tuple of Path
        ``<study>/figures/*.png``, in the order the report shows them.
    table_paths : dict
        Format name (``"latex"``, ``"csv"``, ``"json"``) -> file written.
    main_table : str
        The main table of every dataset section as Markdown (what the CLI prints).
    n_runs : int
        Run records read.
    study : StudyResult
        The analysis the files were rendered from (for other renderers, e.g. the terminal's).
    skipped : tuple of (line number, reason)
        Lines of ``results.jsonl`` that could not be used.
    """

    report_path: Path
    figure_paths: tuple[Path, ...]
    table_paths: dict[str, Path]
    main_table: str
    n_runs: int
    skipped: tuple[tuple[int, str], ...]
    study: StudyResult | None = None

    @property
    def paths(self) -> tuple[Path, ...]:
        """Every file written."""
        return (self.report_path, *self.figure_paths, *self.table_paths.values())


def _check_formats(formats: Iterable[str]) -> list[str]:
    out = []
    for f in formats:
        name = _FORMAT_ALIASES.get(str(f).lower(), str(f).lower())
        if name not in FORMATS:
            raise ConfigError(f"unknown report format {f!r}; choose from {', '.join(sorted(FORMATS))}")
        if name not in out:
            out.append(name)
    return out


def analyse(
    study_dir: str | Path, settings: ReportSettings | None = None, published_path: str | Path | None = None
) -> StudyResult:
    """The analysis of a study folder, without writing anything (see :func:`write_report`)."""
    store = _open_study(study_dir)
    return analyse_study(store, store.read(), settings or ReportSettings(), load_published(published_path))


def _open_study(study_dir: str | Path) -> StudyStore:
    store = StudyStore(study_dir)
    if not store.results_path.exists():
        raise SessrecError(
            f"no study in {store.path}: expected {store.results_path} (written by `sessrec run --out {store.path}`)"
        )
    return store


def write_report(
    study_dir: str | Path,
    *,
    formats: Iterable[str] = ("md",),
    main_metric: str = "recall@20",
    n_bootstrap: int = 1000,
    level: float = 0.95,
    alpha: float = 0.05,
    random_state: int = 0,
    published_path: str | Path | None = None,
) -> ReportResult:
    """Render a study folder into ``report.md`` and ``figures/*.png`` (and tables).

    Parameters
    ----------
    study_dir : path
        A study folder with ``results.jsonl`` (and ``ranks/``, ``cases/``).
    formats : iterable of str
        Extra table files beside ``report.md`` (always written): ``"latex"`` -> ``tables.tex``,
        ``"csv"`` -> ``tables.csv`` (long format), ``"json"`` -> ``tables.json``.
    main_metric, n_bootstrap, level, alpha, random_state : str, int, float, float, int
        The :class:`ReportSettings`: main metric (orders rows, plotted), bootstrap resamples,
        confidence level, significance level of the Holm-adjusted tests (``†``), bootstrap seed.
    published_path : path, optional
        Published-results file (default: the one shipped with sessrec).

    Returns
    -------
    ReportResult
        The paths written and the main table(s) as Markdown.

    Raises
    ------
    SessrecError
        When the folder has no ``results.jsonl``.
    ConfigError
        On an unknown format or metric.
    """
    study = _open_study(study_dir).path
    fmts = _check_formats(formats)
    settings = ReportSettings(main_metric, n_bootstrap, level, alpha, random_state)
    result = analyse(study, settings, published_path)
    figures = {s.fingerprint: section_figures(s, study / "figures", settings) for s in result.sections}
    report_path = study / "report.md"
    text, extra_figures = _full_markdown(study, result, figures)
    report_path.write_text(text, encoding="utf-8")
    table_paths: dict[str, Path] = {}
    for f in fmts:
        if f != "md":
            table_paths[f] = study / FORMATS[f]
            table_paths[f].write_text(_RENDERERS[f](result), encoding="utf-8")
    return ReportResult(
        report_path=report_path,
        figure_paths=(*(fig.path for figs in figures.values() for fig in figs), *extra_figures),
        table_paths=table_paths,
        main_table=main_tables_markdown(result),
        n_runs=len(result.records),
        skipped=result.skipped,
        study=result,
    )


def _full_markdown(study: Path, result: StudyResult, figures: dict) -> tuple[str, list[Path]]:
    """``report.md``: the dataset sections, then the study-wide parts (parameters, sliding window)."""
    extra, extra_figures, extra_notes = extras_markdown(study, result.records)
    text = report_markdown(result, figures, study)
    if extra or extra_notes:
        text = text.rstrip("\n") + "\n\n" + extra + "".join(f"\n> Note: {md_text(n)}\n" for n in extra_notes)
    return text, extra_figures
