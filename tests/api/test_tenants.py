"""Users, accounts, sites, sectors, plans and industries over HTTP, on both stores."""

from __future__ import annotations

from sqlalchemy import update

from igny8d.store.schema import users
from tests.helpers.client import PASSWORD
from tests.helpers.factories import me
from tests.helpers.paths import SECTORS as SEC
from tests.helpers.paths import SITES as S
from tests.helpers.paths import USERS as U

A = "/api/v1/auth/accounts/"
USER_KEYS = {"id", "email", "username", "role", "is_active", "account_id", "site_ids",
             "active_site_id", "last_login", "created_at"}


async def new_user(client, token, email, role="viewer", **extra):
    return await client.post(U, {"email": email, "password": PASSWORD, "role": role, **extra},
                             token=token)


# -- users ------------------------------------------------------------------------------------


async def test_users_list_shape_and_who_may_list(client):
    owner = await client.owner("own@example.com")
    resp = await client.get(U, token=owner)
    assert resp.status == 200
    assert set(resp.json) >= {"success", "count", "next", "previous", "results", "request_id"}
    assert resp.json["count"] == 1 and resp.json["next"] is None
    assert resp.json["previous"] is None
    (row,) = resp.json["results"]
    assert set(row) == USER_KEYS
    assert row["role"] == "owner" and row["email"] == "own@example.com"
    assert row["created_at"].endswith("Z")
    admin = await client.member(owner, "adm@example.com", "admin")
    editor = await client.member(owner, "ed@example.com", "editor")
    viewer = await client.member(owner, "vi@example.com", "viewer")
    assert (await client.get(U, token=admin)).json["count"] == 4
    for token in (editor, viewer):
        denied = await client.get(U, token=token)
        assert denied.status == 403 and denied.error == "Permission denied"
        assert (await client.get(f"{U}{row['id']}/", token=token)).status == 403
    assert (await client.get(U)).status == 401
    only = await client.get(f"{U}?role=editor", token=owner)
    assert [r["email"] for r in only.json["results"]] == ["ed@example.com"]


async def test_user_create_roles_and_validation(client):
    owner = await client.owner("own@example.com")
    resp = await new_user(client, owner, "Adm@Example.com", "admin", username="boss")
    assert resp.status == 201, resp.json
    assert resp.data["email"] == "adm@example.com" and resp.data["username"] == "boss"
    assert resp.data["role"] == "admin" and resp.data["is_active"] is True
    assert resp.data["site_ids"] == []
    assert resp.data["account_id"] == (await me(client, owner))["account_id"]
    admin = (await client.login("adm@example.com"))["access"]
    above = await new_user(client, admin, "o2@example.com", "owner")
    assert above.status == 403 and "role" in above.errors
    assert (await new_user(client, admin, "a2@example.com", "admin")).status == 201
    dup = await new_user(client, owner, "ADM@example.com")
    assert dup.status == 409 and "email" in dup.errors
    bad = await client.post(U, {"email": "nope", "password": "short", "role": "chief"},
                            token=owner)
    assert bad.status == 400 and {"email", "password", "role"} <= set(bad.errors)
    assert (await client.get(U, token=owner)).json["count"] == 3


async def test_user_plan_limit(client):
    owner = await client.owner("own@example.com")
    for i in range(4):
        assert (await new_user(client, owner, f"u{i}@example.com")).status == 201
    over = await new_user(client, owner, "u5@example.com")
    assert over.status == 403 and over.error == "Plan limit reached"
    assert over.errors["plan"] == ["The Free plan allows at most 5 users."]
    invited = await client.post(f"{U}invite/", {"email": "inv@example.com"}, token=owner)
    assert invited.status == 403 and "plan" in invited.errors
    assert (await client.get(U, token=owner)).json["count"] == 5


