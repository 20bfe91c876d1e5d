"""Content ideas for the local provider: titles, a content structure, an H2/H3 outline that
covers every keyword of the cluster, target keywords and a word-count estimate.

Pure and deterministic: the keywords are put in one order first (volume, then normalised text),
so the same cluster in any order gives the same ideas; nothing depends on hash seeds or time.

How an idea is built:

1. *Plan* (`plan_keywords`): each keyword is taken apart with `text.analyse`; its *topic* is
   its words without intent modifiers, years and edge stop words ("best espresso machines
   under 500" → "espresso machines under 500"), its *task* flag says it asks how to do
   something ("how to make pour over coffee" → task "make pour over coffee"). The primary
   keyword (the cluster's name, else the highest-volume one) gives the cluster's topic; its
   stems are the *core*. Every other keyword is grouped by *shared terms*: by its most common
   non-core stem (its *facet*: "conical burr grinder" and "best conical burr coffee grinder"
   share "conic"), or, when it has none, by its *angle* (price, buy, review, comparison,
   how-to, question, best, navigational, overview) read from its modifiers.
2. *Structure* (`rank_structures`): each structure of `CONTENT_STRUCTURES` scores the share of
   the cluster's volume whose keywords carry its cues ("best"/"top" → listicle, "vs"/
   "alternative" → comparison, "review" → review, "how to" → how_to, questions → faq, "guide"
   → guide, "news"/"latest" → news) plus a prior from the cluster's intent; ideas take the
   best structures in turn, so several ideas of one cluster differ in structure.
3. *Outline* (`outline_for`): the structure's skeleton of H2s (with H3s), each skeleton section
   absorbing the keyword groups of some angles, facet groups as their own sections (their other
   keywords as H3s); a group nothing absorbs goes to the skeleton's catch-all section, so every
   keyword lands in some section's `keywords`. Optional sections (FAQ, prices) appear only when
   keywords fill them.
4. *Title* from per-structure templates with the topic title-cased sensibly (small words lower
   case, acronyms upper case, a user's capitals kept), the estimate from the outline's size.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from igny8d.ai.cluster import KeywordItem
from igny8d.ai.intent import IntentResult, classify_analysis
from igny8d.ai.text import Analysis, analyse, normalise, stem, vocabulary
from igny8d.ai.types import ClusterBrief, IdeaDraft, OutlineSection
from igny8d.vocab import (
    CONTENT_STRUCTURES,
    CONTENT_TYPES,
    INTENT_PRECEDENCE,
    MAX_OUTLINE_ITEMS,
    MAX_TARGET_KEYWORDS,
    Intent,
)

#: The most ideas one call makes: one per structure.
MAX_IDEAS = len(CONTENT_STRUCTURES)
#: Facet groups shown as their own H2s; the rest go under one "More about" H2 as H3s.
MAX_FACET_SECTIONS = 6
MAX_SUBHEADINGS = 5
#: Titles and headings are at most this long (the idea and outline schemas' limit).
MAX_TEXT = 255
#: Word-count estimate: intro + per H2 + per H3 (the article generator aims at the same).
WORDS_INTRO = 150
WORDS_PER_H2 = 200
WORDS_PER_H3 = 120

# -- words and casing ----------------------------------------------------------------------------

_MAX_PHRASE = 4
_YEAR = re.compile(r"^(19|20)\d\d$")

#: Modifiers after which the next word is a verb: the keyword asks how to do something.
TASK_OPENERS = frozenset({"how to", "best way to", "ways to", "when to", "how do", "can you",
                          "should i", "what to"})
#: Task openers that need a pronoun next ("how do *i* clean…", not "how do index funds work").
_PRONOUN_OPENERS = frozenset({"how do"})
_PRONOUNS = frozenset({"i", "you", "we"})

#: Words title case keeps lower case (unless first).
SMALL_WORDS = frozenset({"a", "an", "and", "as", "at", "but", "by", "for", "from", "in",
                         "into", "nor", "of", "on", "or", "per", "the", "to", "vs", "via",
                         "with"})
#: Written in capitals in a title.
ACRONYMS = frozenset({"ai", "api", "apr", "apy", "aws", "b2b", "b2c", "crm", "cpu", "css",
                      "csv", "diy", "erp", "etf", "faq", "fha", "gps", "gpu", "hdmi", "hr",
                      "hsa", "html", "hvac", "hysa", "ira", "kpi", "lcd", "led", "llc", "nyc",
                      "pc", "pdf", "php", "roi", "saas", "seo", "sms", "sql", "ssd", "tv",
                      "uk", "usa", "usb", "ux", "vpn"})
#: Nouns without a plural in a title ("The 7 Best CRM Software Options").
UNCOUNTABLE = frozenset({"advice", "brew", "clothing", "coffee", "content", "credit", "data",
                         "debt", "electricity", "energy", "equipment", "espresso", "fashion",
                         "feedback", "finance", "fitness", "furniture", "gear", "hardware",
                         "health", "information", "insurance", "jewelry", "jewellery",
                         "luggage", "management", "marketing", "milk", "money", "music",
                         "news", "nutrition", "research", "rice", "seo", "skincare", "sleep",
                         "software", "storage", "tea", "traffic", "training", "travel",
                         "water", "weather", "wellness", "wifi", "wood", "worth"})
#: How brands are written (keywords are usually typed in lower case).
BRAND_CASING: dict[str, str] = {
    "aeropress": "AeroPress", "airbnb": "Airbnb", "convertkit": "ConvertKit",
    "delonghi": "DeLonghi", "dewalt": "DeWalt", "ebay": "eBay", "hubspot": "HubSpot",
    "ikea": "IKEA", "ipad": "iPad", "iphone": "iPhone", "linkedin": "LinkedIn",
    "mailchimp": "Mailchimp", "paypal": "PayPal", "rei": "REI", "sofi": "SoFi",
    "tiktok": "TikTok", "tripadvisor": "Tripadvisor", "vrbo": "Vrbo", "woocommerce":
    "WooCommerce", "wordpress": "WordPress", "ynab": "YNAB", "youtube": "YouTube",
}
#: Words that end a noun phrase's head ("CRM *for* Real Estate": the plural goes on "CRM").
PREPOSITIONS = frozenset({"for", "in", "with", "to", "of", "on", "at", "under", "from", "by",
                          "without", "near", "vs"})
_IRREGULAR = {"man": "men", "woman": "women", "foot": "feet", "tooth": "teeth",
              "person": "people", "child": "children", "mouse": "mice", "knife": "knives",
              "leaf": "leaves", "life": "lives", "shelf": "shelves", "wife": "wives"}
_IRREGULAR_SINGULAR = {v: k for k, v in _IRREGULAR.items()}
#: Nouns used in the plural only.
PLURAL_ONLY = frozenset({"analytics", "binoculars", "clothes", "earnings", "glasses", "goods",
                         "grounds", "headphones", "jeans", "leggings", "pants", "savings",
                         "scissors", "shorts", "tongs"})


def _cap(word: str, first: bool) -> str:
    if word == "i":
        return "I"
    if word.lower() in ACRONYMS:
        return word.upper()
    if word in BRAND_CASING:
        return BRAND_CASING[word]
    if any(c.isupper() for c in word):
        return word  # written with capitals by the user: a brand or an acronym
    if not first and word in SMALL_WORDS:
        return word
    return "-".join(p[:1].upper() + p[1:] for p in word.split("-"))


def title_case(words: Sequence[str]) -> str:
    """Title case for keyword words: small words lower case unless first, acronyms upper case,
    words the user wrote with capitals kept ("HubSpot")."""
    return " ".join(_cap(w, i == 0) for i, w in enumerate(words) if w)


def sentence_case(words: Sequence[str]) -> str:
    """The first word capitalised, acronyms upper case, the rest as written."""
    out = [w.upper() if w.lower() in ACRONYMS or w == "i" else w for w in words if w]
    if out and not any(c.isupper() for c in out[0]):
        out[0] = out[0][:1].upper() + out[0][1:]
    return " ".join(out)


def _is_plural(word: str) -> bool:
    w = word.lower()
    if w in _IRREGULAR_SINGULAR or w in PLURAL_ONLY:
        return True
    return w.endswith("s") and not w.endswith("ss") and stem(w) != w and w not in UNCOUNTABLE


def _countable(word: str) -> bool:
    w = word.lower()
    return bool(w) and w not in UNCOUNTABLE and not w.endswith(("ing", "ness", "ism")) and \
        not any(ch.isdigit() for ch in w)


def plural(word: str) -> str:
    """English plural of one noun (already plural or uncountable: unchanged)."""
    w = word.lower()
    if not _countable(word) or _is_plural(word):
        return word
    if w in ACRONYMS or word.isupper():
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
    if not _is_plural(word) or w in PLURAL_ONLY:
        return word
    if w in _IRREGULAR_SINGULAR:
        return word[:1] + _IRREGULAR_SINGULAR[w][1:]
    if re.search(r"[^aeiou]ies$", w):
        return word[:-3] + "y"
    if re.search(r"(ss|x|z|ch|sh)es$", w):
        return word[:-2]
    return word[:-1]


def _head_end(words: Sequence[str]) -> int:
    """Where a noun phrase's head ends: before its first preposition ("CRM | for Real
    Estate"), else at its end."""
    for i, w in enumerate(words):
        if i and w.lower() in PREPOSITIONS:
            return i
    return len(words)


