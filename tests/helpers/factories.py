"""Tenants and what they own, made through the API the way a client would (each answer
checked): owners and their accounts, sites and sectors, operators, keywords, clusters, tasks
and content. A factory that writes to the store directly says so."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from igny8d.permissions import Actor
from igny8d.services.operators import create_superuser
from igny8d.store.schema import plans, users
from tests.helpers.app import RunningApp
from tests.helpers.client import PASSWORD, Client, multipart
from tests.helpers.paths import CLUSTERS, CONTENT, KEYWORDS, KEYWORDS_IMPORT, ME, TASKS

OPS_EMAIL = "ops@example.com"

ESPRESSO = [("espresso machine", 9000), ("espresso machines", 4000),
            ("best espresso machine", 3000), ("espresso machine reviews", 900),
            ("cheap espresso machine", 800), ("espresso machine for home", 700),
            ("home espresso machine", 650), ("espresso machine price", 500),
            ("espresso machine deals", 300), ("espresso machine sale", 200)]
"""Ten keywords (text, volume) of one topic, for `add_keywords` and `make_cluster`."""
SOURDOUGH = [("sourdough starter", 7000), ("sourdough starters", 2000),
             ("how to make sourdough starter", 1800), ("sourdough starter recipe", 1600),
             ("how to feed sourdough starter", 900), ("what is a sourdough starter", 700),
             ("sourdough starter guide", 500), ("sourdough starter tips", 400),
             ("easy sourdough starter", 350), ("sourdough starter ratio", 250)]
"""Ten keywords of another topic, mostly informational."""

# -- owners and accounts ---------------------------------------------------------------------


async def me(client: Client, token: str) -> dict[str, Any]:
    """The caller's user, as `auth/me` shows it."""
    resp = await client.get(ME, token=token)
    assert resp.status == 200, resp.json
    return dict(resp.data["user"])


async def owner_and_account(client: Client, email: str) -> tuple[str, int]:
    """A newly registered account: its owner's access token and the account's id."""
    token = await client.owner(email)
    return token, int((await client.get(ME, token=token)).data["user"]["account_id"])


async def tenant(client: Client, email: str) -> dict[str, Any]:
    """A registered account's owner: token, refresh token, ids."""
    await client.register(email)
    pair = await client.login(email)
    user = (await client.get(ME, token=pair["access"])).data["user"]
    return {"token": pair["access"], "refresh": pair["refresh"], "email": email,
            "user_id": int(user["id"]), "account_id": int(user["account_id"])}


async def superuser(app: RunningApp, email: str = OPS_EMAIL,
                    password: str = PASSWORD) -> dict[str, Any]:
    """A superuser in the Operators account, made straight in the store the way `igny8d
    createsuperuser` makes one: `create_superuser`'s answer (`user`, `account`)."""
    password_hash = await app.ctx.hasher.hash(password)
    async with app.ctx.store.begin() as conn:
        return dict(await create_superuser(conn, email=email, username=None,
                                           password_hash=password_hash))


async def operator(app: RunningApp, client: Client, email: str = OPS_EMAIL) -> dict[str, Any]:
    """A `superuser` and their login."""
    made = await superuser(app, email)
    pair = await client.login(email)
    return {"token": pair["access"], "refresh": pair["refresh"],
            "user_id": int(made["user"]["id"]), "account_id": int(made["account"]["id"])}


async def account(client: Client, email: str) -> dict[str, Any]:
    """A new account (free plan) with a site and a sector: its owner's token, the ids, and
    the site and sector as the API answered them."""
    token = await client.owner(email)
    user = (await client.get(ME, token=token)).data["user"]
    site = await client.site(token)
    sector = await client.sector(token, site["id"])
    return {"token": token, "user_id": int(user["id"]), "account_id": int(user["account_id"]),
            "site": site, "sector": sector}


async def owner_site_sector(client: Client, email: str) -> tuple[str, dict[str, Any],
                                                                 dict[str, Any]]:
    """A new account's owner token, its site and a sector of it."""
    token = await client.owner(email)
    site = await client.site(token)
    sector = await client.sector(token, site["id"])
    return token, site, sector


async def two_sector_owner(client: Client, email: str) -> dict[str, Any]:
    """An account with one site and two sectors, by id: token, site, sector, other_sector,
    account."""
    token = await client.owner(email)
    site = await client.site(token, "Site of " + email)
    sector = await client.sector(token, site["id"], "Sector A")
    other = await client.sector(token, site["id"], "Sector B")
    return {"token": token, "site": site["id"], "sector": sector["id"],
            "other_sector": other["id"], "account": site["account_id"]}


