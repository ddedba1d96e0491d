"""POP and S-POP: hand-computed worked examples and exact tie-breaking at scale."""

import numpy as np
import torch
from sessrec_baselines.pop import Pop
from sessrec_baselines.spop import SPop

from sessrec import PrefixBatch, Sessions

# Training log: item clicks 0:3, 1:4, 2:1, 3:1, 4:0 (5 items, item 4 never clicked)
TRAIN = Sessions.from_lists([[0, 1, 1], [1, 0, 2], [3, 1, 0]], n_items=5)


def test_pop_counts_training_clicks():
    scores = Pop().fit(TRAIN).score(PrefixBatch.from_lists([[2], [4, 4]]))
    assert scores.tolist() == [[3, 4, 1, 1, 0]] * 2


def test_spop_prefix_count_then_popularity():
    m = SPop().fit(TRAIN)
    # popularity levels: counts {0,1,3,4} -> dense ranks 0:2, 1:3, 2:1, 3:1, 4:0, n_levels = 4
    assert m.pop_level_.tolist() == [2, 3, 1, 1, 0]
    scores = m.score(PrefixBatch.from_lists([[2, 4, 2], [3]]))
    # prefix [2, 4, 2]: counts 2:2, 4:1 -> 2*4+1 = 9 and 1*4+0 = 4; others their level
    assert scores.tolist() == [[2, 3, 9, 1, 4], [2, 3, 1, 5, 0]]
    ranking = torch.argsort(scores[0], descending=True, stable=True).tolist()
    assert ranking == [2, 4, 1, 0, 3]  # prefix items first, in-prefix count order, then by popularity


def test_spop_items_equal_on_both_keys_tie():
    scores = SPop().fit(TRAIN).score(PrefixBatch.from_lists([[0]]))
    assert scores[0, 2] == scores[0, 3]  # items 2 and 3: not in prefix, both clicked once


def test_spop_exact_with_100k_items():
    rng = np.random.default_rng(0)
    n = 100_000
    clicks = rng.integers(0, n, size=400_000)
    train = Sessions(clicks, np.array([0, len(clicks)]), np.zeros(len(clicks)), n)
    m = SPop().fit(train)
    prefix = rng.integers(0, n, size=300).tolist() + [7] * 50  # counts up to 50+
    s = m.score(PrefixBatch.from_lists([prefix]))[0].numpy()
    counts = np.bincount(prefix, minlength=n)
    pop = train.item_counts()
    # brute-force lexicographic order on (prefix count, popularity) must match score order
    keys = counts.astype(np.int64) * (pop.max() + 1) + pop
    order_scores = np.lexsort((np.arange(n), -s))
    order_keys = np.lexsort((np.arange(n), -keys))
    assert np.array_equal(order_scores, order_keys)
    # and equal keys <-> equal scores
    assert np.array_equal(np.unique(s, return_inverse=True)[1], np.unique(keys, return_inverse=True)[1])
    assert s.max() < 2**53


def test_spop_fast_path_running_counts():
    m = SPop().fit(TRAIN)
    fast = m.score_sessions(PrefixBatch.from_lists([[2, 4, 2], [3, 3]]))
    slow = m.score(PrefixBatch.from_lists([[2], [2, 4], [2, 4, 2], [3], [3, 3]]))
    assert torch.equal(fast, slow)
