"""Article drafts for the local provider: an honest writer's brief, in the article's HTML.

The offline provider cannot write prose, so it does not pretend to: its draft is a brief a
writer works from. It follows the outline — the brief's own when it has one, every heading
verbatim, in order, H3s under their H2; else one made from the title and keywords the way
ideas make theirs (`ideas.plan_keywords` + `ideas.outline_for`). It opens with an HTML comment
and a visible note saying what it is, then a paragraph naming the primary keyword, the
reader, the length and how to open (by what the primary keyword asks: an interval for "how
often", a definition for "what is", a named pick for "best"…, `ideas.asks`). Per heading:
a word target with the section's aim, the questions it must answer (by the heading's kind),
the points to cover — one per keyword, from what that keyword asks — and the keywords to
place. Every paragraph and list item names its section (its heading or a keyword) and no
sentence is written twice (`brief.Lines`). Word targets are shared in proportion to the
sections (an H3 counts 0.6 of an H2) so they add up to about `target_word_count`.

Modules: `draft` (generate_article), `brief` (one section's lines), `keywords` (primary and
secondary keywords), `headings` (a heading's kind and running text), `meta` (meta title, a
natural meta description naming the keyword once, slug).

Deterministic: the keywords are sorted before use and nothing is random. The HTML uses only
<h2>, <h3>, <p>, <ul>, <li>, <em> and one `class` attribute, so the sanitiser
(`text.sanitize_html`) leaves it as it is — except the leading comment, which it drops like
any comment.
"""

from igny8d.ai.article.draft import DRAFT_COMMENT, draft_note, generate_article, plan_outline
from igny8d.ai.article.headings import heading_kind, running_text
from igny8d.ai.article.keywords import choose_primary
from igny8d.ai.article.meta import meta_description, meta_title, slug

__all__ = [
    "DRAFT_COMMENT", "choose_primary", "draft_note", "generate_article", "heading_kind",
    "meta_description", "meta_title", "plan_outline", "running_text", "slug",
]
