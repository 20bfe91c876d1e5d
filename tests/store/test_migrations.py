"""The migrations build exactly the schema the code declares, on each store."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select

from igny8d.store.engine import Store
from igny8d.store.schema import (
    OUTSIDE_METADATA,
    industries,
    industry_sectors,
    metadata,
    plans,
    seed_keywords,
)


def include_name(name, type_, parent_names):
    """The search indexes of migration 0005 are outside the Core metadata."""
    return name is None or not name.startswith(OUTSIDE_METADATA)


async def test_no_drift_between_migrations_and_schema(db_url):
    store = Store.from_url(db_url)
    try:
        async with store.read() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(
                    MigrationContext.configure(c, opts={
                        "compare_type": True, "include_name": include_name}), metadata)
            )
        assert diff == []
        assert await store.current_revision() == Store.head_revision()
    finally:
        await store.close()


async def test_reference_data_is_loaded(db_url):
    store = Store.from_url(db_url)
    try:
        async with store.read() as conn:
            counts = {t.name: (await conn.execute(select(func.count()).select_from(t)))
                      .scalar_one() for t in (plans, industries, industry_sectors, seed_keywords)}
            free = (await conn.execute(select(plans).where(plans.c.slug == "free"))).one()
    finally:
        await store.close()
    assert counts["plans"] == 4
    assert counts["industries"] >= 10 and counts["industry_sectors"] >= 40
    assert counts["seed_keywords"] >= 15 * counts["industry_sectors"]
    # DESIGN.md: the free plan allows at least 5 sites, 20 sectors, 5 users, 1,000 credits
    assert free.max_sites >= 5 and free.max_sectors_per_site >= 20
    assert free.max_users >= 5 and free.monthly_credits >= 1000


async def test_migrate_is_idempotent(db_url):
    store = Store.from_url(db_url)
    try:
        await store.migrate()
        assert await store.current_revision() == Store.head_revision()
    finally:
        await store.close()


async def test_0003_keeps_existing_tenants_and_gives_each_user_a_key(tmp_path):
    """An install made before ids stopped being reused upgrades with all its rows."""
    from alembic import command
    from sqlalchemy import text

    from igny8d.store.engine import alembic_config

    store = Store.from_url(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    try:
        async with store.engine.begin() as conn:
            await conn.run_sync(lambda c: command.upgrade(alembic_config(c), "0002"))
        async with store.begin() as conn:
            await conn.execute(text(
                "INSERT INTO accounts (id, name, slug, plan_id, credits, status, created_at, "
                "updated_at) VALUES (1, 'A', 'a', 1, 10, 'active', '2026-01-01', '2026-01-01')"))
            for uid in (1, 2):
                await conn.execute(text(
                    "INSERT INTO users (id, account_id, email, username, role, is_active, "
                    "is_superuser, token_version, created_at, updated_at) VALUES "
                    f"({uid}, 1, 'u{uid}@x.io', 'u{uid}', 'owner', 1, 0, 0, '2026-01-01', "
                    "'2026-01-01')"))
            await conn.execute(text(
                "INSERT INTO sites (id, account_id, name, slug, description, is_active, "
                "created_at, updated_at) VALUES (1, 1, 'S', 's', '', 1, '2026-01-01', "
                "'2026-01-01')"))
        await store.migrate()
        async with store.begin() as conn:
            keys = (await conn.execute(text("SELECT auth_key FROM users ORDER BY id"))).all()
            assert len(keys) == 2 and len({k[0] for k in keys}) == 2
            assert all(len(k[0]) == 32 for k in keys)
            assert (await conn.execute(text("SELECT count(*) FROM sites"))).scalar_one() == 1
            # AUTOINCREMENT: after deleting the highest id, the next row gets a new one
            await conn.execute(text("DELETE FROM users WHERE id = 2"))
            await conn.execute(text(
                "INSERT INTO users (account_id, email, username, role, is_active, "
                "is_superuser, token_version, auth_key, created_at, updated_at) VALUES "
                "(1, 'n@x.io', 'n', 'viewer', 1, 0, 0, 'k', '2026-01-01', '2026-01-01')"))
            new_id = (await conn.execute(text("SELECT id FROM users WHERE email = 'n@x.io'"))
                      ).scalar_one()
            assert new_id == 3
            fk_on = (await conn.execute(text("PRAGMA foreign_keys"))).scalar_one()
            assert fk_on == 1
    finally:
        await store.close()


async def test_every_table_that_must_not_reuse_ids_keeps_autoincrement(tmp_path):
    """A later batch migration on SQLite (copy and rename) silently drops AUTOINCREMENT
    unless it asks for it again: check the tables as migrated."""
    from sqlalchemy import text

    store = Store.from_url(f"sqlite+aiosqlite:///{tmp_path / 'ai.db'}")
    try:
        await store.migrate()
        async with store.read() as conn:
            ddl = dict((await conn.execute(text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'table'"))).all())
    finally:
        await store.close()
    wanted = [t.name for t in metadata.sorted_tables
              if t.dialect_kwargs.get("sqlite_autoincrement")]
    assert len(wanted) >= 11
    assert [n for n in wanted if "AUTOINCREMENT" not in ddl[n]] == []


@pytest.mark.db
@pytest.mark.slow
async def test_migrations_go_on_where_pg_trgm_may_not_be_created():
    """A role that may not create extensions (no CREATE on its database) migrates all the
    same: no trigram index, and keyword search still answers (a scan)."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    from igny8d.scope import Scope
    from igny8d.store.keywords import KEYWORDS
    from igny8d.store.pages import read_page
    from tests.helpers.app import PG_URL, throwaway_database_name

    admin_url = make_url(PG_URL)
    name = throwaway_database_name()
    role = f"{name}_r"
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            try:
                await conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
            except Exception as exc:  # a CI user without CREATEROLE: nothing to show here
                pytest.skip(f"cannot create a role: {exc!r}")
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        grant = create_async_engine(admin_url.set(database=name), isolation_level="AUTOCOMMIT")
        async with grant.connect() as conn:
            await conn.execute(text(f'GRANT ALL ON SCHEMA public TO "{role}"'))
        await grant.dispose()
        store = Store.from_url(admin_url.set(database=name, username=role, password=None)
                               .render_as_string(hide_password=False))
        try:
            try:
                await store.migrate()
            except Exception as exc:
                if "password authentication" in str(exc):
                    pytest.skip("the server wants a password for a new role")
                raise
            assert await store.current_revision() == Store.head_revision()
            async with store.read() as conn:
                assert (await conn.execute(text(
                    "SELECT to_regclass('ix_keywords_keyword_norm_trgm')"))).scalar() is None
            page = await store.run_read(read_page, KEYWORDS, scope=Scope(1),
                                        search=["shoes", "ca"], search_fields=("keyword",),
                                        order=[("id", False)], limit=5)
            assert page.count == 0
        finally:
            await store.close()
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        await admin.dispose()


