"""The README's promises hold: its plugin example works, its commands match CI."""

import pathlib
import re
import sys
import types

from sessrec.registry import unregister_model
from sessrec.testing import check_model

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_plugin_example_passes_the_conformance_suite():
    block = next(b for b in re.findall(r"```python\n(.*?)```", README, re.S) if "register_model(" in b)
    module = types.ModuleType("readme_example")  # a real module, so the class pickles
    sys.modules["readme_example"] = module
    try:
        exec(compile(block, "README.md", "exec"), module.__dict__)
        results = check_model("lastpop")
    finally:
        unregister_model("lastpop")
        del sys.modules["readme_example"]
    failed = [(r.check, r.message) for r in results if r.status == "failed"]
    assert failed == []


def test_ci_installs_and_tests_as_the_readme_says():
    first_block = re.search(r"```sh\n(.*?)```", README, re.S).group(1)
    run_line, test_line = [line for line in first_block.splitlines() if not line.startswith("#")][:2]
    ci = (ROOT / ".ci" / "run").read_text()
    for step in test_line.split(" && ")[2:]:  # after creating/activating the virtualenv
        assert step.strip() in ci, f"CI lacks the README step {step!r}"
    assert run_line.endswith("sessrec run")
