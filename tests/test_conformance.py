"""The conformance suite passes a correct model and catches each deliberately broken double."""

import pytest

from sessrec.testing import check_model
from sessrec.testing.doubles import (
    LeakyModel,
    MutatingModel,
    NaNModel,
    NoResetModel,
    TransitionModel,
    WrongShapeModel,
)


def statuses(model, checks=None):
    return {r.check: (r.status, r.message) for r in check_model(model, checks=checks)}


def test_correct_double_passes_everything():
    got = statuses(TransitionModel)
    failed = {k: v for k, v in got.items() if v[0] == "failed"}
    assert failed == {}
    assert got["fast_path"][0] == "passed"


@pytest.mark.parametrize(
    ("double", "check", "phrase"),
    [
        (LeakyModel, "batch_invariance", "expected equal scores"),
        (NoResetModel, "fast_path", "expected equal scores"),
        (NaNModel, "score_contract", "NaN"),
        (MutatingModel, "no_mutation", "modified the PrefixBatch"),
        (WrongShapeModel, "score_contract", "shape"),
    ],
)
def test_broken_doubles_are_caught(double, check, phrase):
    status, message = statuses(double, [check])[check]
    assert status == "failed"
    assert phrase in message


def test_global_rng_use_is_caught():
    import numpy as np

    class GlobalSeeding(TransitionModel):
        def fit(self, train, *, valid=None):
            np.random.seed(42)  # noqa: NPY002 - the habit the suite must reject
            return super().fit(train)

    status, message = statuses(GlobalSeeding, ["seeding"])["seeding"]
    assert status == "failed" and "global RNG" in message


def test_model_that_learns_nothing_fails_the_oracle():
    import torch

    class Constant(TransitionModel):
        def score(self, batch):
            return torch.zeros(batch.batch_size, self.n_items_, dtype=torch.float64)

        def score_sessions(self, batch):
            return torch.zeros(int(batch.lengths.sum()), self.n_items_, dtype=torch.float64)

    status, message = statuses(Constant, ["oracle"])["oracle"]
    assert status == "failed" and "Recall@5" in message
