"""`throttle_rates` overrides a scope's rate (an operator console polling faster than the
admin scope's 30 a minute); unknown scopes and malformed items refuse to start."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from igny8d.settings import Settings, load_settings
from tests.helpers.app import make_settings, start_app, stop_app


async def test_an_override_changes_the_scope_limit_and_only_that(tmp_path: Path,
                                                                 db_url: str) -> None:
    running = await start_app(make_settings(tmp_path, db_url, debug_throttle=False,
                                            throttle_rates=("system=3/minute",)))
    c = running.client()
    try:
        token = await c.owner("rates@example.com")
        prompts = [await c.get("/api/v1/system/prompts/", token=token) for _ in range(4)]
        assert [r.headers["X-Throttle-Limit"] for r in prompts[:3]] == ["3", "3", "3"]
        assert [r.status for r in prompts] == [200, 200, 200, 429]
        assert "Retry-After" in prompts[3].headers
        keywords = await c.get("/api/v1/planner/keywords/", token=token)
        assert keywords.status == 200
        assert keywords.headers["X-Throttle-Limit"] == "60"  # planner keeps the reference's
    finally:
        c.close()
        await stop_app(running)


@pytest.mark.parametrize("item", ["systm=3/minute", "system", "system=", "system=often"])
def test_bad_overrides_are_refused(item: str) -> None:
    with pytest.raises(ValidationError, match="throttle"):
        Settings(throttle_rates=(item,))


def test_the_variable_is_a_comma_list() -> None:
    settings = load_settings(None, env={
        "IGNY8_THROTTLE_RATES": "system_admin=120/minute, billing=60/minute"})
    assert settings.rate_overrides() == {"system_admin": "120/minute",
                                         "billing": "60/minute"}
