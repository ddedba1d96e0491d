"""GRU4Rec: worked examples of the losses and the optimizer, session resets, scoring, learning.

References are independent of the implementation: hand-derived numbers, explicit numpy loops
written from the papers' formulas, a numpy GRU written from torch's documented equations.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sessrec_baselines._gru4rec_batches import SampleCache, build_plan
from sessrec_baselines._gru4rec_losses import bpr_max_loss, cross_entropy_loss, top1_max_loss
from sessrec_baselines._gru4rec_optim import AdagradM
from sessrec_baselines.gru4rec import GRU4Rec, load_paramfile, paramfile_names

from sessrec.data.sessions import PrefixBatch, Sessions


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models gain nothing from threads, and lose a lot on a shared, loaded CPU."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


SCORES = np.array([[0.5, -1.0, 2.0, 0.1], [1.5, 0.3, -0.7, 0.0], [-0.2, 0.8, 0.4, 1.2]])  # 3 rows, 1 sample


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def elu(x, a):
    return np.where(x > 0, x, a * (np.exp(x) - 1.0))


# ---------------------------------------------------------------------- losses
def test_cross_entropy_hand_example():
    # all-zero scores: every row's target has probability 1/2 -> loss 2 * log 2
    assert float(cross_entropy_loss(torch.zeros(2, 2))) == pytest.approx(2 * math.log(2))
    expected = 0.0
    for i, row in enumerate(SCORES):
        expected -= row[i] - math.log(sum(math.exp(v) for v in row))
    got = float(cross_entropy_loss(torch.tensor(SCORES)))
    assert got == pytest.approx(expected, rel=1e-12)


def test_cross_entropy_with_logq():
    counts = np.array([4.0, 1.0, 9.0, 3.0])  # item counts of the 4 columns
    alpha, logq = 0.5, 1.0
    # targets corrected by log(count), the sampled column by log(count ** alpha)
    log_q = logq * np.array([math.log(4.0), math.log(1.0), math.log(9.0), alpha * math.log(3.0)])
    expected = 0.0
    for i, row in enumerate(SCORES):
        z = row - log_q
        expected -= z[i] - math.log(sum(math.exp(v) for v in z))
    got = float(cross_entropy_loss(torch.tensor(SCORES), torch.tensor(log_q)))
    assert got == pytest.approx(expected, rel=1e-12)
    assert counts.shape == (4,)


def _bpr_max_reference(scores, bpreg, elu_param):
    r = elu(scores, elu_param) if elu_param > 0 else scores
    total = 0.0
    for i in range(r.shape[0]):
        neg = [j for j in range(r.shape[1]) if j != i]
        z = sum(math.exp(r[i, j]) for j in neg)
        s = {j: math.exp(r[i, j]) / z for j in neg}
        hit = sum(s[j] * sigmoid(r[i, i] - r[i, j]) for j in neg)
        reg = sum(s[j] * r[i, j] ** 2 for j in neg)
        total += -math.log(hit + 1e-24) + bpreg * reg
    return total


@pytest.mark.parametrize(("bpreg", "elu_param"), [(0.0, 0.0), (0.9, 0.0), (0.9, 1.0), (1.95, 0.5)])
def test_bpr_max_matches_formula(bpreg, elu_param):
    got = float(bpr_max_loss(torch.tensor(SCORES), bpreg, elu_param))
    assert got == pytest.approx(_bpr_max_reference(SCORES, bpreg, elu_param), rel=1e-12)


def test_bpr_max_hand_example():
    # zero scores: sigmoid(0) = 1/2, regulariser 0 -> 2 rows * log 2, whatever bpreg
    assert float(bpr_max_loss(torch.zeros(2, 3), bpreg=5.0)) == pytest.approx(2 * math.log(2))
    # one row, one negative at score 1, target at 0, bpreg 1: -log(sigmoid(-1)) + 1
    got = float(bpr_max_loss(torch.tensor([[0.0, 1.0]]), bpreg=1.0))
    assert got == pytest.approx(-math.log(1 / (1 + math.e)) + 1.0)


def test_bpr_max_ignores_target_column_in_softmax():
    a = torch.tensor(SCORES)
    b = a.clone()
    b[0, 0] += 3.0  # raise row 0's target: only the sigmoid terms change, not the weights
    r = SCORES.copy()
    r[0, 0] += 3.0
    assert float(bpr_max_loss(b, 0.5)) == pytest.approx(_bpr_max_reference(r, 0.5, 0.0), rel=1e-12)


def test_top1_max_matches_formula():
    expected = 0.0
    for i in range(SCORES.shape[0]):
        neg = [j for j in range(SCORES.shape[1]) if j != i]
        z = sum(math.exp(SCORES[i, j]) for j in neg)
        expected += sum(
            math.exp(SCORES[i, j]) / z * (sigmoid(SCORES[i, j] - SCORES[i, i]) + sigmoid(SCORES[i, j] ** 2))
            for j in neg
        )
    assert float(top1_max_loss(torch.tensor(SCORES))) == pytest.approx(expected, rel=1e-12)


# ---------------------------------------------------------------------- optimizer
def test_adagradm_dense_two_steps():
    w0 = np.array([[1.0, -2.0], [0.5, 0.0]])
    g1 = np.array([[0.2, -0.4], [1.0, 0.0]])
    g2 = np.array([[-0.1, 0.3], [0.5, 2.0]])
    lr, mom, eps = 0.1, 0.5, 1e-6
    p = torch.nn.Parameter(torch.tensor(w0))
    opt = AdagradM([p], lr=lr, momentum=mom)
    acc, m, w = np.zeros_like(w0), np.zeros_like(w0), w0.copy()
    for g in (g1, g2):
        p.grad = torch.tensor(g)
        opt.step()
        acc += g * g
        m = mom * m - lr * g / np.sqrt(acc + eps)
        w = w + m
    np.testing.assert_allclose(p.detach().numpy(), w, rtol=1e-12)


def test_adagradm_sparse_updates_touched_rows_only():
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=(5, 3))
    lr, mom, eps = 0.05, 0.4, 1e-6
    p = torch.nn.Parameter(torch.tensor(w0))
    opt = AdagradM([p], lr=lr, momentum=mom)
    acc, m, w = np.zeros_like(w0), np.zeros_like(w0), w0.copy()
    # step 1 touches rows 1 and 3 (row 3 twice: duplicates are summed first)
    # step 2 touches row 1 only: row 3 keeps its momentum frozen, it must not move
    steps = [([1, 3, 3], rng.normal(size=(3, 3))), ([1], rng.normal(size=(1, 3)))]
    for rows, vals in steps:
        p.grad = torch.sparse_coo_tensor(torch.tensor([rows]), torch.tensor(vals), (5, 3), check_invariants=True)
        opt.step()
        g = np.zeros_like(w0)
        for r, v in zip(rows, vals):
            g[r] += v
        touched = sorted(set(rows))
        for r in touched:
            acc[r] += g[r] ** 2
            m[r] = mom * m[r] - lr * g[r] / np.sqrt(acc[r] + eps)
            w[r] += m[r]
    np.testing.assert_allclose(p.detach().numpy(), w, rtol=1e-12)
    np.testing.assert_array_equal(p.detach().numpy()[[0, 2, 4]], w0[[0, 2, 4]])
    np.testing.assert_array_equal(opt.state[p]["acc"].numpy()[[0, 2, 4]], 0.0)


# ---------------------------------------------------------------------- session-parallel plan
def _random_sessions(seed, n_sessions=40, n_items=30):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, n_items, size=rng.integers(1, 9)).tolist() for _ in range(n_sessions)]


@pytest.mark.parametrize(("seed", "batch_size"), [(0, 4), (1, 7), (2, 64), (3, 1)])
def test_plan_resets_exactly_at_session_boundaries(seed, batch_size):
    lists = _random_sessions(seed)
    s = Sessions.from_lists(lists, n_items=30)
    plan = build_plan(s.items, s.offsets, batch_size)
    seen: dict[int, int] = {}  # session -> number of events seen so far
    prev = None
    for k in range(plan.n_steps):
        lo, hi = plan.step_offsets[k], plan.step_offsets[k + 1]
        sess = plan.sessions[lo:hi]
        if prev is not None and k in plan.keep:
            prev = prev[plan.keep[k]]
        expected_reset = np.arange(len(sess)) if prev is None else np.flatnonzero(prev != sess)
        np.testing.assert_array_equal(plan.reset.get(k, np.zeros(0, dtype=np.int64)), expected_reset)
        for row, sid in enumerate(sess):
            t = seen.get(int(sid), 0)
            assert (row in expected_reset) == (t == 0)
            assert plan.inputs[lo + row] == lists[sid][t]
            assert plan.targets[lo + row] == lists[sid][t + 1]
            seen[int(sid)] = t + 1
        prev = sess
    # every next-item event of every session is trained exactly once, sessions in order of first use
    assert seen == {i: len(x) - 1 for i, x in enumerate(lists) if len(x) >= 2}
    assert plan.n_rows == s.n_cases
    first_use = [int(x) for x in dict.fromkeys(plan.sessions.tolist())]
    assert first_use == sorted(first_use)


def test_plan_example_by_hand():
    # sessions [5 6 7] and [8 9], two slots: step 0 = (5->6, 8->9); then slot 1 ends with
    # no session left and is dropped; step 1 = (6->7)
    plan = build_plan(np.array([5, 6, 7, 8, 9]), np.array([0, 3, 5]), batch_size=2)
    assert plan.inputs.tolist() == [5, 8, 6]
    assert plan.targets.tolist() == [6, 9, 7]
    assert plan.step_offsets.tolist() == [0, 2, 3]
    assert plan.keep[1].tolist() == [0]
    assert 1 not in plan.reset


def test_sample_cache_distribution():
    counts = np.array([0.0, 1.0, 4.0, 16.0])
    alpha = 0.5
    cache = SampleCache(
        counts**alpha,
        n_sample=1000,
        max_size=50_000,
        generator=torch.Generator().manual_seed(0),
        device=torch.device("cpu"),
    )
    draws = torch.cat([cache.next() for _ in range(120)]).numpy()  # crosses a refill (50 per chunk)
    freq = np.bincount(draws, minlength=4) / len(draws)
    np.testing.assert_allclose(freq, np.array([0, 1, 2, 4]) / 7, atol=0.01)


# ---------------------------------------------------------------------- model helpers
def _successor_sessions(n_items=20, n_sessions=300, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_sessions):
        a, length = int(rng.integers(n_items)), int(rng.integers(2, 7))
        out.append([(a + k) % n_items for k in range(length)])
    return Sessions.from_lists(out, n_items=n_items)


SMALL = {
    "layers": (16,),
    "batch_size": 8,
    "n_sample": 8,
    "epochs": 2,
    "device": "cpu",
    "sample_cache_max_size": 2048,
    "random_state": 0,
}


def _fitted(**kw):
    params = {**SMALL, **kw}
    return GRU4Rec(**params).fit(_successor_sessions())


def test_training_hidden_state_is_reset_at_session_starts():
    train = _successor_sessions(n_sessions=60)
    model = GRU4Rec(**{**SMALL, "batch_size": 5, "dropout_p_hidden": 0.3})
    model.device_ = torch.device("cpu")
    model.network_ = model.build_network(train)
    optimizer = model.build_optimizer(model.network_)
    state = model.init_training(train, np.random.default_rng(0), torch.Generator().manual_seed(0))
    plan = state.plan
    seen: list[tuple[int, list[torch.Tensor]]] = []
    model.train_epoch(
        train,
        optimizer,
        state,
        hidden_hook=lambda k, h: seen.append((k, h)),
    )
    assert len(seen) == plan.n_steps
    starts = 0
    for k, hidden in seen:
        lo, hi = plan.step_offsets[k], plan.step_offsets[k + 1]
        new = plan.reset.get(k, np.zeros(0, dtype=np.int64))
        assert hidden[0].shape == (hi - lo, 16)
        zero_rows = np.flatnonzero((hidden[0] == 0).all(dim=1).numpy())
        np.testing.assert_array_equal(zero_rows, new)  # zero state exactly where a session starts
        starts += len(new)
    assert starts == sum(1 for n in train.lengths if n >= 2)


def _numpy_gru_scores(model, prefix):
    """Scores after ``prefix`` from torch's documented GRUCell equations, in numpy (shared mode)."""
    net = model.network_
    wy = net.item_out.detach().numpy().astype(np.float64)
    by = net.bias_out.detach().numpy().astype(np.float64)
    h = [np.zeros(n) for n in net.layers]
    for item in prefix:
        x = wy[item]
        for li, cell in enumerate(net.cells):
            wi, wh = cell.weight_ih.detach().numpy(), cell.weight_hh.detach().numpy()
            bi, bh = cell.bias_ih.detach().numpy(), cell.bias_hh.detach().numpy()
            gi, gh = wi @ x + bi, wh @ h[li] + bh
            n = len(h[li])
            r = sigmoid(gi[:n] + gh[:n])
            z = sigmoid(gi[n : 2 * n] + gh[n : 2 * n])
            c = np.tanh(gi[2 * n :] + r * gh[2 * n :])
            h[li] = (1 - z) * c + z * h[li]
            x = h[li]
    return wy @ h[-1] + by


