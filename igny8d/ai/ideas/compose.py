"""Ideas put together from a cluster's plan: `generate_ideas`, one idea per structure."""

from __future__ import annotations

from igny8d.ai.ideas.outlines import build_outline, estimate_words
from igny8d.ai.ideas.planning import Plan, plan_keywords, rank_structures
from igny8d.ai.ideas.titles import description_for, title_for
from igny8d.ai.text import normalise
from igny8d.ai.types import ClusterBrief, IdeaDraft
from igny8d.vocab import CONTENT_STRUCTURES, CONTENT_TYPES, MAX_TARGET_KEYWORDS

#: The most ideas one call makes: one per structure.
MAX_IDEAS = len(CONTENT_STRUCTURES)

#: What kind of page each structure makes.
CONTENT_TYPE_OF: dict[str, str] = {
    "guide": "guide", "pillar": "guide", "how_to": "blog_post", "listicle": "blog_post",
    "faq": "blog_post", "news": "article", "review": "article", "comparison": "comparison",
}
assert set(CONTENT_TYPE_OF) == set(CONTENT_STRUCTURES)
assert set(CONTENT_TYPE_OF.values()) <= set(CONTENT_TYPES)


def target_keywords(plan: Plan) -> tuple[str, ...]:
    texts = [k.text for k in plan.keywords] + list(plan.opaque)
    return tuple(texts[:MAX_TARGET_KEYWORDS])


def idea_for(plan: Plan, structure: str) -> IdeaDraft:
    outline, items = build_outline(plan, structure)
    return IdeaDraft(
        title=title_for(plan, structure, items),
        description=description_for(plan, structure, outline),
        content_type=CONTENT_TYPE_OF[structure], content_structure=structure,
        target_keywords=target_keywords(plan), outline=outline,
        estimated_word_count=estimate_words(outline))


def generate_ideas(cluster: ClusterBrief, count: int = 3) -> tuple[IdeaDraft, ...]:
    """`count` ideas for the cluster, each of a different structure, best first."""
    if not 1 <= count <= MAX_IDEAS:
        raise ValueError(f"count must be 1..{MAX_IDEAS}")
    plan = plan_keywords(cluster.keywords, name=cluster.name, intent=cluster.intent)
    ideas: list[IdeaDraft] = []
    titles: set[str] = set()
    for structure in rank_structures(plan):
        if len(ideas) == count:
            break
        idea = idea_for(plan, structure)
        if normalise(idea.title) in titles:
            continue
        titles.add(normalise(idea.title))
        ideas.append(idea)
    return tuple(ideas)
