"""The draft's meta title, meta description and slug, within the content schema's limits."""

from __future__ import annotations

from collections.abc import Sequence

from igny8d.ai.article.headings import cap
from igny8d.ai.ideas.analysis import named_words
from igny8d.ai.ideas.asks import ask_of
from igny8d.ai.ideas.grammar import written
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


#: One natural sentence per ask, naming the primary keyword ({p}/{P}) once.
DESCRIPTIONS: dict[str, str] = {
    "frequency": "{P}? The usual interval, the signs it is due sooner and what changes it.",
    "question": "{P}? A straight answer first, then the details and exceptions that matter.",
    "definition": "{P}? A plain definition, how it works and where it matters in practice.",
    "howto": "{P}, step by step: what you need, each step in order and the mistakes to avoid.",
    "problem": "{P}? The likely causes, how to fix each one and how to stop it coming back.",
    "comparison": "{P}: how the two differ on cost, ease of use and results, and which to pick.",
    "best": "Looking for the {p}? Our picks for each need and budget, and what to check first.",
    "review": "{P}: what owners like, the common complaints, the price and who it suits.",
    "buy": "Want to {p}? Where to get it, what it costs and what to check before you pay.",
    "price": "{P}: current figures, what pushes them up or down and how to pay less.",
    "local": "{P}: how to find a good one nearby, what it costs and what to ask first.",
    "brand": "{P}: where to go, how to get in and what to do when it does not work.",
    "general": "{P}: what it is, how to choose and use it well, and the mistakes to avoid.",
}
#: By structure, for a keyword whose wording asks nothing in particular.
BY_STRUCTURE: dict[str, str] = {
    "listicle": "The top picks for {p}, how we chose them and what to look for before you buy.",
    "comparison": "{P} options compared side by side, and how to pick the right one.",
    "review": "{P}: an honest look at what works, what does not and who it suits.",
    "faq": "{P}: answers to the questions people ask most, each in a few lines.",
    "how_to": "How to get started with {p}: what you need, the steps and the pitfalls.",
    "news": "What is new with {p}, why it matters and what happens next.",
}


def meta_description(primary: str, structure: str,
                     outline: Sequence[OutlineSection] = (),
                     names: frozenset[str] = frozenset()) -> str:
    """One natural sentence for the primary keyword's ask (else the structure), naming the
    keyword once and nothing stuffed, at most 160 characters (cut at a word when the keyword
    is long); the request's `names` written as names ("Best Egg login")."""
    p = " ".join(primary.split()).rstrip("?")
    ask = ask_of(p)
    template = DESCRIPTIONS[ask] if ask != "general" else \
        BY_STRUCTURE.get(structure, DESCRIPTIONS["general"])
    if ask == "best" and not normalise(p).startswith(("best ", "top ")):
        template = "Looking for {p}? Our picks for each need and budget, and what to check first."
    if ask == "buy" and not normalise(p).startswith(("buy ", "order ", "shop ")):
        template = "{P}: where to get it, what it costs and what to check before you pay."
    p = " ".join(named_words(written(p.split()).split(), names))  # "HVAC repair", "HubSpot"
    text = template.format(p=p, P=cap(p))
    if len(text) <= META_DESCRIPTION_MAX:
        return text
    return _cut(text, META_DESCRIPTION_MAX, ellipsis="\u2026")


def slug(text: str) -> str:
    """The slug of a title or keyword, at most `SLUG_MAX` characters ("" when it has no Latin
    letters or digits)."""
    return keyword_slug(text, SLUG_MAX)