async def test_user_retrieve_put_patch_delete(client):
    owner = await client.owner("own@example.com")
    uid = (await new_user(client, owner, "ed@example.com", "editor")).data["id"]
    got = await client.get(f"{U}{uid}/", token=owner)
    assert got.status == 200 and got.data["email"] == "ed@example.com"
    put = await client.put(f"{U}{uid}/", {"email": "ed2@example.com", "role": "viewer",
                                         "username": "eddie"}, token=owner)
    assert put.status == 200, put.json
    assert (put.data["email"], put.data["role"], put.data["username"]) == \
        ("ed2@example.com", "viewer", "eddie")
    assert (await client.put(f"{U}{uid}/", {"email": "x@example.com"}, token=owner)).status \
        == 400
    patch = await client.patch(f"{U}{uid}/", {"username": "ed"}, token=owner)
    assert patch.status == 200 and patch.data["username"] == "ed"
    assert patch.data["email"] == "ed2@example.com" and patch.data["role"] == "viewer"
    assert (await client.patch(f"{U}{uid}/", {"bogus": 1}, token=owner)).status == 400
    gone = await client.delete(f"{U}{uid}/", token=owner)
    assert gone.status == 204 and gone.body == b"" and gone.headers["X-Request-ID"]
    assert (await client.get(f"{U}{uid}/", token=owner)).status == 404
    assert (await client.delete(f"{U}{uid}/", token=owner)).status == 404
    assert (await client.get(f"{U}abc/", token=owner)).status == 404


async def test_user_guards_self_and_owner(client):
    owner = await client.owner("own@example.com")
    owner_id = (await me(client, owner))["id"]
    admin = await client.member(owner, "adm@example.com", "admin")
    admin_id = (await me(client, admin))["id"]
    selfdel = await client.delete(f"{U}{owner_id}/", token=owner)
    assert selfdel.status == 403
    assert (await client.delete(f"{U}{admin_id}/", token=admin)).status == 403
    assert (await client.delete(f"{U}{owner_id}/", token=admin)).status == 403
    assert (await client.patch(f"{U}{owner_id}/", {"username": "x"}, token=admin)).status == 403
    own_role = await client.patch(f"{U}{owner_id}/", {"role": "admin"}, token=owner)
    assert own_role.status == 403 and "role" in own_role.errors
    up = await client.patch(f"{U}{admin_id}/", {"role": "owner"}, token=admin)
    assert up.status == 403
    selfoff = await client.patch(f"{U}{owner_id}/", {"is_active": False}, token=owner)
    assert selfoff.status == 403 and "is_active" in selfoff.errors
    got = await client.get(f"{U}{owner_id}/", token=owner)
    assert got.data["role"] == "owner" and got.data["is_active"] is True
    assert (await client.get(f"{U}{admin_id}/", token=owner)).data["role"] == "admin"


async def test_user_deactivation_ends_sessions(client):
    owner = await client.owner("own@example.com")
    ed = await client.member(owner, "ed@example.com", "editor")
    ed_id = (await me(client, ed))["id"]
    off = await client.patch(f"{U}{ed_id}/", {"is_active": False}, token=owner)
    assert off.status == 200 and off.data["is_active"] is False
    assert (await client.get("/api/v1/auth/me/", token=ed)).status == 401
    login = await client.post("/api/v1/auth/login/",
                              {"email": "ed@example.com", "password": PASSWORD})
    assert login.status == 401
    inactive = await client.get(f"{U}?is_active=false", token=owner)
    assert [r["id"] for r in inactive.json["results"]] == [ed_id]


async def test_unchanged_role_keeps_sessions(client):
    owner = await client.owner("own@example.com")
    o = await me(client, owner)
    put = await client.put(f"{U}{o['id']}/", {"email": o["email"], "role": "owner",
                                             "username": "renamed"}, token=owner)
    assert put.status == 200, put.json
    assert (await me(client, owner))["username"] == "renamed"
    ed = await client.member(owner, "ed@example.com", "editor")
    ed_id = (await me(client, ed))["id"]
    assert (await client.patch(f"{U}{ed_id}/", {"role": "editor"}, token=owner)).status == 200
    assert (await client.get("/api/v1/auth/me/", token=ed)).status == 200
    assert (await client.patch(f"{U}{ed_id}/", {"role": "viewer"}, token=owner)).status == 200
    assert (await client.get("/api/v1/auth/me/", token=ed)).status == 401


