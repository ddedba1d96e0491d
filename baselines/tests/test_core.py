"""CORE: CORE-ave's session embedding is the mean of its items' embeddings, scores are cosines over tau.

The references are hand computations (numbers written out), never the model itself.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sessrec_baselines.core import CORE, _COREnetwork

from sessrec.data.sessions import PrefixBatch, Sessions

TINY = {"embedding_dim": 8, "inner_size": 16, "batch_size": 32, "lr": 0.01, "device": "cpu"}
NO_DROPOUT = {"hidden_dropout": 0.0, "attn_dropout": 0.0, "sess_dropout": 0.0, "item_dropout": 0.0}


def _ave_network() -> _COREnetwork:
    """E = [[3, 0], [0, 4], [1, 1]], tau = 0.07."""
    net = _COREnetwork(3, 2, "ave", 5, 1, 1, 4, 0.0, 0.0, 0.0, 0.0, 0.07).eval()
    with torch.no_grad():
        net.embedding.weight.copy_(torch.tensor([[3.0, 0.0], [0.0, 4.0], [1.0, 1.0]]))
    return net


def test_ave_session_embedding_is_the_mean_and_scores_are_scaled_cosines() -> None:
    """Prefix (0, 1): mean (1.5, 2), norm 2.5 -> s = (0.6, 0.8).

    cos(s, E_0) = 0.6, cos(s, E_1) = 0.8, cos(s, E_2) = 1.4 / sqrt(2) = 0.989949;
    scores = cos / 0.07 = (8.571429, 11.428571, 14.142136).
    """
    net = _ave_network()
    s = net.encode_last(torch.tensor([[0, 1, 2]]), torch.tensor([2]))  # item 2 is padding here
    torch.testing.assert_close(s, torch.tensor([[0.6, 0.8]]))
    torch.testing.assert_close(net.decode(s), torch.tensor([[8.571429, 11.428571, 14.142136]]))
    assert math.isclose(1.4 / math.sqrt(2) / 0.07, 14.142136, abs_tol=1e-6)


def test_ave_every_position_is_the_running_mean() -> None:
    """(0, 1, 2): after 1 click (1, 0); after 2 (0.6, 0.8);

    after 3 the mean (4/3, 5/3), norm sqrt(41)/3 -> (4, 5) / sqrt(41).
    """
    net = _ave_network()
    every = net.encode_all(torch.tensor([[0, 1, 2]]), torch.tensor([3]))[0]
    expected = torch.tensor([[1.0, 0.0], [0.6, 0.8], [4 / math.sqrt(41), 5 / math.sqrt(41)]])
    torch.testing.assert_close(every, expected)


def test_item_dropout_only_in_training_logits() -> None:
    net = _COREnetwork(3, 2, "ave", 5, 1, 1, 4, 0.0, 0.0, 0.0, 0.5, 0.07)
    net.load_state_dict(_ave_network().state_dict())
    s = torch.tensor([[0.6, 0.8]])
    net.eval()
    torch.testing.assert_close(s @ net.train_items().T, net.decode(s))
    net.train()
    torch.manual_seed(0)
    dropped = [s @ net.train_items().T for _ in range(20)]
    assert any(not torch.allclose(d, net.decode(s)) for d in dropped)


@pytest.mark.parametrize("variant", ["trm", "ave"])
def test_later_position_never_changes_an_earlier_score(variant: str) -> None:
    train = Sessions.from_lists([[0, 1, 2, 3, 4], [5, 4, 3, 2], [1, 3, 5]] * 10, n_items=6)
    model = CORE(**TINY, **NO_DROPOUT, variant=variant, epochs=2, random_state=0).fit(train)
    a = model.score_sessions(PrefixBatch.from_lists([[0, 1, 2, 3]]))
    b = model.score_sessions(PrefixBatch.from_lists([[0, 1, 2, 5, 4]]))
    torch.testing.assert_close(a[:3], b[:3], rtol=0, atol=0)
    assert not torch.allclose(a[3], b[3])
    torch.testing.assert_close(b[:2], model.score(PrefixBatch.from_lists([[0], [0, 1]])), rtol=1e-5, atol=1e-5)


def test_trm_session_embedding_is_a_convex_combination_of_its_items() -> None:
    """With unit temperature the score of item i is cos(s, E_i); s lies in the cone of the session's items:
    for a session of one item, s = E_item / |E_item|, so that item scores exactly 1 / tau."""
    train = Sessions.from_lists([[0, 1, 2, 3]] * 20, n_items=5)
    model = CORE(**TINY, **NO_DROPOUT, variant="trm", epochs=1, random_state=0).fit(train)
    scores = model.score(PrefixBatch.from_lists([[3], [1, 1, 1]]))
    torch.testing.assert_close(scores[:, [3, 1]].diagonal(), torch.full((2,), 1 / 0.07))


def test_init_is_uniform_over_every_parameter() -> None:
    net = CORE(**TINY, variant="trm", random_state=0).build_network(Sessions.from_lists([[0, 1]] * 3, n_items=4))
    bound = 1 / math.sqrt(8)
    for param in net.parameters():
        assert float(param.detach().abs().max()) <= bound


def test_presets() -> None:
    trm, ave = CORE.named_params("trm"), CORE.named_params("ave")
    assert (trm["embedding_dim"], trm["temperature"], trm["sess_dropout"], trm["patience"]) == (100, 0.07, 0.2, 5)
    assert ave["variant"] == "ave" and CORE.named_params("recbole-trm")["embedding_dim"] == 64


def test_bad_temperature_message() -> None:
    with pytest.raises(ValueError, match="temperature must be a positive number"):
        CORE(temperature=0.0).fit(Sessions.from_lists([[0, 1]], n_items=2))


def test_ave_prefixes_of_several_lengths_are_their_own_means() -> None:
    """CORE-ave on a CPU encodes a batch's real clicks in one call (no length groups, no padding):
    each row is still the normalised mean of its own clicks, rows in the batch's order."""
    from sessrec_baselines.common import encode_prefixes

    net = _COREnetwork(6, 3, "ave", 5, 1, 1, 4, 0.0, 0.0, 0.0, 0.0, 0.07).eval()
    assert net.ragged_last
    rows = [[4], [0, 5, 2], [1, 1], [3, 0, 2, 5, 4]]
    items = torch.tensor([r + [-1] * (5 - len(r)) for r in rows])
    lengths = torch.tensor([len(r) for r in rows])
    weight = net.embedding.weight.detach()
    expected = torch.stack([F.normalize(sum(weight[i] for i in r) / len(r), dim=0) for r in rows])
    calls, encode_last = [], net.encode_last
    net.encode_last = lambda *args: calls.append(args) or encode_last(*args)
    with torch.no_grad():
        got = encode_prefixes(net, items, lengths, np.array([2, 4]))
    torch.testing.assert_close(got, expected)
    assert len(calls) == 1  # one call for the whole batch, not one per length group
    assert not _COREnetwork(6, 4, "trm", 5, 1, 1, 4, 0.0, 0.0, 0.0, 0.0, 0.07).ragged_last
