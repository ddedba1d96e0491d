"""SKNN, S-SKNN and SF-SKNN on a worked example, every number derived by hand.

Training sessions (item ids; default times = global click positions, so the last clicks are
at t = 2, 4, 8, 10)::

    s0 = [0, 1, 2]        distinct {0, 1, 2}      |n| = 3   last click t = 2
    s1 = [1, 3]           distinct {1, 3}         |n| = 2   t = 4
    s2 = [0, 2, 4, 2]     distinct {0, 2, 4}      |n| = 3   t = 8
    s3 = [3, 5]           distinct {3, 5}         |n| = 2   t = 10

Prefix [0, 1]: |s| = 2; candidates s0, s1, s2 (s3 shares nothing); overlaps a = 2, 1, 1.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sessrec_baselines import _knn_core
from sessrec_baselines.session_knn import SFSKNN, SKNN, SSKNN, score_decay

from sessrec.data.sessions import PrefixBatch, Sessions

TRAIN = [[0, 1, 2], [1, 3], [0, 2, 4, 2], [3, 5]]


def fit(cls, **params):
    return cls(**params).fit(Sessions.from_lists(TRAIN, n_items=6))


def scores(model, prefix=(0, 1)):
    return model.score(PrefixBatch.from_lists([list(prefix)]))[0].tolist()


def test_jaccard_scores_sum_similarities_of_neighbours_holding_the_item():
    # jaccard a / (|s| + |n| - a): s0 2/3, s1 1/3, s2 1/4
    # item 0: s0 + s2 = 11/12; item 1: s0 + s1 = 1; item 2: s0 + s2; item 3: s1; item 4: s2; item 5: none
    assert scores(fit(SKNN, k=10)) == pytest.approx([11 / 12, 1.0, 11 / 12, 1 / 3, 1 / 4, 0.0], abs=1e-12)


def test_tanimoto_equals_jaccard():
    assert scores(fit(SKNN, k=10, similarity="tanimoto")) == scores(fit(SKNN, k=10))


def test_cosine_divides_by_both_norms_and_the_code_multiplies():
    # paper: a / sqrt(|s| |n|): s0 2/sqrt6, s1 1/2, s2 1/sqrt6
    r6 = math.sqrt(6)
    paper = [3 / r6, 2 / r6 + 0.5, 3 / r6, 0.5, 1 / r6, 0.0]
    assert scores(fit(SKNN, k=10, similarity="cosine")) == pytest.approx(paper, abs=1e-12)
    # session-rec: a / sqrt(|n|) * sqrt(|s|) = the paper's value times |s| = 2 here
    code = scores(fit(SKNN, k=10, similarity="cosine", reference_code=True))
    assert code == pytest.approx([2 * v for v in paper], abs=1e-12)


def test_binary_similarity():
    # 2a / (2a + |s| + |n|): s0 4/9, s1 2/6, s2 2/7
    expected = [4 / 9 + 2 / 7, 4 / 9 + 1 / 3, 4 / 9 + 2 / 7, 1 / 3, 2 / 7, 0.0]
    assert scores(fit(SKNN, k=10, similarity="binary")) == pytest.approx(expected, abs=1e-12)


def test_k_keeps_the_most_similar_neighbours():
    # k=1: only s0 (jaccard 2/3) -> its items 0, 1, 2
    assert scores(fit(SKNN, k=1)) == pytest.approx([2 / 3, 2 / 3, 2 / 3, 0, 0, 0], abs=1e-12)


def test_recent_sampling_keeps_the_candidates_with_the_latest_last_click():
    # sample_size=2 of s0 (t=2), s1 (t=4), s2 (t=8): s2 and s1 -> jaccard s1 1/3, s2 1/4
    expected = [1 / 4, 1 / 3, 1 / 4, 1 / 3, 1 / 4, 0.0]
    assert scores(fit(SKNN, k=10, sample_size=2)) == pytest.approx(expected, abs=1e-12)


def test_equally_recent_candidates_are_sampled_in_training_order():
    # s0 and s1 both end at t=5, s2 at t=1: sample_size=1 keeps s0 (earlier position)
    train = Sessions.from_lists([[0, 1], [0, 2], [0, 3]], n_items=4, timestamps=[[4, 5], [4, 5], [0, 1]])
    m = SKNN(k=10, sample_size=1).fit(train)
    assert m.score(PrefixBatch.from_lists([[0]]))[0].tolist() == pytest.approx([0.5, 0.5, 0.0, 0.0])


def test_reminders_boost_the_last_three_clicks():
    # jaccard scores 11/12 (item 0), 1 (item 1); the tail [0, 1] gets counters 1, 2:
    # item 0 -> (11/12 + 5) * 5 + 0.01, item 1 -> (1 + 5) * 5 + 0.02
    s = scores(fit(SKNN, k=10, remind=True))
    assert s[0] == pytest.approx((11 / 12 + 5) * 5 + 0.01) and s[1] == pytest.approx(30.02)
    assert s[2:] == pytest.approx([11 / 12, 1 / 3, 1 / 4, 0.0])


def test_pop_boost_adds_relative_neighbour_counts():
    # neighbours holding each item: 0 -> 2, 1 -> 2, 2 -> 2, 3 -> 1, 4 -> 1; max 2
    base = [11 / 12, 1.0, 11 / 12, 1 / 3, 1 / 4, 0.0]
    pop = [1.0, 1.0, 1.0, 0.5, 0.5, 0.0]
    expected = [b + 0.5 * p for b, p in zip(base, pop)]
    assert scores(fit(SKNN, k=10, pop_boost=0.5)) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    ("weighting", "decay_s2"),
    [("div", 1 / 2), ("quadratic", 1 / 4), ("log", 1 / math.log10(2 + 1.7)), ("linear", 0.8), ("same", 1.0)],
)
def test_sequence_aware_decay_by_the_most_recent_shared_click(weighting, decay_s2):
    # s0 and s1 contain the last click (item 1, step 1: decay 1, except linear 1 - 0.1 = 0.9
    # and log 1 / log10(1 + 1.7)); s2 contains only item 0 (step 2)
    d1 = {"linear": 0.9, "log": 1 / math.log10(1 + 1.7)}.get(weighting, 1.0)
    j0, j1, j2 = 2 / 3, 1 / 3, 1 / 4
    expected = [j0 * d1 + j2 * decay_s2, (j0 + j1) * d1, j0 * d1 + j2 * decay_s2, j1 * d1, j2 * decay_s2, 0.0]
    assert scores(fit(SSKNN, k=10, weighting=weighting)) == pytest.approx(expected, abs=1e-12)


def test_linear_score_decay_is_clipped_at_zero_but_negative_in_the_code():
    steps = np.array([1, 10, 11, 100, 101])
    assert score_decay("linear", steps, False) == pytest.approx([0.9, 0.0, 0.0, 0.0, 0.0])
    assert score_decay("linear", steps, True) == pytest.approx([0.9, 0.0, -0.1, -9.0, 0.0])


def test_followed_by_filter_keeps_successors_of_the_last_click():
    # training successors of item 1: 2 (in s0) and 3 (in s1); jaccard scores 11/12 and 1/3
    assert scores(fit(SFSKNN, k=10)) == pytest.approx([0, 0, 11 / 12, 1 / 3, 0, 0], abs=1e-12)


def test_small_chunks_give_the_same_scores(monkeypatch):
    model = fit(SKNN, k=10)
    batch = PrefixBatch.from_lists([[0, 1], [3], [2, 4, 2], [5, 1]])
    whole = model.score(batch)
    monkeypatch.setattr(_knn_core, "CHUNK_ENTRIES", 1)
    parts = model.score(batch)
    assert torch.equal(whole, parts)


def test_truncated_item_lists_match_the_unsampled_pool():
    # a sample_size larger than every candidate pool equals no sampling at all
    batch = PrefixBatch.from_lists([[0, 1], [3], [2, 4, 2]])
    a = fit(SKNN, k=2, sample_size=50).score(batch)
    b = fit(SKNN, k=2, sample_size=0).score(batch)
    assert torch.equal(a, b)


def test_random_sampling_is_reproducible_and_samples_the_requested_number():
    batch = PrefixBatch.from_lists([[0, 1]])
    a = fit(SKNN, k=10, sample_size=2, sampling="random", random_state=3).score(batch)
    b = fit(SKNN, k=10, sample_size=2, sampling="random", random_state=3).score(batch)
    assert torch.equal(a, b)
    # two of the three candidates: the scores of item 1 (in s0 and s1) is one of the sums of two of them
    possible = {round(v, 12) for v in (2 / 3 + 1 / 3, 2 / 3, 1 / 3)}
    assert round(float(a[0, 1]), 12) in possible


def test_bad_parameters_raise_clear_errors():
    with pytest.raises(ValueError, match="similarity must be one of"):
        fit(SKNN, similarity="pearson")
    with pytest.raises(ValueError, match="k must be a positive integer"):
        fit(SKNN, k=0)
    with pytest.raises(ValueError, match="sampling must be"):
        fit(SKNN, sampling="oldest")


def test_tags_say_random_sampling_is_not_deterministic():
    assert SKNN.tags == {"oracle": "session", "deterministic": True}
    assert SKNN(sampling="random").tags["deterministic"] is False
    assert SFSKNN().tags == {"oracle": "sequence", "deterministic": True}


def test_items_without_training_clicks_are_never_ranked():
    # catalogue of 8 items, items 6 and 7 never clicked in training: -inf; item 5 (clicked) scores 0 here
    model = SKNN(k=10).fit(Sessions.from_lists(TRAIN, n_items=8))
    s = model.score(PrefixBatch.from_lists([[0, 1]]))[0].tolist()
    assert s[:6] == pytest.approx([11 / 12, 1.0, 11 / 12, 1 / 3, 1 / 4, 0.0]) and s[6:] == [-math.inf, -math.inf]
