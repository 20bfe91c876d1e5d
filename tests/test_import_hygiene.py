"""The layers import downwards only: store and services never load Tornado, the server never
loads Textual, and the core modules have no import cycles (harlequin's test is the model)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "igny8d"


def _loaded_after(imports: str) -> set[str]:
    code = f"import sys\n{imports}\nprint('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    return set(out.stdout.split())


@pytest.mark.parametrize("package", ["igny8d.store", "igny8d.services"])
def test_store_and_services_load_no_tornado(package: str) -> None:
    names = [f"{package}.{p.stem}" for p in (PKG / package.split(".")[1]).glob("*.py")
             if p.stem != "__init__"]
    assert names
    loaded = _loaded_after("\n".join(f"import {n}" for n in [package, *names]))
    assert not {m for m in loaded if m == "tornado" or m.startswith("tornado.")}


def test_the_server_loads_no_textual() -> None:
    loaded = _loaded_after("import igny8d.app\nimport igny8d.cli")
    assert "textual" not in loaded


def _module_imports(path: Path) -> set[str]:
    """igny8d modules this file imports at run time (TYPE_CHECKING blocks excluded)."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("igny8d"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("igny8d"))
    return found


def _layer(module: str) -> str | None:
    parts = module.split(".")
    if len(parts) < 2:
        return None
    name = parts[1]
    return name if name in {"store", "services", "permissions", "errors", "scope"} else None


def test_no_import_cycles_between_core_layers() -> None:
    """store, services, permissions, errors: each layer imports only the ones below it."""
    order = {"errors": 0, "scope": 1, "permissions": 2, "store": 3, "services": 4}
    bad: list[str] = []
    for path in PKG.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        here = _layer(module)
        if here is None:
            continue
        for target in _module_imports(path):
            there = _layer(target)
            if there is not None and there != here and order[there] > order[here]:
                bad.append(f"{module} -> {target}")
    assert not bad, bad


def test_no_import_cycles_within_store_and_services() -> None:
    """Within store/ and services/ modules import downwards only (a domain service uses
    `sector_objects` and `media`, never another domain service that uses it back), so
    every module imports first in a fresh interpreter. Imports inside functions count:
    a cycle is not fixed by hiding it in a function."""
    graph: dict[str, set[str]] = {}
    for package in ("store", "services"):
        for path in (PKG / package).glob("*.py"):
            module = f"igny8d.{package}.{path.stem}"
            graph[module] = set()
    for module in graph:
        path = ROOT / (module.replace(".", "/") + ".py")
        graph[module] = {t for t in _module_imports(path) if t in graph and t != module}
    cycles: list[list[str]] = []
    done: set[str] = set()

    def visit(module: str, trail: list[str]) -> None:
        if module in trail:
            cycles.append([*trail[trail.index(module):], module])
            return
        if module in done:
            return
        for target in sorted(graph[module]):
            visit(target, [*trail, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])
    assert not cycles, [" -> ".join(c) for c in cycles]
