"""The local AI provider's offline algorithms: keyword text analysis, intent classification
and clustering. Pure Python (plus snowballstemmer), no I/O, no Tornado, deterministic."""

from igny8d.ai.cluster import (
    Assignment,
    AssignResult,
    Cluster,
    ClusterResult,
    ExistingCluster,
    KeywordItem,
    Unclustered,
    assign_to_existing,
    cluster_keywords,
)
from igny8d.ai.intent import IntentResult, classify_intent
from igny8d.ai.text import Intent, analyse, normalise, stem

__all__ = [
    "AssignResult", "Assignment", "Cluster", "ClusterResult", "ExistingCluster", "Intent",
    "IntentResult", "KeywordItem", "Unclustered", "analyse", "assign_to_existing",
    "classify_intent", "cluster_keywords", "normalise", "stem",
]
