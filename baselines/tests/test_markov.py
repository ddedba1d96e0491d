"""Markov chain: hand-computed worked example and exact (count, popularity) ordering at scale."""

import itertools

import numpy as np
import torch
from sessrec_baselines.markov import Markov

from sessrec import PrefixBatch, Sessions

# Training log (6 items; item 5 is never clicked):
#   s0: 0 1 2        pairs 0->1, 1->2
#   s1: 0 1 0        pairs 0->1, 1->0
#   s2: 1 2 2 3      pairs 1->2, 2->2, 2->3
#   s3: 0 2          pair  0->2
#   s4: 4 0          pair  4->0
# Transition counts: 0->1: 2, 0->2: 1, 1->2: 2, 1->0: 1, 2->2: 1, 2->3: 1, 4->0: 1.
# Click counts: item 0: 1+2+1+1 = 5, item 1: 1+1+1 = 3, item 2: 1+2+1 = 4, items 3, 4: 1, item 5: 0.
# Distinct click counts {0, 1, 3, 4, 5} -> dense popularity ranks: 0:4, 1:2, 2:3, 3:1, 4:1, 5:0
# and n_pop_ranks = 5, so score(j) = count(last -> j) * 5 + pop_rank(j).
TRAIN = Sessions.from_lists([[0, 1, 2], [0, 1, 0], [1, 2, 2, 3], [0, 2], [4, 0]], n_items=6)


def test_counts_and_popularity_ranks_by_hand():
    m = Markov().fit(TRAIN)
    assert m.pop_rank_.tolist() == [4, 2, 3, 1, 1, 0]
    assert m.n_pop_ranks_ == 5
    assert m.transitions_.toarray().tolist() == [
        [0, 2, 1, 0, 0, 0],
        [1, 0, 2, 0, 0, 0],
        [0, 0, 1, 1, 0, 0],
        [0, 0, 0, 0, 0, 0],
        [1, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0],
    ]


def test_scores_by_hand():
    m = Markov().fit(TRAIN)
    scores = m.score(PrefixBatch.from_lists([[3, 0], [2, 1], [0, 1, 2], [3], [5]]))
    assert scores.tolist() == [
        # last 0: item 1: 2*5+2 = 12, item 2: 1*5+3 = 8, others their popularity rank
        [4, 12, 8, 1, 1, 0],
        # last 1: item 0: 1*5+4 = 9, item 2: 2*5+3 = 13
        [9, 2, 13, 1, 1, 0],
        # last 2: item 2: 1*5+3 = 8, item 3: 1*5+1 = 6
        [4, 2, 8, 6, 1, 0],
        # last 3 has no successor: popularity ranks alone
        [4, 2, 3, 1, 1, 0],
        # last 5 never clicked: popularity ranks alone
        [4, 2, 3, 1, 1, 0],
    ]
    # max score (2+1)*5-1 = 14 <= 2**24: exact in float32
    assert scores.dtype == torch.float32


def test_ties_broken_by_popularity_and_only_then_tied():
    m = Markov().fit(TRAIN)
    s = m.score(PrefixBatch.from_lists([[2]]))[0]
    # items 2 and 3 both follow 2 once; 2 is more popular (4 clicks vs 1) so it ranks first
    assert s[2] > s[3]
    # items 3 and 4 are equal on both keys for last=1 (count 0, 1 click each): a true tie
    assert m.score(PrefixBatch.from_lists([[1]]))[0, 3] == m.score(PrefixBatch.from_lists([[1]]))[0, 4]


def _brute_force_transition_counts(sessions: list[list[int]], n_items: int) -> np.ndarray:
    counts = np.zeros((n_items, n_items), dtype=np.int64)
    for seq in sessions:
        for a, b in itertools.pairwise(seq):
            counts[a, b] += 1
    return counts


def test_exact_lexicographic_order_with_100k_items():
    rng = np.random.default_rng(0)
    n = 100_000
    # many sessions over a Zipf-ish catalogue (many distinct popularity counts) ...
    lengths = rng.integers(2, 9, size=40_000)
    clicks = rng.zipf(1.3, size=int(lengths.sum())) % n
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    # ... plus one very long session alternating 7, 8 so that count(7 -> 8) = 300,000:
    # max score = (300_000 + 1) * n_pop_ranks - 1 > 2**24, so float32 would not be exact
    long_session = np.tile([7, 8], 300_000)
    items = np.concatenate([clicks, long_session])
    offsets = np.concatenate([offsets, [len(items)]])
    train = Sessions(items, offsets, np.arange(len(items), dtype=np.float64), n)
    m = Markov().fit(train)
    assert m.score_dtype_ == torch.float64
    pop = np.bincount(items, minlength=n)
    for last in [7, 8, int(clicks[0]), n - 1]:
        s = m.score(PrefixBatch.from_lists([[last]]))[0].numpy()
        # independent transition counts of `last`, straight from the click list
        src, dst = items[:-1], items[1:]
        same = np.ones(len(items) - 1, dtype=bool)
        same[offsets[1:-1] - 1] = False
        count = np.bincount(dst[same & (src == last)], minlength=n)
        # the order of scores must be the lexicographic order of (count, popularity)
        by_score = np.lexsort((np.arange(n), -s))
        by_keys = np.lexsort((np.arange(n), -pop, -count))
        assert np.array_equal(by_score, by_keys)
        # and two items tie exactly when both keys are equal: no collision, no split
        pairs = count.astype(np.int64) * (pop.max() + 1) + pop
        assert np.array_equal(
            np.unique(s, return_inverse=True)[1].ravel(), np.unique(pairs, return_inverse=True)[1].ravel()
        )
    assert float(s.max()) < 2**53


def test_transitions_match_brute_force_on_random_log():
    rng = np.random.default_rng(1)
    seqs = [rng.integers(0, 15, size=int(rng.integers(1, 7))).tolist() for _ in range(60)]
    m = Markov().fit(Sessions.from_lists(seqs, n_items=15))
    assert np.array_equal(m.transitions_.toarray(), _brute_force_transition_counts(seqs, 15))


def test_fast_path_equals_per_prefix_scores():
    m = Markov().fit(TRAIN)
    fast = m.score_sessions(PrefixBatch.from_lists([[3, 0, 1], [4]]))
    slow = m.score(PrefixBatch.from_lists([[3], [3, 0], [3, 0, 1], [4]]))
    assert torch.equal(fast, slow)
