"""MLflow tracking: a run record's params, metrics, history and report land in a local file store."""

import pytest

pytest.importorskip("mlflow", reason='no mlflow extra (pip install -e ".[mlflow]")')

from sessrec.tracking import MlflowTracker, mlflow_name

RECORD = {
    "run_id": "0123456789abcdef",
    "model": "narm",
    "params": {"lr": 0.001, "layers": [100], "device": "cpu"},
    "dataset": "diginetica",
    "protocol": {"name": "narm", "params": {"test_days": 7}},
    "seed": 2,
    "cutoffs": [5, 20],
    "metrics": {"recall@20": 0.5, "mrr@20": 0.25},
    "history": [
        {"epoch": 1, "loss": 8.5, "valid_recall@20": 0.25, "seconds": 3.0},
        {"epoch": 2, "loss": 7.0, "valid_recall@20": 0.375, "seconds": 2.5},
    ],
}


def test_metric_names_mlflow_accepts():
    assert mlflow_name("recall@20") == "recall_at_20"
    assert mlflow_name("valid_recall@20") == "valid_recall_at_20"
    assert mlflow_name("a#b") == "a_b"


def test_a_run_is_logged_to_a_local_file_store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "")  # recorded, so the tracker's setting is undone after the test
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE")
    report = tmp_path / "report.md"
    report.write_text("# report\n")
    tracker = MlflowTracker(experiment="study-x")
    assert tracker.uri == (tmp_path / "mlruns").as_uri()
    run_id = tracker.log_run(RECORD, report_path=report)
    run = tracker.client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["lr"] == "0.001" and run.data.params["layers"] == "[100]"
    assert run.data.params["sessrec.protocol"] == '{"name": "narm", "params": {"test_days": 7}}'
    assert run.data.metrics["recall_at_20"] == 0.5 and run.data.metrics["mrr_at_20"] == 0.25
    assert run.data.tags["sessrec.run_id"] == "0123456789abcdef" and run.data.tags["sessrec.seed"] == "2"
    loss = tracker.client.get_metric_history(run_id, "loss")
    assert sorted((m.step, m.value) for m in loss) == [(1, 8.5), (2, 7.0)]
    valid = tracker.client.get_metric_history(run_id, "valid_recall_at_20")
    assert sorted((m.step, m.value) for m in valid) == [(1, 0.25), (2, 0.375)]
    assert [a.path for a in tracker.client.list_artifacts(run_id)] == ["report.md"]
    assert (tmp_path / "mlruns").is_dir()
    again = MlflowTracker(uri=tracker.uri, experiment="study-x")  # the experiment is found, not recreated
    assert again.experiment_id == tracker.experiment_id


def test_history_given_apart_from_the_record(tmp_path):
    tracker = MlflowTracker(uri=(tmp_path / "store").as_uri())
    run_id = tracker.log_run({**RECORD, "history": []}, history=[{"epoch": 3, "loss": 1.5}])
    assert [(m.step, m.value) for m in tracker.client.get_metric_history(run_id, "loss")] == [(3, 1.5)]
