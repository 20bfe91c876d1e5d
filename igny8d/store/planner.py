"""Table specs of the planner (keywords, clusters, ideas) and the seed keyword library.

Every planner table is scoped at the `sector` level: account, the caller's site grants, and
optionally one site or sector (the reference's SiteSectorModelViewSet).
"""

from __future__ import annotations

from sqlalchemy import func, select

from igny8d.store.crud import FullText, TableSpec
from igny8d.store.schema import clusters, content_ideas, keywords, seed_keywords

KEYWORDS = TableSpec(
    keywords, "sector", "Keyword",
    unique=((("sector_id", "keyword_norm"), "keyword",
             "This sector already has this keyword."),),
    # migration 0005: FTS5 trigram table (SQLite) / pg_trgm GIN index (Postgres)
    fulltext=FullText(fields=("keyword",), column="keyword_norm", sqlite_table="keywords_fts"),
)
CLUSTERS = TableSpec(
    clusters, "sector", "Cluster",
    unique=((("sector_id", "name"), "name", "This sector already has a cluster with this name."),),
    expressions={
        "keywords_count": select(func.count()).where(keywords.c.cluster_id == clusters.c.id)
        .scalar_subquery(),
        "volume": select(func.coalesce(func.sum(keywords.c.volume), 0))
        .where(keywords.c.cluster_id == clusters.c.id).scalar_subquery(),
    },
)
IDEAS = TableSpec(content_ideas, "sector", "Content idea")
SEED_KEYWORDS = TableSpec(seed_keywords, "global", "Seed keyword")
