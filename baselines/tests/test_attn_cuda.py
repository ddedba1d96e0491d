"""STAMP, SASRec and CORE off the CPU: fitted on a CUDA device, whose whole-session fast path agrees with
``score``, mixed precision there, and (on the CPU) what the device paths share: one length group per batch
gives the grouped scores, and mixed precision is refused without CUDA."""

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
    # RecBole's padding (prefixes shorter than 4 clicks get its trained vector): a path of its own in every step
    pytest.param(STAMP, {"embedding_dim": 8, "batch_size": 32, "lr": 0.01, "pad_to": 4}, {}, id="stamp-pad_to"),
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


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize(("cls", "tiny", "tolerance"), CASES)
def test_cuda_mixed_precision_trains_as_float32(cls: type, tiny: dict[str, Any], tolerance: dict[str, float]) -> None:
    # every session is 0 1 2 3. Trained with bfloat16 autocast, a model keeps float32 parameters, scores in
    # float32 and ends within bfloat16 noise of the same seed's float32 training (on the CPU's bfloat16
    # autocast the two differ by at most 0.2 over 5 seeds, on scores of magnitude 1-14, for the items with
    # training clicks); STAMP and SASRec rank 3 first after 0 1 2. CORE's session vector is a mix of 0, 1
    # and 2, whose scores lie within 0.1 of each other, so which of them is first is left to noise.
    train = Sessions.from_lists([[0, 1, 2, 3]] * 30, n_items=5)
    prefix = PrefixBatch.from_lists([[0, 1, 2]])
    full = cls(**tiny, device="cuda", epochs=30, random_state=0).fit(train).score(prefix)
    mixed = cls(**tiny, device="cuda", epochs=30, amp=True, random_state=0).fit(train)
    assert all(p.dtype == torch.float32 for p in mixed.network_.parameters())
    scores = mixed.score(prefix)
    assert scores.dtype == torch.float32
    # item 4 has no training click, so nothing pulls its vector towards a session: it drifts by about 1
    torch.testing.assert_close(scores[:, :4], full[:, :4], atol=0.5, rtol=0.0)
    if cls is not CORE:
        assert int(scores[0].argmax()) == int(full[0].argmax()) == 3


def test_mixed_precision_refused_on_cpu() -> None:
    expected = r"amp=True \(bfloat16 mixed precision\) needs a CUDA device, got device='cpu'"
    with pytest.raises(ValueError, match=expected):
        STAMP(embedding_dim=8, epochs=1, amp=True, device="cpu").fit(Sessions.from_lists([[0, 1, 2]], n_items=3))


@pytest.mark.parametrize(
    ("cls", "tiny"),
    [
        *(pytest.param(*case.values[:2], id=case.id) for case in CASES),
        pytest.param(CORE, {**CASES[0].values[1], "variant": "ave"}, id="core-ave"),
    ],
)
def test_one_length_group_gives_the_grouped_scores(
    cls: type, tiny: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # off the CPU every encoder call is one padded group; on the CPU whole sessions are grouped by length,
    # and prefixes too, except those of a network with ragged_last (STAMP, CORE-ave), encoded over their
    # real clicks only (for them the CPU run below is the ragged one; their padded layout with several
    # length groups is never used). The one padded group must give the CPU's scores, for whole sessions
    # (fast path) and for single prefixes, windows of prefixes longer than max_len included
    import sessrec_baselines._attn_common as common
    from sessrec_baselines.common import length_buckets

    train = Sessions.from_lists([[0, 1, 2, 3, 4, 5, 6], [1, 2], [3, 4, 5], [0, 2, 4, 6, 1]] * 8, n_items=7)
    model = cls(**tiny, device="cpu", epochs=1, max_len=5, random_state=0).fit(train)
    sessions = PrefixBatch.from_lists([[0, 1, 2, 3, 4, 5, 6], [1, 2], [3, 4, 5, 6, 0, 1, 2, 3, 4, 5, 6, 0]])
    prefixes = PrefixBatch.from_lists([[0], [1, 2, 3, 4], [0, 1, 2, 3, 4, 5], [6, 5, 4, 3, 2, 1, 0, 1, 2, 3]])
    grouped = (model.score_sessions(sessions), model.score(prefixes))
    assert len(length_buckets(torch.tensor([1, 4, 6, 10]), model._edges())) > 1
    monkeypatch.setattr(common, "_BUCKET_EDGES", common._ONE_GROUP)
    monkeypatch.setattr(type(model.network_), "ragged_last", False, raising=False)  # the padded layout
    assert len(length_buckets(torch.tensor([1, 4, 6, 10]), model._edges())) == 1
    # tolerances relative to the scores' size: STAMP's, from embeddings drawn N(0, 0.002), are about 1e-5
    for got, expected in zip((model.score_sessions(sessions), model.score(prefixes)), grouped, strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5 * float(expected.abs().max()))