async def test_invite_and_activate(client):
    owner = await client.owner("own@example.com")
    inv = await client.post(f"{U}invite/", {"email": "new@example.com", "role": "editor"},
                            token=owner)
    assert inv.status == 201 and inv.json["message"] == "User invited"
    assert inv.data["is_active"] is False and inv.data["role"] == "editor"
    login = await client.post("/api/v1/auth/login/",
                              {"email": "new@example.com", "password": PASSWORD})
    assert login.status == 401
    editor = await client.member(owner, "ed@example.com", "editor")
    assert (await client.post(f"{U}invite/", {"email": "z@example.com"}, token=editor)).status \
        == 403
    admin = await client.member(owner, "adm@example.com", "admin")
    over = await client.post(f"{U}invite/", {"email": "o@example.com", "role": "owner"},
                             token=admin)
    assert over.status == 403
    bad = await client.post(f"{U}{inv.data['id']}/activate/", {"password": "1234"}, token=owner)
    assert bad.status == 400 and "password" in bad.errors
    act = await client.post(f"{U}{inv.data['id']}/activate/", {"password": PASSWORD},
                            token=owner)
    assert act.status == 200 and act.data["is_active"] is True
    assert act.json["message"] == "User activated"
    tokens = await client.login("new@example.com")
    assert (await me(client, tokens["access"]))["role"] == "editor"
    assert (await client.post(f"{U}99999/activate/", {}, token=owner)).status == 404


async def test_user_site_grants_validated(client):
    owner = await client.owner("own@example.com")
    other = await client.owner("other@example.com")
    mine = await client.site(owner, "Mine")
    theirs = await client.site(other, "Theirs")
    ok = await new_user(client, owner, "ed@example.com", "editor", site_ids=[mine["id"]])
    assert ok.status == 201 and ok.data["site_ids"] == [mine["id"]]
    bad = await new_user(client, owner, "ed2@example.com", "editor", site_ids=[theirs["id"]])
    assert bad.status == 404 and "site_ids" in bad.errors
    assert (await client.get(U, token=owner)).json["count"] == 2
    uid = ok.data["id"]
    patch = await client.patch(f"{U}{uid}/", {"site_ids": [theirs["id"]], "username": "zz"},
                               token=owner)
    assert patch.status == 404
    got = (await client.get(f"{U}{uid}/", token=owner)).data
    assert got["site_ids"] == [mine["id"]] and got["username"] != "zz"
    cleared = await client.patch(f"{U}{uid}/", {"site_ids": []}, token=owner)
    assert cleared.status == 200 and cleared.data["site_ids"] == []


# -- accounts ---------------------------------------------------------------------------------


async def test_accounts_scope_and_privileged_fields(client):
    owner = await client.owner("own@example.com")
    other = await client.owner("other@example.com")
    acc_id = (await me(client, owner))["account_id"]
    other_id = (await me(client, other))["account_id"]
    lst = await client.get(A, token=owner)
    assert lst.status == 200 and lst.json["count"] == 1
    (acc,) = lst.json["results"]
    assert acc["id"] == acc_id and acc["plan"] == "free" and acc["credits"] > 0
    assert acc["status"] == "active"
    assert (await client.get(f"{A}{other_id}/", token=owner)).status == 404
    assert (await client.patch(f"{A}{other_id}/", {"name": "x"}, token=owner)).status == 404
    admin = await client.member(owner, "adm@example.com", "admin")
    editor = await client.member(owner, "ed@example.com", "editor")
    assert (await client.get(A, token=editor)).status == 403
    for token, name in ((owner, "Renamed"), (admin, "Again")):
        resp = await client.patch(f"{A}{acc_id}/", {"name": name}, token=token)
        assert resp.status == 200 and resp.data["name"] == name
    put = await client.put(f"{A}{acc_id}/", {"name": "Put"}, token=owner)
    assert put.status == 200 and put.data["name"] == "Put"
    for body in ({"credits": 10**6}, {"plan_id": acc["plan_id"] + 1}, {"status": "suspended"}):
        denied = await client.patch(f"{A}{acc_id}/", body, token=owner)
        assert denied.status == 403 and set(denied.errors) == set(body)
    same = await client.patch(f"{A}{acc_id}/", {"credits": acc["credits"]}, token=owner)
    assert same.status == 200
    after = (await client.get(f"{A}{acc_id}/", token=owner)).data
    assert (after["credits"], after["plan"], after["status"]) == (acc["credits"], "free",
                                                                  "active")
    assert (await client.post(A, {"name": "New"}, token=owner)).status == 403


