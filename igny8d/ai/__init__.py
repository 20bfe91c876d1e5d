"""The local AI provider's offline algorithms: keyword text analysis, intent classification,
clustering, content ideas, article drafts, image prompts and PNG images — and
`LocalProvider`, which offers them through the `ai.types.Provider` contract. Pure Python (plus
snowballstemmer and Pillow), no network, no Tornado, deterministic."""

from igny8d.ai.article import generate_article
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
from igny8d.ai.ideas import generate_ideas
from igny8d.ai.imaging import image_prompts, render_image
from igny8d.ai.intent import IntentResult, classify_intent
from igny8d.ai.local import LocalProvider
from igny8d.ai.text import Intent, analyse, normalise, stem

__all__ = [
    "AssignResult", "Assignment", "Cluster", "ClusterResult", "ExistingCluster", "Intent",
    "IntentResult", "KeywordItem", "LocalProvider", "Unclustered", "analyse",
    "assign_to_existing", "classify_intent", "cluster_keywords", "generate_article",
    "generate_ideas", "image_prompts", "normalise", "render_image", "stem",
]