def head_is_plural(words: Sequence[str]) -> bool:
    end = _head_end(words)
    return bool(end) and _is_plural(words[end - 1])


def singular_phrase(words: Sequence[str]) -> list[str]:
    """The phrase with its head noun in the singular, as a noun adjunct takes it ("Coffee
    Beans" → "Coffee Bean" in "Coffee Bean Reviews")."""
    end = _head_end(words)
    if not end:
        return list(words)
    return [*words[:end - 1], singular(words[end - 1]), *words[end:]]


def plural_phrase(words: Sequence[str], *, options: bool = True) -> list[str]:
    """The phrase with its head noun in the plural ("CRMs for Real Estate"); an uncountable
    head gets "Options" ("CRM Software Options for Small Business") when `options`."""
    end = _head_end(words)
    if not end:
        return list(words)
    head = words[end - 1]
    brand_cased = any(c.isupper() for c in head[1:]) and not head.isupper()
    if (_countable(head) and not brand_cased) or _is_plural(head):
        return [*words[:end - 1], plural(head), *words[end:]]
    return [*words[:end], "Options", *words[end:]] if options else list(words)


def _limit(text: str, limit: int = MAX_TEXT) -> str:
    """At most `limit` characters, cut at a word boundary (the idea schema's 255)."""
    if len(text) <= limit:
        return text
    cut = text[:limit + 1]
    return (cut[:cut.rfind(" ")] if " " in cut else text[:limit]).rstrip(" ,;:-")


def stable_index(text: str, n: int) -> int:
    """A choice among `n` that depends only on `text` (never on Python's hash seed)."""
    if n <= 1:
        return 0
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") % n


# -- one keyword ---------------------------------------------------------------------------------

#: Angle of a keyword without a facet: what it asks about the topic. First match wins.
ANGLES: tuple[tuple[str, frozenset[str]], ...] = (
    ("comparison", frozenset({"vs", "versus", "compare", "comparison", "compared",
                              "alternative", "alternatives", "alternatives to",
                              "alternative to", "difference between", "competitors"})),
    ("review", frozenset({"review", "reviews", "reviewed", "worth it", "is it worth",
                          "pros and cons", "rated", "top rated", "highest rated",
                          "recommended"})),
    ("price", frozenset({"cheap", "cheapest", "cheaper", "affordable", "inexpensive", "price",
                         "prices", "pricing", "cost", "costs", "rates", "under",
                         "budget friendly", "deal", "deals", "discount", "discounts", "coupon",
                         "coupons", "promo code", "voucher", "clearance", "sale"})),
    ("buy", frozenset({"buy", "buying", "order", "purchase", "for sale", "shop", "store",
                       "stores", "shipping", "free shipping", "delivery", "online", "near me",
                       "nearby", "local", "open now", "book", "booking", "reserve", "hire",
                       "quote", "quotes", "free trial", "trial", "subscribe", "subscription",
                       "download", "sign up", "last minute", "free"})),
    ("howto", frozenset({"how to", "how do", "how does", "best way to", "ways to", "tutorial",
                         "steps", "diy", "tips", "best practices", "checklist", "guide",
                         "for beginners", "beginners", "learn", "buying guide"})),
    ("question", frozenset({"what is", "what are", "what does", "what", "why", "when",
                            "when to", "where", "who", "which", "how long", "how many",
                            "how much", "how", "meaning", "definition", "define",
                            "stand for", "can you", "should i", "explained", "examples",
                            "example", "benefits", "ideas", "things to do",
                            "best things to do", "what to", "best time to",
                            "best month to"})),
    ("best", frozenset({"best", "top", "ranked", "brands", "premium"})),
    ("nav", frozenset({"login", "log in", "sign in", "signin", "official site",
                       "official website", "website", "com", "app", "customer service",
                       "phone number", "contact", "hours", "account", "support", "menu",
                       "portal"})),
)

#: Structure cues: modifiers (and a few plain words) that call for a structure.
STRUCTURE_CUES: dict[str, frozenset[str]] = {
    "listicle": frozenset({"best", "top", "top rated", "highest rated", "ranked", "tips",
                           "ideas", "ways to", "examples", "brands", "recommended",
                           "things to do", "best things to do"}),
    "comparison": frozenset({"vs", "versus", "compare", "comparison", "compared",
                             "alternative", "alternatives", "alternatives to",
                             "alternative to", "difference between", "competitors",
                             "or (brands)"}),
    "review": frozenset({"review", "reviews", "reviewed", "worth it", "is it worth",
                         "pros and cons", "rated"}),
    "how_to": frozenset({"how to", "how do", "how does", "best way to", "tutorial", "steps",
                         "diy", "task"}),
    "faq": frozenset({"what is", "what are", "what does", "what", "why", "when", "where",
                      "who", "which", "how long", "how many", "how much", "how", "can you",
                      "should i", "meaning", "definition", "define", "stand for",
                      "question"}),
    "guide": frozenset({"guide", "buying guide", "for beginners", "beginners", "checklist",
                        "explained", "learn", "benefits", "what to"}),
    "news": frozenset({"news", "latest", "update", "updates", "announced", "announcement",
                       "release"}),
    "pillar": frozenset(),
}

