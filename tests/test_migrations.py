"""The migrations build exactly the schema the code declares, on each store."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select

from igny8d.store.engine import Store
from igny8d.store.schema import industries, industry_sectors, metadata, plans, seed_keywords


async def test_no_drift_between_migrations_and_schema(db_url):
    store = Store.from_url(db_url)
    try:
        async with store.read() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(
                    MigrationContext.configure(c, opts={"compare_type": True}), metadata)
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
