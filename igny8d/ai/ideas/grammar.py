"""Title and heading grammar: casing, a noun phrase's head, its plural and singular.

Keywords are typed in lower case; titles are not. Casing keeps what the user wrote with
capitals ("HubSpot"), writes acronyms and known brands as they are written, and leaves small
words lower case. Number works on a phrase's *head noun* — its last word before the first
preposition ("CRM for Real Estate" → "CRMs for Real Estate").
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from igny8d.ai.ideas.words import idea_words
from igny8d.ai.text import normalise, stem

#: Titles and headings are at most this long (the idea and outline schemas' limit).
MAX_TEXT = 255

_IRREGULAR = {"man": "men", "woman": "women", "foot": "feet", "tooth": "teeth",
              "person": "people", "child": "children", "mouse": "mice", "knife": "knives",
              "leaf": "leaves", "life": "lives", "shelf": "shelves", "wife": "wives"}
_IRREGULAR_SINGULAR = {v: k for k, v in _IRREGULAR.items()}


def _cap(word: str, first: bool) -> str:
    w = idea_words()
    if word == "i":
        return "I"
    if word.lower() in w.acronyms:
        return word.upper()
    if word in w.brand_casing:
        return w.brand_casing[word]
    if any(c.isupper() for c in word):
        return word  # written with capitals by the user: a brand or an acronym
    if not first and word in w.small_words:
        return word
    return "-".join(p[:1].upper() + p[1:] for p in word.split("-"))


def title_case(words: Sequence[str]) -> str:
    """Title case for keyword words: small words lower case unless first, acronyms upper case,
    words the user wrote with capitals kept ("HubSpot")."""
    return " ".join(_cap(w, i == 0) for i, w in enumerate(words) if w)


def sentence_case(words: Sequence[str]) -> str:
    """The first word capitalised, acronyms upper case, the rest as written."""
    acronyms = idea_words().acronyms
    out = [w.upper() if w.lower() in acronyms or w == "i" else w for w in words if w]
    if out and not any(c.isupper() for c in out[0]):
        out[0] = out[0][:1].upper() + out[0][1:]
    return " ".join(out)


def is_plural(word: str) -> bool:
    """Whether one noun of a phrase reads as a plural."""
    w = word.lower()
    if w in _IRREGULAR_SINGULAR or w in idea_words().plural_only:
        return True
    return w.endswith("s") and not w.endswith("ss") and stem(w) != w and \
        w not in idea_words().uncountable


def countable(word: str) -> bool:
    """Whether one noun takes a plural in a title (not "software", "marketing", "3d")."""
    w = word.lower()
    return bool(w) and w not in idea_words().uncountable and \
        not w.endswith(("ing", "ness", "ism")) and not any(ch.isdigit() for ch in w)


def plural(word: str) -> str:
    """English plural of one noun (already plural or uncountable: unchanged)."""
    w = word.lower()
    if not countable(word) or is_plural(word):
        return word
    if w in idea_words().acronyms or word.isupper():
        return w.upper() + "s"
    if any(c.isupper() for c in word[1:]):
        return word + "s"
    if w in _IRREGULAR:
        return word[:1] + _IRREGULAR[w][1:]
    if re.search(r"(s|x|z|ch|sh)$", w):
        return word + "es"
    if re.search(r"[^aeiou]y$", w):
        return word[:-1] + "ies"
    return word + "s"


def singular(word: str) -> str:
    """English singular of one noun (not plural, or plural only: unchanged)."""
    w = word.lower()
    if not is_plural(word) or w in idea_words().plural_only:
        return word
    if w in _IRREGULAR_SINGULAR:
        return word[:1] + _IRREGULAR_SINGULAR[w][1:]
    if re.search(r"[^aeiou]ies$", w):
        return word[:-3] + "y"
    if re.search(r"(ss|x|z|ch|sh)es$", w):
        return word[:-2]
    return word[:-1]


def head_end(words: Sequence[str]) -> int:
    """Where a noun phrase's head ends: before its first preposition ("CRM | for Real
    Estate"), else at its end."""
    prepositions = idea_words().prepositions
    for i, w in enumerate(words):
        if i and w.lower() in prepositions:
            return i
    return len(words)


def head_is_plural(words: Sequence[str]) -> bool:
    end = head_end(words)
    return bool(end) and is_plural(words[end - 1])


def singular_phrase(words: Sequence[str]) -> list[str]:
    """The phrase with its head noun in the singular, as a noun adjunct takes it ("Coffee
    Beans" → "Coffee Bean" in "Coffee Bean Reviews")."""
    end = head_end(words)
    if not end:
        return list(words)
    return [*words[:end - 1], singular(words[end - 1]), *words[end:]]


def plural_phrase(words: Sequence[str], *, options: bool = True) -> list[str]:
    """The phrase with its head noun in the plural ("CRMs for Real Estate"); an uncountable
    head gets "Options" ("CRM Software Options for Small Business") when `options`."""
    end = head_end(words)
    if not end:
        return list(words)
    head = words[end - 1]
    brand_cased = any(c.isupper() for c in head[1:]) and not head.isupper()
    if (countable(head) and not brand_cased) or is_plural(head):
        return [*words[:end - 1], plural(head), *words[end:]]
    return [*words[:end], "Options", *words[end:]] if options else list(words)


def fit(text: str, limit: int = MAX_TEXT) -> str:
    """At most `limit` characters, cut at a word boundary (the idea schema's 255)."""
    if len(text) <= limit:
        return text
    cut = text[:limit + 1]
    return (cut[:cut.rfind(" ")] if " " in cut else text[:limit]).rstrip(" ,;:-")


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
