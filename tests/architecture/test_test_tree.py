"""The test tree's rule: no test module imports another test module (what tests share lives
in tests/helpers/, fixtures in the conftest.py files). A test module imported by another is
collected twice over, couples the two files' edits, and hides its helpers where nobody looks
for them. Checked on the source with `ast`: absolute imports of `tests.<...>.test_*` and
relative imports of a `test_*` module, from every Python file under tests/ (a helper or a
conftest importing a test module breaks the rule as well)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.helpers.paths import ROOT

TESTS = ROOT / "tests"


def _package(path: Path) -> list[str]:
    """The dotted parts of the package a file of the tree is in (`tests.jobs` as a list)."""
    return list(path.relative_to(ROOT).parent.parts)


def _imported(tree: ast.Module, package: list[str]) -> list[tuple[int, str]]:
    """Every module an import statement names, resolved to an absolute dotted name (a
    relative import against `package`), with its line; `from a import b` names both `a` and
    `a.b` (b may be a module)."""
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            if module:
                out.append((node.lineno, module))
            out += [(node.lineno, f"{module}.{alias.name}" if module else alias.name)
                    for alias in node.names if alias.name != "*"]
    return out


def _is_test_module(name: str) -> bool:
    parts = name.split(".")
    return parts[0] == "tests" and any(part.startswith("test_") for part in parts[1:])


def imports_of_test_modules(source: str, package: list[str]) -> list[str]:
    """The lines `source` (a file in `package`) imports a test module on, as `line: name`
    (the first test module a line names)."""
    hits: dict[int, str] = {}
    for line, name in _imported(ast.parse(source), package):
        if _is_test_module(name):
            hits.setdefault(line, name)
    return [f"{line}: {name}" for line, name in sorted(hits.items())]


def test_no_module_of_the_test_tree_imports_a_test_module() -> None:
    files = sorted(TESTS.rglob("*.py"))
    assert len([f for f in files if f.name.startswith("test_")]) > 100
    bad = []
    for path in files:
        found = imports_of_test_modules(path.read_text(encoding="utf-8"), _package(path))
        bad += [f"{path.relative_to(ROOT)}:{hit}" for hit in found]
    assert not bad, ("test modules import other test modules (move what they share into "
                     "tests/helpers/):\n" + "\n".join(bad))


@pytest.mark.parametrize(("source", "caught"), [
    ("from tests.jobs.test_jobs_executor import KIND", True),
    ("import tests.ops.test_kill9", True),
    ("import tests.ops.test_kill9 as drill", True),
    ("from tests.ops import test_kill9", True),
    ("from .test_jobs_executor import until", True),
    ("from . import test_jobs_executor", True),
    ("from ..ops.test_kill9 import Server", True),
    ("def f():\n    from tests.api.test_keywords_csv import upload", True),
    ("from tests.helpers.jobs import until", False),
    ("from tests.helpers import jobs", False),
    ("from . import conftest", False),
    ("from .conftest import make_ctx", False),
    ("import pytest", False),
    ("from sqlalchemy.testing import fixtures", False),
])
def test_the_check_catches_each_way_of_importing_a_test_module(source: str,
                                                               caught: bool) -> None:
    assert bool(imports_of_test_modules(source, ["tests", "jobs"])) is caught
