"""Keyword text analysis for the local provider: normalisation, Snowball stemming, intent
modifiers separated from head terms, and character n-grams.

Every function here is pure and deterministic. `analyse` is the one entry point the clustering
and the intent classifier use; the rest are exposed for tests and for callers that need a piece.

Normalisation (`normalise`): Unicode NFKD with combining marks dropped ("café" → "cafe"),
case folded, "&" → " and ", "+" → " plus " when it stands alone, apostrophes removed inside
words ("women's" → "womens"), every other non-alphanumeric character → space (so "pour-over"
→ "pour over", "booking.com" → "booking com"), runs of whitespace collapsed.

Modifiers (`MODIFIERS`): words and phrases that say what the searcher wants rather than what
the keyword is about ("best", "cheap", "how to", "near me", "vs", "login", years…). They are
matched longest phrase first on the token list, carry an intent cue, and are removed from the
*head* — the terms the similarity compares. Stop words are removed from the head too. Brand
names (`BRANDS`) and product nouns (`PRODUCT_NOUNS`) stay in the head: they are what the
keyword is about, and also give the classifier a (weaker) cue.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer  # type: ignore[import-untyped]

# the classifier's precedence, strongest first, is the order of the vocabulary's intents
from igny8d.vocab import Intent

_T: Intent = "transactional"
_C: Intent = "commercial"
_N: Intent = "navigational"
_I: Intent = "informational"

#: Modifier phrases → the intent they signal. Longest match wins, so "best way to" (how-to,
#: informational) is not read as "best" (commercial), nor "buying guide" as "buy".
MODIFIERS: dict[str, Intent] = {
    # transactional: the searcher wants to buy, book, hire, get a quote or go to a place
    "buy": _T, "buying": _T, "order": _T, "purchase": _T, "for sale": _T, "sale": _T,
    "deal": _T, "deals": _T, "discount": _T, "discounts": _T, "coupon": _T,
    "coupons": _T, "promo code": _T, "voucher": _T, "cheap": _T, "cheapest": _T,
    "cheaper": _T, "affordable": _T, "inexpensive": _T, "clearance": _T, "near me": _T,
    "nearby": _T, "local": _T, "open now": _T, "book": _T, "booking": _T, "reserve": _T,
    "hire": _T, "quote": _T, "quotes": _T, "free trial": _T, "trial": _T, "subscribe": _T,
    "subscription": _T, "shop": _T, "store": _T, "stores": _T, "shipping": _T,
    "free shipping": _T, "delivery": _T, "online": _T, "free": _T, "download": _T,
    "last minute": _T, "sign up": _T,
    # commercial: comparing and evaluating before a purchase
    "best": _C, "top": _C, "top rated": _C, "highest rated": _C, "rated": _C, "review": _C,
    "reviews": _C, "reviewed": _C, "vs": _C, "versus": _C, "compare": _C, "comparison": _C,
    "compared": _C, "alternative": _C, "alternatives": _C, "alternatives to": _C,
    "alternative to": _C, "competitors": _C, "worth it": _C, "is it worth": _C,
    "pros and cons": _C, "recommended": _C, "price": _C, "prices": _C, "pricing": _C,
    "cost": _C, "costs": _C, "rates": _C, "under": _C, "budget friendly": _C,
    "premium": _C, "brands": _C, "ranked": _C,
    # navigational: the searcher wants a specific site or page
    "login": _N, "log in": _N, "sign in": _N, "signin": _N, "official site": _N,
    "official website": _N, "website": _N, "com": _N, "app": _N, "customer service": _N,
    "phone number": _N, "contact": _N, "hours": _N, "account": _N, "support": _N,
    "menu": _N, "portal": _N,
    # informational: the searcher wants to know or learn
    "how to": _I, "how do": _I, "how does": _I, "how long": _I, "how many": _I,
    "how much": _I, "how": _I,
    "what is": _I, "what are": _I, "what does": _I, "what": _I, "why": _I, "when": _I,
    "when to": _I, "where": _I, "who": _I, "which": _I, "guide": _I, "buying guide": _I,
    "tutorial": _I, "tips": _I, "ideas": _I, "meaning": _I, "definition": _I, "define": _I,
    "explained": _I, "examples": _I, "example": _I, "diy": _I, "steps": _I, "learn": _I,
    "benefits": _I, "difference between": _I, "best way to": _I, "best time to": _I,
    "best month to": _I, "best practices": _I, "things to do": _I, "best things to do": _I,
    "what to": _I, "ways to": _I, "for beginners": _I, "beginners": _I, "checklist": _I,
    "stand for": _I, "can you": _I, "should i": _I,
}

#: Question openers: an informational cue only as the first token ("is it safe to…"),
#: stop words elsewhere.
LEADING_QUESTIONS: frozenset[str] = frozenset({"is", "are", "can", "does", "do", "should",
                                               "will", "did", "could", "would"})

#: Modifiers whose intent depends on context: kept in the head when another reading is likelier
#: ("book" is a noun in "cook book"; "store" in "running store" is the thing wanted).
HEAD_KEEPING_MODIFIERS: frozenset[str] = frozenset({"store", "stores", "shop", "app", "menu",
                                                    "account", "book"})

STOPWORDS: frozenset[str] = frozenset({
    "a", "an", "the", "of", "for", "to", "in", "on", "at", "by", "with", "and", "or", "is",
    "are", "was", "were", "be", "been", "do", "does", "did", "can", "could", "should", "will",
    "would", "i", "me", "my", "we", "our", "you", "your", "it", "its", "this", "that", "these",
    "those", "from", "into", "about", "there", "their", "them", "they", "he", "she", "as",
    "so", "if", "than", "then", "get", "much", "many", "up", "out", "any", "some", "s",
})

#: Brand names a navigational query is about. Multi-word brands are matched as phrases.
#: A query made of a brand alone, or of a brand plus a navigational modifier, is navigational;
#: a brand next to other head terms is a (weak) commercial cue ("nike pegasus 40").
BRANDS: frozenset[str] = frozenset({
    # coffee
    "starbucks", "nespresso", "keurig", "chemex", "hario", "breville", "delonghi", "bodum",
    "dunkin", "illy", "lavazza", "aeropress", "fellow", "baratza", "dutch bros",
    # running / sport
    "nike", "adidas", "hoka", "brooks", "asics", "new balance", "saucony", "on cloud",
    "mizuno", "puma", "under armour", "strava", "garmin", "fleet feet", "rei",
    # software
    "hubspot", "salesforce", "pipedrive", "zoho", "mailchimp", "monday", "asana", "notion",
    "slack", "zendesk", "freshsales", "shopify", "wordpress", "google", "microsoft", "apple",
    "amazon", "klaviyo", "convertkit",
    # home improvement
    "home depot", "lowes", "menards", "dewalt", "milwaukee", "ryobi", "makita", "bosch",
    "sherwin williams", "behr", "ikea", "wayfair", "angi", "thumbtack",
    # travel
    "airbnb", "expedia", "booking com", "kayak", "tripadvisor", "delta", "united airlines",
    "american airlines", "southwest", "ryanair", "marriott", "hilton", "vrbo", "skyscanner",
    # personal finance
    "chase", "amex", "american express", "capital one", "wells fargo", "bank of america",
    "paypal", "venmo", "ynab", "mint", "fidelity", "vanguard", "schwab", "robinhood",
    "credit karma", "experian", "discover", "citi", "sofi", "ally",
})

#: Nouns of things people buy: a weak commercial cue ("running shoes", "crm software").
#: Matched on Snowball stems, so singular and plural both count.
PRODUCT_NOUNS: frozenset[str] = frozenset({
    "maker", "machine", "grinder", "kettle", "bean", "brewer", "shoe", "sneaker", "trainer",
    "boot", "insole", "watch", "software", "tool", "platform", "crm", "plugin", "app",
    "account", "drill", "saw", "flooring", "paint", "stain", "faucet", "luggage", "suitcase",
    "backpack", "insurance", "card", "headphones", "laptop", "mattress", "camera", "vacuum",
    "plank", "driver", "loan", "mortgage", "subscription",
})

#: Things people book: a weak transactional cue ("flights to paris", "hotels in rome").
BOOKABLE_NOUNS: frozenset[str] = frozenset({
    "flight", "hotel", "ticket", "rental", "cruise", "motel", "hostel", "resort",
})

#: Tasks and how-tos: a strong informational cue that stays in the head ("crm
#: implementation", "leaky faucet repair", "mortgage calculator"). Matched on stems.
TASK_WORDS: frozenset[str] = frozenset({
    "install", "installation", "implement", "implementation", "repair", "fix", "clean",
    "wash", "replace", "maintain", "maintenance", "calculate", "calculator", "renew",
    "troubleshoot", "assemble", "remove", "setup", "training", "recipe", "itinerary", "plan",
    "schedule",
})

_STEMMER = snowballstemmer.stemmer("english")
_YEAR = re.compile(r"^(19|20)\d\d$")
_NON_WORD = re.compile(r"[^0-9a-z]+")
_MAX_PHRASE = 4


def _phrase_table(phrases: frozenset[str] | dict[str, Intent]) -> dict[tuple[str, ...], str]:
    return {tuple(p.split()): p for p in phrases}


_MODIFIER_PHRASES = _phrase_table(MODIFIERS)
_BRAND_PHRASES = _phrase_table(BRANDS)


def normalise(text: str) -> str:
    """Lower-case ASCII-folded text with punctuation turned to spaces (see module doc)."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.casefold().replace("&", " and ")
    text = re.sub(r"(?<=\w)['’`](?=\w)", "", text)
    text = re.sub(r"(?:(?<=\s)|^)\+(?=\s|$)", " plus ", text)
    return " ".join(_NON_WORD.sub(" ", text).split())


