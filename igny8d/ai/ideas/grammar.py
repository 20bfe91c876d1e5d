"""Title and heading grammar: casing, a noun phrase's head noun, its plural and singular.

Keywords are typed in lower case; titles are not. Casing keeps what the user wrote with
capitals ("HubSpot"), writes acronyms and known brands as they are written, and leaves small
words lower case. Number works on a phrase's *head noun*: its last word before the first
preposition, less the adjectives keywords put after a noun ("CRM for Real Estate" → "CRMs for
Real Estate"; "coffee grinder smooth" → "Smooth Coffee Grinders"). English inflection itself
is `igny8d.text` (inflect, imported on first use); what is igny8d's own is here: acronyms,
uncountable and plural-only nouns, hyphenated compounds and the head noun.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from igny8d import text as english
from igny8d.ai.ideas.words import idea_words
from igny8d.ai.text import normalise, stem

#: Titles and headings are at most this long (the idea and outline schemas' limit).
MAX_TEXT = 255
#: Words keywords put after the head noun that are no part of it and take no plural.
TRAILING_ADVERBS = frozenset({"today", "now", "online", "tonight", "nearby"})


def is_acronym(word: str) -> bool:
    """A known acronym, or a short word no English word spells without a vowel ("pmp",
    "cpr", "hdr"): written in capitals."""
    low = word.lower()
    return low in idea_words().acronyms or \
        (bool(_NO_VOWEL.fullmatch(low)) and low not in _NOT_ACRONYMS)


_NO_VOWEL = re.compile(r"[b-df-hj-np-tv-xz]{2,4}")
#: vowel-less words that are no acronyms: abbreviations, units, ordinals, interjections
_NOT_ACRONYMS = frozenset({
    "vs", "mr", "mrs", "dr", "st", "jr", "sr", "lb", "lbs", "kg", "km", "cm", "mm", "ml", "mg",
    "ft", "sq", "nd", "rd", "th", "hrs", "pcs", "pkg", "tbsp", "tsp", "hmm", "brr", "shh",
    "nth", "psst", "pst", "tsk", "zzz", "pls", "thx"})


#: Contractions keywords are typed without their apostrophe ("iphone wont charge"); only
#: spellings that are no other English word ("its", "ill", "well" are left alone).
CONTRACTIONS = {
    "wont": "won't", "dont": "don't", "doesnt": "doesn't", "didnt": "didn't", "cant": "can't",
    "isnt": "isn't", "arent": "aren't", "wasnt": "wasn't", "werent": "weren't",
    "wouldnt": "wouldn't", "shouldnt": "shouldn't", "couldnt": "couldn't", "havent": "haven't",
    "hasnt": "hasn't", "im": "I'm", "ive": "I've", "youre": "you're", "theyre": "they're",
    "whats": "what's", "wheres": "where's", "hows": "how's", "whos": "who's"}


def acronym_case(word: str) -> str:
    """An acronym in capitals, its plural with a small "s" ("CRMs", "PMPs")."""
    low = word.lower()
    if len(low) > 2 and low.endswith("s") and low not in idea_words().acronyms and \
            is_acronym(low[:-1]):
        return low[:-1].upper() + "s"
    return word.upper()


def brand_cased(word: str) -> str | None:
    """How a name typed in lower case is written, where that can be known: the brand list's
    spelling ("hubspot" → "HubSpot"), else a name with a known vowel-less acronym glued to its
    end ("nordvpn" → "NordVPN", "mysql" → "MySQL"); None for any other word. The acronym
    must be one no English word ends in: "sms" is the plural of every "-ism" and "-asm"
    ("organisms", "spasms", "prisms": `_WORD_ENDINGS`), and an acronym with a vowel ("ram":
    "diagram", "irs": "stairs") is never split off."""
    low = word.lower()
    known = idea_words().brand_casing.get(low)
    if known is not None or not low.isalpha() or any(c.isupper() for c in word):
        return known
    for n in (4, 3):
        head, tail = low[:-n], low[-n:]
        if len(head) >= 2 and _VOWEL.search(head) and not _VOWEL.search(tail) and \
                tail in idea_words().acronyms and tail not in _WORD_ENDINGS:
            return head[:1].upper() + head[1:] + tail.upper()
    return None


_VOWEL = re.compile(r"[aeiouy]")
#: Vowel-less acronyms English words end in: "-sms", the plural of "-ism", "-asm" and "prism"
#: ("organisms", "mechanisms", "spasms"); the others of the list end no English word.
_WORD_ENDINGS = frozenset({"sms"})
#: A model's roman numeral ("Sony A7 IV", "Mark II"): a name, no plural
_ROMAN = re.compile(r"[ivx]{2,4}")


def _cap(word: str, first: bool) -> str:
    w = idea_words()
    if word == "i":
        return "I"
    if word.lower() in CONTRACTIONS:
        full = CONTRACTIONS[word.lower()]
        return full[:1].upper() + full[1:]
    if is_acronym(word):
        return acronym_case(word)
    if re.fullmatch(r"\d+[a-rt-z]", word.lower()):
        return word.upper()  # "CRM"; "5G", "4K", "3D" (not "30s")
    named = brand_cased(word)
    if named is not None:
        return named
    if any(c.isupper() for c in word):
        return word  # written with capitals by the user: a brand or an acronym
    if not first and word in w.small_words:
        return word
    return "-".join(p[:1].upper() + p[1:] for p in word.split("-"))


def title_case(words: Sequence[str]) -> str:
    """Title case for keyword words: small words lower case unless first, acronyms upper case,
    words the user wrote with capitals kept ("HubSpot")."""
    return " ".join(_cap(w, i == 0) for i, w in enumerate(words) if w)


def written(words: Sequence[str]) -> str:
    """Keyword words as they are written inside a sentence: acronyms in capitals ("HVAC",
    "CRMs"), known brands as they spell themselves ("HubSpot", "iPhone"), "I", the rest as
    the user typed them."""
    return " ".join(acronym_case(w) if is_acronym(w) else "I" if w == "i" else
                    CONTRACTIONS.get(w.lower()) or brand_cased(w) or w
                    for w in words if w)


def sentence_case(words: Sequence[str]) -> str:
    """The first word capitalised, acronyms upper case, the rest as written."""
    out = written(words).split()
    if out and not any(c.isupper() for c in out[0]):
        out[0] = out[0][:1].upper() + out[0][1:]
    return " ".join(out)


def is_plural(word: str) -> bool:
    """Whether one noun of a phrase reads as a plural ("grinders", "criteria", "headphones";
    not "coffee", "lens", "series")."""
    w = word.lower()
    iw = idea_words()
    if w in iw.plural_only:
        return True
    if w in iw.uncountable:
        return False
    first, hyphen, last = word.rpartition("-")
    return english.is_plural(last if hyphen and first and last else word)


#: A number as a size is written ("8", "2.5", "1/2").
_NUMBER = re.compile(r"\d+(?:[./]\d+)?")
#: Units a size is given in, after its number ("8 inch", "6 quart", "20 volt"): a closed set.
_UNITS = frozenset({
    "inch", "in", "foot", "ft", "yard", "mile", "mm", "cm", "meter", "metre", "km", "ounce",
    "oz", "pound", "lb", "gram", "kg", "quart", "qt", "gallon", "gal", "liter", "litre",
    "cup", "volt", "watt", "amp", "mah", "gb", "tb", "mp", "hz", "person", "seater", "burner",
    "piece", "speed", "slice", "layer", "gauge"})


def is_model(word: str) -> bool:
    """A model's number, not a noun: digits ("15", "3d") or a roman numeral ("IV")."""
    return any(ch.isdigit() for ch in word) or bool(_ROMAN.fullmatch(word.lower()))