async def test_superuser_may_change_credits(app, client):
    owner = await client.owner("own@example.com")
    acc_id = (await me(client, owner))["account_id"]
    async with app.ctx.store.begin() as conn:
        await conn.execute(update(users).values(is_superuser=True))
    resp = await client.patch(f"{A}{acc_id}/", {"credits": 42, "status": "active"}, token=owner)
    assert resp.status == 200 and resp.data["credits"] == 42


async def test_account_delete(client):
    owner = await client.owner("own@example.com")
    acc_id = (await me(client, owner))["account_id"]
    admin = await client.member(owner, "adm@example.com", "admin")
    await client.site(owner)
    denied = await client.delete(f"{A}{acc_id}/", token=admin)
    assert denied.status == 403
    gone = await client.delete(f"{A}{acc_id}/", token=owner)
    assert gone.status == 204 and gone.body == b"" and gone.headers["X-Request-ID"]
    for token in (owner, admin):
        assert (await client.get("/api/v1/auth/me/", token=token)).status == 401


# -- sites ------------------------------------------------------------------------------------


async def test_sites_crud(client):
    owner = await client.owner("own@example.com")
    site = await client.site(owner, "My Blog!", domain="https://Example.COM/",
                             description="d")
    assert site["slug"] == "my-blog" and site["domain"] == "example.com"
    assert site["sectors_count"] == 0 and site["is_active"] is True
    assert site["industry_id"] is None and site["description"] == "d"
    sid = site["id"]
    got = await client.get(f"{S}{sid}/", token=owner)
    assert got.status == 200 and got.data == site
    put = await client.put(f"{S}{sid}/", {"name": "Other Name"}, token=owner)
    assert put.status == 200 and put.data["slug"] == "other-name"
    # omitted optional fields keep their values (DRF's PUT)
    assert put.data["domain"] == "example.com" and put.data["description"] == "d"
    patch = await client.patch(f"{S}{sid}/", {"is_active": False, "domain": "blog.io"},
                               token=owner)
    assert patch.status == 200 and patch.data["name"] == "Other Name"
    assert patch.data["domain"] == "blog.io" and patch.data["is_active"] is False
    for body in ({"name": "x", "domain": "not a domain"}, {"name": ""}, {},
                 {"name": "x", "industry_id": 999999}, {"name": "x", "color": "red"}):
        bad = await client.post(S, body, token=owner)
        assert bad.status == 400, (body, bad.json)
    assert "domain" in (await client.post(S, {"name": "x", "domain": "a b"},
                                          token=owner)).errors
    assert "industry_id" in (await client.post(S, {"name": "x", "industry_id": 999999},
                                               token=owner)).errors
    gone = await client.delete(f"{S}{sid}/", token=owner)
    assert gone.status == 204 and gone.body == b""
    assert (await client.get(f"{S}{sid}/", token=owner)).status == 404
    assert (await client.get(S, token=owner)).json["count"] == 0


