"""The idea writer's word lists (igny8d/ai/data/ideas.json), typed and read on first use."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from igny8d.ai.lexicon import mapping, read, strings, word_set
from igny8d.vocab import CONTENT_STRUCTURES


@dataclass(frozen=True, slots=True)
class IdeaWords:
    """What the writer knows of English and of keywords (see the data file's lists)."""

    #: Words title case keeps lower case (unless first).
    small_words: frozenset[str]
    #: Written in capitals in a title.
    acronyms: frozenset[str]
    #: How brands are written (keywords are usually typed in lower case).
    brand_casing: dict[str, str]
    #: Nouns without a plural in a title ("The 7 Best CRM Software Options").
    uncountable: frozenset[str]
    #: Nouns used in the plural only.
    plural_only: frozenset[str]
    #: Words that end a noun phrase's head ("CRM *for* Real Estate": the plural goes on "CRM").
    prepositions: frozenset[str]
    #: Who a thing is for, when a keyword puts it last without "for" ("running shoes
    #: women"): a heading reads "Running Shoes for Women".
    audiences: frozenset[str]
    #: Nouns in -ing that are things, not activities: they take "a" and a plural ("a
    #: Wedding", "Buildings"), unlike "marketing" or "camping".
    countable_ing: frozenset[str]
    #: Adjectives keywords put after the noun ("coffee grinder *smooth*"): never the head
    #: noun, so never the word made plural.
    trailing_adjectives: frozenset[str]
    #: Modifiers after which the next word is a verb: the keyword asks how to do something.
    task_openers: frozenset[str]
    #: Task openers that need a pronoun next ("how do *i* clean…", not "how do index funds
    #: work").
    pronoun_openers: frozenset[str]
    pronouns: frozenset[str]
    #: Question words; with the analysis's leading questions ("is", "can"…), the openers of a
    #: keyword worded as a question.
    question_words: frozenset[str]
    #: Words after which a task's object starts ("train *a* puppy", "feed *my* dog").
    determiners: frozenset[str]
    #: Particles of phrasal verbs ("pay *off* student loans").
    particles: frozenset[str]
    #: Verbs and adjectives a question ends on, not part of its subject.
    question_tails: frozenset[str]
    #: A topic about a price ("kitchen remodel cost"): lists ways to save, how-tos estimate it.
    price_words: frozenset[str]
    #: The reader's words for the searcher's ("my dog" → "your dog").
    second_person: dict[str, str]
    #: Modifiers never part of a topic, even a brand's ("best", "vs", question words).
    never_topic: frozenset[str]
    #: Modifiers kept in a topic: they change what the thing is ("free crm", "mortgage
    #: rates"). They are never a facet.
    keep_in_topic: frozenset[str]
    #: Angle of a keyword without a facet: what it asks about the topic. First match wins.
    angles: tuple[tuple[str, frozenset[str]], ...]
    #: Structure cues: modifiers (and a few plain words) that call for a structure.
    structure_cues: dict[str, frozenset[str]]
    #: Question forms of keywords that are not worded as questions, by modifier; `{t}` is the
    #: topic, `{k}` the keyword. First match wins.
    question_forms: tuple[tuple[frozenset[str], str], ...]


def _text_map(value: object, where: str) -> dict[str, str]:
    found = mapping(value, where)
    if not all(isinstance(v, str) for v in found.values()):
        raise ValueError(f"{where}: expected an object of strings")
    return dict(found)


@cache
def idea_words() -> IdeaWords:
    """The word lists, read on first use (never at import)."""
    data = mapping(read("ideas.json"), "ideas.json")

    def words(key: str) -> frozenset[str]:
        return word_set(data[key], f"ideas.json {key}")

    angles = tuple((str(a["angle"]), word_set(a["cues"], f"ideas.json angles.{a['angle']}"))
                   for a in data["angles"])
    cues = {s: word_set(v, f"ideas.json structure_cues.{s}")
            for s, v in mapping(data["structure_cues"], "structure_cues").items()}
    if set(cues) != set(CONTENT_STRUCTURES):
        raise ValueError("ideas.json structure_cues: one list per content structure")
    forms = tuple((word_set(f["cues"], "ideas.json question_forms"),
                   strings([f["form"]], "ideas.json question_forms")[0])
                  for f in data["question_forms"])
    return IdeaWords(
        small_words=words("small_words"), acronyms=words("acronyms"),
        brand_casing=_text_map(data["brand_casing"], "ideas.json brand_casing"),
        uncountable=words("uncountable"), plural_only=words("plural_only"),
        prepositions=words("prepositions"), audiences=words("audiences"),
        countable_ing=words("countable_ing"),
        trailing_adjectives=words("trailing_adjectives"), task_openers=words("task_openers"),
        pronoun_openers=words("pronoun_openers"), pronouns=words("pronouns"),
        question_words=words("question_words"), determiners=words("determiners"),
        particles=words("particles"), question_tails=words("question_tails"),
        price_words=words("price_words"),
        second_person=_text_map(data["second_person"], "ideas.json second_person"),
        never_topic=words("never_topic"), keep_in_topic=words("keep_in_topic"),
        angles=angles, structure_cues=cues, question_forms=forms)
