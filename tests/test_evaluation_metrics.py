"""Metrics from ranks and top lists against plain-Python and scikit-learn references."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import ndcg_score, top_k_accuracy_score

from sessrec.evaluation import (
    TIES,
    MetricAccumulator,
    catalogue_coverage,
    mean_popularity,
    rank_metrics,
    target_ranks,
    top_k_items,
)


# ---------------------------------------------------------------------- references
def reference_metrics(ranks: list[float], k: int) -> dict[str, float]:
    n = len(ranks)
    return {
        f"recall@{k}": sum(1.0 for r in ranks if r <= k) / n,
        f"mrr@{k}": sum(1.0 / r for r in ranks if r <= k) / n,
        f"ndcg@{k}": sum(1.0 / math.log2(r + 1) for r in ranks if r <= k) / n,
    }


def reference_coverage(lists: list[list[int]], n_items: int, k: int) -> float:
    return len({i for lst in lists for i in lst[:k]}) / n_items


def reference_popularity(lists: list[list[int]], pop: list[float], k: int) -> float:
    top = max(pop)
    return sum(sum(pop[i] / top for i in lst[:k]) / len(lst[:k]) for lst in lists) / len(lists)


# ---------------------------------------------------------------------- worked example
def test_worked_example_by_hand():
    ranks = [1, 2, 4, 11]
    m = rank_metrics(ranks, cutoffs=(1, 5, 10))
    # recall@5: ranks 1, 2, 4 are hits -> 3/4
    assert m["recall@1"] == 0.25 and m["recall@5"] == 0.75 and m["recall@10"] == 0.75
    # mrr@5 = (1 + 1/2 + 1/4 + 0) / 4 = 0.4375
    assert m["mrr@5"] == pytest.approx(0.4375, abs=1e-15)
    # ndcg@5 = (1 + 1/log2(3) + 1/log2(5)) / 4 = (1 + 0.6309298 + 0.4306766) / 4
    assert m["ndcg@5"] == pytest.approx((1 + 0.63092975357 + 0.43067655807) / 4, abs=1e-10)
    # rank 11 only counts from K = 11 on
    assert rank_metrics(ranks, cutoffs=(11,))["mrr@11"] == pytest.approx((1 + 0.5 + 0.25 + 1 / 11) / 4)


def test_median_ranks_are_used_as_fractions():
    # median rank 2.5 -> mrr 0.4, ndcg 1/log2(3.5); rank 5.5 is not a hit at K = 5
    m = rank_metrics(torch.tensor([2.5, 5.5], dtype=torch.float64), cutoffs=(5, 6))
    assert m["recall@5"] == 0.5 and m["recall@6"] == 1.0
    assert m["mrr@5"] == pytest.approx(0.4 / 2, abs=1e-15)
    assert m["ndcg@5"] == pytest.approx(1 / math.log2(3.5) / 2, abs=1e-15)
    assert m["mrr@6"] == pytest.approx((0.4 + 1 / 5.5) / 2, abs=1e-15)


def test_coverage_and_popularity_by_hand():
    lists = torch.tensor([[0, 1, 2], [0, 3, 1]])
    assert catalogue_coverage(lists, n_items=8, k=1) == 1 / 8
    assert catalogue_coverage(lists, n_items=8, k=2) == 3 / 8
    assert catalogue_coverage(lists, n_items=8) == 4 / 8
    pop = np.array([10, 5, 0, 10, 1, 1, 1, 1])
    # K=2: case 0 -> (1 + .5)/2 = .75, case 1 -> (1 + 1)/2 = 1 -> mean .875
    assert mean_popularity(lists, pop, k=2) == pytest.approx(0.875, abs=1e-15)
    assert mean_popularity(lists, pop, k=1) == 1.0


# ---------------------------------------------------------------------- brute force
_ranks = st.lists(st.integers(1, 60), min_size=1, max_size=40)


@settings(max_examples=100, deadline=None)
@given(_ranks, st.lists(st.integers(1, 70), min_size=1, max_size=4, unique=True))
def test_rank_metrics_match_reference(ranks, cutoffs):
    got = rank_metrics(ranks, cutoffs)
    for k in cutoffs:
        for key, value in reference_metrics(ranks, k).items():
            assert got[key] == pytest.approx(value, rel=1e-12, abs=1e-15)


@settings(max_examples=100, deadline=None)
@given(_ranks, st.sampled_from([False, True]))
def test_monotone_in_k(ranks, halves):
    r = torch.tensor(ranks, dtype=torch.float64) - (0.5 if halves else 0.0)
    r = r.clamp(min=1)
    m = rank_metrics(r, cutoffs=range(1, 65))
    for name in ("recall", "mrr", "ndcg"):
        values = [m[f"{name}@{k}"] for k in range(1, 65)]
        assert all(b >= a for a, b in itertools.pairwise(values))
    assert all(m[f"mrr@{k}"] <= m[f"ndcg@{k}"] <= m[f"recall@{k}"] for k in range(1, 65))


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 25), st.integers(1, 10), st.integers(0, 2**31 - 1), st.integers(1, 30))
def test_coverage_popularity_match_reference(n_items, n_rows, seed, k):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 4, size=(n_rows, n_items)).astype(np.float32)  # plenty of ties
    pop = rng.integers(0, 20, size=n_items).astype(np.float64)
    pop[0] += 1  # a positive maximum
    lists = [sorted(range(n_items), key=lambda j, r=row: (-r[j], j))[:k] for row in scores]
    top = top_k_items(torch.from_numpy(scores), k)
    assert top.tolist() == lists
    assert catalogue_coverage(top, n_items) == reference_coverage(lists, n_items, k)
    assert mean_popularity(top, pop) == pytest.approx(reference_popularity(lists, list(pop), k), rel=1e-12)
    # the accumulator gives the same at every cutoff up to k, from one list at k
    acc = MetricAccumulator(range(1, k + 1), n_items, pop)
    acc.update(torch.ones(n_rows, dtype=torch.long), top)
    got = acc.compute()
    for c in range(1, k + 1):
        assert got[f"coverage@{c}"] == reference_coverage(lists, n_items, c)
        assert got[f"popularity@{c}"] == pytest.approx(reference_popularity(lists, list(pop), c), rel=1e-12)


# ---------------------------------------------------------------------- sklearn
def _distinct_scores(seed: int, n_rows: int, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    scores = np.stack([rng.permutation(n_items) for _ in range(n_rows)]).astype(np.float64)  # no ties
    return scores, rng.integers(0, n_items, size=n_rows)


@pytest.mark.parametrize("ties", TIES)
@pytest.mark.parametrize("k", [1, 3, 10])
def test_recall_equals_sklearn_top_k_accuracy(ties, k):
    scores, targets = _distinct_scores(1, 200, 25)
    ranks = target_ranks(torch.from_numpy(scores), torch.from_numpy(targets), ties)
    want = top_k_accuracy_score(targets, scores, k=k, labels=np.arange(25))
    assert rank_metrics(ranks, (k,))[f"recall@{k}"] == pytest.approx(want, abs=1e-15)


@pytest.mark.parametrize("ties", TIES)
@pytest.mark.parametrize("k", [1, 5, 25])
def test_ndcg_equals_sklearn_with_one_relevant_item(ties, k):
    scores, targets = _distinct_scores(2, 150, 25)
    relevance = np.zeros_like(scores)
    relevance[np.arange(len(targets)), targets] = 1.0
    ranks = target_ranks(torch.from_numpy(scores), torch.from_numpy(targets), ties)
    want = ndcg_score(relevance, scores, k=k)
    assert rank_metrics(ranks, (k,))[f"ndcg@{k}"] == pytest.approx(want, abs=1e-12)


# ---------------------------------------------------------------------- accumulator shell
def test_accumulator_chunks_merge_and_reset():
    rng = np.random.default_rng(3)
    ranks = torch.from_numpy(rng.integers(1, 40, size=100))
    tops = torch.from_numpy(np.stack([rng.permutation(40)[:10] for _ in range(100)]))
    pop = rng.integers(1, 9, size=40)
    whole = MetricAccumulator((5, 10), 40, pop)
    whole.update(ranks, tops)
    a, b = MetricAccumulator((10, 5), 40, pop), MetricAccumulator((5, 10), 40, pop)
    a.update(ranks[:37], tops[:37])
    b.update(ranks[37:], tops[37:])
    a.merge(b)
    got, want = a.compute(), whole.compute()
    assert got.keys() == want.keys()
    for key in want:
        assert got[key] == pytest.approx(want[key], rel=1e-13)
    reference = reference_metrics(ranks.tolist(), 10)
    assert want["mrr@10"] == pytest.approx(reference["mrr@10"], rel=1e-13)
    whole.reset()
    assert whole.n_cases == 0 and math.isnan(whole.compute()["recall@5"])


def test_accumulator_rejects_bad_input():
    acc = MetricAccumulator((5,), 10)
    with pytest.raises(ValueError, match="top_items"):
        acc.update(torch.tensor([1]))
    with pytest.raises(ValueError, match=r"\[1, 10\]"):
        acc.update(torch.tensor([0]), torch.zeros((1, 5), dtype=torch.long))
    with pytest.raises(ValueError, match="cutoffs"):
        MetricAccumulator((0, 5), 10)
    with pytest.raises(ValueError, match="cutoffs"):
        MetricAccumulator((), 10)
    with pytest.raises(ValueError, match=r"shape \(10,\)"):
        MetricAccumulator((5,), 10, np.ones(9))
    with pytest.raises(ValueError, match="all zeros"):
        MetricAccumulator((5,), 10, np.zeros(10))
