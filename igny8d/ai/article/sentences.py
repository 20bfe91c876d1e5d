"""The article writer's sentence banks (igny8d/ai/data/sentences.json), read on first use."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from igny8d.ai.lexicon import mapping, read, strings


@dataclass(frozen=True, slots=True)
class SentenceBanks:
    """Template sentences by use (placeholders: the data file's "about")."""

    #: By a heading's kind (`headings.heading_kind`): overview, steps, tips, … general.
    pools: dict[str, tuple[str, ...]]
    #: Openers for a section about a topic of its own: they name the heading.
    phrase_sentences: tuple[str, ...]
    #: Sentences that carry one of the section's keywords.
    keyword_sentences: tuple[str, ...]
    #: List items for the kinds that take a list.
    list_items: dict[str, tuple[str, ...]]
    #: The introduction's first sentence, by content structure ("guide" for any other).
    intros: dict[str, tuple[str, ...]]
    intro_follow: tuple[str, ...]
    #: The last paragraph of an outline without a conclusion of its own.
    closing: tuple[str, ...]


def _banks(value: object, where: str) -> dict[str, tuple[str, ...]]:
    return {k: strings(v, f"{where}.{k}") for k, v in mapping(value, where).items()}


@cache
def sentence_banks() -> SentenceBanks:
    """The sentences, read on first use (never at import)."""
    data = mapping(read("sentences.json"), "sentences.json")
    banks = SentenceBanks(
        pools=_banks(data["pools"], "sentences.json pools"),
        phrase_sentences=strings(data["phrase_sentences"], "sentences.json phrase_sentences"),
        keyword_sentences=strings(data["keyword_sentences"],
                                  "sentences.json keyword_sentences"),
        list_items=_banks(data["list_items"], "sentences.json list_items"),
        intros=_banks(data["intros"], "sentences.json intros"),
        intro_follow=strings(data["intro_follow"], "sentences.json intro_follow"),
        closing=strings(data["closing"], "sentences.json closing"))
    if "general" not in banks.pools or "guide" not in banks.intros:
        raise ValueError("sentences.json: a 'general' pool and a 'guide' intro are required")
    return banks
