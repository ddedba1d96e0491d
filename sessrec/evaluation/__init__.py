"""Full-ranking evaluation: ranks once per case, every metric at every cutoff from them.

Functional core (pure tensor functions): :func:`target_ranks`, :func:`top_k_items` and the
metrics of :mod:`sessrec.evaluation.metrics`. Stateful shell: :class:`MetricAccumulator`.
Driver: :func:`evaluate`, which scores a model on test sessions in memory-bounded chunks.
"""

from sessrec.evaluation.accumulator import MetricAccumulator
from sessrec.evaluation.evaluator import (
    SCORE_BUDGET_BYTES,
    EvaluationResult,
    InvalidScoresError,
    default_batch_size,
    evaluate,
)
from sessrec.evaluation.metrics import (
    METRIC_NAMES,
    METRICS,
    RANK_METRICS,
    catalogue_coverage,
    cutoff_curve,
    hit,
    mean_popularity,
    metric_label,
    ndcg,
    parse_metric,
    per_case,
    rank_gain,
    rank_metrics,
    reciprocal_rank,
)
from sessrec.evaluation.ranks import TIE_RULES, TIES, target_ranks, top_k_items

__all__ = [
    "METRICS",
    "METRIC_NAMES",
    "RANK_METRICS",
    "SCORE_BUDGET_BYTES",
    "TIES",
    "TIE_RULES",
    "EvaluationResult",
    "InvalidScoresError",
    "MetricAccumulator",
    "catalogue_coverage",
    "cutoff_curve",
    "default_batch_size",
    "evaluate",
    "hit",
    "mean_popularity",
    "metric_label",
    "ndcg",
    "parse_metric",
    "per_case",
    "rank_gain",
    "rank_metrics",
    "reciprocal_rank",
    "target_ranks",
    "top_k_items",
]
