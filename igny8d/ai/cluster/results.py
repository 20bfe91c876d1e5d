"""What clustering returns: keywords in, clusters and unclustered keywords (with reasons) out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from igny8d.vocab import Intent


@dataclass(frozen=True, slots=True)
class KeywordItem:
    id: int
    text: str
    volume: int = 0
    #: the keyword's intent when known (set by a user or an import): always firm
    intent: Intent | None = None


@dataclass(frozen=True, slots=True)
class Cluster:
    name: str
    #: name keyword first, then by volume (desc), length, text
    keyword_ids: tuple[int, ...]
    intent: Intent
    volume: int
    #: mean pairwise similarity inside the cluster (0..1)
    cohesion: float


class Unclustered(NamedTuple):
    keyword_id: int
    #: "<code>: <detail>", code one of no_match, intent_conflict, size_limit, low_cohesion, empty
    reason: str

    @property
    def code(self) -> str:
        return self.reason.split(":", 1)[0]


@dataclass(frozen=True, slots=True)
class ClusterResult:
    clusters: tuple[Cluster, ...]
    unclustered: tuple[Unclustered, ...]
    #: every keyword's intent as the clustering saw it (given, else classified)
    intents: tuple[tuple[int, Intent], ...]


@dataclass(frozen=True, slots=True)
class ExistingCluster:
    name: str
    keywords: tuple[KeywordItem, ...]
    id: int | None = None


@dataclass(frozen=True, slots=True)
class Assignment:
    keyword_id: int
    cluster_index: int  # position in the `clusters` argument
    cluster_id: int | None
    cluster_name: str
    score: float


@dataclass(frozen=True, slots=True)
class AssignResult:
    assigned: tuple[Assignment, ...]
    #: the new keywords that fit no existing cluster, in sorted order (cluster them next)
    rest: tuple[KeywordItem, ...]