async def test_site_slugs_transliterate_accents(client):
    """Accented names keep their letters ("Zürich" is not "z-rich"), so "Café" and "Caf"
    are two sites, not a false 409."""
    owner = await client.owner("accents@example.com")
    assert (await client.site(owner, "Zürich"))["slug"] == "zurich"
    assert (await client.site(owner, "Café"))["slug"] == "cafe"
    assert (await client.site(owner, "Caf"))["slug"] == "caf"
    dup = await client.post(S, {"name": "Cafe"}, token=owner)
    assert dup.status == 409 and "name" in dup.errors


async def test_site_uniqueness_and_plan_limit(client):
    owner = await client.owner("own@example.com")
    other = await client.owner("other@example.com")
    first = await client.site(owner, "Alpha")
    dup = await client.post(S, {"name": "Alpha"}, token=owner)
    assert dup.status == 409 and "name" in dup.errors
    assert (await client.site(other, "Alpha"))["slug"] == "alpha"
    for i in range(4):
        await client.site(owner, f"Site {i}")
    rename = await client.patch(f"{S}{first['id']}/", {"name": "Site 0"}, token=owner)
    assert rename.status == 409
    over = await client.post(S, {"name": "Sixth"}, token=owner)
    assert over.status == 403 and over.error == "Plan limit reached"
    assert over.errors["plan"] == ["The Free plan allows at most 5 sites."]
    assert (await client.get(S, token=owner)).json["count"] == 5


async def test_site_actions(client):
    owner = await client.owner("own@example.com")
    site = await client.site(owner, "Main")
    s2 = await client.site(owner, "Second")
    a = await client.sector(owner, site["id"], "Alpha")
    b = await client.sector(owner, site["id"], "Beta")
    c = await client.sector(owner, s2["id"], "Gamma")
    secs = await client.get(f"{S}{site['id']}/sectors/", token=owner)
    assert secs.status == 200 and [x["name"] for x in secs.data] == ["Alpha", "Beta"]
    assert (await client.get(f"{S}99999/sectors/", token=owner)).status == 404
    viewer = await client.member(owner, "vi@example.com", "viewer")
    act = await client.post(f"{S}{s2['id']}/set_active/", token=viewer)
    assert act.status == 200 and act.data["id"] == s2["id"]
    assert (await me(client, viewer))["active_site_id"] == s2["id"]
    assert (await me(client, owner))["active_site_id"] is None
    url = f"{S}{site['id']}/select_sectors/"
    assert (await client.post(url, {"sector_ids": [a["id"]]}, token=viewer)).status == 403
    sel = await client.post(url, {"sector_ids": [b["id"]]}, token=owner)
    assert sel.status == 200 and sel.data["id"] == site["id"]
    assert {x["name"]: x["is_active"] for x in sel.data["sectors"]} == \
        {"Alpha": False, "Beta": True}
    for ids in ([a["id"], c["id"]], [a["id"], 99999]):
        bad = await client.post(url, {"sector_ids": ids}, token=owner)
        assert bad.status == 404 and "sector_ids" in bad.errors
    assert (await client.post(url, {"sector_ids": "x"}, token=owner)).status == 400
    now = (await client.get(f"{SEC}?site_id={site['id']}", token=owner)).json["results"]
    assert {x["name"]: x["is_active"] for x in now} == {"Alpha": False, "Beta": True}
    assert (await client.get(f"{SEC}{c['id']}/", token=owner)).data["is_active"] is True
    none = await client.post(url, {"sector_ids": []}, token=owner)
    assert [x["is_active"] for x in none.data["sectors"]] == [False, False]


async def test_site_roles(client):
    owner = await client.owner("own@example.com")
    viewer = await client.member(owner, "vi@example.com", "viewer")
    editor = await client.member(owner, "ed@example.com", "editor")
    site = await client.site(owner)
    assert (await client.get(S, token=viewer)).json["count"] == 1
    assert (await client.get(f"{S}{site['id']}/", token=viewer)).status == 200
    assert (await client.post(S, {"name": "V"}, token=viewer)).status == 403
    made = await client.site(editor, "Editor's")
    assert (await client.delete(f"{S}{made['id']}/", token=editor)).status == 403
    assert (await client.delete(f"{S}{made['id']}/", token=owner)).status == 204


