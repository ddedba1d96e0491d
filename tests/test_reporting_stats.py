"""Statistics of the reporter against hand computations and independent references (scipy)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats

from sessrec.errors import ConfigError
from sessrec.reporting.stats import (
    cluster_bootstrap_means,
    holm,
    parse_metric,
    per_case_values,
    session_bootstrap_ci,
    wilcoxon_signed_rank,
)


# --------------------------------------------------------------------------- per-case values
def test_per_case_values_by_hand():
    ranks = np.array([1, 2, 3, 21], dtype=np.int32)
    np.testing.assert_array_equal(per_case_values(ranks, "recall@20"), [1, 1, 1, 0])
    np.testing.assert_array_equal(per_case_values(ranks, "recall@2"), [1, 1, 0, 0])
    np.testing.assert_allclose(per_case_values(ranks, "mrr@20"), [1, 1 / 2, 1 / 3, 0])
    np.testing.assert_allclose(per_case_values(ranks, "ndcg@5"), [1, 1 / math.log2(3), 1 / 2, 0])


def test_parse_metric_rejects_unknown_names():
    assert parse_metric("NDCG@10") == ("ndcg", 10)
    for bad in ("coverage@20", "recall", "recall@0", "hit@5"):
        with pytest.raises(ConfigError, match="rank metric"):
            parse_metric(bad)


# --------------------------------------------------------------------------- bootstrap bookkeeping
# Cases (value, mrr-like second column) grouped by session label:
#   label 3: [1]            -> position 0, sum 1, 1 case
#   label 7: [1, 0]         -> position 1, sum 1, 2 cases
#   label 9: [0, 1, 1]      -> position 2, sum 2, 3 cases
_VALUES = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 1.0])
_GROUPS = np.array([7, 7, 3, 9, 9, 9])


def test_cluster_bootstrap_means_with_fixed_index_sets():
    indices = np.array(
        [
            [0, 0, 0],  # session 3 three times: 3 / 3
            [1, 2, 2],  # 7 + 9 + 9: (1 + 2 + 2) / (2 + 3 + 3)
            [0, 1, 2],  # the sample itself: 4 / 6
            [2, 2, 2],  # 6 / 9
        ]
    )
    got = cluster_bootstrap_means(_VALUES, _GROUPS, indices)
    np.testing.assert_allclose(got, [1.0, 5 / 8, 4 / 6, 6 / 9])


def test_cluster_bootstrap_means_keeps_columns_apart():
    second = np.array([0.5, 0.0, 0.25, 0.0, 1.0, 0.0])  # sums: label 3 -> 0.25, 7 -> 0.5, 9 -> 1.0
    both = np.column_stack([_VALUES, second])
    got = cluster_bootstrap_means(both, _GROUPS, np.array([[0, 0, 0], [1, 2, 2]]))
    np.testing.assert_allclose(got[:, 0], [1.0, 5 / 8])
    np.testing.assert_allclose(got[:, 1], [0.25, (0.5 + 1.0 + 1.0) / 8])


def test_interval_is_the_quantile_pair_of_the_resampled_means():
    # Two sessions with means 0 and 1 and one case each: the resample mean is the share of
    # draws of session 1, so with n_resamples draws the interval must be within {0, 0.5, 1}.
    values = np.array([0.0, 1.0])
    lo, hi = session_bootstrap_ci(values, np.array([0, 1]), n_resamples=2000, level=0.95, random_state=3)
    assert float(lo) == 0.0 and float(hi) == 1.0
    lo, hi = session_bootstrap_ci(values, np.array([0, 1]), n_resamples=2000, level=0.40, random_state=3)
    assert float(lo) == 0.5 and float(hi) == 0.5  # P(mean = 0.5) = 1/2 covers the middle 40 %


def test_constant_values_give_a_degenerate_interval():
    lo, hi = session_bootstrap_ci(np.full(7, 0.25), np.array([0, 0, 1, 2, 2, 2, 3]), n_resamples=50)
    assert float(lo) == pytest.approx(0.25) and float(hi) == pytest.approx(0.25)


def test_one_case_per_session_agrees_with_scipy_percentile_bootstrap():
    rng = np.random.default_rng(11)
    values = (rng.random(300) < 0.3).astype(np.float64)
    lo, hi = session_bootstrap_ci(values, np.arange(300), n_resamples=20000, level=0.95, random_state=5)
    ref = scipy.stats.bootstrap(
        (values,), np.mean, n_resamples=20000, confidence_level=0.95, method="percentile", random_state=7
    ).confidence_interval
    assert float(lo) == pytest.approx(ref.low, abs=0.006)
    assert float(hi) == pytest.approx(ref.high, abs=0.006)


def test_session_bootstrap_is_wider_than_case_bootstrap_when_sessions_are_homogeneous():
    rng = np.random.default_rng(2)
    session_value = (rng.random(60) < 0.5).astype(np.float64)
    groups = np.repeat(np.arange(60), 10)
    values = session_value[groups]  # every case of a session agrees
    lo_s, hi_s = session_bootstrap_ci(values, groups, n_resamples=2000)
    lo_c, hi_c = session_bootstrap_ci(values, np.arange(len(values)), n_resamples=2000)
    assert (hi_s - lo_s) > 2 * (hi_c - lo_c)


# --------------------------------------------------------------------------- Wilcoxon
_PAIRS = [
    # continuous values, no ties
    (np.array([0.9, 0.1, 0.55, 0.3, 0.8, 0.77, 0.2, 0.65]), np.array([0.5, 0.2, 0.5, 0.1, 0.2, 0.7, 0.6, 0.15])),
    # reciprocal ranks with zeros and ties (MRR per case)
    (np.array([1, 0.5, 0, 1 / 3, 1, 0.25, 0, 1, 0.5, 0.2]), np.array([0.5, 0.5, 0, 1, 1 / 3, 0.25, 0.1, 0.5, 1, 0])),
    # binary hits (Recall per case): a sign test in disguise
    (np.array([1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0, 1]), np.array([0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0])),
]


@pytest.mark.parametrize("x, y", _PAIRS)
def test_wilcoxon_matches_scipy(x, y):
    ours = wilcoxon_signed_rank(x, y)
    ref = scipy.stats.wilcoxon(x, y, zero_method="wilcox", correction=False, method="approx")
    assert ours.statistic == pytest.approx(ref.statistic)
    assert ours.pvalue == pytest.approx(ref.pvalue, rel=1e-10)


def test_wilcoxon_by_hand_and_degenerate():
    # four equal positive differences: ranks 2.5 each, R+ = 10, mean 5, var 7.5 - (4^3 - 4)/48 = 6.25
    res = wilcoxon_signed_rank(np.array([1.0, 1, 1, 1, 0]), np.zeros(5))
    assert (res.r_plus, res.r_minus, res.n) == (10.0, 0.0, 4)
    assert res.z == pytest.approx(2.0)
    assert res.pvalue == pytest.approx(2 * (1 - scipy.stats.norm.cdf(2.0)))
    same = wilcoxon_signed_rank(np.ones(5), np.ones(5))
    assert same.pvalue == 1.0 and same.n == 0


# --------------------------------------------------------------------------- Holm
def test_holm_by_hand():
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> running max 0.06
    got = holm(np.array([0.01, 0.04, 0.03, 0.005]))
    np.testing.assert_allclose(got, [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm(np.array([0.5, 0.6])), [1.0, 1.0])  # capped at 1
    got = holm(np.array([0.02, np.nan, 0.04]))  # NaN is not part of the family: m = 2
    np.testing.assert_allclose(got[[0, 2]], [0.04, 0.04])
    assert np.isnan(got[1])
