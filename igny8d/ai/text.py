"""Keyword text analysis: normalisation, Snowball stems, intent modifiers apart from head terms.

The local provider's clustering, intent classifier and idea planner all start here; character
n-grams for the similarity are here too.

Every function here is pure and deterministic. `analyse` is the one entry point the clustering
and the intent classifier use; the rest are exposed for tests and for callers that need a piece.

Normalisation (`normalise`): Unicode NFKD with combining marks dropped ("café" → "cafe"),
case folded, "&" → " and ", "+" → " plus " when it stands alone, apostrophes removed inside
words ("women's" → "womens"), every other non-alphanumeric character → space (so "pour-over"
→ "pour over", "booking.com" → "booking com"), runs of whitespace collapsed.

Modifiers (`Vocabulary.modifiers`): words and phrases that say what the searcher wants rather
than what the keyword is about ("best", "cheap", "how to", "near me", "vs", "login", years…).
They are matched longest phrase first on the token list, carry an intent cue, and are removed
from the *head* — the terms the similarity compares. Stop words are removed from the head too.
Brand names and product nouns stay in the head: they are what the keyword is about, and also
give the classifier a (weaker) cue — a product noun only as the head noun (`head_noun`: the
last head word before any preposition; "table saw kickback" is about kickback). The word
lists are data (igny8d/ai/data/keywords.json), read on first use.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

import snowballstemmer  # type: ignore[import-untyped]

from igny8d.ai.lexicon import mapping, read, word_set
from igny8d.text import slugify

# the classifier's precedence, strongest first, is the order of the vocabulary's intents
from igny8d.vocab import INTENT_PRECEDENCE, Intent

_T: Intent = "transactional"
_C: Intent = "commercial"
_N: Intent = "navigational"
_I: Intent = "informational"


def _new_stemmer() -> Any:
    return snowballstemmer.stemmer("english")


#: One Snowball stemmer per thread: it keeps the word being stemmed as its own state, and
#: clustering jobs stem in a thread pool, two at once on one server.
_STEMMERS = threading.local()
#: A year: a modifier, never a head term ("best laptops 2024").
YEAR = re.compile(r"^(19|20)\d\d$")
#: A site's address as typed ("chess.com", "mullvad.net"): one name, not "Chess Com".
DOMAIN = re.compile(r"[a-z0-9-]+\.(com|net|org|io|co|app|ai|tv|us|uk|ca|de|me)")
_NON_WORD = re.compile(r"[^0-9a-z]+")
_MAX_PHRASE = 4


def normalise(text: str) -> str:
    """Lower-case ASCII-folded text with punctuation turned to spaces (see module doc)."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.casefold().replace("&", " and ")
    text = re.sub(r"(?<=\w)['’`](?=\w)", "", text)
    text = re.sub(r"(?:(?<=\s)|^)\+(?=\s|$)", " plus ", text)
    return " ".join(_NON_WORD.sub(" ", text).split())


def slug(text: str, max_length: int = 100) -> str:
    """igny8d's slug (`igny8d.text.slugify`) of the words this analysis reads: "Women's Shoes"
    → womens-shoes, as `normalise` joins a possessive; "" for a text without Latin letters or
    digits, so a draft's slug falls back to another text or its id, as it always has."""
    return slugify(normalise(text), max_length=max_length)