# -- sectors ----------------------------------------------------------------------------------


async def test_sectors_crud_and_filters(client):
    owner = await client.owner("own@example.com")
    other = await client.owner("other@example.com")
    s1 = await client.site(owner, "One")
    s2 = await client.site(owner, "Two")
    foreign = await client.site(other, "Foreign")
    sec = await client.sector(owner, s1["id"], "Running Shoes")
    assert sec["slug"] == "running-shoes" and sec["site_id"] == s1["id"]
    assert sec["is_active"] is True and sec["industry_sector_id"] is None
    dup = await client.post(SEC, {"name": "Running Shoes", "site_id": s1["id"]}, token=owner)
    assert dup.status == 409 and "name" in dup.errors
    await client.sector(owner, s2["id"], "Running Shoes")
    far = await client.post(SEC, {"name": "x", "site_id": foreign["id"]}, token=owner)
    assert far.status == 404 and "site_id" in far.errors
    assert (await client.post(SEC, {"name": "x"}, token=owner)).status == 400
    put = await client.put(f"{SEC}{sec['id']}/", {"name": "Trail Shoes", "is_active": False},
                           token=owner)
    assert put.status == 200 and put.data["slug"] == "trail-shoes"
    assert put.data["site_id"] == s1["id"]
    assert (await client.patch(f"{SEC}{sec['id']}/", {"site_id": s2["id"]},
                               token=owner)).status == 400
    patch = await client.patch(f"{SEC}{sec['id']}/", {"description": "hi"}, token=owner)
    assert patch.data["description"] == "hi" and patch.data["is_active"] is False
    by_site = await client.get(f"{SEC}?site_id={s1['id']}", token=owner)
    assert [x["id"] for x in by_site.json["results"]] == [sec["id"]]
    active = await client.get(f"{SEC}?is_active=true", token=owner)
    assert active.json["count"] == 1 and active.json["results"][0]["site_id"] == s2["id"]
    bad = await client.get(f"{SEC}?site_id=abc", token=owner)
    assert bad.status == 400 and "site_id" in bad.errors
    assert (await client.get(f"{SEC}?is_active=maybe", token=owner)).status == 400
    assert (await client.get(f"{S}{s1['id']}/", token=owner)).data["sectors_count"] == 1
    gone = await client.delete(f"{SEC}{sec['id']}/", token=owner)
    assert gone.status == 204 and gone.body == b""
    assert (await client.get(f"{SEC}{sec['id']}/", token=owner)).status == 404


async def test_sector_industry_sector_must_match_site(client):
    owner = await client.owner("own@example.com")
    inds = (await client.get("/api/v1/auth/industries/?page_size=100")).json["results"]
    first, second = inds[0], inds[1]
    site = await client.site(owner, "Ind", industry_id=first["id"])
    assert site["industry_id"] == first["id"]
    wrong = await client.post(SEC, {"name": "W", "site_id": site["id"],
                                    "industry_sector_id": second["sectors"][0]["id"]},
                              token=owner)
    assert wrong.status == 400 and "industry_sector_id" in wrong.errors
    missing = await client.post(SEC, {"name": "M", "site_id": site["id"],
                                      "industry_sector_id": 999999}, token=owner)
    assert missing.status == 400
    right = await client.post(SEC, {"name": "R", "site_id": site["id"],
                                    "industry_sector_id": first["sectors"][0]["id"]},
                              token=owner)
    assert right.status == 201 and right.data["industry_sector_id"] == first["sectors"][0]["id"]
    patched = await client.patch(f"{SEC}{right.data['id']}/",
                                 {"industry_sector_id": second["sectors"][0]["id"]},
                                 token=owner)
    assert patched.status == 400
    after = (await client.get(f"{SEC}{right.data['id']}/", token=owner)).data
    assert after["industry_sector_id"] == first["sectors"][0]["id"]


