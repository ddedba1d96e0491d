"""The runner: records, resuming, crash safety, failures that do not stop a study."""

import itertools
from dataclasses import dataclass, field

import numpy as np
import pytest

from sessrec.errors import ConfigError
from sessrec.registry import register_model, unregister_model
from sessrec.results import REQUIRED_KEYS, StudyStore
from sessrec.runner import RunSpec, run_study
from sessrec.testing.doubles import TransitionModel
from sessrec.testing.oracle import sequence_oracle


@dataclass
class FakePrepared:
    train: object
    test: object
    valid: object = None
    fingerprint: str = "fp-oracle"
    protocol: dict = field(default_factory=lambda: {"name": "narm", "params": {"test_days": 1}})
    stats: dict = field(default_factory=lambda: {"n_items": 30})
    synthetic: bool = True


TRAIN, TEST = sequence_oracle(seed=3)
calls = []


def fake_prepare(name, **kwargs):
    calls.append((name, kwargs))
    return FakePrepared(TRAIN, TEST)


class Exploding(TransitionModel):
    def fit(self, train, *, valid=None):
        raise RuntimeError("boom")


class Interrupting(TransitionModel):
    def fit(self, train, *, valid=None):
        raise KeyboardInterrupt


@pytest.fixture(autouse=True)
def _models():
    register_model("t-trans", TransitionModel, overwrite=True)
    register_model("t-explode", Exploding, overwrite=True)
    register_model("t-interrupt", Interrupting, overwrite=True)
    calls.clear()
    yield
    for name in ("t-trans", "t-explode", "t-interrupt"):
        unregister_model(name)


def specs(models, seeds=(0,)):
    return [RunSpec(model=m, dataset="oracle", seed=s) for m in models for s in seeds]


def test_records_resume_and_force(tmp_path):
    out = run_study(specs(["t-trans", "pop"], seeds=(0, 1)), tmp_path, prepare=fake_prepare)
    assert len(out.ran) == 4 and not out.skipped and not out.failed
    assert len(calls) == 1  # the dataset is prepared once for all runs
    records = StudyStore(tmp_path).read().records
    assert all(k in r for r in records for k in REQUIRED_KEYS)
    again = run_study(specs(["t-trans", "pop"], seeds=(0, 1)), tmp_path, prepare=fake_prepare)
    assert len(again.skipped) == 4 and not again.ran
    forced = run_study(specs(["pop"]), tmp_path, prepare=fake_prepare, force=True)
    assert len(forced.ran) == 1
    assert len(StudyStore(tmp_path).read().records) == 4


def test_metrics_and_ranks_match_a_brute_force_transition_count(tmp_path):
    run_study(specs(["t-trans"]), tmp_path, prepare=fake_prepare)
    store = StudyStore(tmp_path)
    rec = store.read().records[0]
    ranks = store.load_ranks(rec["run_id"])
    # brute force: the oracle is a deterministic successor walk, so the learned successor
    # of every test prefix's last click is the target whenever that transition was seen
    seen = {(a, b) for s in TRAIN for a, b in itertools.pairwise(s)}
    expect_hits = [(int(s[i - 1]), int(s[i])) in seen for s in TEST for i in range(1, len(s))]
    assert len(ranks) == TEST.n_cases
    assert np.array_equal(ranks == 1, np.array(expect_hits))
    assert rec["metrics"]["recall@5"] == pytest.approx(np.mean(ranks <= 5))
    assert rec["metrics"]["mrr@20"] == pytest.approx(np.mean(np.where(ranks <= 20, 1 / ranks, 0)))
    cases = store.load_cases(rec["fingerprint"])
    assert cases.target.tolist() == TEST.case_targets().tolist()


def test_a_failing_model_does_not_stop_the_study(tmp_path):
    out = run_study(specs(["t-explode", "pop"]), tmp_path, prepare=fake_prepare)
    assert len(out.ran) == 1
    assert out.failed[0].spec.model == "t-explode" and "boom" in out.failed[0].error


def test_ctrl_c_loses_only_the_run_in_flight(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        run_study(specs(["pop", "t-interrupt", "spop"]), tmp_path, prepare=fake_prepare)
    got = StudyStore(tmp_path).read()
    assert [r["model"] for r in got.records] == ["pop"] and got.skipped == []
    out = run_study(specs(["pop", "spop"]), tmp_path, prepare=fake_prepare)
    assert len(out.skipped) == 1 and len(out.ran) == 1


def test_bad_parameters_fail_before_any_work(tmp_path):
    with pytest.raises(ConfigError, match="has no parameter 'smoothnes'"):
        run_study([RunSpec(model="t-trans", params={"smoothnes": 1})], tmp_path, prepare=fake_prepare)
    assert calls == []
    with pytest.raises(ConfigError, match="unknown model"):
        run_study([RunSpec(model="nope")], tmp_path, prepare=fake_prepare)


def test_run_id_depends_on_what_defines_the_run():
    a = RunSpec(model="pop", seed=0)
    assert a.run_id == RunSpec(model="pop", seed=0, cutoffs=(20, 10, 5)).run_id
    assert a.run_id != RunSpec(model="pop", seed=1).run_id
    assert a.run_id != RunSpec(model="pop", seed=0, test_days=2).run_id
    with pytest.raises(ConfigError):
        RunSpec(model="pop", ties="lucky")
