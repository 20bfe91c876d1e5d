"""The draft's meta title, meta description and slug, within the content schema's limits."""

from __future__ import annotations

from collections.abc import Sequence

from igny8d.ai.article.headings import cap, heading_kind, running_text
from igny8d.ai.text import normalise, vocabulary
from igny8d.ai.text import slug as keyword_slug
from igny8d.ai.types import OutlineSection
from igny8d.text import cut_at_word

META_TITLE_MAX = 60
META_DESCRIPTION_MAX = 160
SLUG_MAX = 80


def _cut(text: str, limit: int, *, ellipsis: str = "") -> str:
    """Cut at a word, without a dangling small word ("…for the")."""
    return cut_at_word(text, limit, ellipsis=ellipsis,
                       drop=vocabulary().stopwords | {"vs", "and"})


def meta_title(title: str) -> str:
    """The title when it fits 60 characters, else the part before its colon, else cut at a
    word boundary."""
    title = " ".join(title.split())
    if len(title) <= META_TITLE_MAX:
        return title
    head = title.split(":", 1)[0].strip()
    if 20 <= len(head) <= META_TITLE_MAX:
        return head
    return _cut(title, META_TITLE_MAX)


def meta_description(primary: str, structure: str,
                     outline: Sequence[OutlineSection]) -> str:
    """One sentence naming the primary keyword and the first sections, ≤ 160 characters:
    fewer sections named until it fits, then cut at a word boundary."""
    how_to = "{P}, step by step" if normalise(primary).startswith("how ") else \
        "A step-by-step guide to {p}"
    lead = {"listicle": "The top options for {p}", "how_to": how_to,
            "comparison": "{P} compared", "review": "An honest look at {p}",
            "faq": "Answers to common questions about {p}",
            "news": "What is new with {p}"}.get(structure, "A practical guide to {p}")
    start = lead.format(p=primary, P=cap(primary))
    headings = [running_text(s.heading) for s in outline if heading_kind(s.heading) not in
                ("conclusion", "faq")][:4]
    for n in range(len(headings), -1, -1):
        names = headings[:n]
        if not names:
            text = start + "."
        elif len(names) == 1:
            text = f"{start}: {names[0]}."
        else:
            text = f"{start}: {', '.join(names[:-1])} and {names[-1]}."
        if len(text) <= META_DESCRIPTION_MAX:
            return text
    return _cut(start, META_DESCRIPTION_MAX, ellipsis="…")


def slug(text: str) -> str:
    """The slug of a title or keyword, at most `SLUG_MAX` characters ("" when it has no Latin
    letters or digits)."""
    return keyword_slug(text, SLUG_MAX)
