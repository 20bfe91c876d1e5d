"""The brief put together: its outline, keywords, opening, sections and meta."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from igny8d.ai.article.brief import Lines, outline_blocks, write_block
from igny8d.ai.article.headings import cap, running_text
from igny8d.ai.article.keywords import (
    assign_keywords,
    choose_primary,
    clean_keywords,
    keyword_key,
)
from igny8d.ai.article.meta import meta_description, meta_title, slug
from igny8d.ai.ideas import outline_for, plan_keywords, request_reading
from igny8d.ai.ideas.asks import ask_of
from igny8d.ai.types import ArticleBrief, ArticleDraft, OutlineSection
from igny8d.text import word_count
from igny8d.vocab import CONTENT_STRUCTURES

MAX_SECONDARY = 10
MIN_WORDS, MAX_WORDS = 100, 20000

#: Words the opening takes (before the first section).
INTRO_WORDS = 150

DRAFT_COMMENT = ("<!-- igny8d offline writer's brief: made from the outline and keywords "
                 "without a language model. It says what to write, it is not the article. -->")

#: What the opening paragraph tells the writer, by the primary keyword's ask.
OPENINGS: dict[str, str] = {
    "frequency": "give the interval as a number in the first sentence",
    "question": "answer the question in the first two sentences",
    "definition": "define the term in the first sentence",
    "howto": "say what the reader will be able to do and what they need",
    "problem": "name the most likely cause and its fix in the first two sentences",
    "comparison": "say in one sentence which side suits which reader",
    "best": "name the overall pick in the first paragraph",
    "review": "give the verdict in the first paragraph",
    "buy": "say where to buy and what it costs in the first paragraph",
    "price": "give the current range with its date in the first paragraph",
    "local": "say how to find a good one nearby and what it costs",
    "brand": "say where to go and what to do in the first sentence",
    "general": "say what the reader will learn and why it matters",
}
READERS: dict[str, str] = {
    "informational": "readers who want to understand it",
    "commercial": "readers comparing options before they buy",
    "transactional": "readers ready to buy or book",
    "navigational": "readers looking for one place or page",
}


def draft_note(title: str) -> str:
    """The visible note that opens the brief: what it is, and what to do with it."""
    text = (f"Offline writer\u2019s brief for \u201c{title}\u201d: igny8d made it without a "
            "language model. Write each section from its questions, points and keywords, check "
            "every fact, then replace this brief with the article.")
    return f'<p class="draft-note"><em>{escape(text, quote=False)}</em></p>'


def clean_outline(outline: Sequence[OutlineSection]) -> tuple[OutlineSection, ...]:
    """The brief's outline as written, less empty headings (nothing to write under them)."""
    out: list[OutlineSection] = []
    for s in outline:
        if not s.heading.strip():
            continue
        subs = tuple(h for h in s.subheadings if h.strip())
        out.append(OutlineSection(s.heading, subs, tuple(s.keywords)))
    return tuple(out)


def plan_outline(brief: ArticleBrief, primary: str,
                 keywords: Sequence[str]) -> tuple[tuple[OutlineSection, ...], bool]:
    """(the outline to follow, whether it is the brief's own)."""
    given = clean_outline(brief.outline)
    if given:
        return given, True
    structure = brief.content_structure if brief.content_structure in CONTENT_STRUCTURES \
        else "guide"
    try:
        plan = plan_keywords([(k, 0) for k in keywords], primary=primary)
    except ValueError:  # nothing the analysis reads (no Latin letters): a plain skeleton
        return (OutlineSection("Overview", (), tuple(keywords)), OutlineSection("Key Points"),
                OutlineSection("Conclusion")), False
    return outline_for(plan, structure), False




def generate_article(brief: ArticleBrief) -> ArticleDraft:
    """The writer's brief for the task (see the package doc)."""
    title = " ".join(brief.title.split())
    own = clean_keywords(brief.keywords)
    primary = choose_primary(title, own)
    if not title:
        title = cap(primary)
    prim = keyword_key(primary)
    related = [k for k in clean_keywords(brief.related_keywords) if keyword_key(k) not in
               {keyword_key(x) for x in own}]
    secondary = [k for k in own if keyword_key(k) != prim] + \
        [k for k in related if keyword_key(k) != prim]
    outline, _given = plan_outline(brief, primary, [primary, *secondary])
    structure = brief.content_structure if brief.content_structure in CONTENT_STRUCTURES \
        else "guide"
    target = max(MIN_WORDS, min(MAX_WORDS, brief.target_word_count))
    # the names all its keywords show ("victorinox fibrox review"), written as the title
    # writes them in every sentence, and the verbs they show: "host website on home server"
    # beside "can i host …" is a task
    names, verbs = request_reading([primary, *secondary])
    try:
        plan = plan_keywords([(primary, 0)], names=names, verbs=verbs)
        # an acronym defined is named as it is ("what is pmi": on PMI, not PMIs), a kind of
        # thing in the plural (on heat pumps)
        named = plan.t if ask_of(primary) == "definition" and plan.t.isupper() else plan.ts
        if plan.versus and all(plan.sides):  # "evernote and notion", not "evernote notion"
            named = f"{plan.sides[0]} and {plan.sides[1]}"
        topic, intent = running_text(named, names) or primary, plan.intent
    except ValueError:
        topic, intent = primary, "informational"
    blocks = outline_blocks(outline, assign_keywords(outline, secondary, primary))
    if blocks:  # the primary keyword's own point opens the first section
        blocks[0][0].keywords.insert(0, primary)
    units = sum(b.weight for section in blocks for b in section) or 1.0
    intro_words = min(INTRO_WORDS, target // 8)
    per_unit = max(20, (target - intro_words) / units)

    lines = Lines()
    html: list[str] = [DRAFT_COMMENT + draft_note(title)]
    lines.fresh(html[-1])
    opening = (f"Primary keyword: \u201c{primary}\u201d, for {READERS[intent]}. About "
               f"{target} words in all: an opening of about {intro_words} words on {topic} "
               f"that should {OPENINGS[ask_of(primary)]}, then {len(outline)} sections.")
    lines.fresh(opening)
    html.append(f"<p>{escape(opening, quote=False)}</p>")
    for section in blocks:
        for b in section:
            tag = "h2" if b.level == 2 else "h3"
            html.append(f"<{tag}>{escape(b.heading, quote=False)}</{tag}>")
            html.extend(write_block(b, round(per_unit * b.weight / 10) * 10 or 10, topic,
                                    lines, names))
    body = "\n".join(html)
    return ArticleDraft(
        title=title, html_content=body, meta_title=meta_title(title),
        meta_description=meta_description(primary, structure, outline, names),
        slug=slug(title) or slug(primary) or f"draft-{brief.task_id}",
        primary_keyword=primary, secondary_keywords=tuple(secondary[:MAX_SECONDARY]),
        outline=outline, word_count=word_count(body))
