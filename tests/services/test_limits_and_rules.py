"""The rules the services layer holds, through HTTP on both stores: atomic plan limits, ids
that are never reused, rank checks, PUT semantics, password confirmation, sector shapes."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from igny8d.permissions import Actor
from igny8d.services.sectors import SECTORS as SECTOR_SERVICE
from igny8d.store import sectors as sector_store
from igny8d.store.errors import ForeignKeyViolation
from igny8d.store.schema import sites, users
from igny8d.store.writes import insert_row
from tests.helpers.client import PASSWORD
from tests.helpers.paths import ME
from tests.helpers.paths import SECTORS as SEC
from tests.helpers.paths import SITES as S
from tests.helpers.paths import USERS as U


async def _count(app, table, account_id: int) -> int:
    async with app.ctx.store.read() as conn:
        return int((await conn.execute(
            select(func.count()).select_from(table).where(table.c.account_id == account_id)
        )).scalar_one())


# -- atomic plan limits ------------------------------------------------------------------------


async def test_concurrent_site_creates_stop_exactly_at_the_limit(app, client):
    owner = await client.owner("race@example.com")
    account_id = (await client.get(ME, token=owner)).data["user"]["account_id"]
    results = await asyncio.gather(*(
        client.post(S, {"name": f"Site {i}"}, token=owner) for i in range(20)))
    statuses = sorted(r.status for r in results)
    assert statuses.count(201) == 5, statuses
    assert statuses.count(403) == 15, statuses
    refused = next(r for r in results if r.status == 403)
    assert refused.error == "Plan limit reached" and "plan" in refused.errors
    assert await _count(app, sites, account_id) == 5


async def test_concurrent_user_creates_stop_exactly_at_the_limit(app, client):
    owner = await client.owner("seats@example.com")
    account_id = (await client.get(ME, token=owner)).data["user"]["account_id"]
    results = await asyncio.gather(*(
        client.post(U, {"email": f"u{i}@example.com", "password": PASSWORD, "role": "viewer"},
                    token=owner) for i in range(20)))
    statuses = sorted(r.status for r in results)
    # the owner holds one of the free plan's 5 seats
    assert statuses.count(201) == 4, statuses
    assert statuses.count(403) == 16, statuses
    assert await _count(app, users, account_id) == 5


async def test_concurrent_sector_creates_stop_at_the_per_site_limit(app, client):
    owner = await client.owner("secrace@example.com")
    site = await client.site(owner)
    results = await asyncio.gather(*(
        client.post(SEC, {"name": f"Sector {i}", "site_id": site["id"]}, token=owner)
        for i in range(25)))
    statuses = sorted(r.status for r in results)
    assert statuses.count(201) == 20, statuses
    listed = await client.get(f"{S}{site['id']}/sectors/", token=owner)
    assert len(listed.data) == 20


# -- ids are never reused; a token names one user only ----------------------------------------


async def test_deleted_users_token_never_logs_in_as_the_next_user(client):
    owner = await client.owner("boss@example.com")
    carol = await client.member(owner, "carol@example.com", "viewer")
    carol_id = (await client.get(ME, token=carol)).data["user"]["id"]
    assert (await client.delete(f"{U}{carol_id}/", token=owner)).status == 204
    dave = await client.post(U, {"email": "dave@example.com", "password": PASSWORD,
                                 "role": "admin"}, token=owner)
    assert dave.status == 201
    assert dave.data["id"] != carol_id  # ids are not handed out twice
    stale = await client.get(ME, token=carol)
    assert stale.status == 401, stale.json


async def test_token_of_a_user_whose_id_is_taken_again_is_refused(app, client):
    """Even if a row with the same id came back (a restore), its new key refuses the token."""
    await client.register("old@example.com")
    token = (await client.login("old@example.com"))["access"]
    async with app.ctx.store.begin() as conn:
        await conn.execute(users.update().where(users.c.email == "old@example.com")
                           .values(auth_key="f" * 32))
    assert (await client.get(ME, token=token)).status == 401


async def test_deleted_accounts_ids_are_not_reused(client):
    first = (await client.register("acc1@example.com")).data["user"]
    token = (await client.login("acc1@example.com"))["access"]
    resp = await client.delete(f"/api/v1/auth/accounts/{first['account_id']}/", token=token)
    assert resp.status == 204, resp.json
    second = (await client.register("acc2@example.com")).data["user"]
    assert second["account_id"] != first["account_id"]
    assert second["id"] != first["id"]
    assert (await client.get(ME, token=token)).status == 401


# -- role ranks --------------------------------------------------------------------------------


async def test_admin_cannot_manage_another_admin(client):
    owner = await client.owner("o@example.com")
    admin = await client.member(owner, "a1@example.com", "admin")
    other = await client.post(U, {"email": "a2@example.com", "password": PASSWORD,
                                  "role": "admin"}, token=owner)
    other_id = other.data["id"]
    body = {"email": "a2@example.com", "role": "viewer"}
    for attempt in (
        client.put(f"{U}{other_id}/", body, token=admin),
        client.patch(f"{U}{other_id}/", {"is_active": False}, token=admin),
        client.patch(f"{U}{other_id}/", {"password": "new-password-1"}, token=admin),
        client.delete(f"{U}{other_id}/", token=admin),
        client.post(f"{U}{other_id}/activate/", {}, token=admin),
    ):
        resp = await attempt
        assert resp.status == 403, resp.json
    # the owner manages admins; an admin still manages editors
    assert (await client.patch(f"{U}{other_id}/", {"role": "editor"}, token=owner)).status \
        == 200
    assert (await client.patch(f"{U}{other_id}/", {"is_active": False}, token=admin)).status \
        == 200
    # and may edit themselves (not their role)
    me = (await client.get(ME, token=admin)).data["user"]
    assert (await client.patch(f"{U}{me['id']}/", {"username": "adm"}, token=admin)).status \
        == 200


# -- PUT semantics -------------------------------------------------------------------------------


async def test_get_then_put_round_trips(client):
    owner = await client.owner("put@example.com")
    site = await client.site(owner, description="keep me", domain="example.com")
    sector = await client.sector(owner, site["id"])
    for path, obj in ((f"{S}{site['id']}/", site), (f"{SEC}{sector['id']}/", sector)):
        got = (await client.get(path, token=owner)).data
        got["name"] = got["name"] + " renamed"
        put = await client.put(path, got, token=owner)
        assert put.status == 200, put.json
        assert put.data["name"] == obj["name"] + " renamed"
        for key in ("description", "is_active"):
            assert put.data[key] == obj[key]
    # a site PUT without description keeps it
    put = await client.put(f"{S}{site['id']}/", {"name": "Bare"}, token=owner)
    assert put.data["description"] == "keep me" and put.data["domain"] == "example.com"
    # a changed immutable field is a 400 naming it; nothing is written
    other = await client.site(owner, "Other")
    moved = await client.put(f"{SEC}{sector['id']}/",
                             {"name": "Moved", "site_id": other["id"]}, token=owner)
    assert moved.status == 400 and set(moved.errors) == {"site_id"}, moved.json
    assert (await client.get(f"{SEC}{sector['id']}/", token=owner)).data["site_id"] == \
        site["id"]
    # an unknown field is still refused
    bad = await client.put(f"{S}{site['id']}/", {"name": "x", "colour": "red"}, token=owner)
    assert bad.status == 400 and "colour" in bad.errors


async def test_user_put_without_is_active_keeps_a_deactivated_user_inactive(client):
    owner = await client.owner("keep@example.com")
    created = await client.post(U, {"email": "v@example.com", "password": PASSWORD,
                                    "role": "viewer"}, token=owner)
    uid = created.data["id"]
    assert (await client.patch(f"{U}{uid}/", {"is_active": False}, token=owner)).status == 200
    got = (await client.get(f"{U}{uid}/", token=owner)).data
    put = await client.put(f"{U}{uid}/", {"email": got["email"], "role": "editor"},
                           token=owner)
    assert put.status == 200, put.json
    assert put.data["is_active"] is False and put.data["role"] == "editor"
    # the whole GET answer can be sent back as it is
    echoed = await client.put(f"{U}{uid}/", put.data, token=owner)
    assert echoed.status == 200, echoed.json


# -- password confirmation ------------------------------------------------------------------------


async def test_password_confirm_wherever_a_password_is_set(client):
    owner = await client.owner("conf@example.com")
    ok = await client.post(U, {"email": "c1@example.com", "password": PASSWORD,
                               "password_confirm": PASSWORD, "role": "viewer"}, token=owner)
    assert ok.status == 201, ok.json
    bad = await client.post(U, {"email": "c2@example.com", "password": PASSWORD,
                                "password_confirm": PASSWORD + "x", "role": "viewer"},
                            token=owner)
    assert bad.status == 400 and set(bad.errors) == {"password_confirm"}, bad.json
    uid = ok.data["id"]
    bad = await client.patch(f"{U}{uid}/", {"password": "another-pass-1",
                                            "password_confirm": "another-pass-2"}, token=owner)
    assert bad.status == 400 and set(bad.errors) == {"password_confirm"}
    bad = await client.post(f"{U}{uid}/activate/", {"password": "another-pass-1",
                                                    "password_confirm": "nope-nope-1"},
                            token=owner)
    assert bad.status == 400 and set(bad.errors) == {"password_confirm"}


# -- sectors are presented as sectors everywhere --------------------------------------------------


async def test_site_sectors_and_select_sectors_answer_sectors(client):
    owner = await client.owner("shape@example.com")
    site = await client.site(owner)
    sector = await client.sector(owner, site["id"])
    listed = (await client.get(f"{SEC}{sector['id']}/", token=owner)).data
    of_site = (await client.get(f"{S}{site['id']}/sectors/", token=owner)).data
    assert of_site == [listed]
    selected = await client.post(f"{S}{site['id']}/select_sectors/",
                                 {"sector_ids": [sector["id"]]}, token=owner)
    assert selected.status == 200, selected.json
    assert selected.data["sectors"] == [{**listed, "updated_at":
                                         selected.data["sectors"][0]["updated_at"]}]


# -- the store names broken references -------------------------------------------------------------


@pytest.mark.usefixtures("client")
async def test_foreign_key_violation_is_a_field_error(app, client):
    owner = await client.owner("fk@example.com")
    site = await client.site(owner)
    me = (await client.get(ME, token=owner)).data["user"]
    actor = Actor(user_id=me["id"], account_id=me["account_id"], role="owner")
    with pytest.raises(ForeignKeyViolation) as caught:
        async with app.ctx.store.begin() as conn:
            await insert_row(conn, sector_store.SECTORS, {
                "account_id": actor.account_id, "site_id": site["id"], "name": "x",
                "slug": "x", "industry_sector_id": 10**9,
            })
    assert caught.value.errors
    # the service path checks references itself (400, nothing written)
    with pytest.raises(Exception) as refused:
        async with app.ctx.store.begin() as conn:
            await SECTOR_SERVICE.create(conn, actor, {"site_id": site["id"], "name": "y",
                                                      "industry_sector_id": 10**9})
    assert "industry_sector_id" in (getattr(refused.value, "errors", None) or {})
