"""``report.md``: the analysis results as Markdown (reads results, computes nothing).

Every stored string is escaped where it is placed: :func:`~sessrec.reporting.escape.md_text`
in prose and table cells, :func:`~sessrec.reporting.escape.md_code` inside code spans.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from sessrec.evaluation.metrics import metric_label
from sessrec.evaluation.ranks import TIE_RULES
from sessrec.reporting.analysis import SectionResult, StudyResult, fmt_params
from sessrec.reporting.escape import md_code, md_text
from sessrec.reporting.figures import FigureFile
from sessrec.reporting.render_tables import (
    beyond_table,
    cost_table,
    different_data_table,
    main_table,
    source_refs,
    summary_table,
)
from sessrec.reporting.tables import to_markdown
from sessrec.results.record import RunRecord

__all__ = ["main_tables_markdown", "report_markdown"]

_STAT_ORDER = (
    ("clicks", "clicks"),
    ("n_items", "items"),
    ("train_sessions", "train sessions"),
    ("train_cases", "train cases"),
    ("valid_sessions", "validation sessions"),
    ("valid_cases", "validation cases"),
    ("test_sessions", "test sessions"),
    ("test_cases", "test cases"),
    ("avg_length", "average session length"),
)
_METHODS = [
    "* Every accuracy value comes from the stored per-case ranks: Recall@K = share of test cases whose target "
    "ranks ≤ K; MRR@K = mean of 1/rank over cases ranked ≤ K (0 otherwise); NDCG@K = mean of 1/log2(rank + 1) "
    "over cases ranked ≤ K. A run without ranks falls back to its stored metrics.",
    "* Several seeds: the value is the mean over seeds and `±` the standard deviation over seeds (ddof = 1). "
    "The interval and the test use each case's value averaged over the seeds.",
    "* Intervals: percentile bootstrap, {n_bootstrap} resamples (seed {random_state}), drawing whole test "
    "sessions with replacement so that the cases (prefixes) of one session stay together; the same resamples "
    "serve every model.",
    "* Tests: per column, each model against the best one, two-sided Wilcoxon signed-rank test on the paired "
    "per-case values (zero differences dropped, normal approximation with tie correction; on Recall@K it is "
    "a sign test on the cases where the models disagree), Holm step-down correction over the models of the "
    "column. The test treats cases as independent, which prefixes of one session are not; read p-values near "
    "the threshold with care and prefer the session-bootstrap intervals.",
    "* Published numbers are shown beside ours only when the recipe, the protocol and its parameters, the raw "
    "file and (where the paper gives them) the dataset statistics all match the source's.",
]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def report_markdown(study: StudyResult, figures: Mapping[str, Sequence[FigureFile]], root: Any) -> str:
    """The text of ``report.md``; ``figures`` by section fingerprint, paths shown relative to ``root``."""
    n, settings = len(study.records), study.settings
    md = [f"# Study report: {md_text(study.name)}", ""]
    md += [
        f"{_plural(n, 'run record')} read from `results.jsonl` ({_plural(len(study.skipped), 'line')} skipped, "
        f"listed at the end); {_plural(len(study.sections), 'dataset section')}. Written by `sessrec report` from "
        "the stored records and per-case ranks; nothing was trained or evaluated to make it.",
        "",
    ]
    if study.has_spec:
        md += ["Study specification: [`experiment.toml`](experiment.toml).", ""]
    if study.records:
        md += [*_env_lines(study.records), ""]
    for s in study.sections:
        md += _section_md(s, study, figures.get(s.fingerprint, ()), root)
    if len(study.sections) > 1:
        md += [
            f"## Summary: {metric_label(settings.main_metric)} (%) per model and dataset",
            "",
            to_markdown(summary_table(study.sections, settings.main_metric)),
            "",
            "Bold and † as in each dataset's main table (they are per dataset, not across datasets).",
            "",
        ]
    if not study.records:
        md += ["No usable run record: nothing to tabulate.", ""]
    md += ["## Skipped lines of results.jsonl", ""]
    md += [f"* line {no}: {md_text(why)}" for no, why in study.skipped] or ["None: every line was read."]
    md += ["", "## How the numbers were computed", ""]
    md += [line.format(n_bootstrap=settings.n_bootstrap, random_state=settings.random_state) for line in _METHODS]
    md += [""]
    return "\n".join(md)


def main_tables_markdown(study: StudyResult) -> str:
    """The main table of every section as Markdown, each under its ``### label`` (what the CLI prints)."""
    return "\n\n".join(f"### {md_text(s.label)}\n\n{to_markdown(main_table(s))}" for s in study.sections)


