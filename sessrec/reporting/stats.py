"""Uncertainty and significance from per-case ranks.

Everything here is a pure function of arrays; nothing is trained or evaluated.

* :func:`per_case_values` turns 1-based target ranks into the per-case value of a metric
  named ``"<metric>@K"``, with the formulas of :mod:`sessrec.evaluation.metrics` (the
  metric is the mean of these values).
* :func:`session_bootstrap_ci` is a percentile bootstrap over **test sessions**: the cases
  of one session are resampled together (a cluster bootstrap), because the prefixes of one
  session share their history and are not independent. A resample draws ``G`` sessions
  with replacement out of the ``G`` test sessions; its statistic is the mean over all the
  cases of the drawn sessions (a session drawn twice counts twice). The interval is the
  pair of ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of the resampled means
  (numpy's default linear interpolation).
* :func:`wilcoxon_signed_rank` is the two-sided Wilcoxon signed-rank test on paired values
  with the normal approximation (:func:`scipy.stats.wilcoxon`): zero differences dropped (Wilcoxon's convention), ties
  given average ranks and the variance corrected for them, no continuity correction. On
  binary values (Recall@K) it reduces to a sign test on the cases where the two models
  disagree. It treats cases as independent pairs, which cases of one session are not;
  see the report's method notes.
* :func:`holm` is Holm's step-down adjustment of a family of p-values.

References
----------
.. [1] B. Efron and R. Tibshirani, *An Introduction to the Bootstrap*, 1993 (percentile
   interval; the cluster bootstrap resamples whole sessions).
.. [2] F. Wilcoxon, "Individual comparisons by ranking methods", Biometrics Bulletin, 1945.
.. [3] S. Holm, "A simple sequentially rejective multiple test procedure", Scandinavian
   Journal of Statistics, 1979.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.stats

from sessrec.evaluation.metrics import RANK_METRICS, parse_metric, per_case

__all__ = [
    "RANK_METRICS",
    "WilcoxonResult",
    "bootstrap_indices",
    "cluster_bootstrap_means",
    "holm",
    "parse_metric",
    "per_case_values",
    "session_bootstrap_ci",
    "wilcoxon_signed_rank",
]


def per_case_values(ranks: np.ndarray, metric: str) -> np.ndarray:
    """Per-case value of a rank metric given by name (:func:`sessrec.evaluation.metrics.per_case`).

    Parameters
    ----------
    ranks : array of shape (n_cases,)
        1-based target ranks (integers; half-integers under median ties are used as they are).
    metric : str
        ``"recall@K"``, ``"mrr@K"`` or ``"ndcg@K"``.

    Returns
    -------
    ndarray of shape (n_cases,), float64
        The metric is the mean of these values.

    Examples
    --------
    >>> per_case_values(np.array([1, 3, 30]), "mrr@5").round(4).tolist()
    [1.0, 0.3333, 0.0]
    """
    base, k = parse_metric(metric)
    return per_case(np.asarray(ranks), base, k)


# --------------------------------------------------------------------------- bootstrap
def bootstrap_indices(n_groups: int, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n_resamples`` resamples of ``n_groups`` group positions with replacement.

    Returns
    -------
    ndarray of shape (n_resamples, n_groups), int64
        Row ``b`` lists the positions (in ``[0, n_groups)``) of the groups drawn by resample ``b``.
    """
    return rng.integers(0, n_groups, size=(n_resamples, n_groups), dtype=np.int64)