#: The intent's prior for each structure (added to the cue share).
INTENT_PRIOR: dict[str, dict[str, float]] = {
    "informational": {"guide": 0.3, "how_to": 0.2, "faq": 0.15, "pillar": 0.1,
                      "listicle": 0.05},
    "commercial": {"listicle": 0.3, "review": 0.2, "comparison": 0.15, "guide": 0.1,
                   "faq": 0.05},
    "transactional": {"listicle": 0.25, "guide": 0.2, "comparison": 0.1, "review": 0.1,
                      "faq": 0.05},
    "navigational": {"guide": 0.3, "faq": 0.2, "how_to": 0.1},
}

#: What kind of page each structure makes.
CONTENT_TYPE_OF: dict[str, str] = {
    "guide": "guide", "pillar": "guide", "how_to": "blog_post", "listicle": "blog_post",
    "faq": "blog_post", "news": "article", "review": "article", "comparison": "comparison",
}
assert set(CONTENT_TYPE_OF) == set(CONTENT_STRUCTURES)
assert set(CONTENT_TYPE_OF.values()) <= set(CONTENT_TYPES)
assert set(STRUCTURE_CUES) == set(CONTENT_STRUCTURES)


def _match(words: Sequence[str], at: int, table: dict[tuple[str, ...], str]) -> str | None:
    for size in range(min(_MAX_PHRASE, len(words) - at), 0, -1):
        phrase = table.get(tuple(words[at:at + size]))
        if phrase is not None:
            return phrase
    return None


def _display_words(text: str, tokens: Sequence[str]) -> tuple[str, ...]:
    """The normalised tokens as the user wrote them where that is one word ("HubSpot",
    "café", "women's"), else as normalised ("pour-over" → "pour", "over")."""
    spelled: dict[str, str] = {}
    for chunk in text.split():
        core = chunk.strip(".,;:!?()[]{}\"'«»“”‘’*")
        parts = normalise(core).split()
        if len(parts) == 1 and core and "&" not in core:
            spelled.setdefault(parts[0], core)
    return tuple(spelled.get(t, t) for t in tokens)


#: Question words (with the analysis's leading questions: "is", "can", "should"…).
_QUESTION_WORDS = frozenset({"what", "whats", "why", "how", "when", "where", "who", "which"})


def question_openers() -> frozenset[str]:
    return _QUESTION_WORDS | vocabulary().leading_questions
#: Words after which a task's object starts ("train *a* puppy", "feed *my* dog").
DETERMINERS = frozenset({"a", "an", "the", "your", "my", "our", "their", "his", "her"})
#: Particles of phrasal verbs ("pay *off* student loans").
PARTICLES = frozenset({"off", "up", "out", "down", "away", "back", "rid", "around"})
#: Verbs and adjectives a question ends on, not part of its subject.
QUESTION_TAILS = frozenset({"last", "work", "works", "cost", "costs", "mean", "bad", "good",
                            "safe", "worth", "take", "need", "have", "help", "matter",
                            "happen", "use", "used", "do", "does", "healthy", "necessary",
                            "legit", "better"})
#: A topic about a price ("kitchen remodel cost"): lists ways to save, how-tos estimate it.
PRICE_WORDS = frozenset({"cost", "costs", "price", "prices", "pricing", "rates", "fees"})
_SECOND_PERSON = {"my": "your", "i": "you", "me": "you", "mine": "yours", "our": "your"}
#: Modifiers never part of a topic, even a brand's ("best", "vs", question words).
_NEVER_TOPIC = frozenset({"best", "top", "top rated", "highest rated", "ranked", "vs",
                          "versus", "compare", "compared", "comparison"})
#: Modifiers kept in a topic: they change what the thing is ("free crm", "mortgage rates").
#: They are never a facet.
KEEP_IN_TOPIC = frozenset({"free", "rates", "price", "prices", "pricing", "cost", "costs"})
#: Question forms of keywords that are not worded as questions, by modifier.
_QUESTION_FORMS: tuple[tuple[frozenset[str], str], ...] = (
    (frozenset({"meaning", "definition", "define", "stand for"}), "What does {t} mean?"),
    (frozenset({"explained"}), "How does {t} work?"),
    (frozenset({"benefits"}), "What are the benefits of {t}?"),
    (frozenset({"examples", "example"}), "What are some examples of {t}?"),
    (frozenset({"ideas"}), "What are some good {t} ideas?"),
    (frozenset({"price", "prices", "pricing", "cost", "costs", "rates"}),
     "How much does {t} cost?"),
    (frozenset({"review", "reviews", "reviewed", "worth it", "is it worth", "pros and cons"}),
     "Is {t} worth it?"),
    (frozenset({"vs", "versus", "difference between"}), "What is the difference: {k}?"),
    (frozenset({"alternative", "alternatives", "alternatives to", "alternative to",
                "competitors"}), "What are the best alternatives to {t}?"),
    (frozenset({"login", "log in", "sign in", "signin"}), "How do you sign in to {t}?"),
    (frozenset({"near me", "nearby", "local"}), "Where can you find {t} nearby?"),
    (frozenset({"buy", "buying", "order", "purchase", "for sale", "shop", "online"}),
     "Where should you buy {t}?"),
    (frozenset({"cheap", "cheapest", "affordable", "inexpensive", "deal", "deals",
                "discount", "sale", "coupon"}), "How can you save money on {t}?"),
    (frozenset({"tips", "best practices"}), "What are the best tips for {t}?"),
    (frozenset({"best", "top", "top rated"}), "Which {t} is best?"),
)


