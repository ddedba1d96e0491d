"""The report rendered from a small fixed study folder, checked cell by cell.

The study ``tiny`` has 6 test cases in 3 sessions (labels 10, 11, 12) and ranks chosen by hand:

=======  =====  =========================
model    seed   ranks (case order)
=======  =====  =========================
alpha    0      1, 1, 2, 1, 3, 1
alpha    1      1, 2, 1, 1, 1, 1
gamma    0      2, 6, 1, 8, 4, 30
beta     0      30, 40, 25, 50, 60, 21
=======  =====  =========================

A second dataset, ``other``, has no case table and a run without a ranks file.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from sessrec.errors import ConfigError, SessrecError
from sessrec.reporting import write_report
from sessrec.results import CaseTable, StudyStore

FP_TINY = "a" * 64
FP_OTHER = "b" * 64
RANKS = {
    ("alpha", 0): [1, 1, 2, 1, 3, 1],
    ("alpha", 1): [1, 2, 1, 1, 1, 1],
    ("gamma", 0): [2, 6, 1, 8, 4, 30],
    ("beta", 0): [30, 40, 25, 50, 60, 21],
}
PUBLISHED = """
[[source]]
key = "paper-x"
citation = "A. Author. A Paper. Venue 2020, Table 9"
url = "https://example.org/paper"
unit = "percent"

[[source]]
key = "paper-y"
citation = "B. Author. Another Paper. Venue 2021"
url = "https://example.org/other"
unit = "fraction"

[[setting]]
source = "paper-x"
dataset = "tiny"
protocol = "narm"
params = { test_days = 7 }
raw_files = ["tiny.csv"]
stats = { test_cases = 6 }

[[setting]]
source = "paper-y"
dataset = "tiny"
protocol = "gru4rec"
params = { test_days = 7 }

[[result]]
source = "paper-x"
method = "NARM"
model = "narm"
values = { tiny = { "recall@20" = 62.58, "mrr@20" = 27.35 } }

