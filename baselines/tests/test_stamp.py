"""STAMP: a worked example of the attention and the trilinear score, STMP, options, epoch selection.

The references are hand computations (numbers written out), never the model itself.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sessrec_baselines.stamp import STAMP, _clip_norm, _STAMPNetwork

from sessrec.data.sessions import PrefixBatch, Sessions

TINY = {"embedding_dim": 8, "batch_size": 32, "lr": 0.01, "device": "cpu"}


def _sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _worked_network(variant: str = "stamp") -> _STAMPNetwork:
    """E = [[1, 0], [0, 1], [1, 1], [2, 0]], W1 = W2 = I, W3 = -I, w0 = (1, -1), b_a = 0, MLP cells = I."""
    net = _STAMPNetwork(4, 2, variant, mlp_bias=False, emb_max_norm=None).eval()
    eye = torch.eye(2)
    with torch.no_grad():
        net.embedding.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 0.0]]))
        net.w1.weight.copy_(eye)
        net.w2.weight.copy_(eye)
        net.w3.weight.copy_(-eye)
        net.w0.weight.copy_(torch.tensor([[1.0, -1.0]]))
        net.mlp_s.weight.copy_(eye)
        net.mlp_t.weight.copy_(eye)
    return net


def test_attention_and_trilinear_score_worked_example() -> None:
    """Prefix (0, 1, 2): x = (1, 0), (0, 1), (1, 1); x_t = (1, 1); m_s = (2/3, 2/3).

    pre_j = x_j + x_t - m_s = x_j + (1/3, 1/3): (4/3, 1/3), (1/3, 4/3), (4/3, 4/3)
    a_j = sig(pre_j1) - sig(pre_j2):   a = (0.208821, -0.208821, 0)   [sig(4/3) = 0.791391, sig(1/3) = 0.582570]
    m_a = sum a_j x_j + m_s = (0.208821 + 2/3, -0.208821 + 2/3) = (0.875488, 0.457845)
    h_s = tanh(m_a) = (0.704152, 0.428327); h_t = tanh(1, 1) = (0.761594, 0.761594)
    z = h_s * h_t = (0.536278, 0.326211); scores = E z = (0.536278, 0.326211, 0.862489, 1.072556)
    """
    net = _worked_network()
    items, lengths = torch.tensor([[0, 1, 2]]), torch.tensor([3])
    x = net.embed(items, lengths)
    alpha = net.attention(x, x[:, 2], x.mean(1))
    a1 = _sig(4 / 3) - _sig(1 / 3)
    np.testing.assert_allclose(a1, 0.208821, atol=1e-6)
    torch.testing.assert_close(alpha, torch.tensor([[0.208821, -0.208821, 0.0]]), atol=1e-6, rtol=0)
    z = net.encode_last(items, lengths)
    torch.testing.assert_close(z, torch.tensor([[0.536278, 0.326211]]), atol=1e-6, rtol=0)
    scores = net.decode(z)
    torch.testing.assert_close(scores, torch.tensor([[0.536278, 0.326211, 0.862489, 1.072556]]), atol=1e-6, rtol=0)


def test_stmp_drops_the_attention() -> None:
    """STMP: m_a = m_s = (2/3, 2/3); h_s = tanh(2/3) = 0.582783; z = 0.582783 * 0.761594 = 0.443844 (both)."""
    net = _worked_network("stmp")
    z = net.encode_last(torch.tensor([[0, 1, 2]]), torch.tensor([3]))
    torch.testing.assert_close(z, torch.tensor([[0.443844, 0.443844]]), atol=1e-6, rtol=0)


def test_padding_and_later_clicks_do_not_count() -> None:
    """Prefix (0, 1) padded to width 3 with item 3: the same as the prefix alone, and encode_all agrees."""
    net = _worked_network()
    alone = net.encode_last(torch.tensor([[0, 1]]), torch.tensor([2]))
    padded = net.encode_last(torch.tensor([[0, 1, 3]]), torch.tensor([2]))
    torch.testing.assert_close(alone, padded)
    every = net.encode_all(torch.tensor([[0, 1, 2]]), torch.tensor([3]))
    torch.testing.assert_close(every[:, 1], alone)
    torch.testing.assert_close(every[:, 2], net.encode_last(torch.tensor([[0, 1, 2]]), torch.tensor([3])))


def test_max_norm_clip_is_tensorflows() -> None:
    """(3, 4) has norm 5 -> (0.9, 1.2) at max_norm 1.5; (0.3, 0.4) stays."""
    x = torch.tensor([[3.0, 4.0], [0.3, 0.4]])
    torch.testing.assert_close(_clip_norm(x, 1.5), torch.tensor([[0.9, 1.2], [0.3, 0.4]]))
    assert _clip_norm(x, None) is x


def test_authors_defaults_and_init() -> None:
    model = STAMP(random_state=0)
    assert model.get_params() | STAMP.named_params("authors") == model.get_params()
    net = model.set_params(device="cpu").build_network(Sessions.from_lists([[0, 1, 2]] * 50, n_items=3000))
    assert net.mlp_s.bias is None
    assert abs(float(net.embedding.weight.detach().std()) - 0.002) < 0.0002
    assert abs(float(net.w1.weight.detach().std()) - 0.05) < 0.01


def test_recbole_preset() -> None:
    params = STAMP.named_params("recbole")
    assert params["max_grad_norm"] is None and params["emb_max_norm"] is None and params["mlp_bias"] is True
    assert params["embedding_dim"] == 64 and params["batch_size"] == 2048


def test_epoch_selected_on_validation_only() -> None:
    train = Sessions.from_lists([[0, 1, 2, 3]] * 40, n_items=6)
    valid = Sessions.from_lists([[0, 1, 2, 3]] * 5, n_items=6)
    model = STAMP(**TINY, epochs=4, random_state=0).fit(train, valid=valid)
    recalls = [h["valid_recall@20"] for h in model.history_]
    assert model.best_epoch_ == int(np.argmax(recalls))
    no_valid = STAMP(**TINY, epochs=2, random_state=0).fit(train)
    assert no_valid.best_epoch_ == 1 and "valid_recall@20" not in no_valid.history_[0]


@pytest.mark.parametrize("training", ["sessions", "prefixes"])
def test_learns_a_sequence(training: str) -> None:
    train = Sessions.from_lists([[0, 1, 2, 3, 4]] * 60, n_items=8)
    model = STAMP(**{**TINY, "lr": 0.05, "max_grad_norm": None}, epochs=15, training=training, random_state=0)
    scores = model.fit(train).score(PrefixBatch.from_lists([[0, 1], [0, 1, 2, 3]]))
    assert scores.argmax(1).tolist() == [2, 4]


def test_bad_parameter_message() -> None:
    with pytest.raises(ValueError, match="variant='x' is not supported"):
        STAMP(variant="x").fit(Sessions.from_lists([[0, 1]], n_items=2))
