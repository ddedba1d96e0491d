"""The docs: the site builds with warnings as errors; the plugin page's example passes the conformance suite."""

import pathlib
import re
import sys
import types

import pytest

from sessrec.registry import register_model, unregister_model
from sessrec.testing import check_model

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_docs_build_without_warnings(tmp_path):
    pytest.importorskip("mkdocstrings_handlers.python", reason='no docs extra (pip install -e ".[docs]")')
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    config = load_config(str(ROOT / "mkdocs.yml"), site_dir=str(tmp_path / "site"), strict=True)
    build(config)  # strict: any warning aborts the build
    protocols = (tmp_path / "site" / "protocols" / "index.html").read_text()
    assert "max date - test_days" in protocols  # the narm timeline, from its module docstring
    assert 'id="sessrec.api.load_study"' in (tmp_path / "site" / "python_api" / "index.html").read_text()


def test_plugin_page_example_passes_the_conformance_suite():
    page = (ROOT / "docs" / "plugins.md").read_text()
    block = re.search(r"```python\n(.*?)```", page, re.S).group(1)
    module = types.ModuleType("plugin_page_example")
    sys.modules["plugin_page_example"] = module
    try:
        exec(compile(block, "docs/plugins.md", "exec"), module.__dict__)
        register_model("lastpop-doc", module.LastItemPopularity)
        results = check_model("lastpop-doc")
    finally:
        unregister_model("lastpop-doc")
        del sys.modules["plugin_page_example"]
    assert [(r.check, r.message) for r in results if r.status == "failed"] == []
    assert any(r.status == "passed" for r in results)