def countable(word: str) -> bool:
    """Whether one noun takes a plural in a title (not "software", "marketing", "3d", the
    "Y" of "Tesla Model Y", the "IV" of "Sony A7 IV")."""
    w = word.lower()
    iw = idea_words()
    return len(w) > 1 and w not in iw.uncountable and \
        (not w.endswith(("ing", "ness", "ism")) or w in iw.countable_ing) and \
        not is_model(w)


def plural(word: str) -> str:
    """The plural of one noun ("hero" → "heroes", "crm" → "CRMs", "e-bike" → "e-bikes");
    a plural, uncountable or plural-only noun unchanged."""
    if not countable(word) or is_plural(word):
        return word
    if word.lower() in idea_words().acronyms:
        return word.upper() + "s"
    first, hyphen, last = word.rpartition("-")
    if hyphen and first and last:
        return f"{first}-{plural(last)}"
    return english.plural(word)


def singular(word: str) -> str:
    """The singular of one noun ("heroes" → "hero", "criteria" → "criterion"); a noun that
    is not plural, or used in the plural only ("headphones"), unchanged."""
    if word.lower() in idea_words().plural_only or not is_plural(word):
        return word
    first, hyphen, last = word.rpartition("-")
    if hyphen and first and last:
        return f"{first}-{singular(last)}"
    return english.singular(word)


