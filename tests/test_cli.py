"""The command line: run -> report on small synthetic data, listings, one-line errors."""

import json
import pathlib

import pytest
from click.testing import CliRunner

from sessrec.cli import main
from sessrec.results import StudyStore

SHARED = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data"
SMALL = ["-o", "n_sessions=1500", "-o", "n_items=200"]


@pytest.fixture
def runner(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    return CliRunner()


def test_run_then_report_then_resume(runner, tmp_path):
    res = runner.invoke(main, ["run", "--models", "pop,spop", "--seeds", "0,1", "--quiet", *SMALL])
    assert res.exit_code == 0, res.output
    study = tmp_path / "reports" / "synthetic"
    records = StudyStore(study).read().records
    assert sorted((r["model"], r["seed"]) for r in records) == [("pop", 0), ("pop", 1), ("spop", 0), ("spop", 1)]
    assert all(r["synthetic"] for r in records)
    report = (study / "report.md").read_text()
    assert "spop" in report and "recall@20" in report.lower()
    spop = next(r for r in records if r["model"] == "spop")
    assert f"{100 * spop['metrics']['recall@20']:.2f}" in report  # the report shows percent
    assert (study / "experiment.toml").exists()
    again = runner.invoke(main, ["run", "--config", str(study / "experiment.toml"), "--quiet"])
    assert again.exit_code == 0, again.output
    assert "0 run(s) finished, 4 skipped" in again.output
    res = runner.invoke(main, ["report", str(study), "--format", "csv", "--quiet"])
    assert res.exit_code == 0, res.output
    assert (study / "tables.csv").exists()


def test_unknown_model_is_one_line_without_traceback(runner):
    res = runner.invoke(main, ["run", "--models", "spopp"])
    assert res.exit_code == 2
    assert "Traceback" not in res.output
    assert "unknown model 'spopp'" in res.output and "Did you mean 'spop'" in res.output


def test_missing_raw_file_says_where_it_goes(runner, tmp_path):
    res = runner.invoke(main, ["run", "--models", "pop", "--dataset", "diginetica", "--data-dir", str(tmp_path)])
    assert res.exit_code == 2
    assert "train-item-views.csv" in res.output and str(tmp_path) in res.output
    assert "Traceback" not in res.output


def test_bad_cutoffs_and_params(runner):
    res = runner.invoke(main, ["run", "--models", "pop", "--cutoffs", "5,ten"])
    assert res.exit_code == 2 and "--cutoffs must be comma-separated integers" in res.output
    res = runner.invoke(main, ["run", "--models", "pop", "-p", "spop.x=1"])
    assert res.exit_code == 2 and "not in --models" in res.output


def test_listings(runner):
    res = runner.invoke(main, ["models"])
    assert res.exit_code == 0 and "sessrec-baselines" in res.output and "spop" in res.output
    res = runner.invoke(main, ["datasets"])
    assert res.exit_code == 0
    for name in ("diginetica", "yoochoose-1-64", "retailrocket", "csv", "synthetic"):
        assert name in res.output


def test_datasets_stats_json(runner):
    path = SHARED / "diginetica" / "train-item-views_sample.csv"
    if not path.exists():
        pytest.skip("shared data not available")
    res = runner.invoke(main, ["datasets", "stats", "diginetica", "-o", f"path={path}", "--json"])
    assert res.exit_code == 0, res.output
    stats = json.loads(res.output)["stats"]
    assert (stats["n_items"], stats["train_cases"], stats["test_cases"]) == (309, 1205, 99)


def test_check_command(runner):
    res = runner.invoke(main, ["check", "pop"])
    assert res.exit_code == 0, res.output
    assert "oracle" in res.output and "failed" not in res.output.split("┃")[-1]


def test_csv_recipe_runs_pop_and_spop_on_retailrocket(runner, tmp_path):
    path = SHARED / "retailrocket" / "retailrocket_sessions_2015-09-10_2015-09-18.csv"
    if not path.exists():
        pytest.skip("shared data not available")
    opts = [
        "-o",
        f"path={path}",
        "-o",
        "session=SessionId",
        "-o",
        "item=ItemId",
        "-o",
        "time=Time",
        "-o",
        "filter_column=Type",
        "-o",
        "keep_values=view",
    ]
    res = runner.invoke(main, ["run", "--models", "pop,spop", "--dataset", "csv", "--quiet", *opts])
    assert res.exit_code == 0, res.output
    records = StudyStore(tmp_path / "reports" / "csv").read().records
    assert {r["model"] for r in records} == {"pop", "spop"}
    for r in records:
        assert r["stats"]["test_cases"] > 0 and 0 < r["metrics"]["recall@20"] < 1
    spop = next(r for r in records if r["model"] == "spop")
    pop = next(r for r in records if r["model"] == "pop")
    assert spop["metrics"]["recall@20"] > pop["metrics"]["recall@20"]


def test_named_parameter_sets(runner):
    from sessrec.cli import _named_params

    params = _named_params("gru4rec", "diginetica-bprmax")
    assert (params["loss"], params["batch_size"], params["bpreg"]) == ("bpr-max", 128, 0.9)
    res = runner.invoke(main, ["run", "--models", "gru4rec", "-p", "gru4rec=diginetica-bpmax"])
    assert res.exit_code == 2 and "available: " in res.output and "diginetica-bprmax" in res.output
    res = runner.invoke(main, ["run", "--models", "pop", "-p", "pop=tuned"])
    assert res.exit_code == 2 and "ships none" in res.output
