"""Item-KNN: hand-computed worked example and a brute-force check of the similarity."""

import itertools
import math

import numpy as np
import pytest
import torch
from sessrec_baselines.iknn import ItemKNN

from sessrec import PrefixBatch, Sessions

# Training log (6 items; item 5 is never clicked):
#   s0: 0 1 2
#   s1: 0 1
#   s2: 1 3
#   s3: 2 2 0      (item 2 clicked twice: still one session)
#   s4: 3 4
# Sessions containing each item: supp = [3, 3, 2, 2, 1, 0]
# Sessions containing both: co(0,1) = 2 (s0, s1), co(0,2) = 2 (s0, s3), co(1,2) = 1 (s0),
#                           co(1,3) = 1 (s2), co(3,4) = 1 (s4); every other pair 0.
TRAIN = Sessions.from_lists([[0, 1, 2], [0, 1], [1, 3], [2, 2, 0], [3, 4]], n_items=6)


def test_similarity_by_hand_cosine_with_lambda():
    # lmbd = 1, alpha = 0.5: sim(i, j) = co(i, j) / sqrt((supp(i) + 1) * (supp(j) + 1))
    m = ItemKNN(n_neighbors=100, alpha=0.5, lmbd=1.0).fit(TRAIN)
    assert m.support_.tolist() == [3, 3, 2, 2, 1, 0]
    expected = np.zeros((6, 6))
    expected[0, 1] = expected[1, 0] = 2 / math.sqrt(4 * 4)  # 0.5
    expected[0, 2] = expected[2, 0] = 2 / math.sqrt(4 * 3)  # 0.5774
    expected[1, 2] = expected[2, 1] = 1 / math.sqrt(4 * 3)  # 0.2887
    expected[1, 3] = expected[3, 1] = 1 / math.sqrt(4 * 3)  # 0.2887
    expected[3, 4] = expected[4, 3] = 1 / math.sqrt(3 * 2)  # 0.4082
    np.testing.assert_allclose(m.similarity_.toarray(), expected, rtol=1e-12, atol=0)


def test_similarity_by_hand_asymmetric_alpha():
    # alpha = 0.75, lmbd = 1: sim(2, 0) = 2 / ((2+1)**0.75 * (3+1)**0.25), sim(0, 2) = 2 / (4**0.75 * 3**0.25)
    m = ItemKNN(alpha=0.75, lmbd=1.0).fit(TRAIN)
    sim = m.similarity_.toarray()
    assert sim[2, 0] == pytest.approx(2 / (3**0.75 * 4**0.25), rel=1e-12)
    assert sim[0, 2] == pytest.approx(2 / (4**0.75 * 3**0.25), rel=1e-12)


def test_scores_by_hand_with_boundary_ties_kept():
    # n_neighbors = 2, lmbd = 1, alpha = 0.5
    # row 1: neighbours 0 (0.5), 2 (0.2887), 3 (0.2887): the 2nd largest is 0.2887, tied by 2 and 3 -> keep all three
    # row 0: neighbours 1 (0.5), 2 (0.5774): both kept
    m = ItemKNN(n_neighbors=2, alpha=0.5, lmbd=1.0).fit(TRAIN)
    scores = m.score(PrefixBatch.from_lists([[3, 1], [1, 0], [4], [5], [2, 2]]))
    a, b, c, d = 0.5, 2 / math.sqrt(12), 1 / math.sqrt(12), 1 / math.sqrt(6)
    # distinct kept similarities in increasing order: c = 0.2887, d = 0.4082, a = 0.5, b = 0.5774
    # -> score codes c: 1, d: 2, a: 3, b: 4 (0 for non-neighbours)
    np.testing.assert_allclose(m.score_codes_, [0, c, d, a, b], rtol=1e-12, atol=0)
    assert scores.tolist() == [
        [3, 0, 1, 1, 0, 0],  # last 1: sim a to 0, c to 2 and 3 (tied at the boundary, both kept)
        [0, 3, 4, 0, 0, 0],  # last 0: a to 1, b to 2
        [0, 0, 0, 2, 0, 0],  # last 4: d to 3
        [0, 0, 0, 0, 0, 0],  # last 5, never seen: all zero
        [4, 1, 0, 0, 0, 0],  # last 2: b to 0, c to 1; not its own neighbour
    ]
    assert scores.dtype == torch.float32


