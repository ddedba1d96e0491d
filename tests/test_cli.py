"""The command line: run -> report on small synthetic data, listings, one-line errors."""

import json
import pathlib
import re
from typing import ClassVar

import numpy as np
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
    assert sorted((r["model"], r["seed"]) for r in records) == [("pop", 0), ("spop", 0)]  # deterministic: once
    assert all(r["synthetic"] for r in records)
    report = (study / "report.md").read_text()
    assert "spop" in report and "recall@20" in report.lower()
    spop = next(r for r in records if r["model"] == "spop")
    assert f"{100 * spop['metrics']['recall@20']:.2f}" in report  # the report shows percent
    assert (study / "experiment.toml").exists()
    again = runner.invoke(main, ["run", "--config", str(study / "experiment.toml"), "--quiet"])
    assert again.exit_code == 0, again.output
    assert "0 run(s) finished, 2 skipped" in again.output
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
    res = runner.invoke(main, ["datasets"], env={"COLUMNS": "80"})
    assert res.exit_code == 0
    for name in ("diginetica", "yoochoose-1-64", "retailrocket", "csv", "synthetic"):
        assert name in res.output
    root = pathlib.Path("datasets").resolve()
    assert f"{root / 'diginetica' / 'train-item-views.csv'}  (missing)" in res.output  # the full path, never cut
    assert "https://www.kaggle.com/datasets/retailrocket/ecommerce-dataset" in res.output and "…" not in res.output


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
    from sessrec.testing import check_model

    names = [r.check for r in check_model("pop")]
    lines = res.output.splitlines()
    for name in names:  # each check printed once
        assert sum(line.split()[1:2] == [name] for line in lines) == 1, (name, res.output)
    assert lines[-1].startswith("pop: ") and " 0 failed" in lines[-1]


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
    res = runner.invoke(main, ["run", "--models", "pop", "-p", "pop=published"])
    assert res.exit_code == 2 and "ships none" in res.output
    # "tuned" names the study's own tuned set (sessrec tune): missing here, and said so
    res = runner.invoke(main, ["run", "--models", "pop", "-p", "pop=tuned"])
    assert res.exit_code == 2 and "no tuned parameters for 'pop'" in res.output and "sessrec tune" in res.output


# ---------------------------------------------------------------------- bad input: one line, before any work
def one_line_error(res):
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert res.exit_code == 2, res.output
    assert len(lines) == 1 and lines[0].startswith("Error: "), res.output
    return lines[0]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('[study]\nmodels = ["pop"]\nseed = [0, 1]\n', "unknown key 'seed' in [study] (did you mean 'seeds'?)"),
        ('[study]\nmodels = ["pop"]\ntest_day = 1\n', "unknown key 'test_day' in [study] (did you mean 'test_days'?)"),
        ('[study]\nmodels = ["iknn"]\n[param.iknn]\nn_neighbors = 10\n', "unknown section [param] (did you mean"),
        ("study = 5\n", "study must be a table"),
        ('[study]\nmodels = ["pop"]\ndataset = "csv"\n[dataset_options]\npath = 5\n', "path must be a file path"),
        ('[study]\nmodels = ["pop"]\ncutoffs = "5,10"\n', "cutoffs must be a list of integers"),
    ],
)
def test_config_mistakes_are_one_line(runner, tmp_path, text, fragment):
    path = tmp_path / "typo.toml"
    path.write_text(text)
    line = one_line_error(runner.invoke(main, ["run", "--config", str(path), "--quiet"]))
    assert fragment in line and str(path) in line
    assert not (tmp_path / "reports").exists()


