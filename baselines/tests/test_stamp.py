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
    alpha = net._weights(net.w1(x), net._query(x[:, 2], x.mean(1))[:, None])
    a1 = _sig(4 / 3) - _sig(1 / 3)
    np.testing.assert_allclose(a1, 0.208821, atol=1e-6)
    torch.testing.assert_close(alpha, torch.tensor([[0.208821, -0.208821, 0.0]]), atol=1e-6, rtol=0)
    z = net.encode_last(items, lengths)
    torch.testing.assert_close(z, torch.tensor([[0.536278, 0.326211]]), atol=1e-6, rtol=0)
    scores = net.decode(z)
    torch.testing.assert_close(scores, torch.tensor([[0.536278, 0.326211, 0.862489, 1.072556]]), atol=1e-6, rtol=0)


def test_prefixes_of_several_lengths_in_one_batch() -> None:
    """Rows (0, 1, 2), (2,) and (0, 1) of the worked network, through the CPU's ragged encoding.

    (0, 1, 2): z = (0.536278, 0.326211), as in the worked example.
    (2,): x = x_t = m_s = (1, 1); pre = (1, 1), a = 0; z = tanh(1)^2 (1, 1) = (0.580026, 0.580026).
    (0, 1): x_t = (0, 1), m_s = (0.5, 0.5); pre_j = x_j + (-0.5, 0.5): (0.5, 0.5), (-0.5, 1.5);
    a = (0, sig(-0.5) - sig(1.5)) = (0, -0.440034); m_a = (0.5, 0.059966);
    z = tanh(m_a) * tanh(0, 1) = (0, 0.059895 * 0.761594) = (0, 0.045615).
    """
    from sessrec_baselines.common import encode_prefixes

    net = _worked_network()
    assert net.ragged_last
    items = torch.tensor([[0, 1, 2], [2, -1, -1], [0, 1, -1]])
    lengths = torch.tensor([3, 1, 2])
    calls, encode_last = [], net.encode_last
    net.encode_last = lambda *args: calls.append(args) or encode_last(*args)
    with torch.no_grad():
        z = encode_prefixes(net, items, lengths, np.array([2, 3]))
        every = net.encode_all(items, lengths)  # the padded (N, T, d) layout
    assert len(calls) == 1  # one call for the whole batch, not one per length group
    expected = torch.tensor([[0.536278, 0.326211], [0.580026, 0.580026], [0.0, 0.045615]])
    torch.testing.assert_close(z, expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(every[torch.arange(3), lengths - 1], z)
    # with the lookups clipped to norm 1.2 (item 2 = (1, 1) is longer) both layouts clip alike
    clipped = _STAMPNetwork(4, 2, "stamp", mlp_bias=False, emb_max_norm=1.2).eval()
    clipped.load_state_dict(net.state_dict())
    with torch.no_grad():
        z_clipped = encode_prefixes(clipped, items, lengths, np.array([2, 3]))
        every = clipped.encode_all(items, lengths)
    torch.testing.assert_close(every[torch.arange(3), lengths - 1], z_clipped)
    assert float((z_clipped - z).abs().max()) > 0.01


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


def test_recbole_padding_worked_example() -> None:
    """pad_to=3, p = (1, 1): prefix (0, 1) gets one padding position; x_t = (0, 1).

    m_s = ((1, 0) + (0, 1) + p) / 2 = (1, 1);  pre_j = x_j + x_t - m_s = x_j + (-1, 0)
    a_0 = sig(0) - sig(0) = 0;  a_1 = sig(-1) - sig(1) = -0.462117;  a_p = sig(0) - sig(1) = -0.231059
    m_a = a_1 x_1 + 1 * a_p p + m_s = (0.768941, 0.306824)
    z = tanh(m_a) * tanh(x_t) = (0.646313 * 0, 0.297545 * 0.761594) = (0, 0.226609)
    ranking scores E z = (0, 0.226609, 0.226609, 0); the training classes add p . z = 0.226609
    """
    net = _worked_network()
    padded = _STAMPNetwork(4, 2, "stamp", mlp_bias=False, emb_max_norm=None, pad_to=3).eval()
    padded.load_state_dict({**net.state_dict(), "pad": torch.tensor([1.0, 1.0])})
    items, lengths = torch.tensor([[0, 1]]), torch.tensor([2])
    z = padded.encode_last(items, lengths)
    torch.testing.assert_close(z, torch.tensor([[0.0, 0.226609]]), atol=1e-6, rtol=0)
    torch.testing.assert_close(padded.encode_all(items, lengths)[:, 1], z)
    torch.testing.assert_close(padded.decode(z), torch.tensor([[0.0, 0.226609, 0.226609, 0.0]]), atol=1e-6, rtol=0)
    torch.testing.assert_close(
        z @ padded.train_items().T, torch.tensor([[0.0, 0.226609, 0.226609, 0.0, 0.226609]]), atol=1e-6, rtol=0
    )
    # a prefix as long as pad_to has no padding: the network without it gives the same
    full = torch.tensor([[0, 1, 2]])
    torch.testing.assert_close(padded.encode_last(full, torch.tensor([3])), net.encode_last(full, torch.tensor([3])))


def test_recbole_padding_is_trained_by_the_softmax_only() -> None:
    """The lookups leave p untouched (RecBole's padding_idx); its softmax class trains it."""
    net = _STAMPNetwork(6, 4, "stamp", mlp_bias=True, emb_max_norm=None, pad_to=5)
    net.encode_last(torch.tensor([[0, 1, 2]]), torch.tensor([3])).sum().backward()
    assert net.pad.grad is None and net.embedding.weight.grad is not None
    reps = net.encode_all(torch.tensor([[0, 1, 2]]), torch.tensor([3]))[0]
    torch.nn.functional.cross_entropy(reps @ net.train_items().T, torch.tensor([1, 2, 3])).backward()
    assert net.pad.grad is not None and net.pad.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="pad_to must be a positive integer or None"):
        STAMP(**TINY, pad_to=0).fit(Sessions.from_lists([[0, 1, 2]]))


def test_max_norm_clip_is_tensorflows() -> None:
    """(3, 4) has norm 5 -> (0.9, 1.2) at max_norm 1.5; (0.3, 0.4) stays."""
    x = torch.tensor([[3.0, 4.0], [0.3, 0.4]])
    torch.testing.assert_close(_clip_norm(x, 1.5), torch.tensor([[0.9, 1.2], [0.3, 0.4]]))
    assert _clip_norm(x, None) is x


def test_authors_defaults_and_init() -> None:
    model = STAMP(random_state=0)
    assert model.get_params() | STAMP.named_params("authors") == model.get_params()
    net = model.set_params(device="cpu").build_network(Sessions.from_lists([[0, 1, 2]] * 50, n_items=3000))
    assert net.mlp_s.bias is None and net.pad is None
    assert abs(float(net.embedding.weight.detach().std()) - 0.002) < 0.0002
    assert abs(float(net.w1.weight.detach().std()) - 0.05) < 0.01


def test_recbole_preset() -> None:
    params = STAMP.named_params("recbole")
    assert params["max_grad_norm"] is None and params["emb_max_norm"] is None and params["mlp_bias"] is True
    assert params["pad_to"] == 50  # RecBole's MAX_ITEM_LIST_LENGTH; its STAMP attends to the padding
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
