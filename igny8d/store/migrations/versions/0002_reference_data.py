"""reference data: plans, industries with their sectors, the seed keyword library

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DATA = Path(__file__).resolve().parents[2] / "data"

# Lightweight table stubs: a migration must not follow later changes to schema.py.
plans = sa.table(
    "plans",
    *(sa.column(c) for c in (
        "slug", "name", "description", "price_monthly", "monthly_credits", "max_sites",
        "max_users", "max_keywords", "max_sectors_per_site", "max_clusters", "is_active",
    )),
)
industries = sa.table(
    "industries", sa.column("id"), sa.column("slug"), sa.column("name"),
    sa.column("description"), sa.column("is_active"),
)
industry_sectors = sa.table(
    "industry_sectors", sa.column("id"), sa.column("industry_id"), sa.column("slug"),
    sa.column("name"), sa.column("description"),
)
seed_keywords = sa.table(
    "seed_keywords", sa.column("industry_id"), sa.column("industry_sector_id"),
    sa.column("keyword"), sa.column("volume"), sa.column("difficulty"), sa.column("intent"),
)


def _load(name: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads((DATA / name).read_text(encoding="utf-8"))
    return rows


def upgrade() -> None:
    bind = op.get_bind()
    op.bulk_insert(plans, [
        {**{k: p[k] for k in (
            "slug", "name", "description", "monthly_credits", "max_sites", "max_users",
            "max_keywords", "max_sectors_per_site", "max_clusters")},
         "price_monthly": p["price_monthly"], "is_active": True}
        for p in _load("plans.json")
    ])
    sector_ids: dict[tuple[str, str], tuple[int, int]] = {}
    for ind in _load("industries.json"):
        ind_id = bind.execute(
            sa.insert(industries).values(
                slug=ind["slug"], name=ind["name"], description=ind.get("description", ""),
                is_active=True,
            ).returning(industries.c.id)
        ).scalar_one()
        for sec in ind["sectors"]:
            sec_id = bind.execute(
                sa.insert(industry_sectors).values(
                    industry_id=ind_id, slug=sec["slug"], name=sec["name"],
                    description=sec.get("description", ""),
                ).returning(industry_sectors.c.id)
            ).scalar_one()
            sector_ids[(ind["slug"], sec["slug"])] = (ind_id, sec_id)
    rows = []
    for kw in _load("seed_keywords.json"):
        ind_id, sec_id = sector_ids[(kw["industry"], kw["sector"])]
        rows.append({
            "industry_id": ind_id, "industry_sector_id": sec_id, "keyword": kw["keyword"],
            "volume": kw["volume"], "difficulty": kw["difficulty"], "intent": kw["intent"],
        })
    if rows:
        op.bulk_insert(seed_keywords, rows)


def downgrade() -> None:
    op.execute(seed_keywords.delete())
    op.execute(industry_sectors.delete())
    op.execute(industries.delete())
    op.execute(plans.delete())
