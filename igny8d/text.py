"""Text handling that is not igny8d's own logic: slugs, cuts at a word, English plurals, and
HTML made safe and counted. Libraries do the work (python-slugify, inflect, nh3); this module
only fixes how igny8d calls them. Pure functions: no I/O, no database, no Tornado.

`inflect` is imported on first use: it costs seconds and tens of MB at import, and only the
offline AI provider needs it (the server's request path never does).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any

import nh3
from slugify import slugify as _slugify

if TYPE_CHECKING:
    import inflect

# -- whitespace, slugs, cuts ---------------------------------------------------------------------


def squash(text: str) -> str:
    """Whitespace runs folded to one space, the ends trimmed."""
    return " ".join(text.split())


#: "&" reads as "and" in a slug ("Tea & Cake" → tea-and-cake), as people say it.
_SLUG_REPLACEMENTS = (("&", " and "),)


def slugify(text: str, *, max_length: int = 150, fallback: str = "") -> str:
    """Lower-case ASCII words joined by hyphens, accents transliterated ("Zürich" → zurich,
    "Café" → cafe), at most `max_length` characters cut at a hyphen; `fallback` when nothing
    is left ("!!!")."""
    slug = _slugify(text, max_length=max_length, word_boundary=True, save_order=True,
                    replacements=[list(r) for r in _SLUG_REPLACEMENTS])
    return slug or fallback


_TRAILING = re.compile(r"[\s,;:\-–—&|/]+$")


def cut_at_word(text: str, limit: int, *, ellipsis: str = "",
                drop: Iterable[str] = ()) -> str:
    """`text` (whitespace folded) in at most `limit` characters. When it must be cut, the cut
    falls at the last word boundary if that keeps at least half, else mid-word; trailing
    punctuation goes, then any trailing word in `drop` (dangling "and", "the"), and
    `ellipsis` is appended within the limit."""
    text = squash(text)
    if len(text) <= limit:
        return text
    room = max(0, limit - len(ellipsis))
    head = text[:room + 1]
    space = head.rfind(" ")
    cut = head[:space] if space >= room // 2 and space > 0 else text[:room]
    words = _TRAILING.sub("", cut).split()
    dropped = {d.lower() for d in drop}
    while len(words) > 1 and words[-1].lower().strip(",;:") in dropped:
        words.pop()
    return (_TRAILING.sub("", " ".join(words)) + ellipsis)[:limit]


# -- English plurals -----------------------------------------------------------------------------

#: Nouns that end in -s and are singular (or the same in both numbers), which inflect would
#: otherwise singularise ("lens" → "len").
SINGULAR_S = frozenset({
    "lens", "bus", "gas", "news", "series", "species", "diabetes", "chassis", "means",
    "tennis", "status", "campus", "bonus", "virus", "cactus", "census", "corpus", "canvas",
    "atlas", "alias", "bias", "iris", "plus", "minus", "chaos", "ethos", "pathos", "cosmos",
    "mucus", "fungus", "octopus", "walrus", "circus", "citrus", "hummus", "asparagus",
    "hibiscus", "eucalyptus", "lotus", "abacus", "thesaurus", "syllabus", "apparatus",
    "prospectus", "stimulus", "uterus", "sinus", "focus", "genus", "nexus", "radius",
    "surplus", "yes", "us", "this", "its", "perhaps", "always", "towards", "across",
    "aws", "ios", "macos", "dos", "sms", "gps", "cms", "saas", "paas", "css", "dns",
})
#: Nouns with no plural of their own ("software", not "softwares").
INVARIANT = frozenset({
    "data", "media", "software", "hardware", "firmware", "malware", "equipment", "furniture",
    "information", "advice", "research", "feedback", "luggage", "baggage", "clothing",
    "jewelry", "jewellery", "homework", "money", "music", "traffic", "weather", "knowledge",
    "evidence", "insurance", "healthcare", "skincare", "haircare", "childcare", "fish",
    "sheep", "deer", "aircraft", "salmon", "trout", "seo", "wifi", "staff", "gear",
})
#: The -o nouns (and compounds ending in them: "superhero") that take "-oes"; inflect gives
#: "-oes" to others that modern usage writes "-os" ("combos", "promos", "condos", "burritos").
_OES = ("potato", "tomato", "hero", "echo", "veto", "torpedo", "embargo", "mosquito",
        "volcano", "cargo", "domino", "tornado", "motto")
#: -s nouns whose plural is the same word.
_SAME_IN_PLURAL = frozenset({
    "news", "series", "species", "diabetes", "chassis", "means", "tennis", "chaos", "ethos",
    "pathos", "cosmos", "mucus", "hummus", "asparagus", "plus", "minus", "yes", "us",
    "this", "its", "perhaps", "always", "towards", "across", "aws", "ios", "macos", "dos",
    "sms", "gps", "cms", "saas", "paas", "css", "dns",
})
#: Endings of singular -s nouns: -ss (boss), -us (focus), -is (analysis, tennis), -ics
#: (physics, analytics), and names no "-i" noun pluralises into (Jarvis, Elvis, Louis).
_SINGULAR_ENDINGS = ("ss", "us", "sis", "xis", "itis", "ics", "vis", "lis", "uis")


#: Names that inflect's rules, written for English words ("a ubiquitous", "an udder"), read
#: by the wrong sound: "an Uber" (its u + consonant + vowel rule says "a"), "a Udemy". No
#: pronouncing dictionary settles them (CMUdict reads "uber" as the German "über": Y UW1 B
#: ER0), so they are passed to inflect's own user-defined patterns (`defan`, `defa`).
_AN_NAMES = ("uber", "ubuntu")
_A_NAMES = ("udemy",)


@functools.cache
def _engine() -> inflect.engine:
    import inflect

    engine = inflect.engine()
    for name in _AN_NAMES:
        engine.defan(rf"{name}(?: .*)?")
    for name in _A_NAMES:
        engine.defa(rf"{name}(?: .*)?")
    return engine


def _like(word: str, model: str) -> str:
    """`word` in the case of `model` (Title, UPPER or lower)."""
    if model.isupper() and len(model) > 1:
        return word.upper()
    if model[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def is_plural(noun: str) -> bool:
    """Whether a single noun reads as a plural ("grinders", "criteria"; not "lens")."""
    return singular(noun).lower() != noun.lower()


def singular(noun: str) -> str:
    """The singular of one noun ("Heroes" → "Hero", "criteria" → "criterion"); a noun that
    is singular already ("series", "analysis", "lens") stays as it is."""
    low = noun.lower()
    if len(noun) > 2 and noun.endswith("s") and noun[:-1].isupper():
        return noun[:-1]  # an acronym's plural: CRMs
    if not low.isalpha() or low in SINGULAR_S or low in INVARIANT \
            or low.endswith(_SINGULAR_ENDINGS) or noun.isupper():
        return noun
    out: str | bool = _engine().singular_noun(low)
    return _like(out, noun) if isinstance(out, str) and out else noun


def plural(noun: str) -> str:
    """The plural of one noun ("hero" → "heroes", "quiz" → "quizzes", "criterion" →
    "criteria"); a plural stays as it is; an acronym gets a lower-case s ("CRMs")."""
    low = noun.lower()
    if not noun or not low.isalpha() or low in INVARIANT or low in _SAME_IN_PLURAL \
            or low.endswith("ics") or is_plural(noun):
        return noun
    if any(c.isupper() for c in noun[1:]):
        return noun + "s"  # an acronym or a brand: CRMs, iPhones
    out = str(_engine().plural_noun(low))
    if out.endswith("oes") and low.endswith("o") and not low.endswith(_OES):
        out = low + "s"
    return _like(out, noun)


def indefinite_article(phrase: str) -> str:
    """"a" or "an" for a phrase, by its sound ("an hour", "a used car", "an SEO tool")."""
    word = phrase.split()[0] if phrase.split() else ""
    if any(c.isupper() for c in word[1:]):
        # a name in camel case is read part by part ("One Main", "Uni Fi", "i Phone", "SQ
        # Lite"): inflect's rules then see where its first word ends ("a OneMain", "a UniFi")
        word = _CAMEL.sub(" ", word)
    first = word.split()[0] if word else ""
    if (first.isupper() or len(first) == 1) and first.isalpha():
        # an acronym or a lone letter is read by its letters' names ("an SEO", "an iPhone")
        return "an" if first[0].upper() in "AEFHILMNORSX" else "a"
    return str(_engine().a(word.lower())).split()[0] if word else "a"


#: Where a camel-case name's parts meet: "One|Main", "i|Phone", "SQ|Lite"
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


# -- HTML ----------------------------------------------------------------------------------------

#: Elements removed together with everything inside them.
DROP_WITH_CONTENT = frozenset({
    "script", "style", "iframe", "object", "embed", "noscript", "template", "svg", "math",
    "frame", "frameset", "applet", "head", "title", "textarea", "select", "xmp", "noembed",
    "noframes", "plaintext",
})

#: Formatting and structure kept as they are (their allowed attributes only).
ALLOWED_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "col", "colgroup",
    "dd", "del", "details", "dfn", "div", "dl", "dt", "em", "figcaption", "figure", "h1",
    "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p",
    "picture", "pre", "q", "s", "samp", "section", "article", "aside", "header", "footer",
    "nav", "main", "small", "source", "span", "strong", "sub", "summary", "sup", "table",
    "tbody", "td", "tfoot", "th", "thead", "time", "tr", "u", "ul", "var", "wbr",
})

#: Attributes allowed on every kept tag.
GLOBAL_ATTRS = frozenset({"class", "id", "title", "lang", "dir"})

TAG_ATTRS: dict[str, frozenset[str]] = {
    "a": frozenset({"href", "target", "name"}),
    "img": frozenset({"src", "alt", "width", "height", "loading", "srcset", "sizes"}),
    "source": frozenset({"src", "srcset", "type", "media", "sizes"}),
    "td": frozenset({"colspan", "rowspan", "headers", "align"}),
    "th": frozenset({"colspan", "rowspan", "headers", "scope", "align"}),
    "col": frozenset({"span"}),
    "colgroup": frozenset({"span"}),
    "ol": frozenset({"start", "reversed", "type"}),
    "li": frozenset({"value"}),
    "blockquote": frozenset({"cite"}),
    "q": frozenset({"cite"}),
    "del": frozenset({"cite", "datetime"}),
    "ins": frozenset({"cite", "datetime"}),
    "time": frozenset({"datetime"}),
    "details": frozenset({"open"}),
}

_ATTRIBUTES = {tag: set(GLOBAL_ATTRS | TAG_ATTRS.get(tag, frozenset())) for tag in ALLOWED_TAGS}
_SAFE_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
_SCHEME = re.compile(r"^([a-z][a-z0-9+.\-]*):", re.IGNORECASE)
#: Browsers ignore these inside a scheme name ("java\tscript:" runs).
_IGNORED_IN_URL = re.compile(r"[\x00-\x20\x7f-\x9f]+")
_DATA_IMAGE = re.compile(r"^data:image/(png|gif|jpe?g|webp|avif);", re.IGNORECASE)
#: a kept link that opens a new window without a rel (nh3's output is normalised:
#: double-quoted, escaped attributes)
_BLANK_LINK = re.compile(r'<a\b(?![^>]*\srel=")([^>]*\starget="[^"]*"[^>]*)>')


def safe_url(value: str, *, attr: str) -> bool:
    """Relative URLs and http(s)/mailto/tel pass; `data:image/...` only as an image
    source; javascript:, vbscript:, data: (otherwise) and any unknown scheme do not."""
    compact = _IGNORED_IN_URL.sub("", value)
    found = _SCHEME.match(compact)
    if found is None:
        return True  # relative: path, #fragment, ?query, //host
    scheme = found.group(1).lower()
    if scheme in _SAFE_SCHEMES:
        return True
    return scheme == "data" and attr == "src" and bool(_DATA_IMAGE.match(compact))


def _attribute(tag: str, name: str, value: str) -> str | None:
    if name == "srcset":
        ok = all(safe_url(part.strip().split(" ")[0], attr="srcset")
                 for part in value.split(",") if part.strip())
        return value if ok else None
    if name in ("href", "src", "cite"):
        return value if safe_url(value, attr=name) else None
    return value


def sanitize_html(raw: str) -> str:
    """The HTML with only allowed tags and attributes, parsed as a browser would (nh3):
    scripts, styles, frames, objects and embeds removed with their content; on* handlers,
    inline styles and unsafe URLs removed; a link with a target gets
    `rel="noopener noreferrer"`."""
    if not raw:
        return ""
    clean = nh3.clean(
        raw.replace("\x00", ""), tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROP_WITH_CONTENT), attributes=_ATTRIBUTES,
        url_schemes={*_SAFE_SCHEMES, "data"}, attribute_filter=_attribute, link_rel=None,
        strip_comments=True)
    return _BLANK_LINK.sub(r'<a\1 rel="noopener noreferrer">', clean)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in DROP_WITH_CONTENT and tag not in ("embed", "frame"):
            self.skip += 1
        self.parts.append(" ")  # a tag separates words: <p>a</p><p>b</p> is two

    def handle_endtag(self, tag: str) -> None:
        if tag in DROP_WITH_CONTENT and tag not in ("embed", "frame") and self.skip:
            self.skip -= 1
        self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def html_text(html: str) -> str:
    """The visible text of the HTML (tags removed, entities decoded)."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)


_WORD = re.compile(r"\w+(?:['’\-]\w+)*")


def words(text: str) -> list[str]:
    """The words of plain text: runs of letters/digits (`don't`, `e-mail` are one)."""
    return _WORD.findall(text)


def word_count(html: str) -> int:
    """Words of the HTML's visible text."""
    if not html:
        return 0
    return len(words(html_text(html)))


__all__: list[Any] = [
    "cut_at_word", "html_text", "is_plural", "plural", "safe_url", "sanitize_html", "singular",
    "slugify", "squash", "word_count", "words",
]
