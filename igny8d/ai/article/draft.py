"""The draft put together: its outline, keywords, introduction, sections and meta."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from html import escape

from igny8d.ai.article.headings import cap, heading_kind, running_text
from igny8d.ai.article.keywords import (
    assign_keywords,
    choose_primary,
    clean_keywords,
    keyword_key,
)
from igny8d.ai.article.meta import meta_description, meta_title, slug
from igny8d.ai.article.sentences import sentence_banks
from igny8d.ai.article.writer import Writer, count_words, outline_blocks, write_block
from igny8d.ai.ideas import outline_for, plan_keywords
from igny8d.ai.types import ArticleBrief, ArticleDraft, OutlineSection
from igny8d.text import word_count
from igny8d.vocab import CONTENT_STRUCTURES

MAX_SECONDARY = 10
MIN_WORDS, MAX_WORDS = 100, 20000

DRAFT_COMMENT = ("<!-- igny8d local draft: a scaffold built from templates and the outline, "
                 "offline and without a language model. Check every claim and rewrite before "
                 "publishing. -->")
DRAFT_NOTE = ('<p class="draft-note"><em>This draft was generated offline from the outline; '
              "edit before publishing.</em></p>")


def clean_outline(outline: Sequence[OutlineSection]) -> tuple[OutlineSection, ...]:
    """The brief's outline as written, less empty headings (nothing to write under them)."""
    out: list[OutlineSection] = []
    for s in outline:
        if not s.heading.strip():
            continue
        subs = tuple(h for h in s.subheadings if h.strip())
        out.append(OutlineSection(s.heading, subs, tuple(s.keywords)))
    return tuple(out)


def seed(*parts: object) -> int:
    """A seed from the brief's parts (SHA-256, never `hash()`: the same brief, the same draft
    in any process)."""
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big")


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
    """A draft of the brief (see the package doc)."""
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
    rng = random.Random(  # noqa: S311 - a seeded choice of sentences, not a secret
        seed(title, primary, tuple(secondary), outline, structure, target))
    try:
        topic = running_text(plan_keywords([(primary, 0)]).ts) or primary
    except ValueError:
        topic = primary
    w = Writer(rng, topic)

    html: list[str] = [DRAFT_COMMENT + DRAFT_NOTE]
    banks = sentence_banks()
    intro = [w.fill(w.pick(banks.intros.get(structure, banks.intros["guide"])), kw=primary)]
    intro_budget = max(25, min(150, target // 12))
    follow = list(banks.intro_follow)
    rng.shuffle(follow)
    for s in follow:
        if sum(count_words(x) for x in intro) >= intro_budget:
            break
        intro.append(s)
    html.append(f"<p>{escape(' '.join(intro), quote=False)}</p>")

    blocks = outline_blocks(outline, assign_keywords(outline, secondary, primary))
    ends_itself = bool(outline) and heading_kind(outline[-1].heading) == "conclusion"
    fixed = word_count("".join(html)) + sum(
        count_words(b.heading) for section in blocks for b in section) + (0 if ends_itself else 25)
    units = sum(b.weight for section in blocks for b in section) or 1.0
    per_unit = max(20, int((target - fixed) / units))
    for section in blocks:
        for b in section:
            tag = "h2" if b.level == 2 else "h3"
            html.append(f"<{tag}>{escape(b.heading, quote=False)}</{tag}>")
            html.extend(write_block(w, b, int(per_unit * b.weight), rng))
    if not ends_itself:
        html.append(f"<p>{escape(w.fill(w.pick(banks.closing)), quote=False)}</p>")
    body = "\n".join(html)
    return ArticleDraft(
        title=title, html_content=body, meta_title=meta_title(title),
        meta_description=meta_description(primary, structure, outline),
        slug=slug(title) or slug(primary) or f"draft-{brief.task_id}",
        primary_keyword=primary, secondary_keywords=tuple(secondary[:MAX_SECONDARY]),
        outline=outline, word_count=word_count(body))
