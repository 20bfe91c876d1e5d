"""Pagination, search and ordering; tenant isolation; the role matrix; site grants."""

from __future__ import annotations

import pytest
from sqlalchemy import insert

from igny8d.store.schema import sectors
from igny8d.store.writes import now
from tests.helpers.client import PASSWORD
from tests.helpers.factories import me
from tests.helpers.paths import SECTORS as SEC
from tests.helpers.paths import SITES as S
from tests.helpers.paths import USERS as U

ROLES = ("owner", "admin", "editor", "viewer")


# -- pagination, search, ordering ----------------------------------------------------------


@pytest.fixture
async def twelve(client):
    """An owner with one site holding 12 sectors "Sector 00".."Sector 11"."""
    owner = await client.owner("own@example.com")
    site = await client.site(owner)
    for i in range(12):
        await client.sector(owner, site["id"], f"Sector {i:02d}")
    return owner, site


async def test_default_page_and_links(client, twelve):
    owner, _ = twelve
    base = client.base_url + SEC
    first = await client.get(SEC, token=owner)
    assert first.status == 200 and first.json["count"] == 12
    assert [r["name"] for r in first.json["results"]] == [f"Sector {i:02d}" for i in range(10)]
    assert first.json["next"] == f"{base}?page=2" and first.json["previous"] is None
    second = await client.get(f"{SEC}?page=2", token=owner)
    assert [r["name"] for r in second.json["results"]] == ["Sector 10", "Sector 11"]
    assert second.json["next"] is None and second.json["previous"] == base
    for raw in ("abc", "0", "-1"):
        assert len((await client.get(f"{SEC}?page_size={raw}", token=owner))
                   .json["results"]) == 10


async def test_page_size_and_links_keep_other_params(client, twelve):
    owner, site = twelve
    base = client.base_url + SEC
    p2 = await client.get(f"{SEC}?page=2&page_size=5", token=owner)
    assert p2.json["count"] == 12
    assert [r["name"] for r in p2.json["results"]] == [f"Sector {i:02d}" for i in range(5, 10)]
    assert p2.json["next"] == f"{base}?page_size=5&page=3"
    assert p2.json["previous"] == f"{base}?page_size=5"
    p3 = await client.get(f"{SEC}?page_size=5&page=3&site_id={site['id']}", token=owner)
    assert len(p3.json["results"]) == 2 and p3.json["next"] is None
    assert p3.json["previous"] == f"{base}?page_size=5&site_id={site['id']}&page=2"


@pytest.mark.parametrize("page", ["0", "abc", "-1", "3", "1.5"])
async def test_invalid_page(client, twelve, page):
    owner, _ = twelve
    resp = await client.get(f"{SEC}?page={page}", token=owner)
    assert resp.status == 404 and resp.error == "Invalid page."


async def test_empty_first_page_is_fine(client):
    owner = await client.owner("own@example.com")
    resp = await client.get(f"{SEC}?page=1", token=owner)
    assert resp.status == 200 and resp.json["count"] == 0 and resp.json["results"] == []
    assert resp.json["next"] is None and resp.json["previous"] is None
    assert (await client.get(f"{SEC}?page=2", token=owner)).status == 404


async def test_page_size_capped_at_100(app, client):
    owner = await client.owner("own@example.com")
    site = await client.site(owner)
    stamp = now()
    async with app.ctx.store.begin() as conn:
        await conn.execute(insert(sectors), [
            {"account_id": site["account_id"], "site_id": site["id"], "name": f"N{i:03d}",
             "slug": f"n{i:03d}", "description": "", "is_active": True,
             "created_at": stamp, "updated_at": stamp} for i in range(105)])
    resp = await client.get(f"{SEC}?page_size=1000", token=owner)
    assert resp.json["count"] == 105 and len(resp.json["results"]) == 100
    assert resp.json["next"] == f"{client.base_url}{SEC}?page_size=1000&page=2"
    last = await client.get(f"{SEC}?page_size=1000&page=2", token=owner)
    assert [r["name"] for r in last.json["results"]] == [f"N{i:03d}" for i in range(100, 105)]


