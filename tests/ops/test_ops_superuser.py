"""`createsuperuser` (item 18 of issue 5): one-line refusals, register's email rule, a
sentence for a duplicate, and one "Operators" account however often it is run."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy import func, select

from igny8d.services.operators import OPERATORS_SLUG, create_superuser
from igny8d.store.engine import Store
from igny8d.store.errors import UniqueViolation
from igny8d.store.schema import accounts, users
from tests.helpers.process import one_line, run_cli


def superuser(tmp_path: Path, db_url: str, *args: str,
              **env: str) -> subprocess.CompletedProcess[str]:
    values = {"IGNY8_DATA_DIR": str(tmp_path / "data"), "IGNY8_BCRYPT_ROUNDS": "4", **env}
    return run_cli("createsuperuser", "--database-url", db_url, *args, cwd=tmp_path,
                   **values)  # type: ignore[arg-type]  # env names, not `timeout`


@pytest.mark.subprocess
def test_no_tty_and_no_password_is_one_line(tmp_path: Path) -> None:
    """stdin is not a terminal (run_cli gives none): no EOFError traceback from getpass."""
    db = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    proc = superuser(tmp_path, db, "--email", "ops@example.com")
    assert proc.returncode == 2
    assert "--password" in one_line(proc.stderr)
    proc = superuser(tmp_path, db)
    assert proc.returncode == 2
    assert "--email" in one_line(proc.stderr)


@pytest.mark.parametrize("email", ["nobody", "a@b", "two words@example.com", "x" * 250 + "@e.co"])
@pytest.mark.subprocess
def test_email_is_validated_like_register(tmp_path: Path, email: str) -> None:
    proc = superuser(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
                     "--email", email, "--password", "operator-pass-1")
    assert proc.returncode == 2
    assert "Enter a valid email address." in one_line(proc.stderr)


@pytest.mark.subprocess
def test_password_is_validated_like_register(tmp_path: Path) -> None:
    proc = superuser(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
                     "--email", "ops@example.com", "--password", "123456789")
    assert proc.returncode == 2
    assert "entirely numeric" in one_line(proc.stderr)


async def _counts(url: str) -> tuple[int, int]:
    store = Store.from_url(url)
    try:
        async with store.read() as conn:
            operators = await conn.scalar(
                select(func.count()).select_from(accounts)
                .where(accounts.c.name == "Operators"))
            supers = await conn.scalar(
                select(func.count()).select_from(users).where(users.c.is_superuser.is_(True)))
    finally:
        await store.close()
    return int(operators or 0), int(supers or 0)


@pytest.mark.slow
@pytest.mark.subprocess
async def test_duplicate_is_a_sentence_and_reruns_share_one_account(
    tmp_path: Path, db_url: str
) -> None:
    first = superuser(tmp_path, db_url, "--email", "one@example.com",
                      "--password", "operator-pass-1")
    assert first.returncode == 0, first.stderr
    assert "new account 'Operators'" in first.stdout
    dup = superuser(tmp_path, db_url, "--email", "ONE@example.com",
                    "--password", "operator-pass-1")
    assert dup.returncode == 2
    line = one_line(dup.stderr)
    assert line == ("igny8d: cannot create superuser: "
                    "A user with the email one@example.com already exists.")
    second = superuser(tmp_path, db_url, "--email", "two@example.com",
                       "--password", "operator-pass-2", IGNY8_SUPERUSER_EMAIL="ignored@x.co")
    assert second.returncode == 0, second.stderr
    assert "existing account 'Operators'" in second.stdout
    assert await _counts(db_url) == (1, 2)


async def test_service_reuses_the_operators_slug_account(db_url: str) -> None:
    """An "operators" account that holds no superuser yet (e.g. its operator was deleted)
    is found by slug; the service refuses a taken email with a sentence."""
    store = Store.from_url(db_url)
    try:
        async with store.begin() as conn:
            made = await create_superuser(conn, email="a@example.com", username=None,
                                          password_hash="x")
            assert made["account_created"] is True
            assert made["account"]["slug"] == OPERATORS_SLUG
            assert "password_hash" not in made["user"]
            await conn.execute(users.update().values(is_superuser=False))
            again = await create_superuser(conn, email="b@example.com", username=None,
                                           password_hash="x")
            assert again["account_created"] is False
            assert again["account"]["id"] == made["account"]["id"]
            with pytest.raises(UniqueViolation) as info:
                await create_superuser(conn, email="B@example.com", username=None,
                                       password_hash="x")
            assert info.value.errors == {
                "email": ["A user with the email b@example.com already exists."]}
    finally:
        await store.close()