def _env_lines(records: Sequence[RunRecord]) -> list[str]:
    out = []
    started = sorted(str(r.started_at) for r in records if r.started_at)
    finished = sorted(str(r.finished_at) for r in records if r.finished_at)
    if started or finished:
        out.append(f"* Runs: {md_text(started[0] if started else '?')} → {md_text(finished[-1] if finished else '?')}")
    versions = Counter(
        ", ".join(f"{k} {v}" for k, v in sorted((r.versions or {}).items()) if k != "plugin") for r in records
    )
    for text, n in versions.items():
        out.append(f"* Versions ({_plural(n, 'run')}): {md_text(text or 'not recorded')}")
    hardware = Counter(
        ", ".join(f"{k}: {v}" for k, v in sorted((r.hardware or {}).items()) if v not in (None, "")) for r in records
    )
    for text, n in hardware.items():
        out.append(f"* Hardware ({_plural(n, 'run')}): {md_text(text or 'not recorded')}")
    commits = sorted({str(r.git_commit) for r in records if r.git_commit})
    out.append(f"* Git commit: {', '.join(md_code(c) for c in commits) if commits else 'not recorded'}")
    return out


def _fmt_num(v: Any) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:,.2f}" if abs(v) < 1e6 else f"{v:,.0f}"
    return md_text(v)


def _data_lines(sec: SectionResult) -> list[str]:
    rep = sec.representative
    proto = rep.protocol or {}
    source = dict(rep.data_source or {})
    if not source.get("path") and (rep.dataset_options or {}).get("path"):
        source["path"] = (rep.dataset_options or {})["path"]
    checksum = f" (sha256 {md_code(source['checksum'])})" if source.get("checksum") else ""
    ties = "; ".join(f"{md_text(t)} ({TIE_RULES.get(t, 'as recorded')})" for t in sorted({r.ties for r in sec.rows}))
    return [
        f"* Dataset recipe: {md_code(rep.dataset)}; options: {md_text(fmt_params(rep.dataset_options))}",
        f"* Protocol: {md_code(proto.get('name'))}; parameters: {md_text(fmt_params(_mapping(proto.get('params'))))}",
        f"* Raw data: {md_code(source.get('path', 'not recorded'))}" + checksum,
        f"* Data fingerprint: {md_code(sec.fingerprint)}",
        f"* Ties: {ties}",
        "",
    ]


def _mapping(v: Any) -> Mapping[str, Any] | None:
    return v if isinstance(v, Mapping) else None


def _stats_lines(sec: SectionResult) -> list[str]:
    stats = sec.representative.stats or {}
    known = [(k, name) for k, name in _STAT_ORDER if k in stats]
    extra = sorted(k for k in stats if k not in dict(_STAT_ORDER))
    out = []
    if known:
        out += ["| " + " | ".join(name for _, name in known) + " |"]
        out += ["|" + "|".join(["--:"] * len(known)) + "|"]
        out += ["| " + " | ".join(_fmt_num(stats[k]) for k, _ in known) + " |", ""]
    if extra:
        out += ["Preparation: " + ", ".join(f"{md_text(k)} {_fmt_num(stats[k])}" for k in extra) + ".", ""]
    return out