async def test_search_and_ordering(client, twelve):
    owner, site = twelve
    await client.sector(owner, site["id"], "Special Widgets_50%")
    found = await client.get(f"{SEC}?search=WIDGET", token=owner)
    assert [r["name"] for r in found.json["results"]] == ["Special Widgets_50%"]
    two_words = await client.get(f"{SEC}?search=sector%201", token=owner)
    assert [r["name"] for r in two_words.json["results"]] == \
        ["Sector 01", "Sector 10", "Sector 11"]
    for literal, hits in (("%25", 1), ("_", 1), ("50%25", 1), ("x%25y", 0)):
        resp = await client.get(f"{SEC}?search={literal}", token=owner)
        assert resp.json["count"] == hits, literal
    desc = await client.get(f"{SEC}?ordering=-name&page_size=3", token=owner)
    assert [r["name"] for r in desc.json["results"]] == \
        ["Special Widgets_50%", "Sector 11", "Sector 10"]
    asc = await client.get(f"{SEC}?ordering=name&page_size=2", token=owner)
    assert [r["name"] for r in asc.json["results"]] == ["Sector 00", "Sector 01"]
    newest = await client.get(f"{SEC}?ordering=-created_at&page_size=1", token=owner)
    assert newest.json["results"][0]["name"] == "Special Widgets_50%"
    bad = await client.get(f"{SEC}?ordering=password", token=owner)
    assert bad.status == 400 and "ordering" in bad.errors
    assert "password" in bad.errors["ordering"][0]
    assert (await client.get(f"{SEC}?ordering=name,-nope", token=owner)).status == 400
    flt = await client.get(f"{SEC}?site_id=abc", token=owner)
    assert flt.status == 400 and flt.errors == {"site_id": ["Enter a number."]}
    users = await client.get(f"{U}?search=OWN@&ordering=-email", token=owner)
    assert [r["email"] for r in users.json["results"]] == ["own@example.com"]
    sites = await client.get(f"{S}?search=main", token=owner)
    assert sites.json["count"] == 1
    assert (await client.get(f"{S}?ordering=domainz", token=owner)).status == 400


# -- tenant isolation ---------------------------------------------------------------------


async def test_account_b_cannot_touch_account_a(client):
    a = await client.owner("a@example.com")
    b = await client.owner("b@example.com")
    site_a = await client.site(a, "A site")
    sec_a = await client.sector(a, site_a["id"], "A sector")
    inv = await client.post(f"{U}invite/", {"email": "a-ed@example.com", "role": "editor"},
                            token=a)
    user_a = inv.data
    site_b = await client.site(b, "B site")
    sec_b = await client.sector(b, site_b["id"], "B sector")
    b_id = (await me(client, b))["id"]

    for path, body in ((f"{U}{user_a['id']}/", {"email": "x@example.com", "role": "viewer"}),
                       (f"{S}{site_a['id']}/", {"name": "Hacked"}),
                       (f"{SEC}{sec_a['id']}/", {"name": "Hacked"})):
        assert (await client.get(path, token=b)).status == 404, path
        assert (await client.put(path, body, token=b)).status == 404, path
        assert (await client.patch(path, {"is_active": False}, token=b)).status == 404, path
        assert (await client.delete(path, token=b)).status == 404, path

    assert (await client.get(U, token=b)).json["count"] == 1
    lst_sites = await client.get(S, token=b)
    assert [s["id"] for s in lst_sites.json["results"]] == [site_b["id"]]
    lst_secs = await client.get(SEC, token=b)
    assert [s["id"] for s in lst_secs.json["results"]] == [sec_b["id"]]
    assert (await client.get(f"{SEC}?site_id={site_a['id']}", token=b)).json["count"] == 0

    attempts = [
        (f"{S}{site_a['id']}/set_active/", None),
        (f"{S}{site_a['id']}/select_sectors/", {"sector_ids": []}),
        (f"{S}{site_b['id']}/select_sectors/", {"sector_ids": [sec_a["id"]]}),
        (f"{S}{site_b['id']}/select_sectors/", {"sector_ids": [sec_b["id"], sec_a["id"]]}),
        (f"{U}{user_a['id']}/activate/", {"password": PASSWORD}),
        (SEC, {"name": "Sneak", "site_id": site_a["id"]}),
        (U, {"email": "b2@example.com", "password": PASSWORD, "role": "editor",
             "site_ids": [site_a["id"]]}),
        (f"{U}invite/", {"email": "b3@example.com", "site_ids": [site_a["id"]]}),
    ]
    for path, body in attempts:
        resp = await client.post(path, body, token=b)
        assert resp.status == 404, (path, resp.json)
    assert (await client.get(f"{S}{site_a['id']}/sectors/", token=b)).status == 404
    grant = await client.patch(f"{U}{b_id}/", {"site_ids": [site_a["id"]]}, token=b)
    assert grant.status == 404

    # Nothing changed, as A sees it (and B's own data too).
    assert (await client.get(f"{S}{site_a['id']}/", token=a)).data == site_a | {
        "sectors_count": 1}
    got_sec = (await client.get(f"{SEC}{sec_a['id']}/", token=a)).data
    assert got_sec["name"] == "A sector" and got_sec["is_active"] is True
    got_user = (await client.get(f"{U}{user_a['id']}/", token=a)).data
    assert got_user == user_a
    assert (await client.get(f"{SEC}{sec_b['id']}/", token=b)).data["is_active"] is True
    assert (await me(client, b))["active_site_id"] is None
    assert (await client.get(U, token=b)).json["count"] == 1
    assert (await client.get(SEC, token=b)).json["count"] == 1