def cluster_bootstrap_means(values: np.ndarray, groups: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Mean over the cases of the resampled groups, for given resample index sets.

    Parameters
    ----------
    values : array of shape (n_cases,) or (n_cases, n_columns)
        Per-case values (one column per model × metric).
    groups : array of shape (n_cases,)
        Group (test session) label of each case, any integers. Group position ``g`` used in
        ``indices`` is the ``g``-th distinct label in ascending order.
    indices : int array of shape (n_resamples, n_groups)
        Group positions drawn by each resample (see :func:`bootstrap_indices`).

    Returns
    -------
    ndarray of shape (n_resamples,) or (n_resamples, n_columns)
        ``sum(values of the drawn cases) / number of drawn cases`` per resample; a group drawn
        twice contributes its cases twice.

    Examples
    --------
    Two sessions, ``{0: [1, 0], 1: [1]}``; drawing session 0 twice gives ``(1+0+1+0)/4``:

    >>> cluster_bootstrap_means(np.array([1.0, 0.0, 1.0]), np.array([0, 0, 1]), np.array([[0, 0], [0, 1]]))
    array([0.5       , 0.66666667])
    """
    v = np.asarray(values, dtype=np.float64)
    one_column = v.ndim == 1
    if one_column:
        v = v[:, None]
    labels, group_pos = np.unique(np.asarray(groups), return_inverse=True)
    if len(group_pos) != len(v):
        raise ValueError(f"values has {len(v)} cases but groups has {len(group_pos)}")
    n_groups = len(labels)
    idx = np.asarray(indices, dtype=np.int64)
    if idx.ndim != 2 or (idx.size and (idx.min() < 0 or idx.max() >= n_groups)):
        raise ValueError(f"indices must have shape (n_resamples, n_groups) with entries in [0, {n_groups})")
    sums = np.zeros((n_groups, v.shape[1]))
    np.add.at(sums, group_pos, v)
    sizes = np.bincount(group_pos, minlength=n_groups).astype(np.float64)
    out = np.empty((idx.shape[0], v.shape[1]))
    chunk = max(1, 4_000_000 // max(n_groups, 1))
    for start in range(0, idx.shape[0], chunk):
        block = idx[start : start + chunk]
        rows = block.shape[0]
        flat = (block + (np.arange(rows)[:, None] * n_groups)).ravel()
        times = np.bincount(flat, minlength=rows * n_groups).reshape(rows, n_groups).astype(np.float64)
        out[start : start + rows] = (times @ sums) / (times @ sizes)[:, None]
    return out[:, 0] if one_column else out


def session_bootstrap_ci(
    values: np.ndarray,
    groups: np.ndarray,
    *,
    n_resamples: int = 1000,
    level: float = 0.95,
    random_state: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile confidence interval of the mean, resampling whole groups (test sessions).

    Every column is resampled with the *same* index sets, so intervals of several models
    come from the same resamples and are reproducible for a given ``random_state``.

    Parameters
    ----------
    values : array of shape (n_cases,) or (n_cases, n_columns)
    groups : array of shape (n_cases,)
        Test session of each case. Pass ``np.arange(n_cases)`` for a plain case bootstrap.
    n_resamples : int
    level : float
        Confidence level in (0, 1).
    random_state : int
        Seed of the local generator that draws the resamples.

    Returns
    -------
    low, high : ndarray of shape () or (n_columns,)

    Examples
    --------
    >>> lo, hi = session_bootstrap_ci(np.array([1.0, 0.0, 1.0, 1.0]), np.array([0, 0, 1, 2]), n_resamples=200)
    >>> bool(lo <= 0.75 <= hi)
    True
    """
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be positive, got {n_resamples}")
    n_groups = len(np.unique(np.asarray(groups)))
    rng = np.random.default_rng(random_state)
    means = cluster_bootstrap_means(values, groups, bootstrap_indices(n_groups, n_resamples, rng))
    q = np.quantile(means, [(1 - level) / 2, (1 + level) / 2], axis=0)
    return q[0], q[1]


# --------------------------------------------------------------------------- paired test
@dataclass(frozen=True)
class WilcoxonResult:
    """Outcome of :func:`wilcoxon_signed_rank`.

    Attributes
    ----------
    r_plus, r_minus : float
        Rank sums of the positive and negative differences ``x - y``.
    statistic : float
        ``min(r_plus, r_minus)`` (what :func:`scipy.stats.wilcoxon` reports two-sided).
    z : float
        Standardised ``r_plus`` (0 when no pair differs).
    pvalue : float
        Two-sided p-value from the normal approximation.
    n : int
        Number of pairs that differ (non-zero differences).
    """

    r_plus: float
    r_minus: float
    statistic: float
    z: float
    pvalue: float
    n: int


def wilcoxon_signed_rank(x: np.ndarray, y: np.ndarray) -> WilcoxonResult:
    """Two-sided Wilcoxon signed-rank test of paired samples (normal approximation).

    ``d = x - y``; zero differences are dropped; ``|d|`` gets average ranks; with ``n``
    non-zero differences and tie groups of sizes ``t``,
    ``z = (R+ - n(n+1)/4) / sqrt(n(n+1)(2n+1)/24 - sum(t^3 - t)/48)`` and
    ``p = 2 * (1 - Phi(|z|))``. Computed by :func:`scipy.stats.wilcoxon` (``zero_method="wilcox"``,
    ``correction=False``, ``method="approx"``); ``R+`` and the signed ``z`` come from its
    one-sided (``"greater"``) form.

    Parameters
    ----------
    x, y : arrays of shape (n_pairs,)
        Paired per-case values of two models.

    Returns
    -------
    WilcoxonResult
        ``pvalue = 1`` when no pair differs.

    Examples
    --------
    >>> round(wilcoxon_signed_rank(np.array([1.0, 1, 1, 1, 0]), np.zeros(5)).pvalue, 4)
    0.0455
    """
    d = np.asarray(x, dtype=np.float64) - np.asarray(y, dtype=np.float64)
    if d.ndim != 1:
        raise ValueError(f"x and y must have shape (n_pairs,), got difference shape {d.shape}")
    n = int(np.count_nonzero(d))
    if n == 0:
        return WilcoxonResult(0.0, 0.0, 0.0, 0.0, 1.0, 0)
    options = {"zero_method": "wilcox", "correction": False, "method": "approx"}
    two_sided = scipy.stats.wilcoxon(d, **options)
    greater = scipy.stats.wilcoxon(d, alternative="greater", **options)  # its statistic is R+, its z signed
    r_plus = float(greater.statistic)
    r_minus = n * (n + 1) / 2.0 - r_plus
    z = float(greater.zstatistic) if np.isfinite(greater.zstatistic) else 0.0
    return WilcoxonResult(r_plus, r_minus, float(two_sided.statistic), z, float(two_sided.pvalue), n)


def holm(pvalues: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values.

    With the ``m`` p-values sorted ascending, ``p_(1) <= ... <= p_(m)``, the adjusted value
    of the ``i``-th is ``max_{j <= i} min(1, (m - j + 1) p_(j))``; rejecting where the
    adjusted value is below ``alpha`` controls the family-wise error rate at ``alpha``.
    NaNs are left as NaN and do not count in ``m``.

    Parameters
    ----------
    pvalues : array of shape (m,)

    Returns
    -------
    ndarray of shape (m,)
        Adjusted p-values in the input order.

    Examples
    --------
    >>> holm(np.array([0.01, 0.04, 0.03])).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = len(ok)
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    factors = m - np.arange(m)
    adjusted = np.minimum(1.0, np.maximum.accumulate(p[order] * factors))
    out[order] = adjusted
    return out
