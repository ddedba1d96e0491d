"""Public testing tools: the conformance suite, oracle data and test doubles.

Plugin authors run exactly the checks sessrec's own models pass::

    from sessrec.testing import check_model, parametrize_with_checks
"""

from sessrec.testing.conformance import CHECKS, CheckResult, SkipCheck, check_model, parametrize_with_checks
from sessrec.testing.oracle import ORACLES, oracle_data, popularity_oracle, sequence_oracle, session_oracle

__all__ = [
    "CHECKS",
    "ORACLES",
    "CheckResult",
    "SkipCheck",
    "check_model",
    "oracle_data",
    "parametrize_with_checks",
    "popularity_oracle",
    "sequence_oracle",
    "session_oracle",
]