async def test_isolation_of_users_between_admins(client):
    a = await client.owner("a@example.com")
    b = await client.owner("b@example.com")
    b_admin = await client.member(b, "b-admin@example.com", "admin")
    a_owner_id = (await me(client, a))["id"]
    for token in (b, b_admin):
        assert (await client.get(f"{U}{a_owner_id}/", token=token)).status == 404
        assert (await client.delete(f"{U}{a_owner_id}/", token=token)).status == 404
    emails = [u["email"] for u in (await client.get(U, token=b_admin)).json["results"]]
    assert sorted(emails) == ["b-admin@example.com", "b@example.com"]
    assert (await me(client, a))["is_active"] is True


# -- the role matrix ------------------------------------------------------------------------


async def _create_user(c, t, ctx):
    resp = await c.post(U, {"email": f"n-{ctx['role']}@example.com", "password": PASSWORD,
                            "role": "viewer"}, token=t)
    if resp.status == 201:
        assert (await c.delete(f"{U}{resp.data['id']}/", token=ctx["owner"])).status == 204
    return resp


async def _create_site(c, t, ctx):
    resp = await c.post(S, {"name": f"New {ctx['role']}"}, token=t)
    if resp.status == 201:
        assert (await c.delete(f"{S}{resp.data['id']}/", token=ctx["owner"])).status == 204
    return resp


async def _delete_site(c, t, ctx):
    victim = await c.site(ctx["owner"], f"Victim {ctx['role']}")
    resp = await c.delete(f"{S}{victim['id']}/", token=t)
    if resp.status != 204:
        assert (await c.get(f"{S}{victim['id']}/", token=ctx["owner"])).status == 200
        assert (await c.delete(f"{S}{victim['id']}/", token=ctx["owner"])).status == 204
    return resp


async def _update_site(c, t, ctx):
    resp = await c.patch(f"{S}{ctx['site']['id']}/", {"description": ctx["role"]}, token=t)
    desc = (await c.get(f"{S}{ctx['site']['id']}/", token=ctx["owner"])).data["description"]
    assert (desc == ctx["role"]) is (resp.status == 200)
    return resp


MATRIX = [
    # (name, roles allowed, call, expected success status)
    ("list users", {"owner", "admin"}, lambda c, t, x: c.get(U, token=t), 200),
    ("create user", {"owner", "admin"}, _create_user, 201),
    ("invite user", {"owner", "admin"},
     lambda c, t, x: c.post(f"{U}invite/", {"email": f"i-{x['role']}@example.com"}, token=t),
     201),
    ("list accounts", {"owner", "admin"}, lambda c, t, x: c.get("/api/v1/auth/accounts/",
                                                               token=t), 200),
    ("rename account", {"owner", "admin"},
     lambda c, t, x: c.patch(f"/api/v1/auth/accounts/{x['site']['account_id']}/",
                             {"name": f"Acc {x['role']}"}, token=t), 200),
    ("list sites", set(ROLES), lambda c, t, x: c.get(S, token=t), 200),
    ("retrieve site", set(ROLES), lambda c, t, x: c.get(f"{S}{x['site']['id']}/", token=t),
     200),
    ("create site", {"owner", "admin", "editor"}, _create_site, 201),
    ("update site", {"owner", "admin", "editor"}, _update_site, 200),
    ("delete site", {"owner", "admin"}, _delete_site, 204),
    ("set active site", set(ROLES),
     lambda c, t, x: c.post(f"{S}{x['site']['id']}/set_active/", token=t), 200),
    ("select sectors", {"owner", "admin", "editor"},
     lambda c, t, x: c.post(f"{S}{x['site']['id']}/select_sectors/", {"sector_ids": []},
                            token=t), 200),
    ("list sectors", set(ROLES), lambda c, t, x: c.get(SEC, token=t), 200),
    ("create sector", {"owner", "admin", "editor"},
     lambda c, t, x: c.post(SEC, {"name": f"Sec {x['role']}", "site_id": x["site"]["id"]},
                            token=t), 201),
]


