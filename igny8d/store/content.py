"""Content (the writer's articles): its table spec; the generic reads and writes do the rest."""

from __future__ import annotations

from igny8d.store.schema import content
from igny8d.store.specs import TableSpec

CONTENT = TableSpec(content, "sector", "Content")