async def actor_for(app: RunningApp, email: str) -> Actor:
    """The `Actor` (user, account, role) of the user with this email, read from the store."""
    async with app.ctx.store.read() as conn:
        row = (await conn.execute(select(users).where(users.c.email == email))).one()
    return Actor(user_id=row.id, account_id=row.account_id, role=row.role)


def where(t: dict[str, Any], sector: str = "sector") -> dict[str, int]:
    """The site and sector ids of a `two_sector_owner` (`sector="other_sector"` for the
    second), as request fields."""
    return {"site_id": t["site"], "sector_id": t[sector]}


async def set_keyword_limit(app: RunningApp, slug: str, value: int) -> int:
    """Set a plan's `max_keywords` in the store; the old value (to put back)."""
    async with app.ctx.store.begin() as conn:
        old = (await conn.execute(select(plans.c.max_keywords).where(plans.c.slug == slug))
               ).scalar_one()
        await conn.execute(update(plans).where(plans.c.slug == slug)
                           .values(max_keywords=value))
    return int(old)


# -- planner ---------------------------------------------------------------------------------


async def keyword(client: Client, token: str, sector: dict[str, Any], text: str,
                  **extra: Any) -> dict[str, Any]:
    """One keyword in `sector` (a sector as the API answered it)."""
    resp = await client.post(KEYWORDS, {"keyword": text, "site_id": sector["site_id"],
                                        "sector_id": sector["id"], **extra}, token=token)
    assert resp.status == 201, resp.json
    return dict(resp.data)


async def add_keywords(client: Client, env: dict[str, Any], texts: list[tuple[str, int]],
                       sector: dict[str, Any] | None = None, **extra: Any) -> list[int]:
    """Keywords (text, volume) in an `account`'s sector (or `sector`): their ids."""
    sector = sector or env["sector"]
    ids = []
    for text, volume in texts:
        resp = await client.post(KEYWORDS, {"keyword": text, "volume": volume,
                                            "site_id": sector["site_id"],
                                            "sector_id": sector["id"], **extra},
                                 token=env["token"])
        assert resp.status == 201, resp.json
        ids.append(int(resp.data["id"]))
    return ids


async def upload(client: Any, token: str, site: dict[str, Any], sector: dict[str, Any],
                 data: bytes, **fields: Any) -> Any:
    """A keyword CSV (`data`) imported into `sector` with `fields` besides; the answer
    unchecked (the caller's test is about it)."""
    body, headers = multipart({"site_id": site["id"], "sector_id": sector["id"], **fields},
                              {"file": ("keywords.csv", data)})
    return await client.request("POST", KEYWORDS_IMPORT, body=body, headers=headers,
                                token=token)


async def make_cluster(client: Client, env: dict[str, Any], name: str,
                       texts: list[tuple[str, int]]) -> int:
    """A cluster made by hand in an `account`'s sector, with these keywords in it."""
    resp = await client.post(CLUSTERS, {"name": name, "site_id": env["sector"]["site_id"],
                                        "sector_id": env["sector"]["id"]}, token=env["token"])
    assert resp.status == 201, resp.json
    cid = int(resp.data["id"])
    await add_keywords(client, env, texts, cluster_id=cid)
    return cid


async def new_cluster(client: Client, who: dict[str, Any], name: str = "Cluster", *,
                      sector: int | None = None, **extra: Any) -> dict[str, Any]:
    """An empty cluster of a `two_sector_owner` (in its first sector unless `sector`)."""
    resp = await client.post(CLUSTERS, {"name": name, "site_id": who["site"],
                                        "sector_id": sector or who["sector"], **extra},
                             token=who["token"])
    assert resp.status == 201, resp.json
    return dict(resp.data)


# -- writer ----------------------------------------------------------------------------------


async def make_task(client: Client, t: dict[str, Any], title: str = "Task",
                    **extra: Any) -> dict[str, Any]:
    """A writer task of a `two_sector_owner`."""
    resp = await client.post(TASKS, {"title": title, **where(t), **extra}, token=t["token"])
    assert resp.status == 201, resp.json
    return dict(resp.data)


async def make_content(client: Client, t: dict[str, Any], title: str = "Post",
                       html: str = "<p>one two three</p>", **extra: Any) -> dict[str, Any]:
    """A content row of a `two_sector_owner`."""
    resp = await client.post(CONTENT, {"title": title, "html_content": html, **where(t),
                                       **extra}, token=t["token"])
    assert resp.status == 201, resp.json
    return dict(resp.data)