@dataclass(frozen=True, slots=True)
class Keyword:
    """One keyword taken apart for writing (see the module doc)."""

    text: str
    volume: int
    analysis: Analysis
    intent: IntentResult
    #: the tokens as spelled by the user, aligned with `analysis.tokens`
    display: tuple[str, ...]
    #: indices of the topic words in `analysis.tokens`
    topic: tuple[int, ...]
    #: the topic starts with a verb ("how to *make* pour over coffee")
    task: bool
    #: modifier phrases found, plus "task", "question" and news words
    cues: frozenset[str]
    angle: str
    #: index of "vs"/"versus" in the tokens, -1 when none
    vs_at: int

    @property
    def topic_words(self) -> list[str]:
        return [self.display[i] for i in self.topic]

    @property
    def subject_words(self) -> list[str]:
        """The topic without a task's verb: what follows its first article or possessive
        ("crate train *a* puppy" → "puppy"), else all but the verb and its particle ("pay
        off student loans" → "student loans")."""
        words = self.topic_words
        if not self.task or len(words) < 2:
            return words
        lowered = [w.lower() for w in words]
        at = next((i for i, w in enumerate(lowered) if w in DETERMINERS), -1)
        rest = words[at + 1:] if 0 <= at < len(words) - 1 else words[1:]
        stop = vocabulary().stopwords
        while len(rest) > 1 and (rest[0].lower() in stop or rest[0].lower() in PARTICLES):
            rest = rest[1:]
        return rest or words

    @property
    def sides(self) -> tuple[list[str], list[str]]:
        """The topic words before and after "vs" (both empty when there is no "vs")."""
        if self.vs_at < 0:
            return [], []
        return ([self.display[i] for i in self.topic if i < self.vs_at],
                [self.display[i] for i in self.topic if i > self.vs_at])

    @property
    def worded_as_question(self) -> bool:
        """Written as a question ("what is…", "is it safe…"), not as a task ("how to…")."""
        tokens = self.analysis.tokens
        return bool(tokens) and tokens[0] in question_openers() and tokens[:2] != ("how", "to")

    @property
    def is_question(self) -> bool:
        return self.angle == "question"

    def subheading(self) -> str:
        """An H3 for this keyword in a section about its angle: its question, its task, else
        its own words title-cased ("Budgeting Tips", "Budgeting for Beginners")."""
        if self.worded_as_question or self.task or self.vs_at >= 0:
            return self.heading()
        return title_case([w for i, w in enumerate(self.display)
                           if not _YEAR.match(self.analysis.tokens[i])])

    def heading(self) -> str:
        """A section heading for this keyword: "How to Brew Pourover Coffee", "Pour Over vs
        Drip Coffee", "What is pour over coffee?", else its topic title-cased."""
        left, right = self.sides
        if left and right:
            return f"{title_case(left)} vs {title_case(right)}"
        if self.worded_as_question:
            return self.question()
        if self.task:
            return "How to " + title_case(self.topic_words)
        return title_case(self.topic_words)

    def question(self, *, title: bool = False) -> str:
        """The keyword as a question: its own words when it is one ("Is it safe to drink
        coffee?"), else a question its modifiers ask ("crm meaning" → "What does CRM
        mean?"), "How do you …?" for a task, else "What should you know about …?". Title
        case with `title`."""
        if self.worded_as_question:
            words = [w for i, w in enumerate(self.display)
                     if not _YEAR.match(self.analysis.tokens[i])]
        else:
            topic = [_SECOND_PERSON.get(w.lower(), w) for w in self.topic_words]
            t = title_case(topic) if title else \
                " ".join(w.upper() if w.lower() in ACRONYMS else BRAND_CASING.get(w, w)
                         for w in topic)
            form = next((f for mods, f in _QUESTION_FORMS if self.cues & mods), None)
            if form is None:
                form = "How do you {t}?" if self.task else "What should you know about {t}?"
            words = form.format(t=t, k=" ".join(self.display)).split()
        words[-1] = words[-1].rstrip("?")
        return (title_case(words) if title else sentence_case(words)) + "?"


def _angle(cues: set[str] | frozenset[str], words: Sequence[str], task: bool) -> str:
    if ("question" in cues or (words and words[0] in question_openers())) and \
            not task and not (cues & {"how to", "how do", "best way to"}):
        return "question"
    for name, phrases in ANGLES:
        if cues & phrases:
            return name
    return "overview"


def analyse_keyword(text: str, volume: int = 0, intent: Intent | None = None) -> Keyword:
    """Take one keyword apart for writing (see `Keyword`)."""
    clean = " ".join(text.split())
    a = analyse(clean)
    words = a.tokens
    keep: list[int] = []
    spans: list[tuple[int, int, str]] = []  # modifiers: (start, size, phrase)
    task_pending = False
    task = False
    vs_at = -1
    i = 0
    while i < len(words):
        word = words[i]
        if _match(words, i, vocabulary().brand_phrases) is None:
            phrase = _match(words, i, vocabulary().modifier_phrases)
            if phrase is not None:
                size = len(phrase.split())
                if phrase in ("vs", "versus") and vs_at < 0:
                    vs_at = i
                if phrase in vocabulary().head_keeping_modifiers or phrase in KEEP_IN_TOPIC:
                    keep.append(i)
                elif phrase == "under" and i + 1 < len(words) and words[i + 1].isdigit():
                    keep.extend((i, i + 1))
                    size = 2
                else:
                    spans.append((i, size, phrase))
                    if phrase in TASK_OPENERS and not keep and (
                            phrase not in _PRONOUN_OPENERS or
                            (i + size < len(words) and words[i + size] in _PRONOUNS)):
                        task_pending = True
                i += size
                continue
        if _YEAR.match(word) or (i == 0 and word in vocabulary().leading_questions):
            i += 1
            continue
        if task_pending and not keep and word not in vocabulary().stopwords:
            task = True
        keep.append(i)
        i += 1
    brand_words = {w for b in a.brands for w in b.split()}
    if keep and all(words[j] in brand_words or words[j] in vocabulary().stopwords for j in keep):
        # a brand alone says little: "hubspot pricing" is about HubSpot's pricing
        question_mods = next(p for n, p in ANGLES if n == "question")
        for start, size, phrase in spans:
            if phrase not in _NEVER_TOPIC and phrase not in question_mods and \
                    phrase not in TASK_OPENERS:
                keep.extend(range(start, start + size))
        keep.sort()
    while keep and words[keep[0]] in vocabulary().stopwords:
        keep.pop(0)
    while keep and words[keep[-1]] in vocabulary().stopwords:
        keep.pop()
    if words and words[0] in question_openers() and words[:2] != ("how", "to"):
        # "how long does a water heater *last*", "is grain free dog food *bad*"
        while len(keep) > 1 and (words[keep[-1]] in QUESTION_TAILS or
                                 words[keep[-1]] in vocabulary().stopwords):
            keep.pop()
    if not keep:
        keep = [j for j, w in enumerate(words) if w not in vocabulary().stopwords] or \
            list(range(len(words)))
        task = False
    mods = {phrase for _, _, phrase in spans} | {words[j] for j in keep
                                                 if words[j] in KEEP_IN_TOPIC}
    cues = set(mods)
    cues.update(w for w in words if w in STRUCTURE_CUES["news"])
    if words and words[0] in vocabulary().leading_questions:
        cues.add("question")
    if task or any(stem(words[j]) in vocabulary().task_stems for j in keep):
        cues.add("task")
    angle = _angle(cues, words, task)
    given = IntentResult(intent, ("given",), 1.0) if intent is not None else None
    return Keyword(text=clean, volume=max(0, volume), analysis=a,
                   intent=given or classify_analysis(a),
                   display=_display_words(clean, words), topic=tuple(keep), task=task,
                   cues=frozenset(cues), angle=angle, vs_at=vs_at)


# -- the cluster's plan ------------------------------------------------------------------------


@dataclass(slots=True)
class Group:
    """Keywords that share a term (a facet) or, without one, an angle."""

    key: str
    facet: bool
    keywords: list[Keyword] = field(default_factory=list)

    @property
    def volume(self) -> int:
        return sum(k.volume for k in self.keywords)