def test_n_neighbors_one_keeps_only_the_best():
    # row 1 with n_neighbors = 1: 0 (0.5) beats 2 and 3 (0.2887) -> only 0 kept
    # row 0: 2 (0.5774) beats 1 (0.5) -> only 2 kept
    m = ItemKNN(n_neighbors=1, alpha=0.5, lmbd=1.0).fit(TRAIN)
    scores = m.score(PrefixBatch.from_lists([[1], [0]])).numpy()
    assert np.flatnonzero(scores[0]).tolist() == [0]
    assert np.flatnonzero(scores[1]).tolist() == [2]


def _brute_force_similarity(seqs, n_items, n_neighbors, alpha, lmbd):
    """Python loops over item pairs, straight from the definition."""
    sets = [set(s) for s in seqs]
    supp = [sum(i in s for s in sets) for i in range(n_items)]
    sim = np.zeros((n_items, n_items))
    for i, j in itertools.permutations(range(n_items), 2):
        co = sum(i in s and j in s for s in sets)
        if co:
            sim[i, j] = co / ((supp[i] + lmbd) ** alpha * (supp[j] + lmbd) ** (1 - alpha))
    for i in range(n_items):
        positive = sorted((v for v in sim[i] if v > 0), reverse=True)
        if len(positive) > n_neighbors:
            threshold = positive[n_neighbors - 1]
            sim[i][sim[i] < threshold] = 0.0
    return sim


@pytest.mark.parametrize(
    ("n_neighbors", "alpha", "lmbd"), [(3, 0.5, 20.0), (1, 0.3, 0.0), (5, 0.9, 2.0), (100, 0.5, 20.0)]
)
def test_similarity_matches_brute_force_on_random_logs(n_neighbors, alpha, lmbd):
    rng = np.random.default_rng(n_neighbors)
    n_items = 25
    # few distinct items per session so that many similarities tie exactly
    seqs = [rng.integers(0, n_items, size=int(rng.integers(1, 6))).tolist() for _ in range(120)]
    m = ItemKNN(n_neighbors=n_neighbors, alpha=alpha, lmbd=lmbd).fit(Sessions.from_lists(seqs, n_items=n_items))
    expected = _brute_force_similarity(seqs, n_items, n_neighbors, alpha, lmbd)
    np.testing.assert_allclose(m.similarity_.toarray(), expected, rtol=1e-12, atol=0)
    # and the scores of a prefix are the row of its last item
    last = [int(seqs[0][-1]), 3]
    scores = m.score(PrefixBatch.from_lists([seqs[0], [7, 3]])).numpy()
    np.testing.assert_allclose(m.score_codes_[scores.astype(np.int64)], expected[last], rtol=1e-12, atol=0)


def test_result_does_not_depend_on_item_order():
    rng = np.random.default_rng(5)
    seqs = [rng.integers(0, 20, size=int(rng.integers(2, 5))).tolist() for _ in range(80)]
    perm = rng.permutation(20)
    a = ItemKNN(n_neighbors=2).fit(Sessions.from_lists(seqs, n_items=20)).similarity_.toarray()
    b = ItemKNN(n_neighbors=2).fit(Sessions.from_lists([perm[s].tolist() for s in seqs], n_items=20))
    np.testing.assert_allclose(b.similarity_.toarray()[np.ix_(perm, perm)], a, rtol=1e-12, atol=0)


def test_invalid_parameters_say_what_was_expected():
    with pytest.raises(ValueError, match="n_neighbors must be a positive integer"):
        ItemKNN(n_neighbors=0).fit(TRAIN)
    with pytest.raises(ValueError, match="lmbd must be >= 0"):
        ItemKNN(lmbd=-1).fit(TRAIN)


def test_scores_keep_apart_similarities_that_float32_would_merge():
    # lmbd = 1e9: sim(0, 1) = 1 / sqrt((2 + 1e9) * (1 + 1e9)) and sim(0, 2) = 1 / sqrt((2 + 1e9) * (2 + 1e9))
    # differ by a relative 5e-10, far below float32's resolution (2**-24 = 6e-8): float32 values would tie
    train = Sessions.from_lists([[0, 1], [0, 2], [2, 3]], n_items=4)
    m = ItemKNN(lmbd=1e9).fit(train)
    a, b = 1 / math.sqrt((2 + 1e9) * (1 + 1e9)), 1 / math.sqrt((2 + 1e9) * (2 + 1e9))
    assert np.float32(a) == np.float32(b) and a != b
    s = m.score(PrefixBatch.from_lists([[0]]))[0]
    assert s.dtype == torch.float32
    assert s[1] > s[2] > 0
    assert m.score_codes_[int(s[1])] == pytest.approx(a, rel=1e-12)
    assert m.score_codes_[int(s[2])] == pytest.approx(b, rel=1e-12)
