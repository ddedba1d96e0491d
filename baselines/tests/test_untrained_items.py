"""Items without a training click: never ranked, never sampled (issue 11).

The reference implementations build their item index from the training data, so an item
with no training click does not exist for them. Fitted on sessions over items 0..19 of a
30-item catalogue, every learning model must score items 20..29 ``-inf`` (and the others
finitely), and GRU4Rec with ``logq > 0, sample_alpha = 0`` must train with the official loss.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sessrec_baselines.bprmf import BPRMF
from sessrec_baselines.common import other_items
from sessrec_baselines.fpmc import FPMC
from sessrec_baselines.gru4rec import GRU4Rec
from sessrec_baselines.narm import NARM

from sessrec import PrefixBatch, Sessions

N_ITEMS, N_TRAINED = 30, 20


def _train(seed: int = 0) -> Sessions:
    rng = np.random.default_rng(seed)
    sessions = []
    for _ in range(80):
        start, length = int(rng.integers(N_TRAINED)), int(rng.integers(2, 6))
        sessions.append([(start + k) % N_TRAINED for k in range(length)])
    return Sessions.from_lists(sessions, n_items=N_ITEMS)


MODELS = {
    "gru4rec": lambda: GRU4Rec(layers=(8,), batch_size=8, n_sample=8, epochs=1, sample_cache_max_size=512),
    "narm": lambda: NARM(embedding_dim=8, hidden_size=8, epochs=1, batch_size=64),
    "bprmf": lambda: BPRMF(n_factors=8, epochs=1),
    "fpmc": lambda: FPMC(n_factors=8, epochs=1),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_untrained_items_score_minus_inf(name):
    model = MODELS[name]().set_params(device="cpu", random_state=0)
    model.fit(_train())
    prefixes = [[0], [3, 4], [19, 25], [27]]  # an untrained item may still appear in a prefix
    scores = model.score(PrefixBatch.from_lists(prefixes))
    assert torch.isneginf(scores[:, N_TRAINED:]).all()
    assert torch.isfinite(scores[:, :N_TRAINED]).all()
    fast = model.score_sessions(PrefixBatch.from_lists([[0, 1, 2], [19, 25]]))  # the fast path too
    assert torch.isneginf(fast[:, N_TRAINED:]).all() and torch.isfinite(fast[:, :N_TRAINED]).all()


def test_bpr_negatives_come_from_trained_items_only():
    candidates = np.array([1, 4, 6, 9])
    positives = np.repeat(candidates, 500)
    draws = other_items(positives, candidates, np.random.default_rng(0))
    assert set(draws.tolist()) == {1, 4, 6, 9}
    assert not (draws == positives).any()
    for p in candidates:  # uniform over the other three
        freq = np.bincount(draws[positives == p], minlength=10)[candidates[candidates != p]] / 500
        np.testing.assert_allclose(freq, 1 / 3, atol=0.07)


def test_bpr_negatives_on_a_full_catalogue_are_unchanged():
    """With every item trained the draw is the former one: uniform over [0, n) without the positive."""
    positives = np.random.default_rng(1).integers(0, 7, size=200)
    rng_a, rng_b = np.random.default_rng(2), np.random.default_rng(2)
    former = rng_a.integers(0, 6, size=200)
    np.testing.assert_array_equal(other_items(positives, np.arange(7), rng_b), former + (former >= positives))


def test_gru4rec_logq_with_alpha_zero_trains_and_never_samples_untrained_items():
    """``logq=1, sample_alpha=0`` (a published tuned Diginetica cross-entropy setup) with untrained items."""
    train = _train()
    model = GRU4Rec(
        layers=(8,), loss="cross-entropy", logq=1.0, sample_alpha=0.0, n_sample=16, batch_size=8, epochs=2,
        sample_cache_max_size=256, device="cpu", random_state=0,
    ).fit(train)  # fmt: skip
    assert all(np.isfinite(h["loss"]) for h in model.history_)
    model.network_ = model.build_network(train)
    state = model.init_training(train, np.random.default_rng(0), torch.Generator().manual_seed(0))
    drawn = torch.cat([state.cache.next() for _ in range(2000)]).numpy()
    assert drawn.max() < N_TRAINED  # only items with training clicks are sampled ...
    np.testing.assert_allclose(np.bincount(drawn, minlength=N_TRAINED) / len(drawn), 1 / N_TRAINED, atol=0.006)


def test_gru4rec_logq_loss_equals_the_official_formula():
    """The step loss with ``logq=1, sample_alpha=0`` on a catalogue holding untrained items is
    the official ``-sum log softmax(O - logq * log([P0[Y[:M]], P0[Y[M:]] ** alpha]))`` (diag)."""
    counts = np.array([3.0, 1.0, 0.0, 5.0, 0.0, 2.0])  # items 2 and 4 untrained
    model = GRU4Rec(loss="cross-entropy", logq=1.0, sample_alpha=0.0)
    with np.errstate(divide="ignore"):
        log_pop = torch.from_numpy(np.log(counts)).float()
    cols = torch.tensor([0, 3, 5, 1, 3])  # 2 targets, 3 samples (never 2 or 4)
    scores = torch.tensor([[0.5, -1.0, 2.0, 0.1, 0.3], [1.5, 0.2, -0.4, 0.9, 0.0]])
    o = scores.double().numpy()
    p0 = counts[cols.numpy()]
    corrected = o - np.log(np.concatenate([p0[:2], p0[2:] ** 0.0]))
    log_softmax = corrected - np.log(np.exp(corrected).sum(axis=1, keepdims=True))
    official = -(log_softmax[0, 0] + log_softmax[1, 1])
    assert float(model._step_loss(scores, cols, 2, log_pop)) == pytest.approx(official, rel=1e-6)
