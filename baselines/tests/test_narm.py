"""NARM: worked examples of the attention and the decoder, the causal fast path, training modes.

The references here are hand computations and plain numpy, never the model itself.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sessrec_baselines._narm_network import AuthorsGRU, DropoutScaledAtTest, NARMNetwork, hard_sigmoid
from sessrec_baselines.narm import NARM

from sessrec.data.sessions import PrefixBatch, Sessions

TINY = {"embedding_dim": 8, "hidden_size": 8, "batch_size": 32, "lr": 0.01, "device": "cpu"}


def _network(attention_norm: str, activation: str, n_items: int = 3, d: int = 2, hidden: int = 2) -> NARMNetwork:
    net = NARMNetwork(n_items, d, hidden, 0.0, 0.0, "torch", activation, attention_norm)
    return net.eval()


def _set_worked_weights(net: NARMNetwork) -> None:
    """A1 = A2 = I, v = (1, -1), B = [I | I], E = [[1, 0], [0, 1], [1, 1]]."""
    with torch.no_grad():
        net.a1.weight.copy_(torch.eye(2))
        net.a2.weight.copy_(torch.eye(2))
        net.v.weight.copy_(torch.tensor([[1.0, -1.0]]))
        net.b.weight.copy_(torch.tensor([[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0]]))
        net.embedding.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))


# States of one prefix of three clicks; the query is h_t = h_2 = (1, 1).
H = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]])


def testhard_sigmoid_is_theanos() -> None:
    x = torch.tensor([-3.0, -2.5, -1.0, 0.0, 1.0, 2.5, 4.0])
    expected = torch.tensor([0.0, 0.0, 0.3, 0.5, 0.7, 1.0, 1.0])  # clip(0.2 x + 0.5, 0, 1)
    torch.testing.assert_close(hard_sigmoid(x), expected)


def test_attention_worked_example_paper_equation() -> None:
    """attention_norm="none", hard sigmoid: by hand.

    pre_j = h_t + h_j: (2, 1), (1, 2), (2, 2) -> hsig: (.9, .7), (.7, .9), (.9, .9)
    a_tj = v^T hsig = 0.2, -0.2, 0.0 -> c_l = 0.2 (1, 0) - 0.2 (0, 1) = (0.2, -0.2)
    c = [h_t ; c_l] = (1, 1, 0.2, -0.2); B c = (1.2, 0.8); S = E B c = (1.2, 0.8, 2.0)
    """
    net = _network("none", "hard_sigmoid")
    _set_worked_weights(net)
    c = net.attend_last(H, torch.tensor([3]))
    torch.testing.assert_close(c, torch.tensor([[1.0, 1.0, 0.2, -0.2]]))
    torch.testing.assert_close(net.decode(c), torch.tensor([[1.2, 0.8, 2.0]]))


def test_attention_worked_example_code_softmax() -> None:
    """attention_norm="softmax" (the code): alpha = softmax(0.2, -0.2, 0) = (.40176, .26931, .32893)."""
    net = _network("softmax", "hard_sigmoid")
    _set_worked_weights(net)
    c = net.attend_last(H, torch.tensor([3]))
    alpha = np.exp([0.2, -0.2, 0.0]) / np.exp([0.2, -0.2, 0.0]).sum()
    np.testing.assert_allclose(alpha, [0.40176, 0.26931, 0.32893], atol=1e-5)
    c_l = alpha @ H[0].numpy()  # (alpha_0 + alpha_2, alpha_1 + alpha_2)
    np.testing.assert_allclose(c.detach().numpy()[0], [1.0, 1.0, *c_l], rtol=1e-6)
    expected_scores = np.array([[1, 0], [0, 1], [1, 1]]) @ (np.array([1.0, 1.0]) + c_l)
    np.testing.assert_allclose(net.decode(c).detach().numpy()[0], expected_scores, rtol=1e-6)


def test_attention_mask_ignores_padding_and_later_states() -> None:
    """A prefix of length 2 padded to 3: the padded state must not count, whatever it holds."""
    net = _network("softmax", "sigmoid")
    _set_worked_weights(net)
    padded = H.clone()
    padded[0, 2] = torch.tensor([100.0, -100.0])
    c = net.attend_last(padded, torch.tensor([2]))
    # by numpy: query h_1 = (0, 1); keys h_0, h_1
    h = H[0, :2].numpy()
    sig = 1.0 / (1.0 + np.exp(-(h[1][None, :] + h)))
    e = sig @ np.array([1.0, -1.0])
    alpha = np.exp(e) / np.exp(e).sum()
    np.testing.assert_allclose(c.detach().numpy()[0], [0.0, 1.0, *(alpha @ h)], rtol=1e-6)


@pytest.mark.parametrize("norm", ["softmax", "none"])
@pytest.mark.parametrize("activation", ["sigmoid", "hard_sigmoid"])
def test_attend_all_matches_numpy_per_query(norm: str, activation: str) -> None:
    """The causal (N, T, T) attention equals a numpy loop over queries t and keys j <= t."""
    torch.manual_seed(0)
    net = _network(norm, activation, n_items=5, d=3, hidden=4)
    h = torch.randn(2, 5, 4)
    out = net.attend_all(h).detach().numpy()
    a1, a2 = net.a1.weight.detach().numpy(), net.a2.weight.detach().numpy()
    v = net.v.weight.detach().numpy()[0]

    def act(x: np.ndarray) -> np.ndarray:
        return np.clip(0.2 * x + 0.5, 0, 1) if activation == "hard_sigmoid" else 1 / (1 + np.exp(-x))

    hn = h.numpy()
    for n in range(2):
        for t in range(5):
            e = np.array([v @ act(a1 @ hn[n, t] + a2 @ hn[n, j]) for j in range(t + 1)])
            alpha = np.exp(e - e.max()) / np.exp(e - e.max()).sum() if norm == "softmax" else e
            expected = np.concatenate([hn[n, t], alpha @ hn[n, : t + 1]])
            np.testing.assert_allclose(out[n, t], expected, rtol=1e-5, atol=1e-6)


def test_authors_gru_matches_numpy_equations() -> None:
    """The code's cell: hard-sigmoid gates, reset applied to h before U_h."""
    torch.manual_seed(1)
    cell = AuthorsGRU(3, 4)
    x = torch.randn(2, 5, 3)
    out, last = cell(x)
    wx, b = cell.w_x.weight.detach().numpy(), cell.w_x.bias.detach().numpy()
    uzr, uh = cell.u_zr.weight.detach().numpy(), cell.u_h.weight.detach().numpy()

    def hsig(z: np.ndarray) -> np.ndarray:
        return np.clip(0.2 * z + 0.5, 0, 1)

    for n in range(2):
        h = np.zeros(4)
        for t in range(5):
            xp = wx @ x[n, t].numpy() + b
            g = xp[:8] + uzr @ h
            z, r = hsig(g[:4]), hsig(g[4:])
            h = (1 - z) * h + z * np.tanh(uh @ (r * h) + xp[8:])
            np.testing.assert_allclose(out[n, t].detach().numpy(), h, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(last[0, n].detach().numpy(), h, rtol=1e-5, atol=1e-6)


def test_test_scaled_dropout_is_the_authors() -> None:
    """The code's ``dropout_layer``: x * Bernoulli(1 - p) mask in training, x * (1 - p) at test."""
    x = torch.full((200, 50), 3.0)
    drop = DropoutScaledAtTest(0.25)
    torch.testing.assert_close(drop.eval()(x), torch.full((200, 50), 2.25))
    torch.manual_seed(0)
    out = drop.train()(x)
    assert set(out.unique().tolist()) == {0.0, 3.0}  # kept values are not rescaled
    assert abs(float((out == 0).float().mean()) - 0.25) < 0.01  # 10,000 draws: sd 0.0043
    net = NARMNetwork(5, 4, 3, 0.25, 0.5, "torch", "sigmoid", "softmax", dropout_scaling="test")
    assert isinstance(net.emb_dropout, DropoutScaledAtTest) and net.emb_dropout.p == 0.25
    assert isinstance(net.ct_dropout, DropoutScaledAtTest) and net.ct_dropout.p == 0.5
    assert isinstance(NARMNetwork(5, 4, 3, 0.25, 0.5, "torch", "sigmoid", "softmax").ct_dropout, torch.nn.Dropout)


def test_init_follows_the_authors_code() -> None:
    net = NARMNetwork(4000, 50, 100, 0.25, 0.5, "torch", "hard_sigmoid", "softmax")
    assert abs(float(net.embedding.weight.detach().std()) - np.sqrt(2 / 4000)) < 0.002
    assert abs(float(net.b.weight.detach().std()) - np.sqrt(2 / 50)) < 0.02
    block = net.gru.weight_hh_l0[:100].detach()
    torch.testing.assert_close(block @ block.T, torch.eye(100), atol=1e-4, rtol=0)
    assert float(net.gru.bias_ih_l0.detach().abs().max()) == 0.0


@pytest.mark.parametrize("gru", ["torch", "authors"])
def test_init_xavier_follows_recbole(gru: str) -> None:
    """init="xavier": N(0, 2 / (fan_in + fan_out)) for E, A1, A2, v, B (RecBole's ``xavier_normal_``),
    torch's default U(-1/sqrt(H), 1/sqrt(H)) for the GRU weights (std bound / sqrt(3)), GRU biases 0.

    Tolerances: the std of n normal draws has a relative sd of about 1/sqrt(2n); n >= 10,000 here
    (v: 300 draws, so 15%).
    """
    torch.manual_seed(0)
    n_items, d, hidden = 4000, 50, 100
    net = NARMNetwork(n_items, d, hidden, 0.25, 0.5, gru, "hard_sigmoid", "softmax", "xavier")
    expected = {
        "embedding": np.sqrt(2 / (n_items + d)),  # weight (n_items, d)
        "a1": np.sqrt(2 / (hidden + hidden)),
        "a2": np.sqrt(2 / (hidden + hidden)),
        "b": np.sqrt(2 / (2 * hidden + d)),  # weight (d, 2H)
    }
    for name, std in expected.items():
        weight = getattr(net, name).weight.detach()
        assert abs(float(weight.mean())) < 0.05 * std, name
        assert abs(float(weight.std()) / std - 1) < 0.03, (name, float(weight.std()), std)
    v = net.v.weight.detach()  # (1, H): fans 100 and 1
    assert abs(float(v.std()) / np.sqrt(2 / (hidden + 1)) - 1) < 0.15
    bound = 1 / np.sqrt(hidden)
    for name, param in net.gru.named_parameters():
        values = param.detach()
        if "bias" in name:
            assert float(values.abs().max()) == 0.0, name
        else:
            assert float(values.abs().max()) <= bound, name
            assert abs(float(values.std()) / (bound / np.sqrt(3)) - 1) < 0.05, name
    # the authors' scheme differs visibly: E std sqrt(2/4000) = 0.0224 against 0.0222, v std 1.41 against 0.14
    authors = NARMNetwork(n_items, d, hidden, 0.25, 0.5, gru, "hard_sigmoid", "softmax", "authors")
    assert float(authors.v.weight.detach().std()) > 0.7


def test_defaults_are_the_papers_attention_with_recbole_init() -> None:
    """The estimator's defaults reach the network: paper equation (8) with the logistic sigmoid,
    no normalisation, xavier initialisation (v std sqrt(2/101) = 0.141, not the code's 1.41)."""
    model = NARM(embedding_dim=8, hidden_size=100, epochs=1, lr=1e-9, device="cpu", random_state=0)
    model.fit(_successor_sessions(40, 20, seed=0))
    net = model.network_
    assert (net.attention_norm, net.attention_activation) == ("none", "sigmoid")
    assert isinstance(net.gru, torch.nn.GRU) and isinstance(net.ct_dropout, torch.nn.Dropout)
    assert 0.09 < float(net.v.weight.detach().std()) < 0.2


def test_init_is_stored_verbatim() -> None:
    assert NARM(**TINY, init="xavier").get_params()["init"] == "xavier"
    assert NARM(**TINY, init="kaiming").init == "kaiming"  # checked in fit, see test_bad_parameters_say_what_is_valid


# ---------------------------------------------------------------------- fitted models
def _successor_sessions(n_sessions: int, n_items: int, seed: int, max_length: int = 12) -> Sessions:
    """Deterministic-successor oracle: item i is always followed by (i + 1) mod n_items."""
    rng = np.random.default_rng(seed)
    sessions = []
    for _ in range(n_sessions):
        start, length = rng.integers(n_items), rng.integers(2, max_length + 1)
        sessions.append([(start + k) % n_items for k in range(length)])
    return Sessions.from_lists(sessions, n_items=n_items)


TRAIN = _successor_sessions(200, 20, seed=0, max_length=14)


@pytest.mark.parametrize("truncate", ["first", "last"])
@pytest.mark.parametrize(("gru", "norm"), [("torch", "softmax"), ("authors", "none")])
def test_score_sessions_equals_each_prefix_alone(truncate: str, gru: str, norm: str) -> None:
    """The causal whole-session pass gives every prefix the scores of encoding it alone,
    including prefixes longer than max_len (max_len=4, sessions up to 14 clicks)."""
    model = NARM(**TINY, epochs=1, max_len=4, truncate=truncate, gru=gru, attention_norm=norm, random_state=0)
    model.fit(TRAIN)
    sessions = [TRAIN[s].tolist() for s in range(12)]
    fast = model.score_sessions(PrefixBatch.from_lists(sessions))
    prefixes = [s[: t + 1] for s in sessions for t in range(len(s))]
    assert fast.shape == (len(prefixes), TRAIN.n_items)
    alone = torch.cat([model.score(PrefixBatch.from_lists([p])) for p in prefixes])
    torch.testing.assert_close(fast, alone, atol=1e-5, rtol=1e-5)


def test_truncation_semantics() -> None:
    """first: a long prefix scores as its first max_len clicks; last: as its last max_len clicks."""
    prefix = [3, 4, 5, 6, 7, 8, 9]
    for truncate, kept in (("first", [3, 4, 5]), ("last", [7, 8, 9])):
        model = NARM(**TINY, epochs=1, max_len=3, truncate=truncate, random_state=0).fit(TRAIN)
        long, short = model.score(PrefixBatch.from_lists([prefix, kept]))
        torch.testing.assert_close(long, short, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("truncate", ["first", "last"])
@pytest.mark.parametrize("valid_split", [None, "random_cases"])
def test_training_modes_compute_the_same_loss(truncate: str, valid_split: str | None) -> None:
    """With one batch holding every case and no dropout, the first epoch's loss (computed before
    the only update) is the same objective in both modes: each case's loss from one causal pass
    per session equals encoding each prefix alone."""
    params = {**TINY, "batch_size": 10_000, "emb_dropout": 0.0, "ct_dropout": 0.0, "max_len": 5}
    losses = []
    for training in ("sessions", "prefixes"):
        model = NARM(**params, epochs=1, training=training, truncate=truncate, valid_split=valid_split, random_state=3)
        losses.append(model.fit(TRAIN).history_[0]["loss"])
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)


@pytest.mark.parametrize("training", ["sessions", "prefixes"])
def test_fit_is_reproducible(training: str) -> None:
    batch = PrefixBatch.from_lists([[0, 1], [5], [7, 8, 9, 10]])
    a = NARM(**TINY, epochs=2, training=training, random_state=7).fit(TRAIN)
    b = NARM(**TINY, epochs=2, training=training, random_state=7).fit(TRAIN)
    c = NARM(**TINY, epochs=2, training=training, random_state=8).fit(TRAIN)
    assert [h["loss"] for h in a.history_] == [h["loss"] for h in b.history_]
    torch.testing.assert_close(a.score(batch), b.score(batch), atol=0, rtol=0)
    assert not torch.equal(a.score(batch), c.score(batch))


@pytest.mark.parametrize("training", ["sessions", "prefixes"])
def test_learns_the_successor_oracle(training: str) -> None:
    test = _successor_sessions(60, 20, seed=1)
    params = {**TINY, "lr": 0.03, "emb_dropout": 0.0, "ct_dropout": 0.0}
    model = NARM(**params, epochs=4, training=training, random_state=0).fit(TRAIN)
    hits = []
    for batch, targets in test.prefix_batches(256):
        top = model.score(batch).argmax(dim=1).numpy()
        hits.append(top == targets)
    recall_at_1 = np.concatenate(hits).mean()
    assert recall_at_1 > 0.95


def test_validation_splits() -> None:
    model = NARM(**TINY, epochs=2, valid_split="random_cases", valid_fraction=0.1, random_state=0).fit(TRAIN)
    assert len(model.valid_cases_) == round(0.1 * TRAIN.n_cases)
    assert len(np.unique(model.valid_cases_)) == len(model.valid_cases_)
    assert all("valid_recall@20" in h for h in model.history_)
    # time: the 10% of sessions that end last are held out
    timed = Sessions.from_lists([TRAIN[s].tolist() for s in range(TRAIN.n_sessions)], n_items=TRAIN.n_items)
    model = NARM(**TINY, epochs=1, valid_split="time", valid_fraction=0.1, random_state=0).fit(timed)
    np.testing.assert_array_equal(model.valid_cases_, np.arange(180, 200))
    model = NARM(**TINY, epochs=1, valid_split=None, random_state=0).fit(TRAIN)
    assert "valid_recall@20" not in model.history_[0] and len(model.valid_cases_) == 0


def test_validation_picks_the_best_epoch() -> None:
    model = NARM(**TINY, epochs=3, valid_split="random_cases", random_state=0).fit(TRAIN)
    recalls = [h["valid_recall@20"] for h in model.history_]
    assert model.best_epoch_ == int(np.argmax(recalls))


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("truncate", "middle"),
        ("attention_norm", "sparsemax"),
        ("training", "cases"),
        ("max_len", 0),
        ("init", "kaiming"),
        ("dropout_scaling", "none"),
    ],
)
def test_bad_parameters_say_what_is_valid(param: str, value: object) -> None:
    with pytest.raises(ValueError, match=param):
        NARM(**{**TINY, param: value}).fit(TRAIN)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("truncate", ["first", "last"])
