"""V-SKNN, STAN and V-STAN on a worked example, every number derived by hand.

Training sessions as in ``test_knn_sknn.py`` (times = global click positions)::

    s0 = [0, 1, 2]        |n| = 3   last positions 0->1, 1->2, 2->3       last click t = 2
    s1 = [1, 3]           |n| = 2   1->1, 3->2                            t = 4
    s2 = [0, 2, 4, 2]     |n| = 3   0->1, 4->3, 2->4 (last click of 2)    t = 8
    s3 = [3, 5]           |n| = 2                                         t = 10

Sessions containing each item: 0, 1, 2, 3 -> 2 of 4 (idf ln 2); 4, 5 -> 1 (idf ln 4).
Clicks: item 2 has 3 (session-rec's idf: ln(4/3)); items 0, 1, 3 have 2; 4, 5 have 1.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sessrec_baselines.session_knn import STAN, VSKNN, VSTAN, position_weight

from sessrec.data.sessions import PrefixBatch, Sessions

TRAIN = [[0, 1, 2], [1, 3], [0, 2, 4, 2], [3, 5]]
E1, E2, E3 = math.exp(-1), math.exp(-2), math.exp(-3)
R2, R3, R6 = math.sqrt(2), math.sqrt(3), math.sqrt(6)
LN2, LN4 = math.log(2), math.log(4)


def fit(cls, **params):
    return cls(**params).fit(Sessions.from_lists(TRAIN, n_items=6))


def scores(model, prefix, times=None):
    batch = PrefixBatch.from_lists([list(prefix)])
    if times is not None:
        batch = PrefixBatch(batch.items, batch.lengths, torch.tensor([times], dtype=torch.float64))
    return model.score(batch)[0].tolist()


# ---------------------------------------------------------------------- V-SKNN
def test_vsknn_vec_similarity_with_div_weights_and_div_decay():
    # prefix [0, 1]: weights p / L = 0.5 (item 0), 1 (item 1)
    # vec = sum of weights of shared items / |s|: s0 1.5/2 = 0.75, s1 1/2 = 0.5, s2 0.5/2 = 0.25
    # decay by the most recent shared click: s0, s1 step 1 (1), s2 step 2 (1/2)
    expected = [0.75 + 0.125, 0.75 + 0.5, 0.75 + 0.125, 0.5, 0.125, 0.0]
    assert scores(fit(VSKNN, k=10), [0, 1]) == pytest.approx(expected, abs=1e-12)


def test_vsknn_without_remind_gives_the_prefix_items_zero():
    expected = [0.0, 0.0, 0.875, 0.5, 0.125, 0.0]
    assert scores(fit(VSKNN, k=10, remind=False), [0, 1]) == pytest.approx(expected, abs=1e-12)


def test_vsknn_weighted_cosine():
    # sum w^2 = 0.25 + 1 = 1.25: cos = dot / (sqrt(1.25) sqrt|n|)
    n = math.sqrt(1.25)
    c0, c1, c2 = 1.5 / (n * R3), 1 / (n * R2), 0.5 / (n * R3)
    expected = [c0 + c2 / 2, c0 + c1, c0 + c2 / 2, c1, c2 / 2, 0.0]
    assert scores(fit(VSKNN, k=10, similarity="cosine"), [0, 1]) == pytest.approx(expected, abs=1e-12)


def test_vsknn_idf_weighting_counts_sessions_and_the_code_counts_clicks():
    # item 2: (0.75 * 1 + 0.25 * 0.5) (1 + idf(2)); item 4: 0.125 (1 + ln 4)
    paper = scores(fit(VSKNN, k=10, idf_weighting=1), [0, 1])
    assert paper[2] == pytest.approx(0.875 * (1 + LN2)) and paper[4] == pytest.approx(0.125 * (1 + LN4))
    code = scores(fit(VSKNN, k=10, idf_weighting=1, reference_code=True), [0, 1])
    assert code[2] == pytest.approx(0.875 * (1 + math.log(4 / 3))) and code[4] == pytest.approx(0.125 * (1 + LN4))


def test_vsknn_repeated_item_takes_the_weight_of_its_last_click():
    # prefix [0, 1, 0] (L = 3): item 0 last at 3 (weight 1), item 1 at 2 (2/3); |s| = 2
    # vec: s0 (0 and 1) 5/3 / 2 = 5/6, s1 (1) 1/3, s2 (0) 1/2; every neighbour's most recent
    # shared click: s0, s2 step 1 (item 0), s1 step 2 (item 1) -> div decay 1, 1/2, 1
    expected = [5 / 6 + 1 / 2, 5 / 6 + 1 / 6, 5 / 6 + 1 / 2, 1 / 6, 1 / 2, 0.0]
    assert scores(fit(VSKNN, k=10), [0, 1, 0]) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    ("name", "expected_paper", "expected_code"),
    [
        # L = 12 at positions 1, 5, 12
        ("same", [1, 1, 1], [1, 1, 1]),
        ("div", [1 / 12, 5 / 12, 1], [1 / 12, 5 / 12, 1]),
        ("quadratic", [1 / 144, 25 / 144, 1], [1 / 144, 25 / 144, 1]),
        ("log", [1 / math.log10(12.7), 1 / math.log10(8.7), 1 / math.log10(1.7)], None),
        # paper: max(0, 1 - 0.1 (L - p)); code: 1 - 0.1 (L - p) for p <= 10 else 0
        ("linear", [0.0, 0.3, 1.0], [-0.1, 0.3, 0.0]),
    ],
)
def test_position_weights(name, expected_paper, expected_code):
    pos, length = np.array([1, 5, 12]), np.array([12, 12, 12])
    assert position_weight(name, pos, length, False) == pytest.approx(expected_paper)
    assert position_weight(name, pos, length, True) == pytest.approx(expected_code or expected_paper)


# ---------------------------------------------------------------------- STAN
def test_stan_position_and_recency_weights():
    # prefix [0, 1] at times (20, 21); lambda_spw = 1: w(0) = e^-1, w(1) = 1; norm sqrt(e^-2 + 1)
    # cos: s0 (1 + e^-1) / (norm sqrt3), s1 1 / (norm sqrt2), s2 e^-1 / (norm sqrt3)
    # recency, lambda_snh = 10 s: exp(-(21 - t_n) / 10) with t_n = 2, 4, 8
    # no item weighting (lambda_inh None); remind: all items score
    norm = math.sqrt(E2 + 1)
    s0 = (1 + E1) / (norm * R3) * math.exp(-19 / 10)
    s1 = 1 / (norm * R2) * math.exp(-17 / 10)
    s2 = E1 / (norm * R3) * math.exp(-13 / 10)
    m = fit(STAN, k=10, lambda_spw=1, lambda_snh=10 / 86400, lambda_inh=None)
    expected = [s0 + s2, s0 + s1, s0 + s2, s1, s2, 0.0]
    assert scores(m, [0, 1], times=[20.0, 21.0]) == pytest.approx(expected, rel=1e-12)


def test_stan_item_weight_around_the_most_recent_shared_item():
    # prefix [1, 0], plain cosine (lambda_spw, lambda_snh off): s0 2/sqrt6, s1 1/2, s2 1/sqrt6
    # paper: anchor = most recent prefix item in n: s0 -> item 0 (position 1 in s0),
    #   s1 -> item 1 (position 1), s2 -> item 0 (position 1); weight exp(-|q(i) - anchor|)
    #   s0: item 0 1, item 1 e^-1, item 2 e^-2; s1: item 1 1, item 3 e^-1; s2: item 0 1, 4 e^-2, 2 e^-3
    a, b, c = 2 / R6, 0.5, 1 / R6
    paper = [a + c, a * E1 + b, a * E2 + c * E3, b * E1, c * E2, 0.0]
    m = fit(STAN, k=10, lambda_spw=None, lambda_snh=None, lambda_inh=1)
    assert scores(m, [1, 0]) == pytest.approx(paper, abs=1e-12)
    # session-rec: anchor = last position in n of any prefix item: s0 -> 2 (item 1), others as above
    #   s0: item 0 e^-1, item 1 1, item 2 e^-1
    code = [a * E1 + c, a + b, a * E1 + c * E3, b * E1, c * E2, 0.0]
    m = fit(STAN, k=10, lambda_spw=None, lambda_snh=None, lambda_inh=1, reference_code=True)
    assert scores(m, [1, 0]) == pytest.approx(code, abs=1e-12)


def test_stan_keeps_zero_similarity_neighbours_and_remind_false_drops_prefix_items():
    m = fit(STAN, k=10, lambda_spw=None, lambda_snh=None, lambda_inh=None, remind=False)
    a, b, c = 2 / R6, 0.5, 1 / R6
    assert scores(m, [1, 0]) == pytest.approx([0.0, 0.0, a + c, b, c, 0.0], abs=1e-12)


# ---------------------------------------------------------------------- V-STAN
def test_vstan_idf_and_prefix_position_of_the_match():
    # prefix [1, 0], plain cosine as above; ipw (lambda 1): exp((p* - L)) with p* the prefix
    # position of the most recent click in n: s0 item 0 (p* = 2) 1, s1 item 1 (p* = 1) e^-1, s2 1
    # idf (lambda_idf 1, sessions): items 0-3 ln 2, item 4 ln 4
    a, b, c = 2 / R6, 0.5, 1 / R6
    m = fit(VSTAN, k=10, lambda_spw=None, lambda_snh=None, lambda_inh=None, lambda_ipw=1, lambda_idf=1)
    s = scores(m, [1, 0])
    assert s[1] == pytest.approx(a * (1 + LN2) + b * (1 + LN2) * E1)
    assert s[3] == pytest.approx(b * (1 + LN2) * E1)
    assert s[4] == pytest.approx(c * (1 + LN4))


def test_vstan_vec_similarity_is_honoured_but_ignored_by_the_code():
    # vec = overlap / |s|: s0 1, s1 1/2, s2 1/2; item 4 only in s2 -> 1/2 (no other factor)
    params = dict(k=10, lambda_spw=None, lambda_snh=None, lambda_inh=None, lambda_ipw=None, lambda_idf=None)
    assert scores(fit(VSTAN, similarity="vec", **params), [1, 0])[4] == pytest.approx(0.5)
    # session-rec always uses cosine: 1 / sqrt6
    code = scores(fit(VSTAN, similarity="vec", reference_code=True, **params), [1, 0])
    assert code[4] == pytest.approx(1 / R6)
