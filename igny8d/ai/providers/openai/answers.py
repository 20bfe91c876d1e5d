"""A model's answers made into the contract's values: choices mapped, texts cut, HTML read back.

Values the store would refuse are mapped (an unknown content structure is "guide") or cut;
texts are deduplicated, outlines kept within the store's limits, an image identified.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Iterable, Sequence
from html.parser import HTMLParser
from typing import Any

from igny8d.ai.providers.openai.wire import Section
from igny8d.ai.types import OutlineSection, ProviderError
from igny8d.vocab import MAX_OUTLINE_ITEMS, MAX_TARGET_KEYWORDS

_IMAGE_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp",
                "GIF": "image/gif"}


def choice(value: str, choices: tuple[str, ...], default: str,
           aliases: dict[str, str]) -> str:
    """A model's word for a choice ("How-To", "list") as one of `choices`, else `default`."""
    key = re.sub(r"[^a-z0-9]+", "_", value.lower()).strip("_")
    key = aliases.get(key, key)
    return key if key in choices else default


STRUCTURE_ALIASES = {"howto": "how_to", "how_to_guide": "how_to", "tutorial": "how_to",
                     "list": "listicle", "list_post": "listicle", "versus": "comparison",
                     "vs": "comparison", "question": "faq", "questions": "faq",
                     "q_and_a": "faq", "qa": "faq", "pillar_page": "pillar",
                     "product_review": "review", "ultimate_guide": "guide"}
TYPE_ALIASES = {"blog": "blog_post", "post": "blog_post", "blog_article": "blog_post",
                "landing": "landing_page", "product": "product_page",
                "versus": "comparison", "vs": "comparison"}


def unique(texts: Iterable[str], *, limit: int, chars: int = 255,
           exclude: Iterable[str] = ()) -> tuple[str, ...]:
    """At most `limit` texts, whitespace folded and cut at `chars`, each once (case-folded),
    none of `exclude`."""
    seen = {t.strip().casefold() for t in exclude}
    out: list[str] = []
    for text in texts:
        if len(out) >= limit:
            break
        clean = " ".join(text.split())[:chars]
        if clean and clean.casefold() not in seen:
            seen.add(clean.casefold())
            out.append(clean)
    return tuple(out)


class HtmlOutline(HTMLParser):
    """The h2/h3 headings and the text (for the word count) of an article's HTML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.headings: list[tuple[int, str]] = []
        self.paragraphs: list[str] = []
        self._level: int | None = None
        self._buffer: list[str] = []
        self._in_p = False
        self._p: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("h2", "h3"):
            self._level, self._buffer = int(tag[1]), []
        elif tag == "p":
            self._in_p, self._p = True, []
        self.text.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("h2", "h3") and self._level is not None:
            heading = " ".join("".join(self._buffer).split())
            if heading:
                self.headings.append((self._level, heading))
            self._level = None
        elif tag == "p" and self._in_p:
            self._in_p = False
            self.paragraphs.append(" ".join("".join(self._p).split()))
        self.text.append(" ")

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._level is not None:
            self._buffer.append(data)
        if self._in_p:
            self._p.append(data)

    def outline(self) -> tuple[OutlineSection, ...]:
        sections: list[tuple[str, list[str]]] = []
        for level, heading in self.headings:
            if level == 2 or not sections:
                sections.append((heading[:255], []))
            else:
                sections[-1][1].append(heading[:255])
        return tuple(OutlineSection(h, tuple(subs)) for h, subs in sections)

    def words(self) -> int:
        return len("".join(self.text).split())


def read_html(html: str) -> HtmlOutline:
    """The headings, paragraphs and text of an article the model wrote."""
    parser = HtmlOutline()
    parser.feed(html)
    parser.close()
    return parser


def sections(raw: Sequence[Section], *, budget: int = MAX_OUTLINE_ITEMS
              ) -> tuple[OutlineSection, ...]:
    """Outline sections within the store's limit of h2 + h3 items."""
    out: list[OutlineSection] = []
    for s in raw:
        if budget <= 0:
            break
        subs = unique(s.subheadings, limit=max(0, min(50, budget - 1)))
        budget -= 1 + len(subs)
        out.append(OutlineSection(" ".join(s.heading.split())[:255], subs,
                                  unique(s.keywords, limit=MAX_TARGET_KEYWORDS)))
    return tuple(o for o in out if o.heading)


def outline_json(outline: Sequence[OutlineSection]) -> list[dict[str, Any]]:
    """An outline as the prompt shows it to the model."""
    return [{"heading": s.heading, "subheadings": list(s.subheadings),
             "keywords": list(s.keywords)} for s in outline]


def word_estimate(value: float) -> int:
    """A model's word-count estimate within 300..10,000 (1,500 when it gave nonsense)."""
    if not math.isfinite(value) or value <= 0:
        return 1500
    return int(min(10_000, max(300, round(value))))


def inspect_image(data: bytes) -> tuple[str, int, int]:
    """(content type, width, height) of an image the API answered; ProviderError when it is
    not a PNG, JPEG, WebP or GIF Pillow can read."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            kind = _IMAGE_TYPES.get(image.format or "")
            width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError):
        kind = None
    if kind is None:
        raise ProviderError("The provider's image could not be read as PNG, JPEG or WebP.")
    return kind, width, height
