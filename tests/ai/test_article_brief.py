"""The offline draft is a writer's brief: per section what to answer, cover and place, every
line naming its section, no sentence said twice, the opening and points following what each
keyword asks, and a meta description that names the keyword once in a sentence."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from igny8d.ai.article import generate_article, meta_description
from igny8d.ai.ideas.asks import ask_of
from igny8d.ai.types import ArticleBrief, OutlineSection
from igny8d.text import html_text


def _sentences(html: str) -> list[str]:
    blocks = re.findall(r"<(?:p|li)[^>]*>(.*?)</(?:p|li)>", html, flags=re.S)
    return [s.strip() for b in blocks for s in re.split(r"(?<=[.!?])\s+", html_text(b))
            if s.strip()]


@pytest.mark.parametrize(("keyword", "ask"), [
    ("how often to replace water filter", "frequency"),
    ("when to change fridge water filter", "frequency"),
    ("cold brew vs iced coffee", "comparison"),
    ("best espresso machine under 500", "best"),
    ("buy coffee beans online", "buy"),
    ("what is a roth ira", "definition"),
    ("plumber near me", "local"),
    ("how to crate train a puppy", "howto"),
    ("how long does a water heater last", "question"),
    ("hubspot login", "brand"),
    ("mortgage rates today", "price"),
    ("quickbooks review", "review"),
    ("espresso machine", "general"),
])
def test_what_a_keyword_asks(keyword: str, ask: str) -> None:
    assert ask_of(keyword) == ask


GRINDERS = ArticleBrief(
    7, "The 4 Best Coffee Grinders",
    ("best coffee grinder", "coffee grinder reviews", "cheap coffee grinder",
     "how often to clean a coffee grinder", "burr vs blade grinder"),
    content_structure="listicle", target_word_count=1500)


def test_no_sentence_is_said_twice_even_when_headings_repeat() -> None:
    outline = (OutlineSection("Tips", (), ("cheap coffee grinder",)), OutlineSection("Tips"),
               OutlineSection("Common Mistakes to Avoid", ("Tips",)),
               OutlineSection("Conclusion"))
    for brief in (GRINDERS, ArticleBrief(8, "Coffee Grinder Tips", GRINDERS.keywords,
                                         outline=outline)):
        sentences = _sentences(generate_article(brief).html_content)
        repeated = [s for s, n in Counter(sentences).items() if n > 1]
        assert sentences and not repeated


def test_every_paragraph_and_item_names_its_section() -> None:
    draft = generate_article(GRINDERS)
    keywords = {h: " ".join(s.keywords).lower() for s in draft.outline for h in
                (s.heading, *s.subheadings)}
    parts = re.split(r"<h[23]>(.*?)</h[23]>", draft.html_content)
    for heading, body in zip(parts[1::2], parts[2::2], strict=True):
        words = {w for w in re.findall(r"[a-z]+", heading.lower() + " " +
                                       keywords.get(heading, "")) if len(w) > 3}
        for block in re.findall(r"<(?:p|li)>(.*?)</(?:p|li)>", body):
            assert any(w[:5] in block.lower() for w in words), (heading, block)


def test_the_brief_asks_for_what_each_keyword_wants() -> None:
    html = html_text(generate_article(GRINDERS).html_content)
    assert "name the overall pick in the first paragraph" in html
    assert re.search(r"Which specific product or provider is the best \w+ coffee grinder pick "
                     r"\(make and model\)\?", html)
    assert "\u201chow often to clean a coffee grinder\u201d: answer" in html
    assert "signs that call for it sooner" in html
    assert "\u201cburr vs blade grinder\u201d: compare both sides" in html
    filters = generate_article(ArticleBrief(
        2, "How Often to Replace a Water Filter", ("how often to replace water filter",
                                                    "water filter lifespan")))
    assert "give the interval as a number in the first sentence" in \
        html_text(filters.html_content)
    assert "Offline writer\u2019s brief" in filters.html_content


@pytest.mark.parametrize("keyword", [
    "how often to replace water filter", "best espresso machines", "buy coffee beans online",
    "what is a roth ira", "plumber near me", "cold brew vs iced coffee", "hubspot login",
    "mortgage rates today", "espresso machine",
    "a very long keyword phrase about something that goes on and on for many words indeed ok",
])
def test_meta_description_is_a_sentence_with_the_keyword_once(keyword: str) -> None:
    for structure in ("guide", "listicle", "faq"):
        d = meta_description(keyword, structure)
        assert 50 <= len(d) <= 160, d
        assert d.lower().count(keyword) == 1 or d.endswith("\u2026"), d
        assert d[0].isupper()


@pytest.mark.parametrize(("keyword", "wanted"), [
    ("water filter lifespan", "typical lifespan as a number"),
    ("puppy feeding schedule", "table or list of intervals"),
    ("signs of dehydration", "signs a reader can check"),
    ("roth ira contribution limits", "current figure or condition"),
    ("pour over coffee ratio", "ratio as numbers"),
    ("how often to change oil", "answer \u201cHow often to change oil?\u201d"),
    ("python for beginners", "pitched at beginners"),
])
def test_a_keyword_gets_the_point_it_asks_for(keyword: str, wanted: str) -> None:
    from igny8d.ai.article.brief import point_for
    assert wanted in point_for(keyword)


def test_the_primary_keyword_opens_the_first_section_and_closers_ask_nothing() -> None:
    from igny8d.ai.article import heading_kind
    draft = generate_article(ArticleBrief(3, "How Often to Change Oil?", (
        "how often to change oil", "oil change interval"), outline=(
        OutlineSection("Oil Change Basics"), OutlineSection("Still Have Questions?"))))
    first = draft.html_content.split("<h2>")[1]
    assert "\u201chow often to change oil\u201d: answer" in first
    assert heading_kind("Still Have Questions?") == "conclusion"
    assert "short answer to \u201cStill Have Questions" not in draft.html_content


def test_a_plain_keyword_in_a_pick_section_asks_for_a_product_that_fits_it() -> None:
    from igny8d.ai.article.brief import point_for
    assert "name the one that fits best" in point_for("hypoallergenic dog food", "pick")
    assert "how it matters here" in point_for("hypoallergenic dog food")