@pytest.mark.parametrize("training", ["sessions", "prefixes"])
def test_cuda_fit_and_fast_path(training: str, truncate: str) -> None:
    # max_len 4 < the sessions' 14 clicks, so the fast path meets truncated prefixes. The successor oracle
    # is learnt only where a long prefix keeps its last click (truncate="last"); keeping the first 4 clicks
    # hides it (on the CPU too: recall@1 0.42 / 0.54 with "first", 1.0 with "last")
    params = {**TINY, "lr": 0.03, "emb_dropout": 0.0, "ct_dropout": 0.0, "device": "cuda"}
    model = NARM(**params, epochs=4, training=training, max_len=4, truncate=truncate, random_state=0).fit(TRAIN)
    assert next(model.network_.parameters()).is_cuda
    sessions = [TRAIN[s].tolist() for s in range(12)]
    fast = model.score_sessions(PrefixBatch.from_lists(sessions))
    assert fast.is_cuda
    prefixes = [s[: t + 1] for s in sessions for t in range(len(s))]
    alone = model.score(PrefixBatch.from_lists(prefixes))
    torch.testing.assert_close(fast, alone, atol=1e-4, rtol=1e-4)
    if truncate == "last":
        test = _successor_sessions(60, 20, seed=1)
        hits = [(model.score(b).argmax(1).cpu().numpy() == t).mean() for b, t in test.prefix_batches(10_000)]
        assert hits[0] > 0.95
