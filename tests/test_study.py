"""The study configuration: TOML in and out, one clear error per mistake, the study folder's record."""

import pathlib
import subprocess
import sys

import pytest

from sessrec.errors import ConfigError
from sessrec.registry import register_model, sessrec_commit, unregister_model
from sessrec.study import (
    StudyConfig,
    check_writable_dir,
    coerce_dataset_options,
    merge_configs,
    read_study,
    record_study,
    run_configs,
    write_study,
)
from sessrec.testing.doubles import TransitionModel
from sessrec.testing.oracle import sequence_oracle


def write(tmp_path, text, name="experiment.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(fn, *args, **kwargs):
    with pytest.raises(ConfigError) as info:
        fn(*args, **kwargs)
    return str(info.value)


# ---------------------------------------------------------------------- the three typos of the issue
@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ('[study]\nmodels = ["pop"]\nseed = [0, 1]\n', ["unknown key 'seed' in [study]", "did you mean 'seeds'?"]),
        ('[study]\nmodels = ["pop"]\ntest_day = 1\n', ["unknown key 'test_day'", "did you mean 'test_days'?"]),
        (
            '[study]\nmodels = ["iknn"]\n[param.iknn]\nn_neighbors = 10\n',
            ["unknown section [param]", "did you mean [params]?", "[params.<model>]"],
        ),
    ],
)
def test_typos_are_one_error_naming_file_key_and_valid_choices(tmp_path, text, fragments):
    path = write(tmp_path, text)
    msg = error_of(StudyConfig.from_toml, path)
    assert msg.startswith(f"{path}: ")
    for fragment in fragments:
        assert fragment in msg
    assert "valid " in msg and "\n" not in msg


def test_valid_keys_are_listed():
    msg = error_of(StudyConfig.from_text, "[study]\nseed = 1\n", source="x.toml")
    assert msg.endswith(
        "valid keys: cutoffs, data_dir, dataset, device, models, out, protocol, seeds, test_days, ties, valid_days"
    )


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("study = 5\n", "study must be a table"),
        ('[study]\ncutoffs = "5,10"\n', "cutoffs must be a list of integers like [5, 10, 20], got '5,10'"),
        ('[study]\nseeds = [0, "1"]\n', "seeds must be a list of integers"),
        ("[study]\nmodels = 3\n", "models must be a list of names"),
        ("[study]\nmodels = []\n", "models names no model; leave the key out to run every installed model"),
        ("[study]\ndataset = 5\n", "dataset must be a dataset name (a string), got 5"),
        ('[study]\ntest_days = "1"\n', "test_days must be a number of days, got '1'"),
        ("dataset_options = 3\n", "dataset_options must be a table"),
        ("[params]\niknn = 3\n", "[params.iknn] must be a table of parameters, got 3"),
        ("[param_sets]\ngru4rec = 3\n", "gru4rec must be"),
        ("[study\n", "is not valid TOML"),
    ],
)
def test_values_of_the_wrong_type(text, fragment):
    assert fragment in error_of(StudyConfig.from_text, text, source="s.toml")


def test_wrong_types_inside_tables_are_checked_when_validating():
    cfg = StudyConfig.from_text('[study]\nmodels = ["pop"]\ndataset = "csv"\n[dataset_options]\npath = 5\n')
    assert "option path must be a file path (a string), got 5" in error_of(cfg.validate)
    cfg = StudyConfig.from_text('[study]\nmodels = ["iknn"]\n[params.iknn]\nn_neighbors = "ten"\n', source="p.toml")
    msg = error_of(cfg.validate)
    assert msg.startswith("p.toml: model 'iknn': parameter n_neighbors='ten' is not allowed; expected an int")
    cfg = StudyConfig.from_text('[study]\nmodels = ["iknn"]\n[params.iknn]\nn_neighbor = 10\n', source="p.toml")
    assert "has no parameter 'n_neighbor' (did you mean 'n_neighbors'?)" in error_of(cfg.validate)


