"""Fixtures of the API tests (the endpoints' HTTP behaviour; `app`, `throttled_app` and
`client` are tests/conftest.py's).

- `a`, `b`: two tenants (ann and bob), each an account with one site and two sectors
  (`helpers.factories.two_sector_owner`).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers.client import Client
from tests.helpers.factories import two_sector_owner


@pytest.fixture
async def a(client: Client) -> dict[str, Any]:
    return await two_sector_owner(client, "ann@example.com")


@pytest.fixture
async def b(client: Client) -> dict[str, Any]:
    return await two_sector_owner(client, "bob@example.com")