@pytest.mark.parametrize("layers", [(16,), (12, 16)])
def test_score_matches_numpy_gru(layers):
    model = _fitted(layers=layers)
    prefixes = [[3], [3, 4, 5], [19, 0]]
    got = model.score(PrefixBatch.from_lists(prefixes)).numpy()
    for row, prefix in zip(got, prefixes):
        np.testing.assert_allclose(row, _numpy_gru_scores(model, prefix), rtol=1e-4, atol=1e-5)


def test_onehot_layer_matches_official_formula():
    model = _fitted(constrained_embedding=False, embedding=0)
    first = model.network_.first
    wx, wrz, wh, b = (t.detach().numpy().astype(np.float64) for t in (first.in_rows, first.w_rz, first.w_h, first.bias))
    n = first.n_hidden
    h = np.zeros(n)
    for item in [2, 3, 4]:
        v = wx[item] + b
        u = h @ wrz
        r = sigmoid(v[n : 2 * n] + u[:n])
        z = sigmoid(v[2 * n :] + u[n:])
        c = np.tanh((r * h) @ wh + v[:n])
        h = (1 - z) * h + z * c
    expected = model.network_.item_out.detach().numpy() @ h + model.network_.bias_out.detach().numpy()
    got = model.score(PrefixBatch.from_lists([[2, 3, 4]])).numpy()[0]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kw", [{}, {"constrained_embedding": False, "embedding": 6}, {"layers": (8, 16)}])
