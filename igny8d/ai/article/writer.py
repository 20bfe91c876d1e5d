"""The draft's prose: sentences picked from the banks for each heading, in seeded paragraphs."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

from igny8d.ai.article.headings import cap, heading_kind, running_text
from igny8d.ai.article.keywords import stems_of
from igny8d.ai.article.sentences import sentence_banks
from igny8d.ai.types import OutlineSection
from igny8d.text import words

#: An H3 gets this share of an H2's words.
H3_WEIGHT = 0.6


def count_words(text: str) -> int:
    """Words of plain text, counted as the stored word count counts them."""
    return len(words(text))


@dataclass(slots=True)
class Block:
    """One heading's text to write: an H2's lead or one of its H3s."""

    level: int
    heading: str
    weight: float
    keywords: list[str] = field(default_factory=list)


class Writer:
    """Sentences from the pools: never one template twice in a block while others are left,
    each as rarely as possible across the article (ties broken by the seeded generator)."""

    def __init__(self, rng: random.Random, topic: str) -> None:
        self.rng = rng
        self.topic = topic
        self.used: dict[str, int] = {}
        self.block: set[str] = set()

    def pick(self, pool: Sequence[str]) -> str:
        fresh = [t for t in pool if t not in self.block] or list(pool)
        least = min(self.used.get(t, 0) for t in fresh)
        choices = [t for t in fresh if self.used.get(t, 0) == least]
        choice = choices[self.rng.randrange(len(choices))]
        self.used[choice] = self.used.get(choice, 0) + 1
        self.block.add(choice)
        return choice

    def fill(self, template: str, phrase: str = "", kw: str = "") -> str:
        return template.format(topic=self.topic, Topic=cap(self.topic), phrase=phrase,
                               Phrase=cap(phrase), kw=kw, Kw=cap(kw), primary=kw)

    def opener(self, kind: str, phrase: str) -> str:
        """A block's first sentence: about its heading for a general section."""
        self.block = set()
        if kind == "general":
            return self.fill(self.pick(sentence_banks().phrase_sentences), phrase=phrase)
        return self.sentence(kind, phrase)

    def sentence(self, kind: str, phrase: str) -> str:
        pools = sentence_banks().pools
        pool = pools.get(kind, pools["general"])
        if kind != "general" and all(t in self.block for t in pool):
            pool = pools["general"]  # the kind's own sentences are spent here: go general
        return self.fill(self.pick(pool), phrase=phrase)

    def keyword_sentence(self, kw: str) -> str:
        return self.fill(self.pick(sentence_banks().keyword_sentences), kw=kw)

    def list_items(self, kind: str) -> list[str]:
        items = list(sentence_banks().list_items[kind])
        self.rng.shuffle(items)
        return items[:min(len(items), 3 + self.rng.randrange(2))]


def _paragraphs(sentences: list[str], rng: random.Random) -> list[str]:
    """The sentences in paragraphs of 3 or 4 (seeded), none of one sentence at the end."""
    out: list[str] = []
    i = 0
    while i < len(sentences):
        size = 3 + rng.randrange(2)
        if len(sentences) - (i + size) == 1:
            size += 1  # no one-sentence paragraph at the end
        out.append(" ".join(sentences[i:i + size]))
        i += size
    return out


def write_block(w: Writer, block: Block, budget: int, rng: random.Random) -> list[str]:
    """HTML of one block: its heading (none for the lead of an H2 written just before), then
    paragraphs of about `budget` words, with a list for the kinds that take one."""
    kind = heading_kind(block.heading)
    phrase = running_text(block.heading)
    sentences: list[str] = [w.opener(kind, phrase)]
    sentences.extend(w.keyword_sentence(kw) for kw in block.keywords)
    with_list = kind in sentence_banks().list_items and budget >= 60
    items = w.list_items(kind) if with_list else []
    total = sum(count_words(s) for s in sentences) + sum(count_words(i) for i in items)
    while total < budget:
        # after the opener and one more of the kind's own, alternate with general advice
        general = kind != "general" and len(sentences) >= 2 and len(sentences) % 2 == 0
        s = w.sentence("general" if general else kind, phrase)
        sentences.append(s)
        total += count_words(s)
    # keep the opening sentence first, the others in a seeded order
    rest = sentences[1:]
    rng.shuffle(rest)
    paragraphs = _paragraphs([sentences[0], *rest], rng)
    html = [f"<p>{escape(paragraphs[0], quote=False)}</p>"]
    if items:
        html.append("<ul>" + "".join(f"<li>{escape(i, quote=False)}</li>" for i in items) +
                    "</ul>")
    html.extend(f"<p>{escape(p, quote=False)}</p>" for p in paragraphs[1:])
    return html


def outline_blocks(outline: Sequence[OutlineSection],
                   keywords: Sequence[list[str]]) -> list[list[Block]]:
    """Per H2: its lead block and its H3 blocks, the section's keywords spread to the H3 that
    shares most stems with each (else the lead)."""
    out: list[list[Block]] = []
    for s, kws in zip(outline, keywords, strict=True):
        lead = Block(2, s.heading, 1.0)
        subs = [Block(3, h, H3_WEIGHT) for h in s.subheadings]
        for kw in kws:
            ks = stems_of(kw)
            scored = [(len(ks & stems_of(b.heading)), -i) for i, b in enumerate(subs)]
            best = max(range(len(subs)), key=lambda i: scored[i]) if subs else -1
            target = subs[best] if best >= 0 and scored[best][0] > 0 else lead
            target.keywords.append(kw)
        out.append([lead, *subs])
    return out
