"""Every installed model passes the conformance suite (as any third-party plugin would)."""

from sessrec.registry import model_names
from sessrec.testing import parametrize_with_checks


@parametrize_with_checks(model_names())
def test_conformance(model_name, check):
    check()