def _head(words: Sequence[str]) -> tuple[int, int]:
    """(where the head noun ends, where the phrase's head ends). The head ends before its
    first preposition ("CRM | for Real Estate") or relative pronoun ("Plants | That Won't
    Die"), else at the end; the head noun before the
    adjectives keywords put after a noun ("coffee grinder | smooth")."""
    iw = idea_words()
    end = next((i for i, w in enumerate(words)
                if i and (w.lower() in iw.prepositions or w.lower() in _RELATIVES)),
               len(words))
    while end > 1 and words[end - 1].lower() in TRAILING_ADVERBS:
        end -= 1  # "Mortgage Rates | Today": an adverb after the head takes no plural
    noun_end = end
    while noun_end > 1 and words[noun_end - 1].lower() in iw.trailing_adjectives:
        noun_end -= 1
    return noun_end, end


#: Relative pronouns: a clause after the head noun qualifies it ("dogs that won't shed").
_RELATIVES = frozenset({"that", "which", "who"})


def head_end(words: Sequence[str]) -> int:
    """Where a noun phrase's head noun ends: `words[head_end(words) - 1]` is the head noun."""
    return _head(words)[0]


def head_is_plural(words: Sequence[str]) -> bool:
    """Whether the phrase's head noun is plural ("Running *Shoes* for Women")."""
    end = head_end(words)
    return bool(end) and is_plural(words[end - 1])


def singular_phrase(words: Sequence[str]) -> list[str]:
    """The phrase with its head noun in the singular, as a noun adjunct takes it ("Coffee
    Beans" → "Coffee Bean" in "Coffee Bean Reviews"); trailing adjectives go first."""
    noun_end, end = _head(words)
    if not noun_end:
        return list(words)
    return [*words[noun_end:end], *words[:noun_end - 1], singular(words[noun_end - 1]),
            *words[end:]]


def plural_phrase(words: Sequence[str], *, options: bool = True) -> list[str]:
    """The phrase with its head noun in the plural ("CRMs for Real Estate", "Smooth Coffee
    Grinders"); an uncountable head gets "Options" ("CRM Software Options for Small
    Business") when `options`."""
    noun_end, end = _head(words)
    if not noun_end:
        return list(words)
    head = words[noun_end - 1]
    before, adjectives, after = words[:noun_end - 1], words[noun_end:end], words[end:]
    brand_cased = any(c.isupper() for c in head[1:]) and not head.isupper()
    # a unit right after a number is a size, an adjective ("Victorinox Fibrox 8 Inch", not
    # "8 Inches"): the thing it measures is not a plural of inches ("RTX 5080 Prices" is)
    sized = noun_end >= 2 and _NUMBER.fullmatch(words[noun_end - 2]) is not None and \
        head.lower() in _UNITS
    if (countable(head) and not brand_cased and not sized) or is_plural(head):
        return [*adjectives, *before, plural(head), *after]
    return [*adjectives, *before, head, "Options", *after] if options else list(words)


def fit(title: str) -> str:
    """A title or heading in at most `MAX_TEXT` characters, cut at a word."""
    return english.cut_at_word(title, MAX_TEXT)


def suffix(t: str, word: str) -> str:
    """`t` followed by `word` unless it already ends with it ("Pipedrive Review" + "Review"
    → "Pipedrive Review")."""
    last = t.split()[-1] if t.split() else ""
    return t if stem(normalise(last)) == stem(normalise(word)) else f"{t} {word}"


def stable_index(text: str, n: int) -> int:
    """A choice among `n` that depends only on `text` (never on Python's hash seed)."""
    if n <= 1:
        return 0
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") % n