async def test_an_upgrade_bumps_every_accounts_data_version_and_a_no_op_does_not(db_url):
    """A migration may rewrite what lists show (reference rows reach tenants' rows through
    SET NULL): an upgrade that applies a revision bumps `data_version`, so no list total kept
    before it is served after it; `migrate` at head changes nothing."""
    from alembic import command
    from sqlalchemy import insert, update

    from igny8d.store.engine import alembic_config
    from igny8d.store.schema import accounts

    store = Store.from_url(db_url)
    try:
        async with store.begin() as conn:
            plan = (await conn.execute(select(plans.c.id).where(plans.c.slug == "free"))
                    ).scalar_one()
            now = func.now()
            made = await conn.execute(insert(accounts).values(
                name="Up", slug="upgrade-bump", plan_id=plan, credits=0, status="active",
                data_version=7, created_at=now, updated_at=now).returning(accounts.c.id))
            account_id = made.scalar_one()

        async def version() -> int:
            async with store.read() as conn:
                return int((await conn.execute(select(accounts.c.data_version).where(
                    accounts.c.id == account_id))).scalar_one())

        await store.migrate()  # at head already: nothing applied, nothing bumped
        assert await version() == 7
        async with store.engine.begin() as conn:
            await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "-1"))
            await conn.execute(update(accounts).where(accounts.c.id == account_id)
                               .values(data_version=7))
        await store.migrate()
        assert await store.current_revision() == Store.head_revision()
        assert await version() == 8
    finally:
        await store.migrate()  # the session's Postgres database is shared: leave it at head
        await store.close()
