"""The first idea of a cluster answers what its primary keyword asks: a question about a task
keeps its question, a how-to its whole task, "what is" a definition, "X review" a review,
"buy X" where to buy, "X near me" a local page — with titles a reader would write."""

from __future__ import annotations

import pytest

from igny8d.ai import KeywordItem, generate_ideas
from igny8d.ai.ideas import analyse_keyword
from igny8d.ai.types import ClusterBrief


def _first_titles(*keywords: str) -> list[str]:
    items = tuple(KeywordItem(i + 1, k, 1000 - i) for i, k in enumerate(keywords))
    return [i.title for i in generate_ideas(ClusterBrief(1, keywords[0], items), 3)]


@pytest.mark.parametrize(("keywords", "first"), [
    (("how often to replace water filter", "water filter lifespan",
      "when to change fridge water filter"),
     "How Often to Replace Water Filter? Your Questions Answered"),
    (("how to do a pull up", "pull up progression", "negative pull ups"),
     "How to Do a Pull Up (Step by Step)"),
    (("how to pay off student loans", "student loan refinancing", "best student loans"),
     "How to Pay Off Student Loans (Step by Step)"),
    (("what is a roth ira", "roth ira vs traditional ira", "roth ira income limit"),
     "What Is a Roth IRA? A Plain-English Guide"),
    (("vet near me", "emergency vet near me", "24 hour vet"),
     "How to Find a Good Vet Near You"),
    (("buy used car", "used cars for sale", "used car prices"),
     "Where to Buy Used Cars: Prices, Deals and What to Check"),
])
def test_the_first_idea_reads_the_ask(keywords: tuple[str, ...], first: str) -> None:
    assert _first_titles(*keywords)[0] == first


def test_no_idea_of_a_question_cluster_is_built_on_a_broken_topic() -> None:
    for title in _first_titles("how long does it take to learn spanish", "learn spanish fast",
                               "spanish for beginners"):
        assert "Take to Spanish" not in title and not title.startswith("Often"), title


@pytest.mark.parametrize(("keyword", "task", "subject"), [
    ("how often should you wash your hair", "wash your hair", "hair"),
    ("how long does it take to learn spanish", "learn spanish", "spanish"),
    ("how to do a pull up", "do a pull up", "pull up"),
    ("how often should you work out", "work out", "work out"),
])
def test_a_question_about_a_task_names_the_task(keyword: str, task: str, subject: str) -> None:
    k = analyse_keyword(keyword)
    assert k.task and " ".join(k.topic_words) == task
    assert " ".join(k.subject_words) == subject


def test_an_adverb_after_the_head_noun_takes_no_plural() -> None:
    titles = _first_titles("mortgage rates today", "30 year fixed mortgage rates",
                           "refinance rates")
    assert not any("Todays" in t for t in titles)


def test_a_or_an_by_sound() -> None:
    from igny8d.text import indefinite_article
    assert [indefinite_article(w) for w in ("Used Car", "Hour", "SEO Tool", "CRM",
                                            "Espresso Machine")] == ["a", "an", "an", "a", "an"]
    assert "How to Choose a Used Car" in " ".join(
        s.heading for i in generate_ideas(ClusterBrief(1, "buy used car", (
            KeywordItem(1, "buy used car", 10), KeywordItem(2, "used car prices", 5))), 3)
        for s in i.outline)


def test_digit_and_letter_terms_are_written_as_acronyms() -> None:
    from igny8d.ai.ideas import title_case
    assert title_case(["what", "is", "5g", "in", "30s", "3d"]) == "What Is 5G in 30s 3D"