@dataclass(frozen=True, slots=True)
class Plan:
    """What every idea of a cluster is built from."""

    keywords: tuple[Keyword, ...]  # primary first, then by volume, normalised text
    primary: Keyword
    intent: Intent
    #: the cluster's topic, as the user spelled its words ("coffee grinder")
    topic: tuple[str, ...]
    groups: tuple[Group, ...]
    #: the two sides of the cluster's "vs" keyword, title-cased ("" when none)
    sides: tuple[str, str]
    #: the topic itself is a "vs" ("cold brew vs iced coffee")
    versus: bool
    #: the topic names a brand (a product, not a kind of thing)
    brand: bool
    #: keywords with nothing the analysis reads (no Latin letters or digits): they are
    #: targeted and listed in the first section, never taken apart
    opaque: tuple[str, ...] = ()

    @property
    def t(self) -> str:
        """The topic title-cased: "Coffee Grinder", "CRM for Real Estate"."""
        return title_case(self.topic)

    @property
    def countable(self) -> bool:
        end = _head_end(self.topic)
        return bool(end) and not self.brand and (_countable(self.topic[end - 1]) or
                                                  _is_plural(self.topic[end - 1]))

    @property
    def ts(self) -> str:
        """Plural where it can be ("Coffee Grinders", "CRMs for Real Estate"), else as t."""
        if self.brand or self.versus:
            return self.t
        return title_case(plural_phrase(self.topic, options=False))

    @property
    def one(self) -> str:
        """The topic as a noun adjunct: "Coffee Bean" (Reviews), "Credit Card"."""
        return title_case(singular_phrase(self.topic)) if self.countable else self.t

    @property
    def many(self) -> str:
        """What a list lists: "Coffee Grinders", "CRM Software Options"."""
        if self.versus or (self.brand and self.plural_topic):
            return self.t
        if self.brand:
            return self.t + " Options"
        return title_case(plural_phrase(self.topic))

    @property
    def priced(self) -> bool:
        """The topic is a price ("Kitchen Remodel Cost", "Mortgage Rates")."""
        return not self.brand and bool(self.topic) and \
            normalise(self.topic[-1]) in PRICE_WORDS

    @property
    def plural_topic(self) -> bool:
        return head_is_plural(self.topic)

    @property
    def a_t(self) -> str:
        """"a Coffee Grinder", "an Espresso Machine", "Pour Over Coffee", "Coffee Beans"."""
        if not self.countable or self.plural_topic:
            return self.t
        t = self.t
        return ("an " if t[:1].lower() in "aeiou" else "a ") + t

    @property
    def what_is(self) -> str:
        if self.versus:
            a, b = self.sides
            return f"{a} and {b} at a Glance"
        return f"What Are {self.t}?" if self.plural_topic else f"What Is {self.a_t}?"

    @property
    def task(self) -> str | None:
        """What a how-to teaches, title-cased ("Make Pour Over Coffee"): the primary's task,
        else the first task keyword's, else choosing between the sides or logging in."""
        if self.versus:
            return f"Choose Between {self.sides[0]} and {self.sides[1]}"
        for k in self.keywords:
            if k.task:
                return title_case([_SECOND_PERSON.get(w.lower(), w) for w in k.topic_words])
        signs_in = self.has_cue("login", "log in", "sign in", "signin")
        if self.intent == "navigational" and signs_in and self.primary.analysis.brands:
            brand = self.primary.analysis.brands[0]
            return "Sign In to " + title_case(brand.split())
        return None

    def has_cue(self, *cues: str) -> bool:
        return any(k.cues & set(cues) for k in self.keywords)


def _order(k: Keyword) -> tuple[int, str, str]:
    return (-k.volume, k.analysis.normalised, k.text)


def _vote_intent(keywords: Sequence[Keyword]) -> Intent:
    votes: dict[Intent, float] = defaultdict(float)
    for k in keywords:
        votes[k.intent.intent] += (k.volume + 1) * k.intent.confidence
    best = max(votes.values())
    return next(i for i in INTENT_PRECEDENCE if votes.get(i) == best)


def _is_core(word: str, core_stems: frozenset[str], core_compact: str) -> bool:
    w = normalise(word)
    return stem(w) in core_stems or (len(w) >= 4 and w in core_compact) or \
        w in vocabulary().stopwords


def plan_keywords(items: Iterable[KeywordItem | tuple[str, int]], *, name: str = "",
                  intent: Intent | None = None, primary: str | None = None) -> Plan:
    """Take a cluster's keywords apart and group them (module doc, step 1). `primary`
    (else `name`) names the primary keyword when it is among them; else the highest volume
    is. A keyword given twice counts once (with its higher volume)."""
    seen: dict[str, Keyword] = {}
    opaque: set[str] = set()
    for item in items:
        if isinstance(item, KeywordItem):
            k = analyse_keyword(item.text, item.volume, item.intent)
        else:
            k = analyse_keyword(item[0], item[1])
        if not k.analysis.normalised:
            if k.text:
                opaque.add(k.text)
            continue
        old = seen.get(k.text)
        if old is None or _order(k) < _order(old):
            seen[k.text] = k

    def find(wanted: str | None) -> Keyword | None:
        norm = normalise(wanted or "")
        return min((k for k in seen.values() if k.analysis.normalised == norm),
                   key=_order, default=None) if norm else None

    if primary and normalise(primary) and find(primary) is None:
        k = analyse_keyword(primary, 0, intent)
        seen[k.text] = k
    if not seen and name and normalise(name):
        k = analyse_keyword(name, 0, intent)
        seen[k.text] = k
    if not seen:
        raise ValueError("no keyword or name with Latin letters or digits to plan from")
    ordered = sorted(seen.values(), key=_order)
    head = find(primary) or find(name) or ordered[0]
    ordered = [head] + [k for k in ordered if k is not head]
    # a word the topic keeps ("rates" of "mortgage rates") is no angle for the other keywords
    kept = {normalise(w) for w in head.topic_words} & KEEP_IN_TOPIC
    if kept:
        ordered = [head] + [
            replace(k, angle=_angle(k.cues - kept, k.analysis.tokens, k.task))
            if k.cues & kept else k for k in ordered[1:]]
    left, right = head.sides
    versus = bool(left and right)
    topic = head.topic_words if versus else (head.subject_words or head.topic_words)
    core_words = head.topic_words
    core_stems = {stem(normalise(w)) for w in core_words}
    core_compact = "".join(normalise(w).replace(" ", "") for w in core_words)

    def extra_stems(k: Keyword) -> set[str]:
        return {stem(k.analysis.tokens[i]) for i in k.topic
                if k.analysis.tokens[i] not in KEEP_IN_TOPIC and
                not _is_core(k.analysis.tokens[i], frozenset(core_stems), core_compact)}

    # a term most keywords share is part of the topic, not a facet ("coffee" in a cold brew
    # cluster)
    common: Counter[str] = Counter()
    for k in ordered[1:]:
        common.update(extra_stems(k))
    floor = max(3, 0.4 * len(ordered))
    core_stems |= {s for s, c in common.items() if c >= floor}
    facets_of: dict[str, list[str]] = {}
    df: Counter[str] = Counter()
    for k in ordered[1:]:
        stems = sorted(extra_stems(k))
        facets_of[k.text] = stems
        df.update(stems)
    groups: dict[str, Group] = {}
    for k in ordered:
        stems = facets_of.get(k.text, [])
        if stems:
            best = min(stems, key=lambda s: (-df[s], s))
            key, is_facet = "facet:" + best, True
        else:
            key, is_facet = "angle:" + k.angle, False
        groups.setdefault(key, Group(key, is_facet)).keywords.append(k)
    sides = ("", "")
    for k in ordered:
        left, right = k.sides
        if left and right:
            sides = (title_case(left), title_case(right))
            break
    brand_words = {w for b in head.analysis.brands for w in b.split()}
    return Plan(keywords=tuple(ordered), primary=head,
                intent=intent or _vote_intent(ordered), topic=tuple(topic),
                groups=tuple(sorted(groups.values(), key=lambda g: (-g.volume, g.key))),
                sides=sides, versus=versus,
                brand=any(normalise(w) in brand_words for w in topic),
                opaque=tuple(sorted(opaque)))


