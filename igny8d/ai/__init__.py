"""The AI algorithms and providers: keyword analysis, intent, clustering, ideas, drafts, images.

The local provider's offline algorithms — keyword text analysis (`text`), intent
classification (`intent`), clustering (`cluster/`), content ideas (`ideas/`), article drafts
(`article/`), image prompts and PNG images (`imaging`) — and the providers that offer them, or
an OpenAI-compatible API, through the `types.Provider` contract (`providers/`). Pure Python
(plus snowballstemmer, inflect and Pillow), no database, no Tornado at import, deterministic.
Word lists are data (`data/`, read on first use by `lexicon`).

The server imports this package at start for the clustering; what only a local job needs loads
with its first use: the idea and article writers (`generate_ideas`, `generate_article`), Pillow
(`LocalProvider`, `image_prompts`, `render_image`) and inflect (the first plural).
"""

from typing import TYPE_CHECKING, Any

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
from igny8d.ai.text import analyse, normalise, stem
from igny8d.vocab import Intent

if TYPE_CHECKING:
    from igny8d.ai.article import generate_article
    from igny8d.ai.ideas import generate_ideas
    from igny8d.ai.imaging import image_prompts, render_image
    from igny8d.ai.providers.local import LocalProvider

_LAZY = {"image_prompts": "igny8d.ai.imaging", "render_image": "igny8d.ai.imaging",
         "LocalProvider": "igny8d.ai.providers.local", "generate_ideas": "igny8d.ai.ideas",
         "generate_article": "igny8d.ai.article"}


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