def test_non_utf8_config_is_one_line(runner, tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[study]\nmodels = ["pop"]\n# caf\xe9\n')
    assert "is not UTF-8 text (byte 0xe9 on line 3)" in one_line_error(runner.invoke(main, ["run", "--config", path]))


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--models", ","], "no models given"),
        (["--seeds", "-1"], "seeds must be integers from 0 to 4294967295, got [-1]"),
        (["--seeds", str(2**70)], "seeds must be integers from 0 to 4294967295"),
        (["--device", "foo"], "device must be auto, cpu, cuda, cuda:N or mps, got 'foo'"),
        (["--cutoffs", str(10**30)], "cutoffs must be integers from 1 to 2147483647"),
        (["--test-days", "inf"], "test_days must be a positive number of days up to 36500, got inf"),
        (["--test-days", "1e300"], "test_days must be a positive number of days up to 36500, got 1e+300"),
        (["-o", "n_sessions=abc"], "dataset 'synthetic': option n_sessions='abc' is not allowed; expected an integer"),
        (["-p", "pop.nonsense=1"], "has no parameter 'nonsense'"),
    ],
)
def test_bad_settings_fail_when_the_study_is_built(runner, tmp_path, args, fragment):
    res = runner.invoke(main, ["run", "--models", "pop", *args, "--quiet"] if args[0] != "--models" else ["run", *args])
    assert fragment in one_line_error(res)
    assert not (tmp_path / "reports").exists() and not (tmp_path / "datasets").exists()


def test_bad_model_parameter_fails_before_any_data_work(runner, tmp_path):
    # The data folder is empty: had the data been touched first, the error would be the missing file.
    args = ["run", "--dataset", "diginetica", "--data-dir", str(tmp_path), "--test-days", "1", "--models", "iknn"]
    line = one_line_error(runner.invoke(main, [*args, "-p", "iknn.n_neighbors=abc"]))
    assert "model 'iknn': parameter n_neighbors='abc' is not allowed; expected an int" in line


def test_unwritable_folders_are_refused_before_running(runner, tmp_path):
    (tmp_path / "afile").write_text("x")
    line = one_line_error(runner.invoke(main, ["run", "--models", "pop", "--out", "afile/study", *SMALL]))
    assert "the study folder (out) afile/study cannot be created: afile is a file, not a folder" in line
    if pathlib.Path("/proc/self").is_dir():
        res = runner.invoke(main, ["run", "--models", "pop", "--data-dir", "/proc", *SMALL])
        line = one_line_error(res)
        assert "the data folder's cache (data_dir) /proc/.cache is not writable: cannot create a file in /proc" in line
    assert not (tmp_path / "reports").exists()


@pytest.mark.parametrize("path", ["v[v2]/missing.csv", "/tmp/x[/].csv", "[bold]x[/bold].csv"])
def test_error_text_is_printed_verbatim(runner, path):
    args = ["run", "--models", "pop", "--dataset", "csv", "-o", f"path={path}", "--quiet"]
    line = one_line_error(runner.invoke(main, args))
    assert path in line


def test_every_run_failing_shows_the_failures_and_no_second_error(runner, tmp_path):
    from sessrec.registry import register_model, unregister_model
    from sessrec.testing.doubles import TransitionModel

    class Exploding(TransitionModel):
        tags: ClassVar[dict] = {"oracle": "sequence", "deterministic": False}  # seeded: one run per seed

        def fit(self, train, *, valid=None):
            raise RuntimeError("boom [v2]")

    register_model("t-explode", Exploding, overwrite=True)
    try:
        res = runner.invoke(main, ["run", "--models", "t-explode", "--seeds", "0,1", "--quiet", *SMALL])
    finally:
        unregister_model("t-explode")
    assert res.exit_code == 1, res.output
    assert res.output.count("RuntimeError: boom [v2]") == 2
    assert "0 run(s) finished, 0 skipped, 2 failed" in res.output and "no report was written" in res.output
    assert "no study in" not in res.output and not any(x.startswith("Error:") for x in res.output.splitlines())


def test_experiment_toml_keeps_every_invocation(runner, tmp_path):
    study = tmp_path / "reports" / "synthetic"
    for args in (["--models", "pop"], ["--models", "spop"], ["--models", "pop", "--seeds", "3"]):
        res = runner.invoke(main, ["run", *args, "--quiet", "--no-report", *SMALL])
        assert res.exit_code == 0, res.output
    from sessrec.study import read_study

    entries = read_study(study / "experiment.toml")
    assert [(e.models, e.seeds) for e in entries] == [(("pop", "spop"), (0,)), (("pop",), (3,))]
    again = runner.invoke(main, ["run", "--config", str(study / "experiment.toml"), "--quiet", "--no-report"])
    assert again.exit_code == 0 and "0 run(s) finished, 3 skipped" in again.output, again.output