@pytest.mark.parametrize("role", ROLES)
async def test_role_matrix(client, role):
    owner = await client.owner("own@example.com")
    site = await client.site(owner)
    tokens = {"owner": owner}
    for r in ROLES[1:]:
        tokens[r] = await client.member(owner, f"{r}@example.com", r)
    ctx = {"owner": owner, "site": site, "role": role}
    for name, allowed, call, ok_status in MATRIX:
        resp = await call(client, tokens[role], ctx)
        if role in allowed:
            assert resp.status == ok_status, (role, name, resp.json)
        else:
            assert resp.status == 403, (role, name, resp.status, resp.json)
            assert resp.error == "Permission denied", (role, name)
    # The account is still usable by its owner afterwards.
    assert (await client.get(S, token=owner)).json["count"] == 1
    assert (await client.get(SEC, token=owner)).json["count"] == (0 if role == "viewer" else 1)


# -- site grants ----------------------------------------------------------------------------


async def test_site_grants_limit_editors_and_viewers(client):
    owner = await client.owner("own@example.com")
    s1, s2, s3 = [await client.site(owner, n) for n in ("One", "Two", "Three")]
    sec = {s["id"]: await client.sector(owner, s["id"], "Sec") for s in (s1, s2, s3)}
    ed = await client.member(owner, "ed@example.com", "editor", site_ids=[s1["id"]])
    vi = await client.member(owner, "vi@example.com", "viewer", site_ids=[s2["id"], s3["id"]])
    free = await client.member(owner, "free@example.com", "editor")
    adm = await client.member(owner, "adm@example.com", "admin", site_ids=[s1["id"]])

    async def site_ids(token):
        return sorted(s["id"] for s in (await client.get(S, token=token)).json["results"])

    async def sector_sites(token):
        return sorted(s["site_id"] for s in (await client.get(SEC, token=token)).json["results"])

    everything = sorted([s1["id"], s2["id"], s3["id"]])
    assert await site_ids(ed) == [s1["id"]] and await sector_sites(ed) == [s1["id"]]
    assert await site_ids(vi) == sorted([s2["id"], s3["id"]])
    assert await sector_sites(vi) == sorted([s2["id"], s3["id"]])
    for token in (free, adm, owner):
        assert await site_ids(token) == everything
        assert await sector_sites(token) == everything
    assert [s["id"] for s in (await me(client, ed))["accessible_sites"]] == [s1["id"]]

    # Ungranted sites and their sectors are as if absent: 404 everywhere.
    assert (await client.get(f"{S}{s2['id']}/", token=ed)).status == 404
    assert (await client.get(f"{SEC}{sec[s2['id']]['id']}/", token=ed)).status == 404
    assert (await client.get(f"{S}{s2['id']}/sectors/", token=ed)).status == 404
    assert (await client.patch(f"{S}{s2['id']}/", {"name": "X"}, token=ed)).status == 404
    assert (await client.post(f"{S}{s2['id']}/set_active/", token=ed)).status == 404
    assert (await client.post(f"{S}{s2['id']}/select_sectors/", {"sector_ids": []},
                              token=ed)).status == 404
    far = await client.post(SEC, {"name": "N", "site_id": s2["id"]}, token=ed)
    assert far.status == 404 and "site_id" in far.errors
    assert (await client.get(f"{SEC}?site_id={s2['id']}", token=ed)).json["count"] == 0
    assert (await client.get(f"{S}{s1['id']}/", token=ed)).status == 200
    assert (await client.get(f"{S}{s2['id']}/", token=vi)).status == 200

    # A restricted editor sees the site they create; the owner sees it too.
    made = await client.site(ed, "Mine")
    assert await site_ids(ed) == sorted([s1["id"], made["id"]])
    assert len(await site_ids(owner)) == 4
    assert (await client.get(f"{S}{s2['id']}/", token=owner)).data["name"] == "Two"

    # Grants changed by the owner apply on the next request; none means every site.
    ed_id = (await me(client, ed))["id"]
    assert (await client.patch(f"{U}{ed_id}/", {"site_ids": []}, token=owner)).status == 200
    assert len(await site_ids(ed)) == 4
    await client.patch(f"{U}{ed_id}/", {"site_ids": [s3["id"]]}, token=owner)
    assert await site_ids(ed) == [s3["id"]]
