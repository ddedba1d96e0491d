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
    METRICS,
    catalogue_coverage,
    hit,
    mean_popularity,
    ndcg,
    rank_metrics,
    reciprocal_rank,
)
from sessrec.evaluation.ranks import TIES, target_ranks, top_k_items

__all__ = [
    "METRICS",
    "SCORE_BUDGET_BYTES",
    "TIES",
    "EvaluationResult",
    "InvalidScoresError",
    "MetricAccumulator",
    "catalogue_coverage",
    "default_batch_size",
    "evaluate",
    "hit",
    "mean_popularity",
    "ndcg",
    "rank_metrics",
    "reciprocal_rank",
    "target_ranks",
    "top_k_items",
]
