"""Reading back what the API (or the store) holds: every page of a list, a balance, the usage
row a job's charge wrote, the ids on a page."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select

from igny8d.store.schema import accounts, admin_audit
from tests.helpers.app import RunningApp
from tests.helpers.client import Client
from tests.helpers.paths import BALANCE, USAGE


async def all_pages(client: Client, token: str, path: str) -> list[dict[str, Any]]:
    """Every row of a list, following its `next` links page by page."""
    out: list[dict[str, Any]] = []
    url: str | None = path
    while url:
        resp = await client.get(url.removeprefix(client.base_url), token=token)
        assert resp.status == 200, resp.json
        out.extend(resp.json["results"])
        url = resp.json["next"]
    return out


async def all_rows(client: Client, token: str, path: str) -> list[dict[str, Any]]:
    """Every row of a list, 100 a page."""
    return await all_pages(client, token, path + ("&" if "?" in path else "?") + "page_size=100")


async def ids_of(client: Client, path: str, token: str) -> list[int]:
    """The ids on one page of a list."""
    resp = await client.get(path, token=token)
    assert resp.status == 200, resp.json
    return [r["id"] for r in resp.json["results"]]


def local(url: str) -> str:
    """A link the API gave (absolute) as the path and query the client asks for."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def credits(client: Client, token: str) -> int:
    """The caller's account balance, through the API."""
    resp = await client.get(BALANCE, token=token)
    assert resp.status == 200, resp.json
    return int(resp.data["credits"])


async def credits_of(app: RunningApp, account_id: int) -> int:
    """An account's balance, read from the store."""
    async with app.ctx.store.read() as conn:
        return int((await conn.execute(
            select(accounts.c.credits).where(accounts.c.id == account_id))).scalar_one())


async def usage_of(client: Client, token: str, reference: str) -> dict[str, Any]:
    """The one usage row a job's charge wrote (its reference is the task id)."""
    rows = [u for u in await all_rows(client, token, USAGE) if u["reference"] == reference]
    assert len(rows) == 1, rows
    return rows[0]


async def audit_count(app: RunningApp) -> int:
    """How many admin audit rows the store holds."""
    async with app.ctx.store.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(admin_audit)))
                   .scalar_one())


async def openapi_schema(client: Client) -> dict[str, Any]:
    """The served OpenAPI document (/api/schema/)."""
    resp = await client.get("/api/schema/")
    assert resp.status == 200
    return json.loads(resp.body)  # type: ignore[no-any-return]
