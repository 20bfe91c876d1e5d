"""Clusters and content ideas of the planner (rules in services/clusters.py, services/ideas.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.handlers.bulk import IdsBody, bulk_delete_action, write_action
from igny8d.handlers.resource import Filter, Resource, ResourceHandler, ai_action
from igny8d.operations import ideas
from igny8d.schemas import planner_clusters as m
from igny8d.schemas.ai import AutoGenerateIdeasBody
from igny8d.services.clusters import CLUSTERS as CLUSTER_SERVICE
from igny8d.services.ideas import IDEAS as IDEA_SERVICE

TAG = "planner"
THROTTLE = "planner"


async def queue_to_writer(h: ResourceHandler, body: IdsBody, conn: AsyncConnection
                          ) -> dict[str, Any]:
    return await IDEA_SERVICE.queue_to_writer(conn, h.actor, body.ids)


_SCOPE_FILTERS = {"site_id": Filter("site_id", "int", description="Only this site's"),
                  "sector_id": Filter("sector_id", "int", description="Only this sector's")}

CLUSTERS = Resource(
    name="clusters", prefix="/api/v1/planner/clusters/", service=CLUSTER_SERVICE,
    output=m.ClusterOut, create_body=m.ClusterBody, update_body=m.ClusterUpdateBody,
    filters={"status": Filter("status", "choice", m.CLUSTER_STATUSES,
                              "Filter by status (comma-separated for several)"),
             **_SCOPE_FILTERS},
    search_fields=("name",),
    ordering={"name": "name", "created_at": "created_at", "updated_at": "updated_at",
              "keywords_count": "keywords_count", "volume": "volume"},
    default_ordering="-created_at", write_level="editor", throttle=THROTTLE, tag=TAG,
    actions=[
        bulk_delete_action(level="editor"),
        ai_action("auto_generate_ideas", ideas.OPERATION, AutoGenerateIdeasBody,
                  throttle="planner_ai", queued="Idea generation queued",
                  summary="Write content ideas for a cluster, or (extension: `sector_id` "
                  "with `all_without_ideas: true`) for every cluster of a sector that has "
                  "none, as one job (a background job; credits are charged now per idea "
                  "planned and refunded for those not written)"),
    ],
)

IDEAS = Resource(
    name="ideas", prefix="/api/v1/planner/ideas/", service=IDEA_SERVICE,
    output=m.IdeaOut, create_body=m.IdeaBody, update_body=m.IdeaUpdateBody,
    filters={"status": Filter("status", "choice", m.IDEA_STATUSES,
                              "Filter by status (comma-separated for several)"),
             "cluster_id": Filter(
                 "cluster_id", "int",
                 description="Filter by cluster (`null`: ideas without one)"),
             "content_type": Filter("content_type", "choice", m.CONTENT_TYPES,
                                    "Filter by content type (comma-separated for several)"),
             "content_structure": Filter("content_structure", "choice", m.CONTENT_STRUCTURES,
                                         "Filter by content structure (comma-separated)"),
             **_SCOPE_FILTERS},
    search_fields=("title",),
    ordering={"created_at": "created_at", "title": "title",
              "estimated_word_count": "estimated_word_count", "updated_at": "updated_at"},
    default_ordering="-created_at", write_level="editor", throttle=THROTTLE, tag=TAG,
    actions=[
        bulk_delete_action(level="editor"),
        write_action("bulk_queue_to_writer", queue_to_writer,
                     lambda data: f"{data['queued']} queued to the writer", level="editor",
                     body=IdsBody, response=m.QueueResult,
                     summary="Queue ideas to the writer: one draft task per new idea"),
    ],
)

RESOURCES = [CLUSTERS, IDEAS]

# The classes the resource layer generates, by name (grep finds them here).
ClustersBulkDeleteHandler = CLUSTERS.handler("ClustersBulkDeleteHandler")
ClustersAutoGenerateIdeasHandler = CLUSTERS.handler("ClustersAutoGenerateIdeasHandler")
ClustersListHandler = CLUSTERS.handler("ClustersListHandler")
ClustersDetailHandler = CLUSTERS.handler("ClustersDetailHandler")
IdeasBulkDeleteHandler = IDEAS.handler("IdeasBulkDeleteHandler")
IdeasBulkQueueToWriterHandler = IDEAS.handler("IdeasBulkQueueToWriterHandler")
IdeasListHandler = IDEAS.handler("IdeasListHandler")
IdeasDetailHandler = IDEAS.handler("IdeasDetailHandler")

default_handlers = [
    *CLUSTERS.routes(ClustersBulkDeleteHandler, ClustersAutoGenerateIdeasHandler,
                     ClustersListHandler, ClustersDetailHandler),
    *IDEAS.routes(IdeasBulkDeleteHandler, IdeasBulkQueueToWriterHandler, IdeasListHandler,
                  IdeasDetailHandler),
]
