"""The Python API: the documented notebook example runs; load_study returns the tidy DataFrame."""

import importlib.util
import json
import pathlib
import re

import pytest

import sessrec
from sessrec.errors import SessrecError

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "python_api.md"


def test_the_documented_example_runs_and_leaves_what_it_promises(tmp_path, monkeypatch, capsys):
    block, tracking_block = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert len(block.strip().splitlines()) < 15
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SESSREC_DATA", str(tmp_path / "data"))
    exec(compile(block, str(DOC), "exec"), {})
    printed = capsys.readouterr().out
    assert re.search(r"^pop 0\.\d+$", printed, re.M) and re.search(r"^markov 0\.\d+$", printed, re.M)
    assert "recall@20" in printed
    assert (tmp_path / "my-study" / "report.md").is_file()
    runs = sessrec.load_study(tmp_path / "my-study")
    assert sorted(runs["model"].unique()) == ["markov", "pop"]
    assert sessrec.load_model("markov.pt").get_params() == sessrec.make_model("markov").get_params()
    if importlib.util.find_spec("mlflow") is not None:  # the tracking example, with the mlflow extra
        monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "")  # recorded, so the tracker's setting is undone
        monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE")
        scope = {}
        exec(compile(tracking_block, str(DOC), "exec"), scope)
        logged = scope["tracker"].client.search_runs([scope["tracker"].experiment_id])
        assert sorted(r.data.tags["sessrec.run_id"] for r in logged) == sorted(runs["run_id"].unique())


def _record(run_id, model, params, metrics, seed=0):
    return {
        "run_id": run_id,
        "model": model,
        "params": params,
        "seed": seed,
        "dataset": "diginetica",
        "protocol": {"name": "narm", "params": {"test_days": 7}},
        "metrics": metrics,
    }


def test_load_study_is_one_row_per_run_and_metric(tmp_path):
    lines = [
        json.dumps(_record("a1", "narm", {"lr": 0.001, "epochs": 3}, {"recall@20": 0.5, "mrr@20": 0.25})),
        '{"run_id": "cut-off-while-writ',
        json.dumps(_record("b2", "pop", {}, {"recall@20": 0.125}, seed=1)),
        "",
    ]
    (tmp_path / "results.jsonl").write_text("\n".join(lines))
    runs = sessrec.load_study(tmp_path)
    assert list(runs.columns) == ["run_id", "model", "params", "seed", "dataset", "protocol", "metric", "value"]
    assert runs.values.tolist() == [
        ["a1", "narm", '{"epochs": 3, "lr": 0.001}', 0, "diginetica", "narm", "mrr@20", 0.25],
        ["a1", "narm", '{"epochs": 3, "lr": 0.001}', 0, "diginetica", "narm", "recall@20", 0.5],
        ["b2", "pop", "{}", 1, "diginetica", "narm", "recall@20", 0.125],
    ]
    assert runs.attrs["skipped_lines"] == [2]


def test_load_study_of_a_folder_without_results_says_so(tmp_path):
    with pytest.raises(SessrecError, match=r"no study in .*results\.jsonl"):
        sessrec.load_study(tmp_path)


def test_the_notebook_names_are_exported():
    for name in ("prepare", "make_model", "evaluate", "run_study", "RunSpec", "load_study", "load_model"):
        assert name in sessrec.__all__ and callable(getattr(sessrec, name))
    assert sessrec.load_model is sessrec.models.saving.load_model


def test_the_readme_shows_the_tested_example():
    readme = (ROOT / "README.md").read_text()
    if "## Python API" not in readme:
        pytest.skip("the README has no Python API section yet")
    section = readme.split("## Python API", 1)[1]
    shown = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert shown == re.search(r"```python\n(.*?)```", DOC.read_text(), re.S).group(1)
