"""The local AI provider's offline algorithms: keyword text analysis, intent classification,
clustering, content ideas, article drafts, image prompts and PNG images — and
`LocalProvider`, which offers them through the `ai.types.Provider` contract. Pure Python (plus
snowballstemmer and Pillow), no network, no Tornado, deterministic.

Pillow is loaded when an image is first made, not with this package: a server that never
renders one does not carry it (`LocalProvider`, `image_prompts`, `render_image` load lazily).
"""

from typing import TYPE_CHECKING, Any

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
from igny8d.ai.intent import IntentResult, classify_intent
from igny8d.ai.text import analyse, normalise, stem
from igny8d.vocab import Intent

if TYPE_CHECKING:
    from igny8d.ai.imaging import image_prompts, render_image
    from igny8d.ai.providers.local import LocalProvider

_LAZY = {"image_prompts": "igny8d.ai.imaging", "render_image": "igny8d.ai.imaging",
         "LocalProvider": "igny8d.ai.providers.local"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'igny8d.ai' has no attribute {name!r}")

__all__ = [
    "AssignResult", "Assignment", "Cluster", "ClusterResult", "ExistingCluster", "Intent",
    "IntentResult", "KeywordItem", "LocalProvider", "Unclustered", "analyse",
    "assign_to_existing", "classify_intent", "cluster_keywords", "generate_article",
    "generate_ideas", "image_prompts", "normalise", "render_image", "stem",
]