def tokens(text: str) -> list[str]:
    """The normalised text's words."""
    return normalise(text).split()


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The English Snowball stem of one normalised word ("grinders" → "grinder")."""
    result: str = _STEMMER.stemWord(word)
    return result


_PRODUCT_STEMS = frozenset(stem(w) for w in PRODUCT_NOUNS)
_BOOKABLE_STEMS = frozenset(stem(w) for w in BOOKABLE_NOUNS)
_TASK_STEMS = frozenset(stem(w) for w in TASK_WORDS)


def char_ngrams(text: str, sizes: tuple[int, ...] = (3, 4)) -> list[str]:
    """Character n-grams of `text` with its spaces removed and "#" marking both ends, so
    "pour over" and "pourover" give the same grams."""
    compact = "#" + text.replace(" ", "") + "#"
    grams: list[str] = []
    for n in sizes:
        grams.extend(compact[i:i + n] for i in range(len(compact) - n + 1))
    return grams


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


def _match(words: list[str], at: int, table: dict[tuple[str, ...], str]) -> str | None:
    for size in range(min(_MAX_PHRASE, len(words) - at), 0, -1):
        phrase = table.get(tuple(words[at:at + size]))
        if phrase is not None:
            return phrase
    return None


def split_modifiers(words: list[str]) -> tuple[list[str], list[str]]:
    """(head words, modifier phrases) of a token list; stop words go to neither. A word in
    `HEAD_KEEPING_MODIFIERS` is both a modifier and a head word."""
    head: list[str] = []
    mods: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if _match(words, i, _BRAND_PHRASES) is None:
            phrase = _match(words, i, _MODIFIER_PHRASES)
            if phrase is not None:
                mods.append(phrase)
                if phrase in HEAD_KEEPING_MODIFIERS:
                    head.append(phrase)
                i += len(phrase.split())
                continue
        if _YEAR.match(word):
            mods.append(word)
        elif word not in STOPWORDS:
            head.append(word)
        i += 1
    return head, mods


def find_brands(words: list[str]) -> list[str]:
    found: list[str] = []
    i = 0
    while i < len(words):
        phrase = _match(words, i, _BRAND_PHRASES)
        if phrase is None:
            i += 1
            continue
        found.append(phrase)
        i += len(phrase.split())
    return found


def _cues(words: list[str], head: list[str], mods: list[str],
          brands: list[str]) -> list[Cue]:
    cues: list[Cue] = []
    if words and words[0] in LEADING_QUESTIONS:
        cues.append(Cue(words[0] + " …?", _I, True))
    brand_words = {w for b in brands for w in b.split()}
    for m in mods:
        if _YEAR.match(m):
            continue
        intent = MODIFIERS[m]
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
        elif m in HEAD_KEEPING_MODIFIERS or m in ("online", "under", "local", "rated",
                                                  "trial"):
            strong = False
        cues.append(Cue(m, intent, strong))
    if len(brands) >= 2 and "or" in words:
        cues.append(Cue("or (brands)", _C, True))
    if brands:
        only_brand = all(w in brand_words or w.isdigit() or w in HEAD_KEEPING_MODIFIERS
                         for w in head)
        for b in brands:
            cues.append(Cue(b, _N if only_brand else _C, only_brand))
    for w in head:
        if w in brand_words:
            continue
        s = stem(w)
        if s in _TASK_STEMS:
            cues.append(Cue(w, _I, True))
        elif s in _BOOKABLE_STEMS:
            cues.append(Cue(w, _T, False))
        elif s in _PRODUCT_STEMS:
            cues.append(Cue(w, _C, False))
    return cues


@lru_cache(maxsize=65536)
def analyse(text: str) -> Analysis:
    """Take a keyword apart (see `Analysis`). Cached: keywords repeat across calls."""
    norm = normalise(text)
    words = norm.split()
    head, mods = split_modifiers(words)
    if not head:
        # a keyword made only of modifiers ("best deals") is about its modifiers
        head = [w for w in words if w not in STOPWORDS] or list(words)
    brands = find_brands(words)
    return Analysis(
        text=text, normalised=norm, tokens=tuple(words), head=tuple(head),
        head_stems=tuple(stem(w) for w in head), modifiers=tuple(mods),
        cues=tuple(_cues(words, head, mods, brands)), brands=tuple(brands))