def rank_structures(plan: Plan) -> list[str]:
    """The structures, best first (module doc, step 2)."""
    total = sum(k.volume + 1 for k in plan.keywords)
    prior = INTENT_PRIOR[plan.intent]
    scores: dict[str, float] = {}
    for s in CONTENT_STRUCTURES:
        cues = STRUCTURE_CUES[s]
        share = sum(k.volume + 1 for k in plan.keywords if k.cues & cues) / total
        scores[s] = share + prior.get(s, 0.0)
    if len(plan.keywords) >= 8 or sum(g.facet for g in plan.groups) >= 3:
        scores["pillar"] += 0.12
    if plan.sides[0]:
        scores["comparison"] += 0.2
    if plan.versus:
        # a "vs" topic is a comparison, explained or answered, not a list of products
        scores["listicle"] -= 1.0
        scores["review"] -= 1.0
    ranked = sorted(CONTENT_STRUCTURES, key=lambda s: (-scores[s], CONTENT_STRUCTURES.index(s)))
    if scores["news"] <= prior.get("news", 0.0):
        ranked.remove("news")
        ranked.append("news")  # news only when something is news
    return ranked


# -- outlines ------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Sec:
    heading: str
    subs: list[str] = field(default_factory=list)
    absorbs: frozenset[str] = frozenset()
    catch_all: bool = False
    optional: bool = False
    #: absorbed keywords become H3s: "heading" (their headings) or "question"
    kw_subs: str = ""
    #: a listicle item (counted in the title's number)
    item: bool = False
    keywords: list[Keyword] = field(default_factory=list)
    #: subheadings to drop when absorbed keywords bring their own
    generic_subs: bool = False


_ALL_COMMERCIAL = frozenset({"best", "review", "price", "buy", "comparison"})


def _skeleton(plan: Plan, structure: str) -> tuple[list[_Sec], list[_Sec]]:
    """(sections before the facet sections, sections after), as the structure has them."""
    t, many, a_t = plan.t, plan.many, plan.a_t
    faq = _Sec("Frequently Asked Questions", absorbs=frozenset({"question", "nav"}),
               optional=True, kw_subs="question")
    buyer = plan.intent in ("commercial", "transactional")
    if structure == "how_to":
        task = plan.task or ("Choose " + a_t if buyer else "Get Started with " + t)
        return ([_Sec("What You Need Before You Start", absorbs=frozenset({"overview", "buy"}),
                      catch_all=True),
                 _Sec(f"How to {task}: Step by Step",
                      subs=["Step 1: Gather What You Need", "Step 2: Prepare",
                            "Step 3: Work Through the Main Steps",
                            "Step 4: Check the Result and Adjust"],
                      absorbs=frozenset({"howto"}), kw_subs="heading", generic_subs=True)],
                [_Sec("Tips for Better Results", absorbs=frozenset({"best", "review",
                                                                     "price"})),
                 _Sec("Common Mistakes to Avoid", absorbs=frozenset({"comparison"})),
                 faq, _Sec("Conclusion")])
    if structure == "listicle":
        if plan.versus:
            a, b = plan.sides
            return ([_Sec("Why the Difference Matters", absorbs=frozenset({"overview"}),
                          catch_all=True),
                     _Sec("Difference 1: Cost", absorbs=frozenset({"price"}), item=True),
                     _Sec("Difference 2: Ease of Use", absorbs=frozenset({"howto"}),
                          item=True),
                     _Sec("Difference 3: Results", absorbs=frozenset({"review", "best"}),
                          item=True)],
                    [_Sec(f"{a} or {b}: Which Should You Pick?",
                          absorbs=frozenset({"comparison", "buy"})),
                     faq, _Sec("The Bottom Line")])
        if plan.priced:
            return ([_Sec(f"{t} at a Glance", absorbs=frozenset({"overview"}), catch_all=True),
                     _Sec("Plan Before You Spend", absorbs=frozenset({"howto"}), item=True),
                     _Sec("Compare Several Quotes", absorbs=frozenset({"buy", "comparison"}),
                          item=True),
                     _Sec("Choose Where to Save and Where to Spend",
                          absorbs=frozenset({"best", "review"}), item=True),
                     _Sec("Time It Right", absorbs=frozenset({"price"}), item=True)],
                    [faq, _Sec("The Bottom Line")])
        if plan.brand and not plan.plural_topic:
            return ([_Sec(f"{t} in Brief", absorbs=frozenset({"overview"}), catch_all=True),
                     _Sec("What It Does Well", absorbs=frozenset({"best", "review"}),
                          item=True),
                     _Sec("Where It Falls Short", item=True),
                     _Sec("What It Costs", absorbs=frozenset({"price", "buy"}), item=True)],
                    [_Sec("Alternatives to Consider", absorbs=frozenset({"comparison"})),
                     faq, _Sec("The Bottom Line")])
        if not buyer and plan.has_cue("tips", "ideas", "ways to", "examples", "things to do",
                                      "best things to do"):
            return ([_Sec(f"Why These {t} Tips Work", absorbs=frozenset({"overview"}),
                          catch_all=True),
                     _Sec("Start with the Basics", absorbs=frozenset({"howto"}),
                          kw_subs="heading", item=True),
                     _Sec("Plan Ahead", absorbs=frozenset({"best", "review"}), item=True)],
                    [_Sec("Keep Improving Over Time", absorbs=frozenset({"price", "buy"}),
                          item=True),
                     faq, _Sec("The Bottom Line")])
        return ([_Sec(f"How We Chose the Best {many}",
                      absorbs=frozenset({"review", "overview"}), catch_all=True),
                 _Sec(f"Best Overall {t}", absorbs=frozenset({"best"}), item=True),
                 _Sec(f"Best Budget {t}", absorbs=frozenset({"price"}), item=True)],
                [_Sec(f"Best Premium {t}", item=True),
                 _Sec(f"What to Look for in {a_t}",
                      absorbs=frozenset({"buy", "howto", "comparison"})),
                 faq, _Sec("The Bottom Line")])
    if structure == "comparison":
        if plan.sides[0]:
            a, b = plan.sides
            return ([_Sec(f"{a} vs {b} at a Glance",
                          absorbs=frozenset({"comparison", "overview"}), catch_all=True),
                     _Sec(f"What Is {a}?"), _Sec(f"What Is {b}?"),
                     _Sec("Key Differences", subs=["Cost", "Ease of Use", "Results"],
                          absorbs=frozenset({"price"}))],
                    [_Sec("Which Should You Choose?",
                          absorbs=frozenset({"best", "review", "buy", "howto"})),
                     faq, _Sec("The Verdict")])
        others = f"{t} Alternatives Worth Considering" if plan.has_cue(
            "alternative", "alternatives", "alternatives to", "alternative to",
            "competitors") or plan.brand else f"Types of {many} Compared"
        return ([_Sec(f"{many} Compared at a Glance",
                      absorbs=frozenset({"comparison", "overview"}), catch_all=True),
                 _Sec("How We Compared Them", subs=["Features", "Price", "Ease of Use"],
                      absorbs=frozenset({"review"}))],
                [_Sec(others, absorbs=frozenset({"best"})),
                 _Sec("Price Comparison", absorbs=frozenset({"price", "buy"}), optional=True),
                 _Sec("Which One Is Right for You?", absorbs=frozenset({"howto"})),
                 faq, _Sec("The Verdict")])
    if structure == "review":
        review = _suffix(t, "Review") if plan.brand or not plan.countable else \
            _suffix(plan.one, "Review") + "s"
        return ([_Sec(f"{review} at a Glance",
                      absorbs=frozenset({"review", "overview"}), catch_all=True),
                 _Sec("What Owners Like", absorbs=frozenset({"best"})),
                 _Sec("Common Complaints")],
                [_Sec("Price and Value", absorbs=frozenset({"price", "buy"})),
                 _Sec("How It Compares to the Alternatives",
                      absorbs=frozenset({"comparison"})),
                 _Sec("Who It Is For", absorbs=frozenset({"howto"})),
                 faq, _Sec("Our Verdict")])
    if structure == "faq":
        return ([_Sec(f"{t}: The Short Answer", absorbs=frozenset({"overview"}),
                      catch_all=True)],
                [_Sec(f"More Questions About {t}",
                      absorbs=frozenset({"howto", "nav"}) | _ALL_COMMERCIAL, optional=True,
                      kw_subs="question"),
                 _Sec("Still Have Questions?")])
    if structure == "pillar":
        return ([_Sec(f"{t}: An Overview", absorbs=frozenset({"overview"}), catch_all=True)],
                [_Sec(f"How to {plan.task}" if plan.task else f"Getting Started with {t}",
                      absorbs=frozenset({"howto"}), kw_subs="heading"),
                 _Sec("Choosing the Right One" if plan.versus else f"Choosing the Right {t}",
                      absorbs=_ALL_COMMERCIAL, optional=True),
                 faq, _Sec("Where to Go Next")])
    if structure == "news":
        return ([_Sec(f"What's New with {t}", absorbs=frozenset({"overview"}),
                      catch_all=True),
                 _Sec("What Changed")],
                [_Sec("Why It Matters", absorbs=frozenset({"howto"}) | _ALL_COMMERCIAL),
                 _Sec("What Happens Next"), faq])
    # guide
    first = f"{t} Buying Guide: The Basics" if plan.intent == "transactional" and \
        not plan.versus else plan.what_is
    choose = "Which Is Better for You?" if plan.versus else f"How to Choose {a_t}"
    return ([_Sec(first, absorbs=frozenset({"overview"}), catch_all=True)],
            [_Sec(f"How to {plan.task}" if plan.task else f"How to Get Started with {t}",
                  absorbs=frozenset({"howto"}), kw_subs="heading"),
             _Sec(choose, absorbs=_ALL_COMMERCIAL, optional=True),
             _Sec("Common Mistakes to Avoid"),
             faq, _Sec("Final Thoughts")])


