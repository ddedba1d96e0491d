"""Executors: a study computed by Ray equals the same study computed in process."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sessrec.errors import ConfigError
from sessrec.executors import make_executor
from sessrec.runner import RunSpec, run_study

DATA = {"n_sessions": 500, "n_items": 40, "seed": 5}
MODELS = [("pop", {}), ("markov", {}), ("bprmf", {"epochs": 2, "n_factors": 8})]


def _specs():
    return [
        RunSpec(m, "synthetic", params=p, dataset_options=DATA, seed=s, device="cpu") for m, p in MODELS for s in (0, 1)
    ]


def _records(study):
    rows = [json.loads(line) for line in (study / "results.jsonl").read_text().splitlines()]
    return {r["run_id"]: r for r in rows}


def test_unknown_executor_and_missing_address_are_clear_errors():
    with pytest.raises(ConfigError, match="valid executors: inprocess, ray"):
        make_executor("dask")
    with pytest.raises(ConfigError, match="--ray-address needs --executor ray"):
        make_executor("inprocess", address="auto")


@pytest.mark.slow
def test_ray_executor_gives_the_in_process_results(tmp_path):
    ray = pytest.importorskip("ray")
    local = run_study(_specs(), tmp_path / "local", data_root=tmp_path)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        remote = run_study(_specs(), tmp_path / "ray", data_root=tmp_path, executor=make_executor("ray"))
    finally:
        ray.shutdown()
    assert sorted(local.ran) == sorted(remote.ran) and len(local.ran) == 6 and not remote.failed
    a, b = _records(tmp_path / "local"), _records(tmp_path / "ray")
    assert a.keys() == b.keys()
    for run_id in a:
        assert a[run_id]["metrics"] == b[run_id]["metrics"]
        ranks_a = np.load(tmp_path / "local" / "ranks" / f"{run_id}.npy")
        ranks_b = np.load(tmp_path / "ray" / "ranks" / f"{run_id}.npy")
        np.testing.assert_array_equal(ranks_a, ranks_b)


@pytest.mark.slow
def test_ray_tuning_with_two_parallel_trials_equals_in_process(tmp_path):
    ray = pytest.importorskip("ray")
    optuna = pytest.importorskip("optuna")
    from sessrec.tuning import TuneSettings, load_tuned, tune

    def trials(out):
        storage = f"sqlite:///{out / 'tuning.db'}"
        (summary,) = optuna.get_all_study_summaries(storage)
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        return sorted((t.number, t.state.name, tuple(sorted(t.params.items())), t.value) for t in study.trials)

    # random-phase trials (n_startup_trials > n_trials): a trial's parameters depend only on its
    # seed, so two trials at once must reproduce the sequential study exactly
    settings = TuneSettings(n_trials=6, seed=3, n_startup_trials=10, n_parallel=2)
    tune(["iknn"], "synthetic", tmp_path / "local", settings=settings, data_root=tmp_path, dataset_options=DATA)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        tune(
            ["iknn"],
            "synthetic",
            tmp_path / "ray",
            settings=settings,
            data_root=tmp_path,
            dataset_options=DATA,
            executor=make_executor("ray"),
        )
    finally:
        ray.shutdown()
    assert trials(tmp_path / "local") == trials(tmp_path / "ray")
    assert len(trials(tmp_path / "ray")) == 6
    assert (
        load_tuned(tmp_path / "local", "synthetic", "iknn")["params"]
        == load_tuned(tmp_path / "ray", "synthetic", "iknn")["params"]
    )
