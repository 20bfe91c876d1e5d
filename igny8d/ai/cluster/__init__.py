"""Keyword clustering: TF-IDF similarity of head terms, threshold linkage, intents kept apart.

Deterministic, for the local provider (and, over an LLM's groups, for the OpenAI-compatible one).

Similarity of two keywords = `WORD_WEIGHT` * cosine of their word vectors (TF-IDF over the
Snowball stems of the head terms) + (1 - `WORD_WEIGHT`) * cosine of their character vectors
(TF-IDF over the 3- and 4-grams of the head with spaces removed). Words catch word order and
plural/singular ("coffee grinders" / "grinder coffee"), characters catch spelling and
compounds ("pour over" / "pourover", "carry-on" / "carryon").

Candidate pairs are blocked by an inverted index over stems and character 4-grams; a feature
found in more than `block_cap` keywords is too common to propose pairs (it still counts in the
similarity of the pairs proposed by rarer ones). Pairs never proposed have similarity 0.

Agglomeration: every keyword starts alone; the pair of clusters with the highest linkage
(average: mean similarity over all cross pairs; complete: the smallest one) is merged while it
is ≥ `threshold`, unless the merge would mix conflicting firm intents (`CONFLICTS`) or exceed
`max_cluster_size`. Average/complete linkage does not chain: a~b and b~c do not pull a and c
together unless a~c too. Ties break on the keywords' sorted position (normalised text, text,
id), so the result does not depend on the input order.

A keyword left alone is *unclustered*, with a reason: `no_match` (nothing similar enough),
`intent_conflict` (the similar keywords have a conflicting intent), `size_limit` (the cluster
it fits is full), `low_cohesion` (similar to some keyword but not to its cluster as a whole),
`empty` (nothing left after normalisation).

**On embeddings** (`cluster_keywords(items, embeddings=...)`, `assign_to_existing(...,
embeddings=...)`): the cosine of the given vectors (an OpenAI-compatible provider's
`/embeddings`) replaces the TF-IDF similarity; the agglomeration, naming, intent conflicts and
unclustered reasons are the same. Every pair is scored (an embedding relates "sofa" and
"couch", which share no feature to block on), so the cost is O(n² · dimensions): meant for
provider-sized batches, not 10k keywords. The default threshold is `EMBEDDING_THRESHOLD`.

**On someone else's groups** (`clusters_from_groups`, an LLM's answer): the same naming,
intent-conflict and minimum-size rules applied to groups made elsewhere.
"""

from igny8d.ai.cluster.assign import assign_to_existing
from igny8d.ai.cluster.groups import clusters_from_groups, place_leftovers
from igny8d.ai.cluster.linkage import (
    DEFAULT_LINKAGE,
    EMBEDDING_LINKAGE,
    MIN_EDGE,
    Linkage,
    cluster_keywords,
)
from igny8d.ai.cluster.results import (
    Assignment,
    AssignResult,
    Cluster,
    ClusterResult,
    ExistingCluster,
    KeywordItem,
    Unclustered,
)
from igny8d.ai.cluster.rules import (
    CONFLICTS,
    DEFAULT_MAX_CLUSTER_SIZE,
    DEFAULT_THRESHOLD,
    EMBEDDING_THRESHOLD,
)
from igny8d.ai.cluster.vectors import WORD_WEIGHT, Embeddings

__all__ = [
    "CONFLICTS",
    "DEFAULT_LINKAGE",
    "DEFAULT_MAX_CLUSTER_SIZE",
    "DEFAULT_THRESHOLD",
    "EMBEDDING_LINKAGE",
    "EMBEDDING_THRESHOLD",
    "MIN_EDGE",
    "WORD_WEIGHT",
    "AssignResult",
    "Assignment",
    "Cluster",
    "ClusterResult",
    "Embeddings",
    "ExistingCluster",
    "KeywordItem",
    "Linkage",
    "Unclustered",
    "assign_to_existing",
    "cluster_keywords",
    "clusters_from_groups",
    "place_leftovers",
]
