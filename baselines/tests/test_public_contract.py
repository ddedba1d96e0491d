"""The baselines use only sessrec's public names, as a third-party plugin must.

An AST walk over every module of ``sessrec_baselines`` flags

* imports of an ``_``-prefixed module or name of ``sessrec``;
* ``_``-prefixed attributes read from anything imported from ``sessrec`` (``TorchModel._x``);
* inside a class derived from a sessrec class: defining, or reading through ``self``/``cls``/
  ``super()``, an ``_``-prefixed member that the sessrec base classes define (overriding or
  calling a private hook).
"""

from __future__ import annotations

import ast
import importlib
import pathlib

import sessrec_baselines

import sessrec

PACKAGE = pathlib.Path(sessrec_baselines.__file__).parent


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _sessrec_object(module: str, name: str) -> object | None:
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


class _Checker(ast.NodeVisitor):
    """Collects ``(line, message)`` for every private use of sessrec in one module."""

    def __init__(self) -> None:
        self.problems: list[tuple[int, str]] = []
        self.sessrec_names: dict[str, object] = {}  # local name -> sessrec module or object
        self.private_members: list[set[str]] = []  # per enclosing class: sessrec base members

    def _flag(self, node: ast.AST, message: str) -> None:
        self.problems.append((getattr(node, "lineno", 0), message))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name.split(".")[0] == "sessrec":
                if any(_private(part) for part in alias.name.split(".")):
                    self._flag(node, f"imports private module {alias.name}")
                self.sessrec_names[(alias.asname or alias.name).split(".")[0]] = sessrec

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if module.split(".")[0] != "sessrec" or node.level:
            return
        if any(_private(part) for part in module.split(".")):
            self._flag(node, f"imports from private module {module}")
        for alias in node.names:
            if _private(alias.name):
                self._flag(node, f"imports private name {alias.name} from {module}")
            self.sessrec_names[alias.asname or alias.name] = _sessrec_object(module, alias.name)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        members: set[str] = set()
        for base in node.bases:
            obj = self.sessrec_names.get(base.id) if isinstance(base, ast.Name) else None
            if isinstance(obj, type):
                members |= {n for klass in obj.__mro__ if klass.__module__.startswith("sessrec") for n in vars(klass)}
        private = {n for n in members if _private(n)}
        for item in node.body:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name in private:
                self._flag(item, f"class {node.name} overrides sessrec's private {item.name}")
        self.private_members.append(private)
        self.generic_visit(node)
        self.private_members.pop()

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if _private(node.attr):
            root = node.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in self.sessrec_names:
                self._flag(node, f"reads private {node.attr} of sessrec's {root.id}")
            elif self.private_members and node.attr in self.private_members[-1] and _is_self(node.value):
                self._flag(node, f"uses sessrec's private member {node.attr}")
        self.generic_visit(node)


def _is_self(node: ast.AST) -> bool:
    if isinstance(node, ast.Name):
        return node.id in ("self", "cls")
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"


def private_uses(source: str) -> list[tuple[int, str]]:
    """Every private use of sessrec in ``source`` (one module's text)."""
    checker = _Checker()
    checker.visit(ast.parse(source))
    return checker.problems


def test_baselines_use_no_private_name_of_sessrec():
    found = {
        f"{path.name}:{line}": message
        for path in sorted(PACKAGE.glob("*.py"))
        for line, message in private_uses(path.read_text())
    }
    assert found == {}


def test_the_check_catches_each_kind_of_private_use():
    bad = """
from sessrec.models.base import TorchModel, BaseModel
from sessrec.data.sessions import _ranges
import sessrec.models._hidden
from sessrec import models

class M(TorchModel):
    def _run_epochs(self, *args):
        return models.base._seed(0)

    def score(self, batch):
        self._score_sessions(batch)
        return super()._run_epochs()

class P(BaseModel):
    def _private_helper(self):  # the plugin's own private name: fine
        return self._private_helper
"""
    messages = [m for _, m in private_uses(bad)]
    assert messages == [
        "imports private name _ranges from sessrec.data.sessions",
        "imports private module sessrec.models._hidden",
        "class M overrides sessrec's private _run_epochs",
        "reads private _seed of sessrec's models",
        "uses sessrec's private member _score_sessions",
        "uses sessrec's private member _run_epochs",
    ]
