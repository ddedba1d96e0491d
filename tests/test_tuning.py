"""``sessrec tune``: validation only, structurally; exact resume after kill -9; shared studies."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")

from sessrec.data import prepare  # noqa: E402
from sessrec.errors import ConfigError  # noqa: E402
from sessrec.evaluation import evaluate  # noqa: E402
from sessrec.registry import register_model, unregister_model  # noqa: E402
from sessrec.runner import RunSpec, run_study  # noqa: E402
from sessrec.tuning import SearchSpace, TuneSettings, load_tuned, prepare_tuning, tune  # noqa: E402

HERE = Path(__file__).resolve().parent
DATA = {"n_sessions": 600, "n_items": 40, "seed": 3}
WHICH = {"source": "test", "which": {"type": "categorical", "choices": list(range(8))}}


@pytest.fixture
def models(tmp_path):
    sys.path.insert(0, str(HERE))
    import tuning_models

    register_model("randomtable", tuning_models.RandomTable, overwrite=True)
    register_model("snooper", tuning_models.Snooper, overwrite=True)
    space = tmp_path / "which.toml"
    space.write_text("source = 'test'\n[which]\ntype = 'categorical'\nchoices = [0, 1, 2, 3, 4, 5, 6, 7]\n")
    yield tuning_models, space
    unregister_model("randomtable")
    unregister_model("snooper")
    sys.path.remove(str(HERE))


def tune_randomtable(folder, space, *, n_trials: int, seed: int) -> None:
    """Tune the ``randomtable`` test model on the synthetic data, everything under ``folder``."""
    tune(
        ["randomtable"],
        "synthetic",
        folder,
        settings=TuneSettings(n_trials=n_trials, seed=seed),
        data_root=folder,
        space_files={"randomtable": space},
        dataset_options=DATA,
    )


def test_best_parameters_are_chosen_on_validation_values_only(tmp_path, models):
    mods, space = models
    tune_randomtable(tmp_path, space, n_trials=24, seed=0)
    chosen = load_tuned(tmp_path, "synthetic", "randomtable")["params"]["which"]
    # independent of the tuner: every value evaluated on both splits
    full = prepare("synthetic", data_root=tmp_path, valid_days=3, **DATA)
    valid = {
        w: evaluate(mods.RandomTable(w).fit(full.train), full.valid, cutoffs=(20,)).metrics["mrr@20"] for w in range(8)
    }
    test = {
        w: evaluate(mods.RandomTable(w).fit(full.train), full.test, cutoffs=(20,)).metrics["mrr@20"] for w in range(8)
    }
    assert max(test, key=test.get) != max(valid, key=valid.get)  # the two splits disagree here...
    assert chosen == max(valid, key=valid.get)  # ...and the tuner followed validation


def test_a_model_cannot_reach_the_test_split_while_tuning(tmp_path, models):
    mods, _ = models
    full = prepare("synthetic", data_root=tmp_path, valid_days=3, **DATA)
    mods.Snooper.target_digest = mods.sessions_digest(full.test)
    del full
    gc.collect()
    mods.Snooper.sightings.clear()
    (tmp_path / "none.toml").write_text("source = 'test'\n")
    tune(
        ["snooper"],
        "synthetic",
        tmp_path / "t",
        settings=TuneSettings(n_trials=1),
        data_root=tmp_path,
        space_files={"snooper": tmp_path / "none.toml"},
        dataset_options=DATA,
    )
    assert mods.Snooper.sightings == [False]
    # the same model in an ordinary run does see the test split in memory: the check bites
    run_study([RunSpec("snooper", "synthetic", dataset_options=DATA, valid_days=3)], tmp_path / "r", data_root=tmp_path)
    assert mods.Snooper.sightings == [False, True]
    assert not hasattr(prepare_tuning("synthetic", data_root=tmp_path, **DATA), "test")


WORKER = textwrap.dedent(
    """
    import sys, json, torch
    torch.set_num_threads(1)
    sys.path.insert(0, {here!r})
    import tuning_models
    from sessrec.registry import register_model
    from sessrec.tuning import TuneSettings, tune
    register_model("randomtable", tuning_models.RandomTable)
    r = tune(["randomtable"], "synthetic", sys.argv[1], data_root=sys.argv[2], dataset_options={data!r},
             settings=TuneSettings(n_trials=int(sys.argv[3]), seed=7, storage=sys.argv[4] or None, n_startup_trials=3),
             space_files={{"randomtable": sys.argv[5]}})
    print(json.dumps(r["randomtable"].best_params))
    """
)


def _worker(tmp_path, out, n_trials, storage, space, env=None):
    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(here=str(HERE), data=DATA))
    return subprocess.Popen(
        [sys.executable, str(script), str(out), str(tmp_path / "data"), str(n_trials), storage or "", str(space)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def _wait(p, timeout=180):
    _, err = p.communicate(timeout=timeout)
    return p.returncode, err


def _trials(storage):
    rows = []
    for summary in optuna.get_all_study_summaries(storage):
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        rows += [(t.number, t.state.name, t.params.get("which"), t.value) for t in study.trials]
    return rows


@pytest.mark.slow
def test_kill_9_mid_trial_then_resume_gives_the_uninterrupted_result(tmp_path, models):
    _, space = models
    whole = _worker(tmp_path, tmp_path / "whole", 10, None, space)
    rc, err = _wait(whole, 120)
    assert rc == 0, err
    flag = tmp_path / "kill-flag"
    out = tmp_path / "killed"
    for kills in range(3):  # three kills at three different moments, each followed by a resume
        flag.write_text("x")
        p = _worker(tmp_path, out, 3 + 3 * kills, None, space, env={"SESSREC_TEST_KILL_AT_FIT": str(flag)})
        assert _wait(p, 120)[0] == -9
    resumed = _worker(tmp_path, out, 10, None, space)
    rc, err = _wait(resumed, 120)
    assert rc == 0, err
    a = [r for r in _trials(f"sqlite:///{tmp_path / 'whole' / 'tuning.db'}") if r[1] != "FAIL"]
    b = [r for r in _trials(f"sqlite:///{out / 'tuning.db'}") if r[1] != "FAIL"]
    assert len(a) == len(b) == 10
    assert [r[2:] for r in a] == [r[2:] for r in b]  # the same parameters and values, in the same order
    assert sum(r[1] == "FAIL" for r in _trials(f"sqlite:///{out / 'tuning.db'}")) == 3
    assert (
        load_tuned(out, "synthetic", "randomtable")["best_value"]
        == load_tuned(tmp_path / "whole", "synthetic", "randomtable")["best_value"]
    )


@pytest.mark.slow
def test_two_workers_share_one_sqlite_study(tmp_path, models):
    _, space = models
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    procs = [_worker(tmp_path, tmp_path / f"w{i}", 12, storage, space) for i in range(2)]
    for p in procs:
        rc, err = _wait(p, 180)
        assert rc == 0, err
    rows = _trials(storage)
    numbers = [r[0] for r in rows]
    assert len(numbers) == len(set(numbers)) == numbers[-1] + 1  # no trial lost or duplicated
    assert not [r for r in rows if r[1] == "RUNNING"]
    assert 12 <= sum(r[1] == "COMPLETE" for r in rows) <= 13  # the budget, shared (+1 when both start the last)


def test_space_errors_name_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"\[lr\] has unknown key\(s\) hgih"):
        SearchSpace.from_dict({"lr": {"type": "float", "low": 0.1, "hgih": 1.0}})
    with pytest.raises(ConfigError, match="log=true needs low > 0"):
        SearchSpace.from_dict({"lr": {"type": "float", "low": 0.0, "high": 1.0, "log": True}})
    with pytest.raises(ConfigError, match="type must be one of"):
        SearchSpace.from_dict({"lr": {"type": "double", "low": 0.0, "high": 1.0}})
    bad = SearchSpace.from_dict({"n_neighbors": {"type": "int", "low": 0, "high": 10}, "fixed": {"alpha": "x"}})
    from sessrec.registry import load_model

    with pytest.raises(ConfigError, match="alpha"):
        bad.check(load_model("iknn"), "iknn")


def test_tuned_set_is_reported_back_with_its_budget(tmp_path, models):
    _, space = models
    tune_randomtable(tmp_path, space, n_trials=3, seed=1)
    meta = load_tuned(tmp_path, "synthetic", "randomtable")
    assert meta["trials_complete"] == 3 and meta["trials_budget"] == 3 and meta["objective"] == "mrr@20"
    assert json.loads(meta["data_key"])["options"] == DATA
    with pytest.raises(ConfigError, match="no tuned parameters for 'pop'"):
        load_tuned(tmp_path, "synthetic", "pop")


def _postgres_bin() -> str | None:
    import glob
    import shutil

    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(d, "initdb")):
            return d
    found = shutil.which("initdb")
    return os.path.dirname(found) if found else None


@pytest.fixture
def postgres_url():
    """A throw-away PostgreSQL server on 127.0.0.1, started with initdb + pg_ctl."""
    import shutil
    import socket
    import tempfile

    pytest.importorskip("psycopg2")
    bindir = _postgres_bin()
    if bindir is None:
        pytest.skip("no PostgreSQL server binaries (Debian package postgresql)")
    runas = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    root = tempfile.mkdtemp(prefix="sessrec-pg-")
    os.chmod(root, 0o777)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = os.path.join(root, "data")
    run = lambda *args: subprocess.run(runas + list(args), check=True, capture_output=True, timeout=120)  # noqa: E731
    run(f"{bindir}/initdb", "-D", data, "-A", "trust", "-U", "sessrec")
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1"
    run(f"{bindir}/pg_ctl", "-D", data, "-o", opts, "-l", os.path.join(root, "log"), "-w", "start")
    try:
        run(f"{bindir}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "sessrec", "tune")
        yield f"postgresql+psycopg2://sessrec@127.0.0.1:{port}/tune"
    finally:
        subprocess.run([*runas, f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
def test_two_workers_share_one_postgresql_study(tmp_path, models, postgres_url):
    _, space = models
    procs = [_worker(tmp_path, tmp_path / f"w{i}", 10, postgres_url, space) for i in range(2)]
    for p in procs:
        rc, err = _wait(p, 240)
        assert rc == 0, err
    rows = _trials(postgres_url)
    numbers = sorted(r[0] for r in rows)
    assert numbers == list(range(len(numbers)))  # no trial lost or duplicated
    assert not [r for r in rows if r[1] == "RUNNING"]
    assert 10 <= sum(r[1] == "COMPLETE" for r in rows) <= 11
    assert load_tuned(tmp_path / "w0", "synthetic", "randomtable")["best_value"] == max(
        r[3] for r in rows if r[3] is not None
    )


def test_tune_section_of_a_study_file_drives_sessrec_tune(tmp_path):
    from click.testing import CliRunner

    from sessrec.cli import main

    path = tmp_path / "experiment.toml"
    path.write_text(
        f'[study]\nmodels = ["iknn"]\ndataset = "synthetic"\nout = "{tmp_path / "out"}"\n'
        f'data_dir = "{tmp_path / "d"}"\n[dataset_options]\nn_sessions = 600\nn_items = 40\n'
        '[tune]\ntrials = 4\nobjective = "recall@20"\n'
    )
    res = CliRunner().invoke(main, ["tune", "--config", str(path), "--trials", "2", "--quiet"])
    assert res.exit_code == 0, res.output
    meta = load_tuned(tmp_path / "out", "synthetic", "iknn")
    assert meta["objective"] == "recall@20" and meta["trials_budget"] == 2 and meta["trials_complete"] == 2
    path.write_text('[study]\nmodels = ["iknn"]\n[tune]\ntrial = 4\n')
    res = CliRunner().invoke(main, ["tune", "--config", str(path)])
    assert res.exit_code == 2 and "unknown key 'trial' in [tune] (did you mean 'trials'?)" in res.output
