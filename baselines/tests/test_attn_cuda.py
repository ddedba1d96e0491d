"""STAMP, SASRec and CORE on a CUDA device: fitted there, and the whole-session fast path agrees with ``score``."""

from typing import Any

import pytest
import torch
from sessrec_baselines.core import CORE
from sessrec_baselines.sasrec import SASRec
from sessrec_baselines.stamp import STAMP

from sessrec import PrefixBatch, Sessions

# each model's small test configuration (as in its own test module) and the tolerance of the comparison
CASES = [
    pytest.param(
        CORE,
        {"embedding_dim": 8, "inner_size": 16, "batch_size": 32, "lr": 0.01},
        {"rtol": 1e-4, "atol": 1e-4},
        id="core",
    ),
    pytest.param(
        SASRec,
        {"hidden_size": 8, "batch_size": 32, "lr": 0.01, "dropout": 0.0, "attn_dropout": 0.0},
        {"rtol": 1e-4, "atol": 1e-4},
        id="sasrec",
    ),
    pytest.param(STAMP, {"embedding_dim": 8, "batch_size": 32, "lr": 0.01}, {}, id="stamp"),
]


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize(("cls", "tiny", "tolerance"), CASES)
def test_cuda_fit_and_fast_path(cls: type, tiny: dict[str, Any], tolerance: dict[str, float]) -> None:
    train = Sessions.from_lists([[0, 1, 2, 3]] * 30, n_items=5)
    model = cls(**tiny, device="cuda", epochs=2, random_state=0).fit(train)
    fast = model.score_sessions(PrefixBatch.from_lists([[0, 1, 2]]))
    assert fast.is_cuda
    torch.testing.assert_close(fast[2:], model.score(PrefixBatch.from_lists([[0, 1, 2]])), **tolerance)
