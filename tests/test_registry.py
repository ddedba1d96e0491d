"""Plugin registry: lazy loading, one failing plugin at a time, helpful errors."""

import ast
import pathlib
from importlib import metadata

import pytest

from sessrec.errors import ConfigError
from sessrec.registry import Entry, Registry, make_model, model_names, register_model, unregister_model


class Tiny:
    def __init__(self, k: int = 1) -> None:
        self.k = k


def test_register_make_and_unregister():
    register_model("tiny-test", Tiny)
    try:
        assert "tiny-test" in model_names()
        assert make_model("tiny-test", k=4).k == 4
        with pytest.raises(ConfigError, match="already registered"):
            register_model("tiny-test", Tiny)
        with pytest.raises(ConfigError, match="bad parameters"):
            make_model("tiny-test", q=1)
    finally:
        unregister_model("tiny-test")
    assert "tiny-test" not in model_names()


def test_unknown_name_lists_installed_and_suggests():
    with pytest.raises(ConfigError) as info:
        make_model("spopp")
    msg = str(info.value)
    assert "installed models:" in msg and "pop" in msg
    assert "Did you mean 'spop'" in msg


def test_broken_plugin_fails_alone():
    reg = Registry("sessrec.test-group", "model")
    good = metadata.EntryPoint("good", "sessrec.registry:Registry", "sessrec.test-group")
    bad = metadata.EntryPoint("bad", "sessrec_no_such_module:X", "sessrec.test-group")
    reg._cache = {
        "good": Entry("good", good.value, "dist-a", "1.0", _entry_point=good),
        "bad": Entry("bad", bad.value, "dist-b", "2.0", _entry_point=bad),
    }
    assert reg.load("good") is Registry
    with pytest.raises(ConfigError, match=r"'bad' \(distribution dist-b 2.0\) failed to load"):
        reg.load("bad")
    assert "No module named" in reg.get("bad").error
    assert reg.get("good").error is None


def test_builtin_models_come_from_the_baselines_distribution():
    from sessrec.registry import models

    entry = models.get("pop")
    assert entry.distribution == "sessrec-baselines"


def test_core_never_imports_baselines():
    root = pathlib.Path(__file__).resolve().parents[1] / "sessrec"
    offenders = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            if any(n.split(".")[0] == "sessrec_baselines" for n in names):
                offenders.append(str(path))
    assert offenders == []