def tokens(text: str) -> list[str]:
    """The normalised text's words."""
    return normalise(text).split()


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The English Snowball stem of one normalised word ("grinders" → "grinder")."""
    stemmer = getattr(_STEMMERS, "stemmer", None)
    if stemmer is None:
        stemmer = _STEMMERS.stemmer = _new_stemmer()
    result: str = stemmer.stemWord(word)
    return result


def char_ngrams(text: str, sizes: tuple[int, ...] = (3, 4)) -> list[str]:
    """Character n-grams of `text` with its spaces removed and "#" marking both ends, so
    "pour over" and "pourover" give the same grams."""
    compact = "#" + text.replace(" ", "") + "#"
    grams: list[str] = []
    for n in sizes:
        grams.extend(compact[i:i + n] for i in range(len(compact) - n + 1))
    return grams


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """The analysis's word lists (igny8d/ai/data/keywords.json) and the lookup tables made
    from them."""

    #: Modifier phrases → the intent they signal. Longest match wins, so "best way to"
    #: (how-to, informational) is not read as "best" (commercial), nor "buying guide" as "buy".
    modifiers: dict[str, Intent]
    #: Question openers: an informational cue only as the first token ("is it safe to…"),
    #: stop words elsewhere.
    leading_questions: frozenset[str]
    #: Modifiers whose intent depends on context: kept in the head when another reading is
    #: likelier ("book" is a noun in "cook book"; "store" in "running store" is the thing wanted).
    head_keeping_modifiers: frozenset[str]
    stopwords: frozenset[str]
    #: Brand names a navigational query is about. Multi-word brands are matched as phrases.
    #: A query made of a brand alone, or of a brand plus a navigational modifier, is
    #: navigational; a brand next to other head terms is a (weak) commercial cue ("nike
    #: pegasus 40"), which `intent.classify_analysis` reads as the brand's product page
    #: (navigational, not firm) when the keyword has no modifier.
    brands: frozenset[str]
    #: Nouns of things people buy: a weak commercial cue as the head noun ("running shoes",
    #: "crm software", not "table saw kickback").
    #: Matched on Snowball stems, so singular and plural both count.
    product_nouns: frozenset[str]
    #: Things people book: a weak transactional cue ("flights to paris", "hotels in rome").
    bookable_nouns: frozenset[str]
    #: Tasks and how-tos: a strong informational cue that stays in the head ("crm
    #: implementation", "leaky faucet repair", "mortgage calculator"). Matched on stems.
    task_words: frozenset[str]
    modifier_phrases: dict[tuple[str, ...], str]
    brand_phrases: dict[tuple[str, ...], str]
    product_stems: frozenset[str]
    bookable_stems: frozenset[str]
    task_stems: frozenset[str]


def _phrase_table(phrases: Iterable[str]) -> dict[tuple[str, ...], str]:
    return {tuple(p.split()): p for p in phrases}


@cache
def vocabulary() -> Vocabulary:
    """The word lists, read on first use (the server imports this module at start)."""
    data = mapping(read("keywords.json"), "keywords.json")
    modifiers: dict[str, Intent] = {}
    by_intent = mapping(data["modifiers"], "keywords.json modifiers")
    for intent in INTENT_PRECEDENCE:
        for phrase in word_set(by_intent[intent], f"keywords.json modifiers.{intent}"):
            if phrase in modifiers:
                raise ValueError(f"keywords.json: modifier {phrase!r} has two intents")
            modifiers[phrase] = intent
    brands = frozenset(b for niche, names in mapping(data["brands"], "brands").items()
                       for b in word_set(names, f"keywords.json brands.{niche}"))

    def words(key: str) -> frozenset[str]:
        return word_set(data[key], f"keywords.json {key}")

    product, bookable, task = words("product_nouns"), words("bookable_nouns"), \
        words("task_words")
    return Vocabulary(
        modifiers=modifiers, leading_questions=words("leading_questions"),
        head_keeping_modifiers=words("head_keeping_modifiers"), stopwords=words("stopwords"),
        brands=brands, product_nouns=product, bookable_nouns=bookable, task_words=task,
        modifier_phrases=_phrase_table(modifiers), brand_phrases=_phrase_table(brands),
        product_stems=frozenset(stem(w) for w in product),
        bookable_stems=frozenset(stem(w) for w in bookable),
        task_stems=frozenset(stem(w) for w in task))


@dataclass(frozen=True, slots=True)
class Cue:
    """One matched intent cue: the phrase as matched and the intent it signals."""

    phrase: str
    intent: Intent
    strong: bool


@dataclass(frozen=True, slots=True)
class Analysis:
    """A keyword taken apart: normalised text, all tokens, the head (what it is about, stop
    words and modifiers removed) and its stems, the modifiers, cues and brands found."""

    text: str
    normalised: str
    tokens: tuple[str, ...]
    head: tuple[str, ...]
    head_stems: tuple[str, ...]
    modifiers: tuple[str, ...]
    cues: tuple[Cue, ...]
    brands: tuple[str, ...]

    @property
    def compact_head(self) -> str:
        """The head with its spaces removed — what the character n-grams are taken from."""
        return "".join(self.head)


def match_phrase(words: Sequence[str], at: int,
                 table: dict[tuple[str, ...], str]) -> str | None:
    """The longest phrase of `table` (by its words) that starts at `words[at]`, if any."""
    for size in range(min(_MAX_PHRASE, len(words) - at), 0, -1):
        phrase = table.get(tuple(words[at:at + size]))
        if phrase is not None:
            return phrase
    return None


def split_modifiers(words: list[str]) -> tuple[list[str], list[str]]:
    """(head words, modifier phrases) of a token list; stop words go to neither. A word in
    `Vocabulary.head_keeping_modifiers` is both a modifier and a head word."""
    v = vocabulary()
    head: list[str] = []
    mods: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if match_phrase(words, i, v.brand_phrases) is None:
            phrase = match_phrase(words, i, v.modifier_phrases)
            if phrase is not None:
                mods.append(phrase)
                if phrase in v.head_keeping_modifiers:
                    head.append(phrase)
                i += len(phrase.split())
                continue
        if YEAR.match(word):
            mods.append(word)
        elif word not in v.stopwords:
            head.append(word)
        i += 1
    return head, mods


def find_brands(words: list[str]) -> list[str]:
    return find_phrases(words, vocabulary().brand_phrases)


def _own_brands(words: list[str], head: list[str], brands: list[str]) -> list[str]:
    """The brands that name the brand: a one-word brand after another content word is the
    head of a compound, a common noun ("fishing kayak", "green apple", "team notion"), not
    the site or company of that name."""
    content = set(head)
    kept: list[str] = []
    for b in brands:
        at = words.index(b) if " " not in b and b in words else -1
        if at > 0 and words[at - 1] in content and words[at - 1] not in brands:
            continue
        kept.append(b)
    return kept


def phrase_spans(words: Sequence[str], phrases: Iterable[str] | dict[tuple[str, ...], str]
                 ) -> Iterator[tuple[int, str]]:
    """(position, phrase) of the phrases found in `words`, longest first at each position,
    without overlaps."""
    table = phrases if isinstance(phrases, dict) else _phrase_table(phrases)
    i = 0
    while i < len(words):
        phrase = match_phrase(words, i, table)
        if phrase is None:
            i += 1
            continue
        yield i, phrase
        i += len(phrase.split())


def find_phrases(words: list[str], phrases: Iterable[str] | dict[tuple[str, ...], str]
                 ) -> list[str]:
    """The phrases found in `words`, longest first at each position, without overlaps."""
    return [phrase for _, phrase in phrase_spans(words, phrases)]


#: Prepositions that end an English noun phrase: its head noun comes before them.
_PREPOSITIONS = frozenset({"for", "with", "without", "in", "on", "to", "under", "at", "from",
                           "by", "of", "near", "after", "before", "during", "vs", "versus"})


#: Audience words a keyword appends after its noun ("hiking boots women" = "women's hiking
#: boots"): never its head noun.
_AUDIENCE = frozenset({"women", "womens", "men", "mens", "kids", "adults", "adult", "boys",
                       "girls", "toddlers", "toddler", "seniors", "teens"})


def head_noun(words: Sequence[str], head: Sequence[str]) -> str | None:
    """The keyword's head noun: its last head word before the first preposition ("table saw
    kickback" is about kickback, "coffee maker for camping" about a maker), not counting an
    audience word or a number after it ("hiking boots women", "dog crate 42"), else its last
    head word."""
    if not head:
        return None
    cut = next((i for i, w in enumerate(words) if w in _PREPOSITIONS and i), len(words))
    before = set(words[:cut])
    nouns = [w for w in head if w in before and w not in _AUDIENCE
             and not any(c.isdigit() for c in w)]
    return nouns[-1] if nouns else head[-1]


def _cues(words: list[str], head: list[str], mods: list[str],
          brands: list[str]) -> list[Cue]:
    v = vocabulary()
    cues: list[Cue] = []
    if words and words[0] in v.leading_questions:
        cues.append(Cue(words[0] + " …?", _I, True))
    brand_words = {w for b in brands for w in b.split()}
    for m in mods:
        if YEAR.match(m):
            continue
        intent = v.modifiers[m]
        strong = True
        if m in ("vs", "versus") and not brands:
            # comparing two ideas or kinds ("cold brew vs iced coffee", "drill vs impact
            # driver") is research; comparing brands is shopping
            intent = _I
        elif intent == _N and not brands and m not in ("login", "log in", "sign in", "signin",
                                                       "official site", "official website",
                                                       "com", "portal"):
            # "app", "hours", "account"… only point at a site when a brand is named
            continue
        elif m in v.head_keeping_modifiers or m in ("online", "under", "local", "rated",
                                                    "trial"):
            strong = False
        cues.append(Cue(m, intent, strong))
    if len(brands) >= 2 and "or" in words:
        cues.append(Cue("or (brands)", _C, True))
    if brands:
        only_brand = all(w in brand_words or w.isdigit() or w in v.head_keeping_modifiers
                         for w in head)
        for b in brands:
            cues.append(Cue(b, _N if only_brand else _C, only_brand))
    noun = head_noun(words, head)
    for w in head:
        if w in brand_words:
            continue
        s = stem(w)
        if s in v.task_stems:
            cues.append(Cue(w, _I, True))
        elif s in v.bookable_stems:
            cues.append(Cue(w, _T, False))
        elif s in v.product_stems and w == noun:
            cues.append(Cue(w, _C, False))
    return cues


def cues_with_brands(a: Analysis, brands: list[str]) -> Analysis:
    """The analysis with `brands` (names found elsewhere, e.g. in the same request) read as
    brand names: its cues again, with them."""
    return Analysis(a.text, a.normalised, a.tokens, a.head, a.head_stems, a.modifiers,
                    tuple(_cues(list(a.tokens), list(a.head), list(a.modifiers), brands)),
                    tuple(brands))


@lru_cache(maxsize=65536)
def analyse(text: str) -> Analysis:
    """Take a keyword apart (see `Analysis`). Cached: keywords repeat across calls."""
    norm = normalise(text)
    words = norm.split()
    head, mods = split_modifiers(words)
    if not head:
        # a keyword made only of modifiers ("best deals") is about its modifiers
        stopwords = vocabulary().stopwords
        head = [w for w in words if w not in stopwords] or list(words)
    brands = _own_brands(words, head, find_brands(words))
    return Analysis(
        text=text, normalised=norm, tokens=tuple(words), head=tuple(head),
        head_stems=tuple(stem(w) for w in head), modifiers=tuple(mods),
        cues=tuple(_cues(words, head, mods, brands)), brands=tuple(brands))
