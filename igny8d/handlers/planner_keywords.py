"""Planner keywords and the seed keyword library (rules in services/keywords.py, reference.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.errors import ValidationFailed
from igny8d.handlers.bulk import bulk_delete_action, write_action
from igny8d.handlers.idempotent import form_content
from igny8d.handlers.resource import Action, Filter, Resource, ResourceHandler, ai_action
from igny8d.operations import cluster
from igny8d.schemas import planner as m
from igny8d.schemas.ai import AutoClusterBody
from igny8d.services.keywords import KEYWORDS_SERVICE
from igny8d.services.reference import SEED_KEYWORDS as SEED_KEYWORDS_SERVICE

TAG = "planner"
#: The import's own cap on the upload (the server's default body cap is smaller).
IMPORT_MAX_MB = 20.0


async def bulk_update_status(h: ResourceHandler, body: m.BulkStatusBody, conn: AsyncConnection
                             ) -> dict[str, Any]:
    return {"updated_count": await KEYWORDS_SERVICE.bulk_update_status(
        conn, h.actor, body.ids, body.status)}


async def bulk_add_from_seed(h: ResourceHandler, body: m.AddFromSeedBody,
                             conn: AsyncConnection) -> dict[str, Any]:
    return await KEYWORDS_SERVICE.bulk_add_from_seed(
        conn, h.actor, seed_keyword_ids=body.seed_keyword_ids, site_id=body.site_id,
        sector_id=body.sector_id)


async def export_keywords(h: ResourceHandler) -> None:
    where = h.resource.filter_clauses(h)
    order = h.resource.order_clauses(h)
    async with h.ctx.store.read() as conn:
        await h.stream(KEYWORDS_SERVICE.export_csv(conn, h.actor, where=where, order_by=order),
                       content_type="text/csv; charset=utf-8", filename="keywords.csv")


#: DRF's FileField messages: nothing under `file`, or text where a file was expected
NO_FILE = "No file was submitted."
NOT_A_FILE = "The submitted data was not a file. Check the encoding type on the form."


async def import_keywords(h: ResourceHandler) -> None:
    """A multipart upload; a urlencoded form (which cannot carry a file) is read too, so
    its answer names `file` (400) as DRF's does, rather than refusing the media type. With
    an `Idempotency-Key` the same fields and file sent again (whatever the boundary) answer
    the first import's answer without reading the file again."""
    fields, files = h.form()
    keyed = h.idempotency_key(lambda: form_content(fields, files))
    if await h.replayed(keyed):
        return
    form: dict[str, Any] = {k: v[0] if len(v) == 1 else v for k, v in fields.items()
                            if k != "file"}
    for name, parts in files.items():
        form[name] = parts[0].body if len(parts) == 1 else [p.body for p in parts]
    try:
        body: m.KeywordImportForm = h.parse(m.KeywordImportForm, form)
    except ValidationFailed as refused:
        if "file" not in files:
            refused.errors = {**(refused.errors or {}),
                              "file": [NOT_A_FILE if "file" in fields else NO_FILE]}
        raise
    h.send_answer(*await KEYWORDS_SERVICE.import_csv(
        h.ctx, h.actor, site_id=body.site_id, sector_id=body.sector_id, data=body.file,
        keyed=keyed))


_INTENT = "One intent or several, comma-separated (" + ", ".join(m.INTENTS) + ")"

