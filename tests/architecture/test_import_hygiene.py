"""The architecture holds: layers import downwards only and have no cycles (import-linter's
contracts in pyproject.toml), every module imports first in a fresh interpreter, the
executor, store, services and operations load no Tornado, the server no Textual (harlequin's
test is the model)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.helpers.paths import ROOT

pytestmark = pytest.mark.subprocess

PACKAGES = ("igny8d", "tui")


def _modules(package: str) -> list[str]:
    """Every module of a package; not migrations (Alembic loads those by path), nor
    `__main__` (importing it runs the program)."""
    out: list[str] = []
    for path in sorted((ROOT / package).rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        if "migrations" in rel.parts or rel.name == "__main__":
            continue
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        out.append(".".join(parts))
    return out


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)


def test_import_contracts() -> None:
    """Layers, no cycles at any depth, no Tornado below the handlers, the console apart."""
    lint = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run([str(lint), "--no-cache"], capture_output=True, text=True, cwd=ROOT,
                         timeout=300)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]


#: third-party libraries the forked children share (loaded once in the parent: a child then
#: pays only for igny8d's own modules)
THIRD_PARTY = ("sqlalchemy", "sqlalchemy.ext.asyncio", "aiosqlite", "asyncpg", "alembic",
               "alembic.config", "pydantic", "tornado.web", "tornado.httpclient",
               "textual.app", "sentry_sdk", "prometheus_client", "cryptography",
               "apscheduler.schedulers.asyncio", "limits", "jwt", "bcrypt", "orjson", "nh3",
               "slugify", "snowballstemmer", "PIL.Image", "httpx")


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.slow
def test_every_module_imports_first() -> None:
    """A cycle shows when a module of it is imported first: each module is imported in a
    forked child of an interpreter that has loaded the third-party libraries only (a
    child per core at a time)."""
    names = [m for p in PACKAGES for m in _modules(p)]
    assert len(names) > 100
    code = f"""
        import importlib, os, sys
        for lib in {THIRD_PARTY!r}:
            importlib.import_module(lib)
        assert not any(m == "igny8d" or m.startswith(("igny8d.", "tui")) for m in sys.modules)
        todo, running, bad = list({names!r}), {{}}, []
        while todo or running:
            while todo and len(running) < (os.cpu_count() or 2):
                name = todo.pop()
                pid = os.fork()
                if pid == 0:
                    try:
                        importlib.import_module(name)
                    except BaseException as exc:
                        print(name, type(exc).__name__, exc, file=sys.stderr)
                        os._exit(1)
                    os._exit(0)
                running[pid] = name
            pid, status = os.wait()
            if status:
                bad.append(running[pid])
            del running[pid]
        print(" ".join(sorted(bad)))
    """
    out = _run(code)
    assert out.returncode == 0, out.stderr[-4000:]
    assert out.stdout.split() == [], out.stderr[-4000:]


@pytest.mark.parametrize("package", ["igny8d.store", "igny8d.services", "igny8d.jobs",
                                     "igny8d.operations"])
def test_lower_layers_load_no_tornado(package: str) -> None:
    """Importing every module of the layer (nothing run) loads no Tornado: the network and
    HTTP live above (handlers) or inside a provider, loaded when one is used."""
    names = _modules(package.replace(".", "/"))
    assert names
    out = _run("import sys\n" + "\n".join(f"import {n}" for n in names) + """
print(sorted(m for m in sys.modules if m == "tornado" or m.startswith("tornado.")))""")
    assert out.returncode == 0, out.stderr[-4000:]
    assert out.stdout.strip() == "[]", out.stdout


def test_the_server_loads_no_textual_and_no_inflect() -> None:
    """The console is a separate program; inflect (seconds and tens of MB to import) loads
    only when the offline provider writes."""
    out = _run("""
        import sys, igny8d.app, igny8d.cli
        print(sorted({m.split(".")[0] for m in sys.modules} & {"textual", "inflect"}))""")
    assert out.returncode == 0, out.stderr[-4000:]
    assert out.stdout.strip() == "[]", out.stdout
