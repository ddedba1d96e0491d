"""Crafted or damaged study folders: `sessrec report` (and the store that `run` reads) never stops on them.

Study folders are shared files. Each test plants one kind of bad content next to a good run
and checks that the report is still written, that the bad part is left out with a note that
says why, and that nothing of it reaches the output unescaped.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from sessrec.reporting import write_report
from sessrec.results import CaseTable, StudyStore

FP = "c" * 64
GOOD_ID = "0123456789abcdef"


def _record(run_id: str = GOOD_ID, model: str = "alpha", **over):
    rec = {
        "run_id": run_id,
        "model": model,
        "params": {"n": 1},
        "dataset": "tiny",
        "dataset_options": {},
        "protocol": {"name": "narm", "params": {"test_days": 7}},
        "fingerprint": FP,
        "seed": 0,
        "cutoffs": [5, 20],
        "ties": "conservative",
        "stats": {"test_sessions": 2, "test_cases": 4},
        "metrics": {"recall@20": 0.75, "coverage@20": 0.5},
        "fit_seconds": 1.0,
        "eval_seconds": 0.5,
        "peak_rss_mb": 100.0,
        "device": "cpu",
        "versions": {"python": "3.11", "sessrec": "0.1.0"},
        "hardware": {"cpu": "test-cpu", "cores": 2},
        "history": [],
        "synthetic": False,
    }
    rec.update(over)
    return rec


def _study(path, *extra_lines: str, cases: bool = True):
    store = StudyStore(path)
    if cases:
        store.save_cases(FP, CaseTable(np.array([0, 0, 1, 1]), np.array([1, 2, 1, 2]), np.arange(4), np.ones(10)))
    store.append(_record(), np.array([1, 2, 3, 30], dtype=np.int32))
    with open(store.results_path, "a", encoding="utf-8") as fh:
        for line in extra_lines:
            fh.write(line + "\n")
    return store


def _report(path, **kw):
    result = write_report(path, formats=("latex", "csv", "json"), n_bootstrap=50, **kw)
    return result, result.report_path.read_text(encoding="utf-8")


def test_run_ids_that_are_not_plain_names_never_reach_a_path(tmp_path):
    study = tmp_path / "study"
    outside = tmp_path / "outside"
    outside.mkdir()
    np.save(outside / "evil.npy", np.ones(4, dtype=np.int32))  # all hits: would be the best row
    evil = _record("../../outside/evil", "evil")
    store = _study(study, json.dumps(evil))
    result, report = _report(study)
    assert result.n_runs == 1
    assert [no for no, _ in result.skipped] == [2]
    assert "run_id '../../outside/evil' is not a run id" in result.skipped[0][1]
    assert "| evil |" not in report and "* line 2: run_id '../../outside/evil' is not a run id" in report
    with pytest.raises(ValueError, match="not a run id"):
        store.ranks_path("../../outside/evil")
    assert store.completed_ids() == {GOOD_ID}  # what `sessrec run` uses to skip finished runs


def test_stored_strings_are_escaped_for_markdown_html_and_latex(tmp_path):
    hostile = _record(
        "fedcba9876543210",
        "<script>alert(1)</script>|x",
        fingerprint="e" * 64,
        dataset="tiny<b>\n# injected heading",
        dataset_options={"path": "evil\n\n# title"},
        protocol={"name": "narm`\n## heading", "params": {"test_days": "[a](javascript:alert(1))"}},
        hardware={"cpu": "<img src=x onerror=alert(1)>\n## heading"},
    )
    mathtext = _record("abcdefabcdefabcd", "m$\\undefinedcommand{$", history=[{"epoch": 1, "loss": 1.0}])
    _study(tmp_path, json.dumps(hostile), json.dumps(mathtext))
    result, report = _report(tmp_path)  # figures hold the labels as text, not as mathtext
    assert result.n_runs == 3 and any(p.name == "tiny-training.png" for p in result.figure_paths)
    prose = re.sub(r"(`+).+?\1", "", report)  # code spans show their text literally (CommonMark)
    assert "<script" not in prose and "<img" not in prose and "<b>" not in prose and "tiny&lt;b&gt;" in prose
    assert "| &lt;script&gt;alert(1)&lt;/script&gt;\\|x | 1 |" in report  # one cell, escaped
    assert not re.search(r"^#+ *(injected|heading|title)", report, flags=re.MULTILINE)
    assert "[a](javascript" not in report and "[a\\](javascript" in report  # not a link
    tex = (tmp_path / "tables.tex").read_text(encoding="utf-8")
    for tabular in tex.split(r"\begin{tabular}")[1:]:
        assert "\n\n" not in tabular.split(r"\end{tabular}")[0]  # a blank line would end the table
    assert r"\caption{tiny<b> \# injected heading: accuracy (\%)}" in tex


def test_out_of_range_stored_numbers_are_rejected_with_a_note(tmp_path):
    lines = [
        _record("1111111111111111", "huge", seed=0, metrics={"recall@20": 1e308, "mrr@20": float("inf")}),
        _record("2222222222222222", "negative", metrics={"recall@20": -5.0, "coverage@20": 7.0}, fit_seconds=1e308),
        _record(
            "3333333333333333",
            "history",
            metrics={"recall@20": 0.5},
            history=[{"epoch": 1, "loss": float("inf"), "valid_recall@20": 1e308}, {"epoch": 2, "loss": 1e308}],
            peak_rss_mb=-3.0,
        ),
    ]
    _study(tmp_path, *(json.dumps(rec) for rec in lines), cases=False)  # no ranks files for these three
    with open(tmp_path / "results.jsonl", "a") as fh:  # and a section whose stated case count is absurd
        fh.write(json.dumps(_record("4444444444444444", fingerprint="d" * 64, stats={"test_cases": 1e308})) + "\n")
    result, report = _report(tmp_path)
    assert result.n_runs == 5
    assert "stored recall@20 = 1e+308 is not a fraction in [0, 1]; ignored" in report
    assert "stored mrr@20 = inf is not a fraction in [0, 1]; ignored" in report
    assert "stored recall@20 = -5.0 is not a fraction in [0, 1]; ignored" in report
    assert "stored coverage@20 = 7.0 is not a fraction in [0, 1]" in report
    assert "stored fit_seconds = 1e+308 is outside [0, 1e+09]; ignored" in report
    assert "stored peak_rss_mb = -3.0" in report
    assert "training history has unusable loss, valid_recall@20 values" in report
    assert "-500" not in report
    assert "| huge | 1 | – | – | – | – | – | – |" in report
    assert "| negative | 1 | – | – | – | – | – | – |" in report
    assert "| history | 1 | – | 50.00 | – | – | – | – |" in report  # its valid metric is kept


def test_deeply_nested_line_is_skipped_like_any_broken_line(tmp_path):
    store = _study(tmp_path, "[" * 200_000)
    contents = store.read()  # the store's reading, as `sessrec run` uses it
    assert [r.run_id for r in contents.records] == [GOOD_ID]
    assert contents.skipped == [(2, "not usable JSON (nested too deeply to read)")]
    store.drop(["nothing"])  # --force rewrites the file around the bad line
    assert store.completed_ids() == {GOOD_ID}
    result, report = _report(tmp_path)
    assert result.n_runs == 1 and "* line 2: not usable JSON (nested too deeply to read)" in report


def test_wrongly_typed_fields_and_damaged_files_are_notes(tmp_path):
    bad_types = _record("5555555555555555", "typed", stats="abc", metrics={"recall@20": "high"})
    bad_ranks = _record("6666666666666666", "strings")
    store = _study(tmp_path, json.dumps(bad_types), json.dumps(bad_ranks))
    np.save(store.ranks_path("6666666666666666"), np.array(["a", "b", "c", "d"]))
    result, report = _report(tmp_path)
    assert result.n_runs == 2 and [no for no, _ in result.skipped] == [2]
    assert "stats must be a JSON object, found str" in result.skipped[0][1]
    assert "run 6666666666666666: ranks are stored as &lt;U1, not as numbers; treated as missing" in report