def test_saved_models_reload_and_rank_the_test_cases_as_the_run_did(runner, tmp_path):
    import sessrec
    from sessrec.data import prepare
    from sessrec.evaluation import evaluate

    args = ["run", "--models", "markov,narm", "-p", "narm.epochs=1", "--seeds", "3", "--save-models", "--quiet"]
    res = runner.invoke(main, [*args, *SMALL])
    assert res.exit_code == 0, res.output
    study = tmp_path / "reports" / "synthetic"
    store = StudyStore(study)
    records = store.read().records
    assert sorted(p.name for p in (study / "models").iterdir()) == sorted(f"{r['run_id']}.pt" for r in records)
    data = prepare("synthetic", data_root=tmp_path / "datasets", n_sessions=1500, n_items=200)
    for rec in records:
        model = sessrec.load_model(study, rec["run_id"])
        assert json.loads(json.dumps(model.get_params())) == rec["params"]
        again = evaluate(model, data.test, cutoffs=rec["cutoffs"], ties=rec["ties"])
        assert np.array_equal(again.ranks, store.load_ranks(rec["run_id"]))  # the ranks the run itself stored
        assert all(rec["metrics"][k] == v for k, v in again.metrics.items())
    store.drop([records[0]["run_id"]])
    assert not (study / "models" / f"{records[0]['run_id']}.pt").exists()


def test_runs_are_logged_to_mlflow_with_history_and_report(runner, tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "")  # recorded, so the tracker's setting is undone after the test
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE")
    args = ["run", "--models", "pop,narm", "-p", "narm.epochs=2", "--seeds", "0", "--track", "mlflow", "--quiet"]
    res = runner.invoke(main, [*args, *SMALL])
    assert res.exit_code == 0, res.output
    assert f"logged 2 run(s) to {(tmp_path / 'mlruns').as_uri()}" in res.output
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=(tmp_path / "mlruns").as_uri())
    experiment = client.get_experiment_by_name("sessrec")
    runs = {r.data.tags["sessrec.model"]: r for r in client.search_runs([experiment.experiment_id])}
    assert sorted(runs) == ["narm", "pop"]
    records = {r["model"]: r for r in StudyStore(tmp_path / "reports" / "synthetic").read().records}
    for model, run in runs.items():
        assert run.data.metrics["recall_at_20"] == records[model]["metrics"]["recall@20"]
        assert [a.path for a in client.list_artifacts(run.info.run_id)] == ["report.md"]
    narm = runs["narm"]
    assert narm.data.params["epochs"] == "2"
    losses = client.get_metric_history(narm.info.run_id, "loss")
    assert sorted(m.step for m in losses) == [1, 2]
    assert [m.value for m in sorted(losses, key=lambda m: m.step)] == [h["loss"] for h in records["narm"]["history"]]


def test_track_uri_without_track_is_refused(runner):
    line = one_line_error(runner.invoke(main, ["run", "--models", "pop", "--track-uri", "file:///x", "--quiet"]))
    assert "--track-uri needs --track mlflow" in line


def test_a_piped_run_leaves_a_log_line_per_epoch_and_per_run(runner):
    args = ["run", "--models", "narm", "-p", "narm.epochs=2", "--seeds", "0", "--valid-days", "1", "--no-report"]
    res = runner.invoke(main, [*args, *SMALL])  # CliRunner's output is not a terminal: plain log lines
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    epochs = [x for x in lines if " NARM epoch " in x and "valid_recall@20" in x]
    assert len(epochs) == 2 and "NARM epoch 1/2: loss " in epochs[0] and "NARM epoch 2/2: loss " in epochs[1]
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", epochs[0])  # timestamped, for unattended logs
    assert sum("finished narm (seed 0): recall@20 " in x for x in lines) == 1
    assert not any("━" in x for x in lines)  # no progress bar drawn into a log
