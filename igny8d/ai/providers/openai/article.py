"""An article written by a chat model, outline-first.

With an outline (the idea's, as the user left it): one intro call (title, meta fields, the
introduction) and then one call per H2 section, each given the section's heading, H3s and
keywords, its place in the article and a word target; the article is assembled as intro,
then `<h2>heading</h2>` + body per section, in the outline's order (an FAQ or a conclusion
is a section like any other). Each call fits a small local model's context window, and the
whole article stays within `LlmOptions.content_total` tokens: every call gets
min(`section.max_tokens`, total / (sections + 1)). Progress is reported per section through
the `on_section` hook. Without an outline the article is one call, its outline read back
from its HTML. An article whose text is empty fails (after one repair of the part at fault).
"""

from __future__ import annotations

import html as htmllib
import re
from typing import TYPE_CHECKING

from igny8d.ai.providers.openai import schemas
from igny8d.ai.providers.openai.answers import outline_json, read_html, unique
from igny8d.ai.providers.openai.chat import SHAPE_ERROR, Spent
from igny8d.ai.providers.openai.wire import Article, SectionBody
from igny8d.ai.text import slug
from igny8d.ai.types import (
    ArticleBrief,
    ArticleDraft,
    ChatBudget,
    Generation,
    Prompts,
    ProviderError,
    SectionHook,
    Step,
)
from igny8d.text import cut_at_word

if TYPE_CHECKING:
    from igny8d.ai.providers.openai.provider import OpenAIProvider

#: at most this many sections are written (one call each); the rest of a longer outline is
#: dropped and said so in the steps
MAX_SECTIONS = 12
#: the smallest budget a call gets, however many sections share the total
MIN_CALL_TOKENS = 96

ARTICLE_ANSWER = ("Only a JSON object: {\"title\": str, \"html_content\": str, "
                  "\"meta_title\": str, \"meta_description\": str, \"slug\": str, "
                  "\"primary_keyword\": str, \"secondary_keywords\": [str]}.")
INTRO_ANSWER = ("Only a JSON object: {\"title\": str, \"html_content\": str (the "
                "introduction only: one or two <p> paragraphs, no headings), \"meta_title\": str, "
                "\"meta_description\": str, \"slug\": str, \"primary_keyword\": str, "
                "\"secondary_keywords\": [str]}. The sections are written separately.")
SECTION_ANSWER = ("Only a JSON object: {\"html_content\": str}: this section's body in HTML "
                  "(<p>, <h3>, <ul>, <li>), without its <h2> heading.")

_LEADING_H2 = re.compile(r"^\s*<h2[^>]*>.*?</h2>\s*", re.IGNORECASE | re.DOTALL)


def _has_text(html: str, what: str) -> None:
    if read_html(html).words() == 0:
        raise ProviderError(f"{SHAPE_ERROR}: html_content: {what} has no text")


def check_article(answer: Article) -> None:
    _has_text(answer.html_content, "the article")


def check_section(answer: SectionBody) -> None:
    _has_text(_LEADING_H2.sub("", answer.html_content.strip()), "the section")


def call_budget(base: ChatBudget, total: int, calls: int) -> ChatBudget:
    """Each of `calls` calls' budget: its share of `total`, at most `base.max_tokens`."""
    share = max(MIN_CALL_TOKENS, total // max(1, calls))
    return ChatBudget(min(base.max_tokens, share), base.temperature)


async def write(provider: OpenAIProvider, brief: ArticleBrief, prompts: Prompts,
                on_section: SectionHook | None) -> Generation[ArticleDraft]:
    """The article (see the module doc)."""
    primary = brief.keywords[0] if brief.keywords else brief.title
    outline = brief.outline[:MAX_SECTIONS]
    options = provider.options
    common = {
        "title": brief.title, "primary_keyword": primary, "keywords": list(brief.keywords),
        "secondary_keyword_candidates": list(brief.related_keywords),
        "description": brief.description, "content_type": brief.content_type,
        "content_structure": brief.content_structure,
    }
    spent = Spent()
    if not outline:
        budget = ChatBudget(min(options.content_total, max(options.section.max_tokens,
                                                           options.content_total // 2)),
                            options.section.temperature)
        asked = await provider._ask(
            "content_generation", "content_generation", prompts, {
                **common, "outline": [], "target_word_count": brief.target_word_count,
                "outline_note": "No outline given: make an h2/h3 outline from the title and "
                                "keywords first."},
            Article, schemas.ARTICLE, budget, ARTICLE_ANSWER, check_article, spent)
        answer, body = asked.value, asked.value.html_content.strip()
    else:
        budget = call_budget(options.section, options.content_total, len(outline) + 1)
        per_section = max(50, brief.target_word_count // (len(outline) + 1))
        if on_section is not None:
            await on_section(0, len(outline), "introduction")
        asked = await provider._ask(
            "content_intro", "content_generation", prompts, {
                **common, "outline": [s.heading for s in outline],
                "target_word_count": per_section}, Article, schemas.ARTICLE, budget,
            INTRO_ANSWER, None, spent)
        answer = asked.value
        parts = [_LEADING_H2.sub("", answer.html_content.strip())]
        for n, section in enumerate(outline, 1):
            if on_section is not None:
                await on_section(n, len(outline), section.heading)
            part = await provider._ask(
                "content_section", "content_generation", prompts, {
                    **common, "section": outline_json([section])[0],
                    "position": f"section {n} of {len(outline)}",
                    "previous_heading": outline[n - 2].heading if n > 1 else "",
                    "next_heading": outline[n].heading if n < len(outline) else "",
                    "target_word_count": per_section},
                SectionBody, schemas.SECTION, budget, SECTION_ANSWER, check_section, spent)
            text = _LEADING_H2.sub("", part.value.html_content.strip())
            parts.append(f"<h2>{htmllib.escape(section.heading, quote=False)}</h2>{text}")
        body = "".join(parts)
        if len(brief.outline) > len(outline):
            spent.response.append(Step("outline", f"{len(brief.outline) - len(outline)} "
                                                  f"sections beyond {MAX_SECTIONS} not written"))
    read = read_html(body)
    if read.words() == 0:
        raise spent.charge(ProviderError(f"{SHAPE_ERROR}: the article has no text"))
    title = " ".join((answer.title or brief.title).split())[:255] or brief.title
    primary_kw = " ".join((answer.primary_keyword or primary).split())[:255]
    secondary = unique(answer.secondary_keywords or
                       [*brief.keywords[1:], *brief.related_keywords],
                       limit=50, exclude=[primary_kw])
    first_paragraph = next((p for p in read.paragraphs if p), "")
    draft = ArticleDraft(
        title=title, html_content=body,
        meta_title=cut_at_word(answer.meta_title or title, 60),
        meta_description=cut_at_word(
            answer.meta_description or brief.description or first_paragraph, 160),
        slug=slug(answer.slug or title) or slug(brief.title) or f"task-{brief.task_id}",
        primary_keyword=primary_kw, secondary_keywords=secondary,
        outline=brief.outline or read.outline(), word_count=read.words())
    calls = 1 if not outline else len(outline) + 1
    return Generation(draft, spent.tokens, spent.cost, tuple(spent.request), (
        *spent.response, Step("parse", f"{draft.word_count:,} words in {calls} "
                                       f"call{'s' if calls > 1 else ''}")))