KEYWORDS = Resource(
    name="keywords", prefix="/api/v1/planner/keywords/", service=KEYWORDS_SERVICE,
    output=m.KeywordOut, create_body=m.KeywordBody, update_body=m.KeywordUpdateBody,
    filters={
        "status": Filter("status", "choice", m.STATUSES, "One status or several, "
                         "comma-separated (" + ", ".join(m.STATUSES) + ")"),
        "cluster_id": Filter("cluster_id", "int", description="A cluster id, or null for "
                             "keywords in no cluster"),
        "unclustered": Filter("cluster_id", "isnull", description="true: keywords in no "
                              "cluster; false: keywords in one"),
        "intent": Filter("intent", "choice", m.INTENTS, _INTENT),
        "seed_keyword__intent": Filter("intent", "choice", m.INTENTS,
                                       "The reference's name of `intent`"),
        "seed_keyword_id": Filter("seed_keyword_id", "int"),
        "difficulty_min": Filter("difficulty", "min", description="Difficulty at least"),
        "difficulty_max": Filter("difficulty", "max", description="Difficulty at most"),
        "volume_min": Filter("volume", "min", description="Volume at least"),
        "volume_max": Filter("volume", "max", description="Volume at most"),
        "site_id": Filter("site_id", "int"),
        "sector_id": Filter("sector_id", "int"),
    },
    search_fields=("keyword",),
    ordering={"created_at": "created_at", "updated_at": "updated_at", "volume": "volume",
              "difficulty": "difficulty", "keyword": "keyword_norm",
              "seed_keyword__volume": "volume", "seed_keyword__difficulty": "difficulty"},
    default_ordering="-created_at",
    read_level="authenticated", write_level="editor", throttle="planner", tag=TAG,
    actions=[
        bulk_delete_action(level="editor"),
        write_action("bulk_update_status", bulk_update_status,
                     lambda data: f"{data['updated_count']} updated", body=m.BulkStatusBody,
                     response=m.BulkStatusResult,
                     summary="Set the status of several keywords (all ids must be yours)"),
        write_action("bulk_add_from_seed", bulk_add_from_seed,
                     lambda data: f"{data['added']} added, {data['skipped']} skipped",
                     body=m.AddFromSeedBody, response=m.AddFromSeedResult,
                     summary="Add seed library keywords the sector does not have yet"),
        ai_action("auto_cluster", cluster.OPERATION, AutoClusterBody, throttle="planner_ai",
                  queued="Clustering queued",
                  summary="Cluster keywords into the sector's clusters (a background job; "
                  "credits are charged now and refunded if it fails). Every keyword ends in "
                  "a cluster, one that fits nowhere in its own; the result counts them "
                  "(single_keyword_clusters)"),
        Action("export", export_keywords, method="get", level="authenticated",
               content_type="text/csv", list_query=True,
               summary="The listed keywords as CSV (the list's filters, search, ordering)"),
        Action("import_keywords", import_keywords, body=m.KeywordImportForm,
               response=m.ImportResult, request_content_type="multipart/form-data",
               max_body_mb=IMPORT_MAX_MB, idempotent=True,
               summary="Import keywords from a CSV upload: every row or none"),
    ],
)

SEED_KEYWORDS = Resource(
    name="seed_keywords", prefix="/api/v1/planner/seed-keywords/",
    service=SEED_KEYWORDS_SERVICE, output=m.SeedKeywordOut,
    filters={"industry_id": Filter("industry_id", "int"),
             "industry_sector_id": Filter("industry_sector_id", "int"),
             "intent": Filter("intent", "choice", m.INTENTS, _INTENT)},
    search_fields=("keyword",),
    ordering={"keyword": "keyword", "volume": "volume", "difficulty": "difficulty",
              "id": "id"},
    default_ordering="keyword", read_level="authenticated", throttle="planner",
    read_only=True, methods=frozenset({"list", "retrieve"}), tag=TAG,
)

RESOURCES = [KEYWORDS, SEED_KEYWORDS]

# The classes the resource layer generates, by name (grep finds them here).
KeywordsBulkDeleteHandler = KEYWORDS.handler("KeywordsBulkDeleteHandler")
KeywordsBulkUpdateStatusHandler = KEYWORDS.handler("KeywordsBulkUpdateStatusHandler")
KeywordsBulkAddFromSeedHandler = KEYWORDS.handler("KeywordsBulkAddFromSeedHandler")
KeywordsExportHandler = KEYWORDS.handler("KeywordsExportHandler")
KeywordsAutoClusterHandler = KEYWORDS.handler("KeywordsAutoClusterHandler")
KeywordsImportKeywordsHandler = KEYWORDS.handler("KeywordsImportKeywordsHandler")
KeywordsListHandler = KEYWORDS.handler("KeywordsListHandler")
KeywordsDetailHandler = KEYWORDS.handler("KeywordsDetailHandler")
SeedKeywordsListHandler = SEED_KEYWORDS.handler("SeedKeywordsListHandler")
SeedKeywordsDetailHandler = SEED_KEYWORDS.handler("SeedKeywordsDetailHandler")

default_handlers = [
    *KEYWORDS.routes(KeywordsBulkDeleteHandler, KeywordsBulkUpdateStatusHandler,
                     KeywordsBulkAddFromSeedHandler, KeywordsAutoClusterHandler,
                     KeywordsExportHandler,
                     KeywordsImportKeywordsHandler, KeywordsListHandler,
                     KeywordsDetailHandler),
    *SEED_KEYWORDS.routes(SeedKeywordsListHandler, SeedKeywordsDetailHandler),
]
