"""Article drafts for the local provider: an outline first, then an HTML scaffold that follows it.

The outline is the brief's when it has one — followed as written: every heading verbatim, in
order, H3s under their H2 — else it is made from the title and keywords the way ideas make
theirs (`ideas.plan_keywords` + `ideas.outline_for` for the brief's content structure).

The draft is honest about what it is: a template-built scaffold, not researched prose. It
opens with an HTML comment and a visible note paragraph saying so. The prose comes from
sentence pools chosen by each heading's kind (overview, steps, tips, mistakes, price,
comparison, choosing, a listicle pick, pros, cons, questions, conclusion, else general), filled
with the topic and the section's keywords, so it reads as sensible generic advice to the reader
an editor then makes specific. The primary keyword is in the introduction, every secondary
keyword in the section it belongs to (the outline's `keywords`, else the section whose
headings share most stems with it). Sections get words in proportion to their size (an H3
counts 0.6 of an H2) so the whole reaches about `target_word_count`. The sentences are data
(igny8d/ai/data/sentences.json, `sentences.sentence_banks()`), read on first use.

Modules: `draft` (generate_article), `keywords` (primary and secondary keywords), `writer`
(sentences and paragraphs), `headings` (a heading's kind and running text), `meta` (meta
title, description, slug).

Deterministic: the keywords are sorted before use and every choice comes from a
`random.Random` seeded with a digest of the brief, never from hash seeds or the clock. The HTML
uses only <h2>, <h3>, <p>, <ul>, <li>, <em> and one `class` attribute, so the sanitiser
(`text.sanitize_html`) leaves it as it is — except the leading comment, which it
drops like any comment.
"""

from igny8d.ai.article.draft import DRAFT_COMMENT, DRAFT_NOTE, generate_article, plan_outline
from igny8d.ai.article.headings import heading_kind, running_text
from igny8d.ai.article.keywords import choose_primary
from igny8d.ai.article.meta import meta_description, meta_title, slug

__all__ = [
    "DRAFT_COMMENT", "DRAFT_NOTE", "choose_primary", "generate_article", "heading_kind",
    "meta_description", "meta_title", "plan_outline", "running_text", "slug",
]
