"""igny8d.ai.ideas.grammar: the plurals and singulars of titles and headings (inflection from
igny8d.text; head nouns, acronyms, uncountable and plural-only nouns are the ideas' own), and
the idea titles they make — the known defects ("Heros", "Quizes", "Criterions", "TV Sery",
"Coffee Grinder Smooths") stay fixed."""

from __future__ import annotations

import pytest

from igny8d.ai import KeywordItem, generate_ideas
from igny8d.ai.ideas.compose import MAX_IDEAS
from igny8d.ai.ideas.grammar import (
    head_is_plural,
    is_plural,
    plural,
    plural_phrase,
    singular,
    singular_phrase,
)
from igny8d.ai.types import ClusterBrief


@pytest.mark.parametrize(("word", "form"), [
    ("hero", "heroes"), ("Hero", "Heroes"), ("quiz", "quizzes"), ("criterion", "criteria"),
    ("series", "series"), ("potato", "potatoes"), ("wolf", "wolves"), ("knife", "knives"),
    ("lens", "lenses"), ("grinder", "grinders"), ("crm", "CRMs"), ("CRM", "CRMs"),
    ("iPhone", "iPhones"), ("e-bike", "e-bikes"), ("coffee", "coffee"),
    ("software", "software"), ("marketing", "marketing"), ("analysis", "analysis"),
    ("grinders", "grinders"), ("headphones", "headphones"), ("3d", "3d"),
])
def test_plural(word: str, form: str) -> None:
    assert plural(word) == form


@pytest.mark.parametrize(("word", "form"), [
    ("heroes", "hero"), ("quizzes", "quiz"), ("criteria", "criterion"), ("series", "series"),
    ("tomatoes", "tomato"), ("lens", "lens"), ("analysis", "analysis"), ("Grinders", "Grinder"),
    ("CRMs", "CRM"), ("e-bikes", "e-bike"), ("sunglasses", "sunglasses"),
    ("headphones", "headphones"), ("coffee", "coffee"),
])
def test_singular(word: str, form: str) -> None:
    assert singular(word) == form


def test_is_plural() -> None:
    assert all(is_plural(w) for w in ("grinders", "criteria", "headphones", "CRMs", "e-bikes"))
    assert not any(is_plural(w) for w in ("series", "lens", "coffee", "news", "analysis", "hero"))


def test_the_head_noun_takes_the_number() -> None:
    assert plural_phrase(["crm", "for", "real", "estate"]) == ["CRMs", "for", "real", "estate"]
    # an adjective after the noun is not the head: it goes first, the noun takes the plural
    assert plural_phrase(["coffee", "grinder", "smooth"]) == ["smooth", "coffee", "grinders"]
    assert singular_phrase(["coffee", "grinders", "smooth"]) == ["smooth", "coffee", "grinder"]
    assert plural_phrase(["crm", "software"]) == ["crm", "software", "Options"]
    assert plural_phrase(["crm", "software"], options=False) == ["crm", "software"]
    assert plural_phrase(["tv", "series"]) == ["tv", "series"]
    assert singular_phrase(["tv", "series"]) == ["tv", "series"]
    assert singular_phrase(["coffee", "beans"]) == ["coffee", "bean"]
    assert head_is_plural(["running", "shoes", "for", "women"])
    assert not head_is_plural(["camera", "lens"]) and not head_is_plural(["tv", "series"])


def _cluster(*keywords: tuple[str, int]) -> ClusterBrief:
    items = tuple(KeywordItem(i + 1, text, volume) for i, (text, volume) in enumerate(keywords))
    return ClusterBrief(1, keywords[0][0], items)


@pytest.mark.parametrize(("keywords", "listicle", "wrong"), [
    ((("coffee grinder smooth", 900), ("best coffee grinder smooth", 800)),
     "Best Smooth Coffee Grinders", "Smooths"),
    ((("superhero", 900), ("best superhero", 800)), "Best Superheroes", "Superheros"),
    ((("quiz", 900), ("best quiz", 800)), "Best Quizzes", "Quizes"),
    ((("selection criterion", 900), ("best selection criterion", 800)),
     "Best Selection Criteria", "Criterions"),
    ((("tv series", 900), ("best tv series", 800), ("tv series review", 80)),
     "Best TV Series", "Sery"),
    ((("potato", 900), ("best potato masher", 800)), "Best Potatoes", "Potatos"),
])
def test_idea_titles_inflect_the_head_noun(keywords: tuple[tuple[str, int], ...],
                                           listicle: str, wrong: str) -> None:
    ideas = generate_ideas(_cluster(*keywords), MAX_IDEAS)
    title = next(i.title for i in ideas if i.content_structure == "listicle")
    assert listicle in title, title
    for idea in ideas:
        texts = [idea.title, *(h for s in idea.outline for h in (s.heading, *s.subheadings))]
        assert not [t for t in texts if wrong in t], idea.content_structure