def test_non_utf8_file_names_the_line(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[study]\nmodels = ["pop"]\n# caf\xe9\n')
    msg = error_of(StudyConfig.from_toml, path)
    assert msg == f"{path} is not UTF-8 text (byte 0xe9 on line 3); save it as UTF-8"
    assert "does not exist" in error_of(StudyConfig.from_toml, tmp_path / "nope.toml")


# ---------------------------------------------------------------------- round trip, overrides, specs
def test_round_trip_and_specs(tmp_path):
    cfg = StudyConfig(
        models=("pop", "iknn", "bprmf"),
        seeds=(2, 0),
        test_days=1,
        dataset_options={"n_sessions": "400", "keep_file_order": "yes"},
        params={"iknn": {"n_neighbors": 7}},
    ).validate()
    assert cfg.dataset_options == {"n_sessions": 400, "keep_file_order": True}
    path = tmp_path / "experiment.toml"
    write_study(path, [cfg])
    assert StudyConfig.from_toml(path) == cfg
    specs = cfg.specs()
    # deterministic models (pop, iknn) run with the first seed only; bprmf with every seed
    assert [(s.model, s.seed) for s in specs] == [("pop", 2), ("iknn", 2), ("bprmf", 2), ("bprmf", 0)]
    assert dict(specs[1].params) == {"n_neighbors": 7}
    assert {s.test_days for s in specs} == {1}


def test_overrides_merge_params_per_model_and_replace_the_rest():
    cfg = StudyConfig(models=("iknn",), params={"iknn": {"n_neighbors": 7, "sample_size": 100}})
    new = cfg.with_overrides(params={"iknn": {"n_neighbors": 3}}, seeds=[4], dataset=None, device="cpu")
    assert new.params["iknn"] == {"n_neighbors": 3, "sample_size": 100}
    assert (new.seeds, new.dataset, new.device) == ((4,), "synthetic", "cpu")
    assert "no study setting seed" in error_of(cfg.with_overrides, seed=[1])


def test_ints_given_for_float_parameters_are_canonical():
    a = StudyConfig(models=("fpmc",), params={"fpmc": {"lr": 1}}).specs()[0]
    b = StudyConfig(models=("fpmc",), params={"fpmc": {"lr": 1.0}}).specs()[0]
    assert a.run_id == b.run_id and isinstance(a.params["lr"], float)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"models": ()}, "no models given"),
        ({"seeds": (-1,)}, "seeds must be integers from 0 to 4294967295, got [-1]"),
        ({"seeds": (2**70,)}, "seeds must be integers from 0 to 4294967295"),
        ({"cutoffs": (10**30,)}, "cutoffs must be integers from 1 to 2147483647"),
        ({"cutoffs": (0, 5)}, "cutoffs must be integers from 1"),
        ({"device": "foo"}, "device must be auto, cpu, cuda, cuda:N or mps, got 'foo'"),
        ({"ties": "optimist"}, "did you mean 'optimistic'?"),
        ({"test_days": float("inf")}, "test_days must be a positive number of days up to 36500, got inf"),
        ({"test_days": 1e300}, "test_days must be a positive number of days"),
        ({"valid_days": float("nan")}, "valid_days must be a positive number of days"),
        ({"test_days": 0}, "test_days must be a positive number of days"),
        ({"dataset_options": {"n_sessions": "abc"}}, "option n_sessions='abc' is not allowed; expected an integer"),
        ({"dataset_options": {"n_session": 3}}, "has no option 'n_session' (did you mean 'n_sessions'?)"),
        ({"dataset_options": {"keep_file_order": "maybe"}}, "keep_file_order must be true or false"),
        ({"protocol": "narn"}, "unknown protocol 'narn' (did you mean 'narm'?)"),
        ({"models": ("spopp",)}, "unknown model 'spopp'"),
        ({"param_sets": {"pop": "published"}}, "ships none"),
    ],
)
def test_bad_settings_are_caught_when_the_study_is_built(change, fragment):
    cfg = StudyConfig(models=("pop",)).with_overrides(**change) if "models" not in change else None
    cfg = cfg or StudyConfig(**change)
    assert fragment in error_of(cfg.specs)


def test_dataset_options_are_coerced_by_signature():
    got = coerce_dataset_options("synthetic", "narm", {"n_sessions": 300.0, "noise": "0.2", "min_item_support": "3"})
    assert got == {"n_sessions": 300, "noise": 0.2, "min_item_support": 3}
    assert type(got["n_sessions"]) is int and type(got["noise"]) is float
    got = coerce_dataset_options("csv", None, {"path": "x.csv", "session": 7, "string_ids": "no"})
    assert got == {"path": "x.csv", "session": "7", "string_ids": False}


# ---------------------------------------------------------------------- the study folder's record
def test_merge_folds_only_what_keeps_the_set_of_runs_exact():
    base = StudyConfig(models=("pop",), seeds=(0, 1))
    assert merge_configs(base, StudyConfig(models=("spop",), seeds=(0, 1))).models == ("pop", "spop")
    assert merge_configs(base, StudyConfig(models=("pop",), seeds=(2,))).seeds == (0, 1, 2)
    assert merge_configs(base, StudyConfig(models=("pop",), seeds=(1,))) == base
    assert merge_configs(base, StudyConfig(models=("spop",), seeds=(2,))) is None  # a grid would add runs
    assert merge_configs(base, StudyConfig(models=("pop",), test_days=2)) is None
    with_params = StudyConfig(models=("iknn",), params={"iknn": {"n_neighbors": 5}})
    assert merge_configs(with_params, StudyConfig(models=("iknn",), params={"iknn": {"n_neighbors": 6}})) is None


