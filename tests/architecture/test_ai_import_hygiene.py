"""igny8d/ai imports downwards only and stays light at server start: no services, schemas,
handlers, store or jobs; Tornado only inside the network clients' functions; no import cycle
between its modules; inflect not loaded and no data file read when the server starts; every
data file loads and is shipped."""

from __future__ import annotations

import ast
import configparser
import fnmatch
import subprocess
import sys
from pathlib import Path

import pytest

from igny8d.ai.ideas.words import idea_words
from igny8d.ai.text import vocabulary
from tests.helpers.paths import ROOT

AI = ROOT / "igny8d" / "ai"
#: What igny8d/ai may import from the rest of igny8d at run time.
ALLOWED = {"igny8d", "igny8d.text", "igny8d.vocab"}


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_imports(path: Path, *, top_level_only: bool) -> list[tuple[str, list[str]]]:
    """(module, names) of each import outside `if TYPE_CHECKING:` (and, with
    `top_level_only`, outside functions: what runs when the module is imported)."""
    tree = ast.parse(path.read_text())
    found: list[tuple[str, list[str]]] = []

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, ast.Import):
                found.extend((a.name, []) for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((node.module, [a.name for a in node.names]))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if not top_level_only:
                    visit(node.body)
            elif isinstance(node, ast.ClassDef):
                visit(node.body)
            elif isinstance(node, (ast.If, ast.Try, ast.With)):
                for field in ("body", "orelse", "finalbody", "handlers"):
                    for child in getattr(node, field, []):
                        visit(child.body if isinstance(child, ast.ExceptHandler) else [child])

    visit(tree.body)
    return found


def test_ai_imports_only_downwards() -> None:
    bad = []
    for path in sorted(AI.rglob("*.py")):
        for module, names in _runtime_imports(path, top_level_only=False):
            if not module.startswith("igny8d") or module.startswith("igny8d.ai"):
                continue
            targets = [f"{module}.{n}" for n in names] if module == "igny8d" else [module]
            bad += [f"{_module(path)} -> {t}" for t in targets
                    if t not in ALLOWED and t != "igny8d.__version__"]
    assert not bad, bad


def test_tornado_only_inside_the_openai_transport() -> None:
    at_import, lazily = [], set()
    for path in sorted(AI.rglob("*.py")):
        top = {m for m, _ in _runtime_imports(path, top_level_only=True)}
        every = {m for m, _ in _runtime_imports(path, top_level_only=False)}
        at_import += [f"{_module(path)} -> {m}" for m in top if m.split(".")[0] == "tornado"]
        if any(m.split(".")[0] == "tornado" for m in every):
            lazily.add(_module(path))
    assert not at_import, at_import
    # the network clients: the OpenAI-compatible transport and Runware's key check
    assert lazily == {"igny8d.ai.providers.openai.transport", "igny8d.ai.providers.runware"}


def test_no_import_cycle_inside_ai() -> None:
    """Module-level imports between igny8d.ai modules form no cycle (a package's modules
    importing their siblings while the package initialises is no cycle)."""
    modules = {_module(p): p for p in AI.rglob("*.py")}
    edges: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for module, names in _runtime_imports(path, top_level_only=True):
            if not module.startswith("igny8d.ai"):
                continue
            targets = {f"{module}.{n}" if f"{module}.{n}" in modules else module for n in names}
            targets = targets or {module}
            edges[name] |= {t for t in targets if t in modules and not name.startswith(t + ".")}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def walk(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in state:
                walk(nxt, [*stack, nxt])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            walk(node, [node])
    assert not cycles, cycles


@pytest.mark.subprocess
def test_the_server_start_loads_no_inflect_and_reads_no_ai_data() -> None:
    code = ("import sys, igny8d.app, igny8d.cli\n"
            "from igny8d.ai import lexicon\n"
            "print('inflect' in sys.modules, lexicon.read.cache_info().currsize)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.split() == ["False", "0"]


def test_the_data_files_load_and_are_shipped() -> None:
    assert "best" in vocabulary().modifiers and "the" in vocabulary().stopwords
    assert "crm" in idea_words().acronyms and idea_words().angles
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    patterns = cfg["options.package_data"]["igny8d"].split()
    files = [p.relative_to(ROOT / "igny8d").as_posix() for p in (AI / "data").rglob("*")
             if p.is_file()]
    assert files
    assert not [f for f in files if not any(fnmatch.fnmatch(f, pat) for pat in patterns)]
