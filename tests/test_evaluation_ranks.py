"""target_ranks and top_k_items against plain-Python references (ties, -inf, NaN)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sessrec.evaluation import TIES, target_ranks, top_k_items

NEG = float("-inf")


# ---------------------------------------------------------------------- references
def reference_rank(row: list[float], target: int, ties: str) -> float:
    """Rank of row[target] by the definitions, one comparison at a time."""
    s_t = row[target]
    at_least = sum(1 for s in row if s >= s_t)
    above = sum(1 for s in row if s > s_t)
    if ties == "conservative":
        return at_least
    if ties == "optimistic":
        return above + 1
    return (at_least + above + 1) / 2


def reference_top_k(row: list[float], k: int) -> list[int]:
    """The documented order: higher score first, then lower item_idx."""
    return sorted(range(len(row)), key=lambda j: (-row[j], j))[:k]


# ---------------------------------------------------------------------- worked example
def test_worked_example_by_hand():
    # item:     0    1    2    3    4
    scores = [[0.9, 0.5, 0.5, 0.5, NEG], [0.1, 0.2, 0.3, 0.4, 0.5], [NEG, NEG, 1.0, NEG, NEG]]
    targets = [2, 0, 4]
    s, t = torch.tensor(scores), torch.tensor(targets)
    # row 0: 0.9 beats the target, items 1,2,3 share 0.5 -> conservative 4, optimistic 2
    # row 1: target is the lowest of five distinct scores -> 5 either way
    # row 2: target is -inf like three others -> conservative 4 (all -inf tie), optimistic 2
    assert target_ranks(s, t, "conservative").tolist() == [4, 5, 5]
    assert target_ranks(s, t, "optimistic").tolist() == [2, 5, 2]
    assert target_ranks(s, t, "median").tolist() == [3.0, 5.0, 3.5]
    assert target_ranks(s, t).dtype == torch.int64
    assert target_ranks(s, t, "median").dtype == torch.float64
    # top lists: row 0 -> 0, then the 0.5 group by item_idx; row 2: the -inf group by item_idx
    assert top_k_items(s, 3).tolist() == [[0, 1, 2], [4, 3, 2], [2, 0, 1]]


def test_all_minus_inf_row():
    s = torch.full((1, 4), NEG)
    assert target_ranks(s, torch.tensor([1]), "conservative").item() == 4
    assert target_ranks(s, torch.tensor([1]), "optimistic").item() == 1
    assert top_k_items(s, 2).tolist() == [[0, 1]]


# ---------------------------------------------------------------------- brute force, hypothesis
_values = st.sampled_from([NEG, -1.0, 0.0, 0.25, 0.5, 1.0, 2.0])


@st.composite
def score_matrices(draw, max_items: int = 12, max_rows: int = 8):
    n_items = draw(st.integers(1, max_items))
    n_rows = draw(st.integers(1, max_rows))
    rows = [draw(st.lists(_values, min_size=n_items, max_size=n_items)) for _ in range(n_rows)]
    targets = [draw(st.integers(0, n_items - 1)) for _ in range(n_rows)]
    return rows, targets


@settings(max_examples=150, deadline=None)
@given(score_matrices(), st.sampled_from(TIES))
def test_ranks_match_brute_force(data, ties):
    rows, targets = data
    got = target_ranks(torch.tensor(rows), torch.tensor(targets), ties).tolist()
    want = [reference_rank(r, t, ties) for r, t in zip(rows, targets)]
    assert got == want


@settings(max_examples=150, deadline=None)
@given(score_matrices(max_items=30), st.integers(1, 35))
def test_top_k_matches_documented_order(data, k):
    rows, _ = data
    got = top_k_items(torch.tensor(rows), k).tolist()
    assert got == [reference_top_k(r, k) for r in rows]


@settings(max_examples=60, deadline=None)
@given(score_matrices(), st.randoms(use_true_random=False))
def test_case_order_invariance(data, rnd):
    rows, targets = data
    perm = list(range(len(rows)))
    rnd.shuffle(perm)
    s, t = torch.tensor(rows), torch.tensor(targets)
    for ties in TIES:
        base = target_ranks(s, t, ties)
        permuted = target_ranks(s[perm], t[perm], ties)
        assert torch.equal(permuted, base[perm])
    assert torch.equal(top_k_items(s[perm], 5), top_k_items(s, 5)[perm])


@settings(max_examples=100, deadline=None)
@given(score_matrices())
def test_conservative_ge_median_ge_optimistic(data):
    rows, targets = data
    s, t = torch.tensor(rows), torch.tensor(targets)
    c = target_ranks(s, t, "conservative").double()
    m = target_ranks(s, t, "median")
    o = target_ranks(s, t, "optimistic").double()
    assert bool((c >= m).all()) and bool((m >= o).all()) and bool((o >= 1).all())
    assert bool((c <= s.shape[1]).all())


def test_float64_and_large_random_against_numpy():
    rng = np.random.default_rng(0)
    s = rng.integers(0, 50, size=(40, 3000)).astype(np.float64) / 7  # many ties
    s[rng.random(s.shape) < 0.1] = -np.inf
    t = rng.integers(0, 3000, size=40)
    st_ = s[np.arange(40), t][:, None]
    got_c = target_ranks(torch.from_numpy(s), torch.from_numpy(t), "conservative").numpy()
    got_o = target_ranks(torch.from_numpy(s), torch.from_numpy(t), "optimistic").numpy()
    np.testing.assert_array_equal(got_c, (s >= st_).sum(1))
    np.testing.assert_array_equal(got_o, (s > st_).sum(1) + 1)
    top = top_k_items(torch.from_numpy(s), 20).numpy()
    want = np.lexsort((np.arange(3000)[None, :].repeat(40, 0), -s), axis=1)[:, :20]
    np.testing.assert_array_equal(top, want)


# ---------------------------------------------------------------------- errors
def test_nan_raises_clear_error():
    s = torch.tensor([[0.1, math.nan, 0.3], [0.1, 0.2, 0.3]])
    with pytest.raises(ValueError, match=r"NaN \(rows \[0\]\).*-inf"):
        target_ranks(s, torch.tensor([0, 1]))


@pytest.mark.parametrize(
    ("scores", "targets", "exc", "match"),
    [
        (torch.zeros(3), torch.tensor([0]), ValueError, "shape"),
        (torch.zeros(2, 3, dtype=torch.long), torch.tensor([0, 1]), TypeError, "floating-point"),
        (torch.zeros(2, 3), torch.tensor([0]), ValueError, r"targets must have shape \(2,\)"),
        (torch.zeros(2, 3), torch.tensor([0, 3]), ValueError, r"\[0, 3\)"),
        (torch.zeros(2, 3), torch.tensor([0.0, 1.0]), TypeError, "integer"),
    ],
)
def test_bad_inputs(scores, targets, exc, match):
    with pytest.raises(exc, match=match):
        target_ranks(scores, targets)


def test_unknown_tie_rule_lists_choices():
    with pytest.raises(ValueError, match=r"'conservative', 'optimistic', 'median'.*'random'"):
        target_ranks(torch.zeros(1, 2), torch.tensor([0]), ties="random")


@pytest.mark.parametrize("n_items", [64 * 84, 7001])  # two-stage selection, with and without a partial block
@pytest.mark.parametrize("k", [1, 5, 20])
def test_top_k_on_large_catalogues_with_ties_and_minus_inf(n_items, k):
    rng = np.random.default_rng(n_items + k)
    s = rng.normal(size=(24, n_items)).astype(np.float32)
    s[:8] = np.round(s[:8] * 2)  # a handful of values: ties cross every cut
    s[8:12, rng.random(n_items) < 0.999] = -np.inf  # fewer finite items than k for some rows
    s[12:14] = -np.inf
    s[14, -3:] = 10.0  # the best items in the partial block
    s[15, :64] = 10.0  # a whole block tied at the top
    s[16, ::97] = 10.0  # ties spread over many blocks
    top = top_k_items(torch.from_numpy(s), k).numpy()
    order = np.lexsort((np.broadcast_to(np.arange(n_items), s.shape), -s), axis=1)[:, :k]
    np.testing.assert_array_equal(top, order)


@pytest.mark.parametrize("k", [1, 20, 100])
def test_top_k_when_most_items_tie_at_the_cut(k):
    """Rows with fewer than k positive scores (the k-th value is the 0 most items share), and rows whose
    tied items sit far right (the search past the first columns must widen to the full row)."""
    rng = np.random.default_rng(k)
    n_items = 9000
    s = np.zeros((12, n_items))
    for r in range(6):  # a few positive scores, some tied
        s[r, rng.choice(n_items, size=r * 3, replace=False)] = rng.choice([0.5, 1.0], size=r * 3)
    s[6:9] = -1.0
    s[6, -5:] = 0.0  # the only items tied with the k-th value (for k > 5) are the last five
    s[7, ::1500] = 0.0
    s[8, 4000 : 4000 + k] = 2.0
    s[9:] = rng.choice([0.0, 0.25], size=(3, n_items))
    top = top_k_items(torch.from_numpy(s), k).numpy()
    order = np.lexsort((np.broadcast_to(np.arange(n_items), s.shape), -s), axis=1)[:, :k]
    np.testing.assert_array_equal(top, order)