TRAIN, TEST = sequence_oracle(seed=3)


class _Prepared:
    train, test, valid = TRAIN, TEST, None
    fingerprint = "fp-oracle"
    protocol = {"name": "narm", "params": {"test_days": 1}}  # noqa: RUF012
    stats = {"n_items": 30}  # noqa: RUF012
    synthetic = True


def fake_prepare(name, **kwargs):
    return _Prepared()


class Exploding(TransitionModel):
    def fit(self, train, *, valid=None):
        raise RuntimeError("boom [v2]")


@pytest.fixture
def doubles():
    register_model("t-trans", TransitionModel, overwrite=True)
    register_model("t-explode", Exploding, overwrite=True)
    yield
    unregister_model("t-trans")
    unregister_model("t-explode")


def test_experiment_toml_describes_every_invocation(tmp_path, doubles):
    out = str(tmp_path / "study")
    first = StudyConfig(models=("t-trans",), seeds=(0, 1), out=out)
    run_configs([first], prepare=fake_prepare)
    run_configs([StudyConfig(models=("pop",), seeds=(0, 1), out=out)], prepare=fake_prepare)
    run_configs([StudyConfig(models=("spop",), seeds=(5,), out=out)], prepare=fake_prepare)
    entries = read_study(tmp_path / "study" / "experiment.toml")
    assert [(e.models, e.seeds) for e in entries] == [(("t-trans", "pop"), (0, 1)), (("spop",), (5,))]
    rerun = run_configs(entries, prepare=fake_prepare)
    assert (len(rerun.ran), len(rerun.skipped)) == (0, 3)  # t-trans, pop (deterministic: first seed only), spop
    text = (tmp_path / "study" / "experiment.toml").read_text()
    record_study(tmp_path / "study", entries)  # nothing new: the file is left as it is
    assert (tmp_path / "study" / "experiment.toml").read_text() == text


def test_a_study_whose_runs_all_fail_writes_no_record(tmp_path, doubles):
    out = tmp_path / "study"
    outcome = run_configs([StudyConfig(models=("t-explode",), out=str(out))], prepare=fake_prepare)
    assert len(outcome.failed) == 1 and not (out / "experiment.toml").exists()


def test_folders_are_checked_before_anything_runs(tmp_path):
    (tmp_path / "afile").write_text("x")
    msg = error_of(check_writable_dir, tmp_path / "afile" / "study", "the study folder (out)")
    assert msg.endswith(f"{tmp_path / 'afile'} is a file, not a folder")
    if pathlib.Path("/proc/self").is_dir():  # not writable even for root
        assert "is not writable" in error_of(check_writable_dir, "/proc/sessrec-study", "the study folder (out)")
    check_writable_dir(tmp_path / "new" / "deeper", "out")
    assert not (tmp_path / "new").exists()


# ---------------------------------------------------------------------- provenance
def test_commit_is_sessrec_s_not_the_current_folder_s(tmp_path, monkeypatch):
    import sessrec

    package = pathlib.Path(sessrec.__file__).resolve().parent
    git = ["git", "-C", str(package)]
    if subprocess.run([*git, "ls-files", "--error-unmatch", "__init__.py"], capture_output=True).returncode != 0:
        pytest.skip("sessrec is not imported from a git checkout")
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    other = tmp_path / "elsewhere"
    other.mkdir()
    env = ["-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q", str(other)], check=True)
    subprocess.run(["git", "-C", str(other), *env, "commit", "-q", "--allow-empty", "-m", "x"], check=True)
    monkeypatch.chdir(other)
    sessrec_commit.cache_clear()
    try:
        got = sessrec_commit()
    finally:
        sessrec_commit.cache_clear()
    assert got is not None and got.split("-")[0] == head
    assert sys.modules["sessrec"] is sessrec


def test_deterministic_models_run_once_unless_their_parameters_use_the_seed():
    cfg = StudyConfig(models=("markov", "sknn", "vsknn"), seeds=(3, 1, 2), params={"vsknn": {"sampling": "random"}})
    assert [(s.model, s.seed) for s in cfg.specs()] == [
        ("markov", 3),
        ("sknn", 3),
        ("vsknn", 3),
        ("vsknn", 1),
        ("vsknn", 2),
    ]