[[result]]
source = "paper-y"
method = "GRU4Rec"
values = { tiny = { "recall@20" = 0.4995 } }
"""


def _record(model, seed, dataset="tiny", fingerprint=FP_TINY, **over):
    rec = {
        "run_id": f"{dataset}-{model}-{seed}",
        "model": model,
        "params": {"n": 1},
        "dataset": dataset,
        "dataset_options": {},
        "protocol": {"name": "narm", "params": {"test_days": 7}},
        "fingerprint": fingerprint,
        "seed": seed,
        "cutoffs": [5, 20],
        "ties": "conservative",
        "stats": {
            "clicks": 15,
            "n_items": 100,
            "train_sessions": 4,
            "train_cases": 9,
            "test_sessions": 3,
            "test_cases": 6,
            "avg_length": 3.0,
        },
        "metrics": {"coverage@20": 0.25, "popularity@20": 0.125},
        "fit_seconds": 2.0 + seed,
        "eval_seconds": 0.5,
        "peak_rss_mb": 300.0,
        "device": "cpu",
        "versions": {"python": "3.11", "torch": "2.13", "numpy": "2.4", "sessrec": "0.1.0", "plugin": "demo 1.0"},
        "hardware": {"cpu": "test-cpu", "cores": 2, "gpu": None},
        "git_commit": None,
        "started_at": "2026-01-01T00:00:00+00:00",
        "finished_at": "2026-01-01T00:01:00+00:00",
        "history": [],
        "synthetic": False,
        "data_source": {"path": "/data/tiny.csv", "checksum": "0" * 64},
    }
    rec.update(over)
    return rec


def _build(path):
    store = StudyStore(path)
    store.save_cases(
        FP_TINY,
        CaseTable(
            session=np.array([10, 10, 11, 12, 12, 12]),
            prefix_length=np.array([1, 2, 1, 1, 2, 3]),
            target=np.array([0, 1, 2, 3, 4, 5]),
            item_counts=np.ones(100, dtype=np.int64),
        ),
    )
    for (model, seed), ranks in RANKS.items():
        history = []
        if model == "alpha":
            history = [{"epoch": e, "loss": 3.0 / e, "seconds": 1.0, "valid_recall@20": 0.2 * e} for e in (1, 2, 3)]
        store.append(_record(model, seed, history=history), np.array(ranks, dtype=np.int32))
    other_stats = {"test_cases": 3}
    store.append(_record("alpha", 0, "other", FP_OTHER, stats=other_stats), np.array([1, 30, 2], dtype=np.int32))
    delta = _record("delta", 0, "other", FP_OTHER, stats=other_stats, metrics={"recall@20": 0.5, "mrr@20": 0.25})
    store.append(delta)  # no ranks file
    (path / "published.toml").write_text(PUBLISHED)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    path = tmp_path_factory.mktemp("study")
    _build(path)
    result = write_report(
        path, formats=("latex", "csv", "json"), n_bootstrap=300, published_path=path / "published.toml"
    )
    return path, result


def _rows(markdown_table: str) -> dict[str, list[str]]:
    """Model label -> cells of a Markdown table."""
    out = {}
    for line in markdown_table.splitlines()[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        out[cells[0]] = cells[1:]
    return out


def _tiny_table(result) -> dict[str, list[str]]:
    block = result.main_table.split("### other")[0]
    table = "\n".join(line for line in block.splitlines() if line.startswith("|"))
    return _rows(table)


def _pct(x: float) -> str:
    return f"{100 * x:.2f}"


# Hand values, per case (alpha's are averaged over its two seeds for the interval and test).
RR_A0 = [1, 1, 1 / 2, 1, 1 / 3, 1]
RR_A1 = [1, 1 / 2, 1, 1, 1, 1]
NDCG_A0 = [1, 1, 1 / math.log2(3), 1, 1 / 2, 1]
NDCG_A1 = [1, 1 / math.log2(3), 1, 1, 1, 1]


def test_main_table_values_bold_and_marks(rendered):
    _, result = rendered
    rows = _tiny_table(result)
    # columns: Seeds, Recall@5, Recall@20, MRR@5, MRR@20, NDCG@5, NDCG@20
    assert list(rows)[:3] == ["alpha", "gamma", "beta"]  # ordered by Recall@20
    alpha, gamma, beta = rows["alpha"], rows["gamma"], rows["beta"]
    assert alpha[0] == "2" and gamma[0] == "1" and beta[0] == "1"

    # alpha: best everywhere, two seeds -> mean ± std and an interval
    assert alpha[1] == "**100.00** ± 0.00 [100.00, 100.00]"
    assert alpha[2] == "**100.00** ± 0.00 [100.00, 100.00]"
    mrr_seeds = [sum(RR_A0) / 6, sum(RR_A1) / 6]  # 29/36 and 33/36
    assert alpha[3].startswith(f"**{_pct(np.mean(mrr_seeds))}** ± {_pct(np.std(mrr_seeds, ddof=1))} [")
    assert alpha[3].startswith("**86.11** ± 7.86 [")
    ndcg_seeds = [sum(NDCG_A0) / 6, sum(NDCG_A1) / 6]
    assert alpha[5].startswith(f"**{_pct(np.mean(ndcg_seeds))}** ± {_pct(np.std(ndcg_seeds, ddof=1))} [")

    # gamma (ranks 2, 6, 1, 8, 4, 30): one seed -> no ±
    assert gamma[1].startswith(f"{_pct(3 / 6)} [")
    assert gamma[2].startswith(f"{_pct(5 / 6)} [")
    assert gamma[3].startswith(f"{_pct((1 / 2 + 1 + 1 / 4) / 6)} [")
    assert gamma[4].startswith(f"{_pct((1 / 2 + 1 / 6 + 1 + 1 / 8 + 1 / 4) / 6)} [")
    assert gamma[5].startswith(f"{_pct((1 / math.log2(3) + 1 + 1 / math.log2(5)) / 6)} [")
    ndcg20 = (1 / math.log2(3) + 1 / math.log2(7) + 1 + 1 / math.log2(9) + 1 / math.log2(5)) / 6
    assert gamma[6].startswith(f"{_pct(ndcg20)} [")

    # beta never in the top 20
    assert beta[1] == "0.00 [0.00, 0.00]†"
    assert beta[2] == "0.00 [0.00, 0.00]†"

    # significance, by hand (Wilcoxon z, two-sided normal p, Holm over 2 comparisons):
    #   Recall@5  gamma: 3 tied losses -> z = -3/sqrt(3) -> p = .083 ; beta: 6 losses -> p = .014
    #             Holm: beta .029 (†), gamma max(.029, .083) = .083 (no mark)
    #   MRR@5     gamma p = .046, beta p = .026 -> Holm: beta .051, gamma .051: no mark, though both
    #             raw p-values are below .05
    assert not gamma[1].endswith("†") and not gamma[2].endswith("†")
    assert not gamma[3].endswith("†") and not beta[3].endswith("†")
    assert "**" not in "".join(gamma + beta)


def test_interval_bounds_are_reachable_session_means(rendered):
    _, result = rendered
    gamma = _tiny_table(result)["gamma"]
    # Recall@5 per session of gamma: session 10 -> [1, 0], 11 -> [1], 12 -> [0, 1, 0].
    # Any resample mean is (a*1 + b*1 + c*1) / (2a + b + 3c) for counts a + b + c = 3.
    reachable = set()
    for a in range(4):
        for b in range(4 - a):
            c = 3 - a - b
            reachable.add(round((a + b + c) / (2 * a + b + 3 * c), 10))
    lo, hi = (float(x) / 100 for x in gamma[1].split("[")[1].rstrip("]").split(", "))
    near = sorted(reachable)
    assert any(abs(lo - r) < 0.005 for r in near) and any(abs(hi - r) < 0.005 for r in near)
    assert lo <= 0.5 <= hi


def test_significance_p_values_in_json(rendered):
    path, _ = rendered
    doc = json.loads((path / "tables.json").read_text())
    tiny = next(d for d in doc["datasets"] if d["label"] == "tiny")
    rows = {r["label"]: r for r in tiny["rows"]}

    def p_two_sided(z):
        return math.erfc(abs(z) / math.sqrt(2))

    # Recall@5: gamma z = -3/sqrt(3.5 - 24/48); beta z = -10.5/sqrt(22.75 - 210/48)
    p_gamma, p_beta = p_two_sided(-3 / math.sqrt(3.0)), p_two_sided(-10.5 / math.sqrt(22.75 - 210 / 48))
    assert rows["beta"]["metrics"]["recall@5"]["p_holm"] == pytest.approx(2 * p_beta)
    assert rows["gamma"]["metrics"]["recall@5"]["p_holm"] == pytest.approx(max(2 * p_beta, p_gamma))
    assert rows["beta"]["metrics"]["recall@5"]["significant"] is True
    # MRR@5: alpha's seed-averaged RR = [1, .75, .75, 1, 2/3, 1]
    #   gamma - alpha = [-.5, -.75, .25, -1, -5/12, -1]: R+ = 1, ties {1: 2} -> var = 22.75 - 6/48
    #   beta - alpha: all negative, |d| ties {.75: 2, 1: 3} -> var = 22.75 - 30/48
    p_gamma = p_two_sided((1 - 10.5) / math.sqrt(22.75 - 6 / 48))
    p_beta = p_two_sided(-10.5 / math.sqrt(22.75 - 30 / 48))
    assert p_gamma < 0.05 and p_beta < 0.05
    holm_beta = 2 * p_beta
    assert rows["beta"]["metrics"]["mrr@5"]["p_holm"] == pytest.approx(holm_beta)
    assert rows["gamma"]["metrics"]["mrr@5"]["p_holm"] == pytest.approx(max(holm_beta, p_gamma))
    assert rows["alpha"]["metrics"]["mrr@5"]["best"] is True
    assert rows["alpha"]["metrics"]["mrr@5"]["p_holm"] is None


def test_published_rows_when_matched_and_different_data_otherwise(rendered):
    path, result = rendered
    rows = _tiny_table(result)
    # Seeds, R@5, R@20, MRR@5, MRR@20, NDCG@5, NDCG@20
    assert rows["NARM — published [1]"] == ["–", "–", "62.58", "–", "27.35", "–", "–"]
    assert list(rows)[-1] == "NARM — published [1]"  # below the study's rows, never ranked
    report = (path / "report.md").read_text()
    assert "[1] A. Author. A Paper. Venue 2020, Table 9" in report
    assert "[2] B. Author. Another Paper. Venue 2021: protocol 'narm' (source: 'gru4rec')." in report
    assert "| GRU4Rec | [2] | 49.95 |" in report  # listed apart as different data
    latex = (path / "tables.tex").read_text()
    assert "\\midrule\nNARM --- published [1] & -- & -- & 62.58 & -- & 27.35 & -- & -- \\\\" in latex


def test_other_sections_summary_and_notes(rendered):
    path, result = rendered
    report = (path / "report.md").read_text()
    assert "## other" in report
    assert "no case table cases/" + FP_OTHER + ".npz" in report
    assert "run other-delta-0 (delta, seed 0) has no ranks file" in report
    other = _rows(
        "\n".join(line for line in result.main_table.split("### other")[1].splitlines() if line.startswith("|"))
    )
    # alpha on "other": ranks 1, 30, 2 -> Recall@20 = 2/3 ; delta from its stored metrics (0.5)
    assert other["alpha"][2].startswith("**66.67** [")
    assert other["delta"][2] == "50.00"  # no interval, no test without ranks
    summary = report.split("## Summary")[1].split("##")[0]
    srows = _rows("\n".join(line for line in summary.splitlines() if line.startswith("|")))
    assert srows["alpha"] == ["**100.00**", "**66.67**"]
    assert srows["gamma"] == ["83.33", "–"]
    assert srows["beta"] == ["0.00†", "–"]


def test_beyond_accuracy_cost_and_header(rendered):
    path, _ = rendered
    report = (path / "report.md").read_text()
    assert "| alpha | 2 | 25.00 ± 0.00 | 0.1250 ± 0.0000 |" in report
    assert "| alpha | 2 | 2.50 ± 0.71 | 0.50 ± 0.00 | 300 ± 0 | cpu | 3, 3 | demo 1.0 |" in report
    assert f"* Data fingerprint: `{FP_TINY}`" in report
    assert "* Protocol: `narm`; parameters: test_days=7" in report
    assert "| 15 | 100 | 4 | 9 | 3 | 6 | 3.00 |" in report
    assert "Versions (9 runs)" not in report and "Versions (6 runs): numpy 2.4, python 3.11" in report
    assert "None: every line was read." in report


def test_figures_exist_and_are_png(rendered):
    path, result = rendered
    names = sorted(p.name for p in result.figure_paths)
    assert names == sorted(
        [
            "tiny-recall-at-k.png",
            "tiny-mrr-at-k.png",
            "tiny-recall20-ci.png",
            "tiny-recall20-by-prefix-length.png",
            "tiny-training.png",
            "other-recall-at-k.png",
            "other-mrr-at-k.png",
            "other-recall20-ci.png",
        ]
    )
    report = (path / "report.md").read_text()
    for p in result.figure_paths:
        data = p.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000, p
        assert f"]({p.relative_to(path).as_posix()})" in report
    assert set(result.paths) >= {path / "report.md", path / "tables.tex", path / "tables.csv", path / "tables.json"}


def test_csv_long_format(rendered):
    path, _ = rendered
    lines = (path / "tables.csv").read_text().splitlines()
    assert lines[0].startswith("dataset,fingerprint,kind,label,model,seeds,metric,mean")
    beta = [line for line in lines if line.startswith(f"tiny,{FP_TINY},model,beta,beta,1,recall@5,")]
    assert len(beta) == 1 and beta[0].endswith(",1,0,")  # significant, not best
    assert any(",published,NARM,narm,,recall@20,0.6258" in line for line in lines)


def test_broken_results_file_reports_what_it_can(tmp_path):
    store = StudyStore(tmp_path)
    store.save_cases(FP_TINY, CaseTable(np.array([0, 0, 1]), np.array([1, 2, 1]), np.zeros(3), np.ones(5)))
    store.append(_record("alpha", 0), np.array([1, 2, 3], dtype=np.int32))
    good = dict(_record("gamma", 0))
    del good["metrics"]
    with open(store.results_path, "ab") as fh:
        fh.write(b"this is not json\n")
        fh.write((json.dumps(good) + "\n").encode())
        fh.write(b"[1, 2]\n")
        fh.write(b'{"run_id": "half-writ')
    result = write_report(tmp_path, n_bootstrap=50)
    assert result.n_runs == 1
    assert [n for n, _ in result.skipped] == [2, 3, 4, 5]
    report = result.report_path.read_text()
    assert "* line 2: not valid JSON" in report
    assert "* line 3: record lacks metrics" in report
    assert "* line 4: expected a JSON object, found list" in report
    assert "* line 5: incomplete last line (a run was interrupted while writing)" in report
    assert "| alpha | 1 |" in result.main_table
    assert "4 lines skipped" in report


def test_errors_are_clear(tmp_path):
    with pytest.raises(SessrecError, match=r"expected .*results\.jsonl"):
        write_report(tmp_path)
    StudyStore(tmp_path).append(_record("alpha", 0))
    with pytest.raises(ConfigError, match="unknown report format 'pdf'"):
        write_report(tmp_path, formats=("pdf",))
    with pytest.raises(ConfigError, match="rank metric"):
        write_report(tmp_path, main_metric="coverage@20")
