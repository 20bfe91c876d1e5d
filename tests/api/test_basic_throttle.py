"""HTTP Basic is throttled like login: in the `auth` scope, by client address, before any
password is checked (a refused guess costs no bcrypt)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers.app import RunningApp
from tests.helpers.client import PASSWORD
from tests.helpers.paths import LOGIN, ME


@pytest.fixture
def verify_calls(throttled_app: RunningApp, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every password the server hashes to compare, in order."""
    calls: list[str] = []
    real = throttled_app.ctx.hasher.verify

    async def counting(password: str, encoded: str | None) -> bool:
        calls.append(password)
        return await real(password, encoded)

    monkeypatch.setattr(throttled_app.ctx.hasher, "verify", counting)
    return calls


async def test_basic_guesses_hit_the_auth_scope_before_bcrypt(
    throttled_app: RunningApp, verify_calls: list[str],
) -> None:
    c = throttled_app.client()
    try:
        statuses: list[int] = []
        last: Any = None
        for i in range(30):
            last = await c.get(ME, basic=("ann@example.com", f"guess-{i}"))
            statuses.append(last.status)
        assert statuses == [401] * 20 + [429] * 10
        assert len(verify_calls) == 20  # the ten 429s never reached the hasher
        assert last.headers["X-Throttle-Limit"] == "20"
        assert 1 <= int(last.headers["Retry-After"]) <= 60
        # A public endpoint does not make the guess free: refused the same way.
        resp = await c.get("/api/v1/auth/plans/", basic=("ann@example.com", "guess"))
        assert resp.status == 429
        assert len(verify_calls) == 20
        # The budget is the login's too (same scope, same address).
        resp = await c.post(LOGIN, {"email": "ann@example.com", "password": "guess"})
        assert resp.status == 429
    finally:
        c.close()


async def test_failed_logins_use_up_basic_too(
    throttled_app: RunningApp, verify_calls: list[str],
) -> None:
    c = throttled_app.client()
    try:
        for _ in range(20):
            resp = await c.post(LOGIN, {"email": "ann@example.com", "password": "guess"})
            assert resp.status == 401
        calls = len(verify_calls)
        resp = await c.get(ME, basic=("ann@example.com", "guess"))
        assert resp.status == 429
        assert len(verify_calls) == calls
    finally:
        c.close()


async def test_right_basic_credentials_do_not_use_up_the_budget(
    throttled_app: RunningApp, verify_calls: list[str],
) -> None:
    """A script authenticating with Basic on every request is limited by `default`, not by
    the 20 a minute meant for guesses: a right password gives its unit back."""
    c = throttled_app.client()
    try:
        await c.register("ann@example.com")  # one unit of the auth scope
        for _ in range(30):
            resp = await c.get(ME, basic=("ann@example.com", PASSWORD))
            assert resp.status == 200, resp.json
            assert resp.data["user"]["email"] == "ann@example.com"
        statuses = [(await c.get(ME, basic=("ann@example.com", "wrong"))).status
                    for _ in range(20)]
        assert statuses == [401] * 19 + [429]
    finally:
        c.close()