def _suffix(t: str, word: str) -> str:
    """`t` followed by `word` unless it already ends with it ("Pipedrive Review" + "Review"
    → "Pipedrive Review")."""
    last = t.split()[-1] if t.split() else ""
    return t if stem(normalise(last)) == stem(normalise(word)) else f"{t} {word}"


def _facet_heading(plan: Plan, structure: str, k: Keyword) -> str:
    if structure == "faq":
        return k.question()
    h = k.heading()
    if structure == "listicle" and plan.intent in ("commercial", "transactional") and \
            not (k.worded_as_question or k.task or k.vs_at >= 0 or plan.versus):
        return "Best " + h if not h.lower().startswith("best ") else h
    return h


def _dedupe(items: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for item in items:
        key = normalise(item)
        if item and key not in seen:
            seen.add(key)
            out.append(item)
    return out


def outline_for(plan: Plan, structure: str) -> tuple[OutlineSection, ...]:
    """The structure's outline for the plan (module doc, step 3): every keyword of the plan
    is in the `keywords` of exactly one section."""
    return _outline(plan, structure)[0]


def _outline(plan: Plan, structure: str) -> tuple[tuple[OutlineSection, ...], int]:
    """(the outline, how many list items it has: a listicle's number)."""
    pre, post = _skeleton(plan, structure)
    skeleton = pre + post
    question_secs: list[_Sec] = []
    facet_secs: list[_Sec] = []
    overflow: _Sec | None = None
    catch = next(s for s in skeleton if s.catch_all)
    catch.keywords.append(plan.primary)  # the primary keyword opens the article
    limit = MAX_FACET_SECTIONS + (2 if structure == "pillar" else 0)
    for whole in plan.groups:
        g = Group(whole.key, whole.facet, [k for k in whole.keywords if k is not plan.primary])
        if not g.keywords:
            continue
        if g.facet:
            if len(facet_secs) < limit:
                top = g.keywords[0]
                facet_secs.append(_Sec(_facet_heading(plan, structure, top),
                                       subs=[k.subheading() for k in g.keywords[1:]],
                                       keywords=list(g.keywords),
                                       item=structure == "listicle"))
            else:
                if overflow is None:
                    overflow = _Sec(f"More About {plan.t}")
                overflow.subs.append(g.keywords[0].heading())
                overflow.keywords.extend(g.keywords)
            continue
        angle = g.key.split(":", 1)[1]
        if structure == "faq" and angle == "question":
            question_secs.extend(_Sec(k.question(), keywords=[k]) for k in g.keywords)
            continue
        target = next((s for s in skeleton if angle in s.absorbs), catch)
        target.keywords.extend(g.keywords)
        named = g.keywords
        if target.kw_subs == "question":
            target.subs.extend(k.question() for k in named)
        elif target.kw_subs == "heading" and target is not catch:
            if target.generic_subs:
                if len(named) < 2:
                    continue  # one keyword does not replace the generic steps
                target.subs = []
                target.generic_subs = False
            target.subs.extend(k.subheading() for k in named)
    sections = pre + question_secs + facet_secs + ([overflow] if overflow else []) + post
    # drop optional sections nothing filled, and empty list items beyond four
    items = sum(s.item for s in sections)
    kept: list[_Sec] = []
    by_heading: dict[str, _Sec] = {}
    for s in sections:
        if s.optional and not s.keywords:
            continue
        if s.item and not s.keywords and items > 4:
            items -= 1
            continue
        same = by_heading.get(normalise(s.heading))
        if same is not None:  # two keywords with one heading: one section
            same.subs.extend(s.subs)
            same.keywords.extend(s.keywords)
            items -= s.item
            continue
        by_heading[normalise(s.heading)] = s
        kept.append(s)
    out: list[OutlineSection] = []
    for s in kept:
        subs = [h for h in _dedupe(s.subs) if normalise(h) != normalise(s.heading)]
        kws = list(dict.fromkeys(k.text for k in s.keywords))
        if s is catch:
            kws.extend(plan.opaque)
        out.append(OutlineSection(_limit(s.heading),
                                  tuple(_limit(h) for h in subs[:MAX_SUBHEADINGS]),
                                  tuple(kws)))
    # the outline must fit the idea schema (H2s + H3s ≤ MAX_OUTLINE_ITEMS)
    while sum(1 + len(s.subheadings) for s in out) > MAX_OUTLINE_ITEMS:
        widest = max(range(len(out)), key=lambda i: (len(out[i].subheadings), -i))
        sec = out[widest]
        out[widest] = OutlineSection(sec.heading, sec.subheadings[:-1], sec.keywords)
    return tuple(out), max(3, items)


def estimate_words(outline: Sequence[OutlineSection]) -> int:
    """Intro + 200 words per H2 + 120 per H3, to the nearest 50 (100..20000)."""
    raw = WORDS_INTRO + sum(WORDS_PER_H2 + WORDS_PER_H3 * len(s.subheadings) for s in outline)
    return max(100, min(20000, round(raw / 50.0) * 50))


# -- titles and descriptions -------------------------------------------------------------------


def title_for(plan: Plan, structure: str, items: int = 5) -> str:
    """A readable title for the structure (module doc, step 4); `items` is a listicle's
    number. Variants are chosen by the topic, never at random."""
    t, many, a_t = plan.t, plan.many, plan.a_t
    n = items
    buyer = plan.intent in ("commercial", "transactional")
    a, b = plan.sides
    if plan.versus and structure in ("guide", "how_to", "listicle", "review", "faq",
                                     "pillar"):
        options = {
            "guide": [f"{a} vs {b}: A Complete Guide", f"{a} vs {b}: Everything to Know"],
            "how_to": [f"How to Choose Between {a} and {b}"],
            "listicle": [f"{n} Differences Between {a} and {b}"],
            "review": [f"{a} vs {b}: An Honest Review"],
            "faq": [f"{a} vs {b}: Your Questions Answered"],
            "pillar": [f"{a} vs {b}: The Complete Resource"],
        }[structure]
    elif structure == "listicle":
        if plan.priced:
            options = [f"{n} Ways to Save on {t}", f"{t}: {n} Ways to Pay Less"]
        elif plan.brand and not plan.plural_topic:
            options = [f"{n} Things to Know About {t}", f"{t}: {n} Things to Know"]
        elif not buyer and plan.has_cue("tips", "ideas", "ways to", "examples"):
            options = [f"{n} {t} Tips That Actually Help", f"{n} Practical {t} Tips"]
        elif buyer or plan.has_cue("best", "top", "top rated"):
            options = [f"The {n} Best {many}", f"{n} Best {many}, Compared",
                       f"The Best {many}: {n} Top Picks"]
        else:
            options = [f"{n} Things to Know About {t}", f"{n} Essential Facts About {t}"]
    elif structure == "how_to":
        if plan.task:
            options = [f"How to {plan.task}: A Step-by-Step Guide",
                       f"How to {plan.task} (Step by Step)",
                       f"How to {plan.task} the Right Way"]
        elif plan.priced:
            options = [f"How to Estimate {t}: A Step-by-Step Guide",
                       f"How to Work Out {t}, Step by Step"]
        elif buyer:
            options = [f"How to Choose {a_t}: A Step-by-Step Guide",
                       f"How to Pick the Right {t}"]
        else:
            options = [f"How to Get Started with {a_t}", f"How to Make the Most of {a_t}"]
    elif structure == "comparison":
        if a:
            options = [f"{a} vs {b}: Which Is Better?", f"{a} vs {b}: Key Differences Explained"]
        elif plan.brand or plan.has_cue("alternative", "alternatives", "alternatives to",
                                        "alternative to", "competitors"):
            alternatives = _suffix(t, "Alternatives")
            options = [f"The Best {alternatives}, Compared",
                       f"{alternatives}: How the Options Stack Up"]
        else:
            options = [f"{many} Compared: How to Pick the Right One",
                       f"Comparing {many}: What Really Matters"]
    elif structure == "review":
        if plan.priced:
            options = [f"{t}: What People Actually Pay", f"{t}: Is It Worth It?"]
        elif plan.brand or not plan.countable:
            review = _suffix(t, "Review")
            options = [f"{review}: Is It Worth It?", f"{review}: The Good and the Bad"]
        else:
            reviews = _suffix(plan.one, "Review") + "s"
            options = [f"{reviews}: What Buyers Should Know",
                       f"{reviews}: What Owners Really Think"]
    elif structure == "faq":
        if plan.primary.is_question:
            options = [plan.primary.question(title=True) + " Your Questions Answered"]
        else:
            options = [f"{t}: Your Questions Answered",
                       f"{t} FAQ: Answers to Common Questions"]
    elif structure == "pillar":
        options = [f"The Ultimate Guide to {t}", f"{t}: The Complete Resource"]
    elif structure == "news":
        options = [f"{t} News: What's Changed and Why It Matters"]
    elif plan.intent == "transactional":
        options = [f"{t} Buying Guide: What to Know Before You Buy"]
    else:
        options = [f"{t}: A Complete Guide", f"{t}: A Beginner's Guide",
                   f"Everything You Need to Know About {a_t}",
                   f"{t} Explained: A Practical Guide"]
    return _limit(options[stable_index(plan.primary.analysis.normalised + structure,
                                       len(options))])


_STRUCTURE_NAME = {"guide": "A guide", "how_to": "A step-by-step how-to",
                   "listicle": "A list article", "comparison": "A comparison",
                   "review": "A review", "news": "A news piece", "pillar": "A pillar page",
                   "faq": "A question-and-answer piece"}
_READERS: dict[str, str] = {
    "informational": "readers who want to understand {topic}",
    "commercial": "readers comparing {topic} options before they buy",
    "transactional": "readers who are ready to buy {topic}",
    "navigational": "readers looking for {topic}",
}


def _join(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def description_for(plan: Plan, structure: str, outline: Sequence[OutlineSection]) -> str:
    topic = " ".join(plan.topic).lower()
    readers = _READERS[plan.intent].format(topic=topic)
    named = [k.text for k in plan.keywords[:3]]
    more = len(plan.keywords) - len(named)
    kws = _join(named + ([f"{more} more"] if more > 0 else []))
    return (f"{_STRUCTURE_NAME[structure]} for {readers}. It targets {kws} across "
            f"{len(outline)} sections, from \u201c{outline[0].heading}\u201d to "
            f"\u201c{outline[-1].heading}\u201d.")


def target_keywords(plan: Plan) -> tuple[str, ...]:
    texts = [k.text for k in plan.keywords] + list(plan.opaque)
    return tuple(texts[:MAX_TARGET_KEYWORDS])


def idea_for(plan: Plan, structure: str) -> IdeaDraft:
    outline, items = _outline(plan, structure)
    return IdeaDraft(
        title=title_for(plan, structure, items),
        description=description_for(plan, structure, outline),
        content_type=CONTENT_TYPE_OF[structure], content_structure=structure,
        target_keywords=target_keywords(plan), outline=outline,
        estimated_word_count=estimate_words(outline))


def generate_ideas(cluster: ClusterBrief, count: int = 3) -> tuple[IdeaDraft, ...]:
    """`count` ideas for the cluster, each of a different structure, best first."""
    if not 1 <= count <= MAX_IDEAS:
        raise ValueError(f"count must be 1..{MAX_IDEAS}")
    plan = plan_keywords(cluster.keywords, name=cluster.name, intent=cluster.intent)
    ideas: list[IdeaDraft] = []
    titles: set[str] = set()
    for structure in rank_structures(plan):
        if len(ideas) == count:
            break
        idea = idea_for(plan, structure)
        if normalise(idea.title) in titles:
            continue
        titles.add(normalise(idea.title))
        ideas.append(idea)
    return tuple(ideas)