async def test_sector_plan_limit(client):
    owner = await client.owner("own@example.com")
    site = await client.site(owner)
    for i in range(20):
        await client.sector(owner, site["id"], f"S{i}")
    over = await client.post(SEC, {"name": "S20", "site_id": site["id"]}, token=owner)
    assert over.status == 403 and "plan" in over.errors


# -- plans and industries ---------------------------------------------------------------------


async def test_plans_public(client):
    resp = await client.get("/api/v1/auth/plans/")
    assert resp.status == 200 and resp.json["count"] == 4
    slugs = [p["slug"] for p in resp.json["results"]]
    assert slugs == ["free", "starter", "growth", "scale"]
    free = resp.json["results"][0]
    assert free["max_sites"] >= 5 and free["max_users"] >= 5
    assert free["max_sectors_per_site"] >= 20 and free["monthly_credits"] >= 1000
    assert free["price_monthly"] == "0.00" and free["is_active"] is True
    got = await client.get(f"/api/v1/auth/plans/{free['id']}/")
    assert got.status == 200 and got.data == free
    assert (await client.get("/api/v1/auth/plans/99999/")).status == 404
    assert (await client.post("/api/v1/auth/plans/", {"slug": "x"})).status in (401, 405)


async def test_industries_public(client):
    resp = await client.get("/api/v1/auth/industries/")
    assert resp.status == 200 and resp.json["count"] >= 2
    ind = resp.json["results"][0]
    assert set(ind) == {"id", "slug", "name", "description", "is_active", "sectors"}
    assert ind["sectors"] and set(ind["sectors"][0]) == {"id", "slug", "name", "description"}
    names = [i["name"] for i in resp.json["results"]]
    assert names == sorted(names)
    got = await client.get(f"/api/v1/auth/industries/{ind['id']}/")
    assert got.status == 200 and got.data == ind
    assert (await client.get("/api/v1/auth/industries/99999/")).status == 404
    found = await client.get(f"/api/v1/auth/industries/?search={ind['name'][:4]}")
    assert ind["id"] in [i["id"] for i in found.json["results"]]


async def test_patch_validates_like_put(client):
    owner = await client.owner("own@example.com")
    site = await client.site(owner, "Keep", domain="keep.io")
    sec = await client.sector(owner, site["id"], "Keep")
    uid = (await new_user(client, owner, "ed@example.com", "editor")).data["id"]
    acc_id = site["account_id"]
    cases = [
        (f"{S}{site['id']}/", {"name": None}, "name"),
        (f"{S}{site['id']}/", {"name": ""}, "name"),
        (f"{S}{site['id']}/", {"is_active": None}, "is_active"),
        (f"{S}{site['id']}/", {"domain": "a b"}, "domain"),
        (f"{SEC}{sec['id']}/", {"name": None}, "name"),
        (f"{SEC}{sec['id']}/", {"description": None}, "description"),
        (f"{U}{uid}/", {"email": None}, "email"),
        (f"{U}{uid}/", {"email": "nope"}, "email"),
        (f"{U}{uid}/", {"password": "short"}, "password"),
        (f"{U}{uid}/", {"role": "chief"}, "role"),
        (f"{A}{acc_id}/", {"name": ""}, "name"),
    ]
    for path, body, field in cases:
        resp = await client.patch(path, body, token=owner)
        assert resp.status == 400 and field in resp.errors, (path, body, resp.json)
    assert (await client.get(f"{S}{site['id']}/", token=owner)).data == \
        site | {"sectors_count": 1}
    assert (await client.get(f"{SEC}{sec['id']}/", token=owner)).data == sec
    assert (await client.post("/api/v1/auth/login/", {"email": "ed@example.com",
                                                     "password": "short"})).status == 401
    await client.login("ed@example.com")
    cleared = await client.patch(f"{S}{site['id']}/", {"domain": None}, token=owner)
    assert cleared.status == 200 and cleared.data["domain"] is None
    trimmed = await client.patch(f"{S}{site['id']}/", {"name": "  Kept  "}, token=owner)
    assert trimmed.data["name"] == "Kept"