def test_score_sessions_equals_each_session_alone(kw):
    model = _fitted(**kw)
    sessions = [[1, 2, 3, 4], [7], [15, 16, 17], [0, 5]]
    fast = model.score_sessions(PrefixBatch.from_lists(sessions))
    rows = [model.score_sessions(PrefixBatch.from_lists([s])) for s in sessions]
    torch.testing.assert_close(fast, torch.cat(rows), rtol=1e-5, atol=1e-5)
    # and the prefix path from a reset state agrees row by row
    prefixes = [s[: t + 1] for s in sessions for t in range(len(s))]
    torch.testing.assert_close(fast, model.score(PrefixBatch.from_lists(prefixes)), rtol=1e-5, atol=1e-5)


def test_prefix_score_does_not_depend_on_the_batch():
    model = _fitted()
    alone = model.score(PrefixBatch.from_lists([[4, 5]]))
    mixed = model.score(PrefixBatch.from_lists([[9, 10, 11, 12, 13], [4, 5], [1]]))
    torch.testing.assert_close(mixed[1:2], alone, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("loss", ["cross-entropy", "bpr-max", "top1-max"])
def test_learns_deterministic_successor(loss):
    model = _fitted(loss=loss, epochs=6, learning_rate=0.1, logq=1.0 if loss == "cross-entropy" else 0.0)
    prefixes = [[a] for a in range(20)]
    top = model.score(PrefixBatch.from_lists(prefixes)).argmax(dim=1).numpy()
    assert (top == (np.arange(20) + 1) % 20).mean() >= 0.9


def test_determinism_with_random_state():
    batch = PrefixBatch.from_lists([[1, 2], [5]])
    a = _fitted(dropout_p_hidden=0.2).score(batch)
    b = _fitted(dropout_p_hidden=0.2).score(batch)
    c = _fitted(dropout_p_hidden=0.2, random_state=1).score(batch)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.allclose(a, c)


def test_logq_columns():
    model = GRU4Rec(loss="cross-entropy", logq=0.5, sample_alpha=0.25)
    log_pop = torch.log(torch.tensor([1.0, 2.0, 4.0, 8.0]))
    scores = torch.tensor(SCORES[:2])  # 2 rows; columns: 2 targets then 2 samples
    cols = torch.tensor([3, 1, 2, 2])
    log_q = 0.5 * np.log([8.0, 2.0, 4.0**0.25, 4.0**0.25])
    expected = float(cross_entropy_loss(scores, torch.tensor(log_q)))
    assert float(model._step_loss(scores, cols, 2, log_pop)) == pytest.approx(expected, rel=1e-6)


def test_invalid_parameters_are_explained():
    train = _successor_sessions(n_sessions=10)
    with pytest.raises(ValueError, match="unknown loss 'bpr'"):
        GRU4Rec(loss="bpr").fit(train)
    with pytest.raises(ValueError, match="dropout_p_embed"):
        GRU4Rec(dropout_p_embed=1.0).fit(train)


# ---------------------------------------------------------------------- parameter files
def test_paramfiles_hold_the_readme_values():
    assert {"diginetica-bprmax", "retailrocket-bprmax", "coveo-bprmax", "yoochoose-xe", "rees46-xe"} <= set(
        paramfile_names()
    )
    # README "Best hyperparameters", Diginetica row, typed in by hand
    p = load_paramfile("diginetica-bprmax")
    assert p["params"] == {
        "loss": "bpr-max",
        "constrained_embedding": True,
        "embedding": 0,
        "elu_param": 1.0,
        "layers": (512,),
        "epochs": 10,
        "batch_size": 128,
        "dropout_p_embed": 0.5,
        "dropout_p_hidden": 0.3,
        "learning_rate": 0.05,
        "momentum": 0.15,
        "n_sample": 2048,
        "sample_alpha": 0.3,
        "bpreg": 0.9,
        "logq": 0.0,
    }
    assert p["provenance"]["repository"] == "hidasib/GRU4Rec_PyTorch_Official"
    rr = load_paramfile("retailrocket-bprmax")["params"]
    assert (rr["layers"], rr["batch_size"], rr["elu_param"], rr["bpreg"], rr["sample_alpha"]) == (
        (224,),
        80,
        0.5,
        1.95,
        0.4,
    )
    yc = load_paramfile("yoochoose-xe")["params"]
    assert (yc["loss"], yc["layers"], yc["batch_size"], yc["learning_rate"], yc["logq"]) == (
        "cross-entropy",
        (480,),
        48,
        0.07,
        1.0,
    )


def test_from_paramfile_and_overrides():
    m = GRU4Rec.from_paramfile("rees46-xe", epochs=1, random_state=3)
    assert (m.layers, m.batch_size, m.loss, m.epochs, m.random_state) == ((512,), 240, "cross-entropy", 1, 3)
    with pytest.raises(ValueError, match=r"available: .*diginetica-bprmax"):
        GRU4Rec.from_paramfile("diginetika")


# ---------------------------------------------------------------------- CUDA
@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_fit_and_fast_path():
    model = _fitted(device="cuda", epochs=6, learning_rate=0.1)
    assert model.network_.item_out.device.type == "cuda"
    sessions = [[1, 2, 3], [7, 8]]
    fast = model.score_sessions(PrefixBatch.from_lists(sessions))
    slow = model.score(PrefixBatch.from_lists([s[: t + 1] for s in sessions for t in range(len(s))]))
    torch.testing.assert_close(fast, slow, rtol=1e-4, atol=1e-4)
    top = model.score(PrefixBatch.from_lists([[a] for a in range(20)])).argmax(dim=1).cpu().numpy()
    assert (top == (np.arange(20) + 1) % 20).mean() >= 0.9