def _main_lines(sec: SectionResult, study: StudyResult) -> list[str]:
    st = study.settings
    return [
        f"### Main table (rows ordered by {metric_label(st.main_metric)})",
        "",
        to_markdown(main_table(sec)),
        "",
        f"Values in percent. **Bold**: best in the column. `± x`: standard deviation over seeds. `[a, b]`: "
        f"{round(100 * st.level)}% percentile bootstrap interval over {sec.bootstrap_unit} ({st.n_bootstrap} "
        "resamples, seed-averaged per-case values). **†**: differs from the column's best model (two-sided "
        "Wilcoxon signed-rank test on per-case values, paired by test case, Holm-corrected over the models "
        f"compared in the column, adjusted p < {st.alpha:g}); a value without † and not bold is not significantly "
        "different from the best. Published rows are not ranked, bolded or tested.",
        "",
    ]


def _published_lines(sec: SectionResult) -> list[str]:
    refs = source_refs(sec)
    matched = [m for m in sec.published if m.matched]
    unmatched = [m for m in sec.published if not m.matched]
    out = []
    if matched:
        out += [
            "Published rows: the recipe, the protocol and its parameters, the raw file and (where the source "
            "gives them) the dataset statistics match the source's.",
            "",
        ]
        for m in matched:
            url = m.source.url.strip().replace("<", "").replace(">", "").replace(" ", "%20")
            src = m.source
            out.append(f"* [{refs[src.key]}] {md_text(src.citation)}. <{url}>. {md_text(src.note)}".rstrip())
            if m.setting.caveat:
                out.append(f"  Not checked: {md_text(m.setting.caveat)}")
        out.append("")
    if unmatched:
        out += [
            "Published numbers for this recipe exist but describe **different data**, so they are not placed beside "
            "ours (for orientation only, not comparable):",
            "",
        ]
        for m in unmatched:
            out.append(f"* [{refs[m.source.key]}] {md_text(m.source.citation)}: {md_text('; '.join(m.reasons))}.")
        out += ["", to_markdown(different_data_table(sec)), ""]
    return out


def _beyond_and_cost_lines(sec: SectionResult) -> list[str]:
    beyond = beyond_table(sec)
    out = ["### Beyond accuracy", ""]
    if beyond is None:
        out += ["No run stored coverage@K or popularity@K.", ""]
    else:
        out += [
            to_markdown(beyond),
            "",
            "Coverage@K: share of the catalogue that appears in at least one top-K list (%). Popularity@K: mean over "
            "cases of the mean training popularity of the top-K items, divided by the most popular item's count "
            "(1 = only the top item). Mean ± std over seeds, from the run records.",
            "",
        ]
    return [
        *out,
        "### Cost",
        "",
        to_markdown(cost_table(sec)),
        "",
        "Mean ± std over seeds. Fit includes training and any validation; evaluation is full ranking over the "
        "catalogue; peak RSS is the process's resident-memory high-water mark.",
        "",
    ]


def _section_md(sec: SectionResult, study: StudyResult, figures: Sequence[FigureFile], root: Any) -> list[str]:
    out = [f"## {md_text(sec.label)}", ""]
    if any(r.synthetic for r in sec.records):
        out += ["> **Synthetic data.** These numbers say nothing about real recommendation quality.", ""]
    out += _data_lines(sec) + _stats_lines(sec) + _main_lines(sec, study) + _published_lines(sec)
    out += _beyond_and_cost_lines(sec)
    if figures:
        out += ["### Figures", ""]
        for fig in figures:
            rel = fig.path.relative_to(root).as_posix()
            out += [f"**{fig.caption}** (`{rel}`)", "", f"![{fig.caption}]({rel})", ""]
    if sec.notes:
        out += ["### Notes on this section", ""] + [f"* {md_text(n)}" for n in sec.notes] + [""]
    return out
