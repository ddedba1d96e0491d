"""SASRec: the causal mask, the paper's block against a numpy transcription, the BCE loss, options.

The references are hand computations or plain numpy, never the model itself.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sessrec_baselines.sasrec import SASRec, _SASRecNetwork

from sessrec.data.sessions import PrefixBatch, Sessions

TINY = {"hidden_size": 8, "batch_size": 32, "lr": 0.01, "dropout": 0.0, "attn_dropout": 0.0, "device": "cpu"}


def _fitted(**params: object) -> SASRec:
    train = Sessions.from_lists([[0, 1, 2, 3, 4], [5, 4, 3, 2], [1, 3, 5]] * 10, n_items=6)
    return SASRec(**{**TINY, "epochs": 2, "random_state": 0, **params}).fit(train)


@pytest.mark.parametrize("block", ["paper", "recbole"])
def test_later_position_never_changes_an_earlier_score(block: str) -> None:
    """Sessions equal up to position 2 and different after: rows 0..2 identical, row 3 not."""
    model = _fitted(block=block)
    a = model.score_sessions(PrefixBatch.from_lists([[0, 1, 2, 3]]))
    b = model.score_sessions(PrefixBatch.from_lists([[0, 1, 2, 5, 4]]))
    torch.testing.assert_close(a[:3], b[:3], rtol=0, atol=0)
    assert not torch.allclose(a[3], b[3])
    # and the per-prefix path agrees with the one causal pass
    torch.testing.assert_close(b[1:2], model.score(PrefixBatch.from_lists([[0, 1]])), rtol=1e-5, atol=1e-5)


def _ln(x: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps)


def test_paper_block_matches_numpy_transcription_of_the_authors_code() -> None:
    """One block, one head, d = 4: q = LN(x); x = q + softmax_causal(qWq (xWk)^T / 2) xWv; y = LN(x);
    out = LN(y + relu(y W1 + b1) W2 + b2), with e = E[item] * sqrt(d) + P (all layer norms with unit scale)."""
    rng = np.random.default_rng(0)
    d, n_items, width = 4, 5, 3
    net = _SASRecNetwork(n_items, d, 5, 1, 1, 16, 0.0, 0.0, "paper", 1e-8).eval()
    arrays = {name: rng.normal(size=tuple(p.shape)).astype(np.float32) for name, p in net.named_parameters()}
    for name in [n for n in arrays if "ln" in n]:
        arrays[name] = np.ones_like(arrays[name]) if name.endswith("weight") else np.zeros_like(arrays[name])
    with torch.no_grad():
        for name, p in net.named_parameters():
            p.copy_(torch.from_numpy(arrays[name]))
    items = np.array([3, 0, 4])
    blk = "blocks.0."

    def lin(x: np.ndarray, name: str) -> np.ndarray:
        return x @ arrays[name + ".weight"].T + arrays[name + ".bias"]

    x = arrays["embedding.weight"][items] * math.sqrt(d) + arrays["position.weight"][:width]
    q = _ln(x)
    logits = lin(q, blk + "attn.q") @ lin(x, blk + "attn.k").T / math.sqrt(d)
    logits[np.triu_indices(width, 1)] = -np.inf
    weights = np.exp(logits - logits.max(1, keepdims=True))
    weights /= weights.sum(1, keepdims=True)
    x = q + weights @ lin(x, blk + "attn.v")
    y = _ln(x)
    out = _ln(y + lin(np.maximum(lin(y, blk + "ffn1"), 0.0), blk + "ffn2"))
    got = net.encode_all(torch.from_numpy(items)[None], torch.tensor([width]))[0]
    np.testing.assert_allclose(got.detach().numpy(), out, rtol=1e-4, atol=1e-5)


def test_bce_loss_is_the_papers() -> None:
    """reps = (1, 0, ..); target embedding (2, 0, ..), every other item 0, so the negative scores 0:

    loss = -log sig(2) - log(1 - sig(0)) = 0.126928 + 0.693147.
    """
    model = _fitted(loss="bce")
    net = model.network_
    with torch.no_grad():
        net.embedding.weight.zero_()
        net.embedding.weight[1] = torch.tensor([2.0] + [0.0] * 7)
    gen = torch.Generator().manual_seed(0)
    loss = model._loss(net, torch.tensor([[1.0] + [0.0] * 7]), torch.tensor([1]), gen)
    np.testing.assert_allclose(float(loss.detach()), -math.log(1 / (1 + math.exp(-2))) + math.log(2), rtol=1e-6)
    np.testing.assert_allclose(-math.log(1 / (1 + math.exp(-2))), 0.126928, atol=1e-6)


def test_bce_negatives_never_hit_the_target() -> None:
    model = _fitted(loss="bce")
    n = model.n_items_
    gen = torch.Generator().manual_seed(1)
    targets = torch.arange(n).repeat(200)
    shift = torch.randint(1, n, (len(targets),), generator=gen)
    assert bool(((targets + shift) % n != targets).all())


def test_presets() -> None:
    paper, recbole = SASRec.named_params("paper"), SASRec.named_params("recbole")
    assert (paper["hidden_size"], paper["n_blocks"], paper["n_heads"], paper["dropout"]) == (50, 2, 1, 0.5)
    assert SASRec.named_params("paper-bce")["loss"] == "bce"
    assert (recbole["block"], recbole["hidden_size"], recbole["n_heads"], recbole["adam_beta2"]) == (
        "recbole",
        64,
        2,
        0.999,
    )
    model = SASRec()
    assert {k: model.get_params()[k] for k in paper} == paper


def test_learns_a_sequence() -> None:
    train = Sessions.from_lists([[0, 1, 2, 3, 4]] * 60, n_items=8)
    model = SASRec(**{**TINY, "lr": 0.02}, epochs=15, random_state=0).fit(train)
    scores = model.score(PrefixBatch.from_lists([[0, 1], [0, 1, 2, 3]]))
    assert scores.argmax(1).tolist() == [2, 4]


def test_long_prefix_keeps_last_max_len_clicks() -> None:
    model = _fitted(max_len=3)
    long = model.score(PrefixBatch.from_lists([[5, 0, 1, 2, 3]]))
    window = model.score(PrefixBatch.from_lists([[1, 2, 3]]))
    torch.testing.assert_close(long, window)
    fast = model.score_sessions(PrefixBatch.from_lists([[5, 0, 1, 2, 3]]))
    torch.testing.assert_close(fast[4:], window, rtol=1e-5, atol=1e-5)


def test_heads_must_divide_hidden_size() -> None:
    with pytest.raises(ValueError, match="multiple of n_heads"):
        SASRec(hidden_size=10, n_heads=3).fit(Sessions.from_lists([[0, 1]], n_items=2))
