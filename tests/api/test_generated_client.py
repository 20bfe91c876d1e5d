"""A client generated from /api/schema/ by openapi-python-client works against the server.

The generated functions and models are named like the API (`auth_login`, `auth_sites_create`,
`TokenPair`), not like our handler classes: the document's operation ids and component names
are what a client author sees. The generated client is sync httpx; each call runs in a thread
(`asyncio.to_thread`) so the Tornado test server, on this test's event loop, keeps serving.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.helpers.client import PASSWORD

pytestmark = [pytest.mark.slow, pytest.mark.subprocess]

pytest.importorskip("openapi_python_client")
pytest.importorskip("httpx")

GENERATOR_CONFIG = "post_hooks: []\n"  # no ruff/black run over the output: fast, no tools


@pytest.fixture
def package_name() -> Iterator[str]:
    """A fresh package name per test (each store's run imports its own client)."""
    name = f"igny8_client_{secrets.token_hex(4)}"
    yield name
    for mod in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[mod]


def generate(schema: dict[str, Any], workdir: Path, package: str) -> ModuleType:
    (workdir / "schema.json").write_text(json.dumps(schema))
    (workdir / "config.yaml").write_text(GENERATOR_CONFIG + f"package_name_override: {package}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate",
         "--path", str(workdir / "schema.json"), "--config", str(workdir / "config.yaml"),
         "--meta", "none", "--output-path", str(workdir / package), "--fail-on-warning"],
        capture_output=True, text=True, timeout=120, cwd=workdir,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    sys.path.insert(0, str(workdir))
    try:
        importlib.invalidate_caches()
        return importlib.import_module(package)
    finally:
        sys.path.remove(str(workdir))


def sub(package: str, name: str) -> Any:
    return importlib.import_module(f"{package}.{name}")


async def close(*clients: Any) -> None:
    """Close the httpx clients a generated Client opened (sync and async)."""
    for c in clients:
        if c._client is not None:
            c._client.close()
        if c._async_client is not None:
            await c._async_client.aclose()


async def test_generated_client_talks_to_the_server(app, client, tmp_path, package_name):
    resp = await client.get("/api/schema/")
    assert resp.status == 200
    pkg = generate(json.loads(resp.body), tmp_path, package_name)
    models = sub(package_name, "models")
    register = sub(package_name, "api.auth.auth_register")
    login = sub(package_name, "api.auth.auth_login")
    me = sub(package_name, "api.auth.auth_me")
    sites_create = sub(package_name, "api.auth.auth_sites_create")
    sites_list = sub(package_name, "api.auth.auth_sites_list")
    # The names a client author reads: models like the API's objects, not our classes.
    for name in ("TokenPair", "TokenPairResponse", "LoginRequest", "RegisterRequest", "Site",
                 "SiteRequest", "SiteResponse", "PaginatedSiteList", "ErrorEnvelope"):
        assert hasattr(models, name), name
    assert not [n for n in dir(models) if "Handler" in n]

    signup = pkg.Client(base_url=app.base_url, raise_on_unexpected_status=True)
    stranger = pkg.Client(base_url=app.base_url, raise_on_unexpected_status=True)
    authed: Any = None
    try:
        email = "generated@example.com"
        created = await asyncio.to_thread(
            register.sync_detailed, client=signup,
            body=models.RegisterRequest(email=email, password=PASSWORD,
                                        password_confirm=PASSWORD))
        assert created.status_code == 201, created.content
        assert created.parsed.data.user.email == email

        pair = await asyncio.to_thread(
            login.sync, client=signup, body=models.LoginRequest(email=email, password=PASSWORD))
        assert isinstance(pair, models.TokenPairResponse), pair
        assert isinstance(pair.data, models.TokenPair)
        assert pair.data.user.email == email

        authed = pkg.AuthenticatedClient(base_url=app.base_url, token=pair.data.access,
                                         raise_on_unexpected_status=True)
        mine = await asyncio.to_thread(me.sync, client=authed)
        assert mine.data.user.email == email
        assert mine.data.user.role == "owner"

        site = await asyncio.to_thread(
            sites_create.sync, client=authed,
            body=models.SiteRequest(name="Generated site", domain="generated.example"))
        assert isinstance(site, models.SiteResponse), site
        assert site.data.name == "Generated site"

        page = await asyncio.to_thread(sites_list.sync, client=authed)
        assert isinstance(page, models.PaginatedSiteList), page
        assert page.count == 1
        assert [s.id for s in page.results] == [site.data.id]

        # The async flavour runs on this loop directly.
        again = await me.asyncio(client=authed)
        assert again.data.user.id == mine.data.user.id

        # A documented error status parses into the error envelope (an undocumented one
        # would raise UnexpectedStatus: raise_on_unexpected_status).
        refused = await asyncio.to_thread(me.sync_detailed, client=stranger)
        assert refused.status_code == 401
        assert isinstance(refused.parsed, models.ErrorEnvelope), refused.parsed
        assert refused.parsed.success is False
        assert refused.parsed.error
    finally:
        await close(signup, stranger, *([authed] if authed is not None else []))


async def test_generated_client_reads_a_refused_login(app, client, tmp_path, package_name):
    """Login answers 401 for a wrong password; the document must say so, or the generated
    client (raise_on_unexpected_status) raises instead of returning the error envelope."""
    resp = await client.get("/api/schema/")
    pkg = generate(json.loads(resp.body), tmp_path, package_name)
    models = sub(package_name, "models")
    login = sub(package_name, "api.auth.auth_login")
    await client.register("refused@example.com")
    anonymous = pkg.Client(base_url=app.base_url, raise_on_unexpected_status=True)
    try:
        wrong = await asyncio.to_thread(
            login.sync_detailed, client=anonymous,
            body=models.LoginRequest(email="refused@example.com", password="not-the-password"))
    finally:
        await close(anonymous)
    assert wrong.status_code == 401
    assert isinstance(wrong.parsed, models.ErrorEnvelope), wrong.parsed
    assert wrong.parsed.success is False
