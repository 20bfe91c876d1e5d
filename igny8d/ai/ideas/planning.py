"""A cluster's plan: its keywords grouped by shared terms, its intent and topic, its structures.

The primary keyword (the cluster's name, else the highest-volume one) gives the cluster's
topic; its stems are the *core*. Every other keyword is grouped by *shared terms*: by its most
common non-core stem (its *facet*: "conical burr grinder" and "best conical burr coffee grinder"
share "conic"), or, when it has none, by its angle. The structures are ranked by the share of
the cluster's volume whose keywords carry their cues, plus a prior from the cluster's intent.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cache

from igny8d import text as english
from igny8d.ai.cluster import KeywordItem
from igny8d.ai.ideas.analysis import (
    NAME_TIERS,
    NOUN_TAILS,
    RANKED,
    Keyword,
    analyse_keyword,
    angle_of,
    for_audience,
    verbs_in,
)
from igny8d.ai.ideas.asks import LOCAL, LOCAL_CUES, ask_of
from igny8d.ai.ideas.grammar import (
    TRAILING_ADVERBS,
    brand_cased,
    countable,
    head_end,
    head_is_plural,
    is_model,
    is_plural,
    plural_phrase,
    singular_phrase,
    title_case,
)
from igny8d.ai.ideas.words import idea_words
from igny8d.ai.intent import PLACE_TAILS, UNREAD_CONFIDENCE, lone_name, request_names
from igny8d.ai.text import Analysis, analyse, normalise, stem, vocabulary
from igny8d.vocab import CONTENT_STRUCTURES, INTENT_PRECEDENCE, Intent

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
    #: the topic is one thing the request itself names ("victorinox fibrox review", "best egg
    #: login": `intent.request_names`), singular: one product or company, not a kind
    named: bool = False

    @property
    def t(self) -> str:
        """The topic title-cased: "Coffee Grinder", "CRM for Real Estate"."""
        return title_case(self.topic)

    @property
    def countable(self) -> bool:
        end = head_end(self.topic)
        return bool(end) and not self.brand and (countable(self.topic[end - 1]) or
                                                 is_plural(self.topic[end - 1]))

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
            normalise(self.topic[-1]) in idea_words().price_words

    @property
    def price_of(self) -> bool:
        """The topic is the price of something, its head before a qualifier ("average *cost*
        of a wedding"); `priced` reads only a price word at the end ("Solar Panel Cost")."""
        end = head_end(self.topic)
        return not self.brand and 0 < end < len(self.topic) and \
            normalise(self.topic[end - 1]) in idea_words().price_words

    @property
    def plural_topic(self) -> bool:
        return head_is_plural(self.topic)

    @property
    def a_t(self) -> str:
        """"a Coffee Grinder", "an Espresso Machine", "Pour Over Coffee", "Coffee Beans"; a
        job done has no article ("Pest Control", "Meal Delivery"), unless it is one visit
        ("a Termite Inspection")."""
        words = list(self.topic)
        end = head_end(words)
        job = self.hired and end and normalise(words[end - 1]) not in _COUNTED_JOBS
        if not self.countable or self.plural_topic or job:
            return self.t
        t = self.t
        return f"{english.indefinite_article(t)} {t}"

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
        second_person = idea_words().second_person
        # a how-to in the request's own words first ("how to rotate a mattress"), then a
        # task typed bare ("flip or rotate mattress")
        for k in sorted(self.keywords, key=lambda k: k.bare):
            if k.task:
                words = [second_person.get(w.lower(), w) for w in k.topic_words]
                return title_case(_with_articles(words, self._counted_nouns) if k.bare
                                  else words)
        signs_in = self.has_cue("login", "log in", "sign in", "signin")
        if self.intent == "navigational" and signs_in:
            # the destination: a brand the lexicon knows, else the topic ("netflix login")
            brands = self.primary.analysis.brands
            return "Sign In to " + (title_case(brands[0].split()) if brands else self.t)
        return self._noun_task()

    @property
    def _counted_nouns(self) -> frozenset[str]:
        """Stems of the nouns the cluster itself counts: the head of a noun phrase a keyword
        writes after "a" or "an" ("can i host *a website* on my own computer")."""
        iw, stop = idea_words(), vocabulary().stopwords
        nouns: set[str] = set()
        for k in self.keywords:
            t = k.analysis.tokens
            for i, w in enumerate(t):
                if w not in ("a", "an"):
                    continue
                phrase = list(itertools.takewhile(
                    lambda x: x not in iw.prepositions and x not in stop, t[i + 1:i + 4]))
                if phrase:
                    nouns.add(stem(phrase[-1]))
        return frozenset(nouns)

    def _noun_task(self) -> str | None:
        """The task a topic names with a noun ("monstera care" → "Care for a Monstera",
        "electric car maintenance" → "Maintain an Electric Car"), or a thing the cluster
        makes at home ("diy fruit fly trap" → "Make a Fruit Fly Trap"; a job or a service
        done oneself is not made: "diy pest control", "diy haircut"), for a reader who
        wants to do it: not a local search, which hires it done, nor a brand."""
        words = list(self.topic)
        end = head_end(words) or len(words)
        verb = _NOUN_TASKS.get(normalise(words[end - 1])) if end >= 2 else None
        obj = words[:end - 1]
        head = normalise(words[end - 1]) if words else ""
        if verb is None and words and countable(words[end - 1]) and \
                not is_plural(words[end - 1]) and not self.hired and head not in _SERVICES and \
                stem(head) not in vocabulary().task_stems and \
                (self.has_cue("diy") or
                 any("homemade" in k.analysis.tokens for k in self.keywords)):
            verb, obj = "Make", words[:end]  # one thing made, not "Make Woodworking Projects"
        if verb is None or self.intent != "informational" or self.local or self.brand or \
                self.versus:
            return None
        t = title_case(obj)
        if countable(obj[-1]) and not is_plural(obj[-1]):
            t = f"{english.indefinite_article(t)} {t}"
        return f"{verb} {t}"

    @property
    def bare_sides(self) -> tuple[str, str]:
        """The sides without a qualifier only one of them carries: "memory foam vs hybrid
        for back pain" compares "Memory Foam" and "Hybrid" (for back pain)."""
        prepositions = idea_words().prepositions - {"vs"}

        def bare(side: str) -> str:
            words = side.split()
            at = next((i for i, w in enumerate(words) if i and w.lower() in prepositions),
                      len(words))
            return " ".join(words[:at])
        return bare(self.sides[0]), bare(self.sides[1])

    @property
    def qualified(self) -> bool:
        """The topic's head is followed by a qualifier ("running shoes *for flat feet*")."""
        prepositions = idea_words().prepositions - {"vs"}
        return not self.versus and any(normalise(w) in prepositions for w in self.topic[1:])

    @property
    def goods(self) -> tuple[str, bool]:
        """What a buyer buys, title-cased, and whether it is counted: the topic without its
        price word, plural where it can be ("Lawn Mowers"; "Car Insurance", False)."""
        words = list(self.topic)
        while len(words) > 1 and normalise(words[-1]) in TRAILING_ADVERBS:
            words.pop()  # "mortgage rates today"
        quoted = False
        if len(words) > 1 and normalise(words[-1]) in idea_words().price_words:
            quoted = normalise(words[-1]) in ("rate", "rates", "quote", "quotes")
            words.pop()
        if self.brand:
            return title_case(words), True
        end = head_end(words)
        head = normalise(words[end - 1]) if end else ""
        if len(head) == 1 or is_model(head):
            # a model ("Tesla Model Y", "iPhone 15"): bought one at a time, no plural
            one = title_case(words)
            return f"{english.indefinite_article(one)} {one}", True
        if quoted and end and countable(words[end - 1]):
            # a mortgage or a policy is taken out one at a time: "a Mortgage"
            one = title_case(singular_phrase(words))
            return f"{english.indefinite_article(one)} {one}", False
        if end and (countable(words[end - 1]) or is_plural(words[end - 1])):
            return title_case(plural_phrase(words, options=False)), True
        return title_case(words), False

    def listed(self, word: str) -> str:
        """The topic with `word` after its head, before a qualifier: "Gift Ideas for Dad",
        "Budgeting Tips for Students" (not "Gift for Dad Tips")."""
        words = list(self.topic)
        end = head_end(words) or len(words)
        if end and stem(normalise(words[end - 1])) == stem(normalise(word)):
            return self.t
        return title_case([*singular_phrase(words[:end]), word, *words[end:]])

    @property
    def provider(self) -> tuple[str, str, str]:
        """Who a local search hires, as (one, many, one with its article): the topic when it
        names one ("Plumber"), else the topic plus "Service" when it names a job ("HVAC
        Repair Service", "Dog Training Services"), not "an HVAC Repair"."""
        words = list(self.topic)
        end = head_end(words) or len(words)
        if self.hired:
            words = [*words[:end], "service", *words[end:]]
            one = title_case(words)
            return one, title_case(plural_phrase(words, options=False)), \
                f"{english.indefinite_article(one)} {one}"
        return self.one, self.many, self.a_t

    @property
    def tool(self) -> bool:
        """The topic is a tool the reader uses ("meal prep calculator", "budget template"):
        a how-to shows how to use it, it does not "make the most of" it."""
        words = list(self.topic)
        end = head_end(words) or len(words)
        return bool(words) and normalise(words[end - 1]) in _TOOLS

    @property
    def owned(self) -> bool:
        """The topic is one product of the lists a reader has ("a standing *desk*" is none,
        "an espresso *machine*" is): its how-to makes the most of it. Of anything else the
        cluster says nothing a how-to can teach ("Priority Pass", "Sun Salutation", "Aptive
        Pest Control"), and "How to Make the Most of a Priority Pass" guesses."""
        words = list(self.topic)
        end = head_end(words)
        return bool(end) and self.countable and not self.plural_topic and \
            stem(normalise(words[end - 1])) in vocabulary().product_stems

    @property
    def explained(self) -> bool:
        """The cluster asks what the topic is or how it works ("what is net metering", "fha
        loans explained", "how does a heloc work"): a concept, whose how-to walks through how
        it works, not "How to Make the Most of Net Metering". A "what is" asks it of a
        product (`text.vocabulary` product nouns) only as the primary keyword: one "what is
        a robot vacuum" among its keywords does not make "Robot Vacuum Explained" of its
        how-to."""
        words = list(self.topic)
        end = head_end(words)
        product = bool(end) and stem(normalise(words[end - 1])) in vocabulary().product_stems
        defines = self.primary.analysis.normalised if product else None
        return not (self.brand or self.versus) and any(
            (ask_of(k.text) == "definition" and defines in (None, k.analysis.normalised)) or
            "explained" in k.cues or _HOW_IT_WORKS.match(k.analysis.normalised)
            for k in self.keywords)

    @property
    def works(self) -> str:
        """The concept's how-to heading: "How a HELOC Works" when a keyword asks how it works,
        else "Net Metering Explained" (no "How a Niacinamide Works": "a" and "works" need a
        countable thing with a mechanism, which only the question vouches for)."""
        for k in self.keywords:
            if _HOW_IT_WORKS.match(k.analysis.normalised):
                # the question's own subject, article and number: "how does *the ev tax
                # credit* work", "how does *escrow* work", "how do *solar panels* work"
                verb = "work" if k.analysis.tokens[1] == "do" else "works"
                return title_case(["how", *k.display[2:-1], verb])
        return f"{self.t} Explained"

    @property
    def hired(self) -> bool:
        """The topic names a job someone is hired for ("hvac repair", "dog training")."""
        words = list(self.topic)
        end = head_end(words) or len(words)
        head = normalise(words[end - 1]) if words else ""
        return head in _JOBS or (head.endswith("ing") and not countable(head))

    @property
    def short_answer(self) -> str:
        """The heading that answers the primary keyword's own question ("How Long to Boil
        Eggs: The Short Answer"); a colon, so that the brief's running text stops at it."""
        return f"{self.primary.question(title=True).rstrip('?')}: The Short Answer"

    @property
    def destination(self) -> str:
        """The primary keyword title-cased as the place a navigational search wants
        ("Netflix Login", "Chase Customer Service")."""
        return self.primary.subheading()

    @property
    def ask(self) -> str:
        """What the primary keyword asks (`asks.ask_of`): frequency, question, best, local…"""
        return ask_of(self.primary.text)

    @property
    def local(self) -> bool:
        return self.ask == "local"

    def has_cue(self, *cues: str) -> bool:
        return any(k.cues & set(cues) for k in self.keywords)

    @property
    def choosing(self) -> bool:
        """The primary keyword asks which one to get ("what power supply do i need", "which
        tent should i buy"): its how-to teaches choosing, not "making the most of" one."""
        return bool(_CHOOSING.match(self.primary.analysis.normalised))

    @property
    def store(self) -> bool:
        """The topic is a named place to visit: a name the cluster searches two ways a place
        is searched, of its hours, its locations and near me ("micro center hours" and "micro
        center near me"); a store page, not "Where to Buy Micro Center". One is no evidence:
        software and jobs have hours too ("quickbooks hours", "billable hours"), and "store"
        alone none ("shopify store" is online)."""
        signs: set[str] = set()
        for k in self.keywords:
            signs |= _PLACE_WORDS & set(k.analysis.tokens)
            if LOCAL.search(k.analysis.normalised):
                signs.add("near me")
        return self.brand and not self.versus and len(signs) >= 2

    @property
    def sold(self) -> bool:
        """A local search for goods, not for a provider: a keyword buys the topic ("where to
        buy a standing desk near me") or names a shop that sells it ("discount mattress
        *store* near me", "mattress *outlet*"): "Where to Buy a Standing Desk Near You", not
        "How to Find a Good Standing Desk Near You". A product noun of the lists is no
        evidence ("personal loans near me" are no goods), nor a topic that is the shop
        itself ("mattress store near me"). Not bought by the searcher: "buy" said by a
        buyer ("*we* buy houses near me", "companies that buy gold"), a cluster that sells
        ("sell my house fast", "gold buyers", "cash for gold"), nor a shop named by its
        trade ("*pawn* shop", "*coffee* shop": a café, not coffee sold)."""
        if not self.local or self.brand or self.versus or self.hired:
            return False
        topic = tuple(stem(normalise(w)) for w in self.topic)
        size = len(topic)
        if not size or topic[-1] in _SELLERS:
            return False
        tokens = [tuple(stem(w) for w in k.analysis.tokens) for k in self.keywords]
        if any(w in _SELLING for t in tokens for w in t) or \
                any("cash for" in k.analysis.normalised for k in self.keywords):
            return False
        for t in tokens:
            for i in range(len(t) - size + 1):
                at = t[i:i + size] == topic
                after = t[i + size] if at and i + size < len(t) else ""
                buy = i - 1 if at and i and t[i - 1] == "buy" else \
                    i - 2 if at and i > 1 and t[i - 1] in ("a", "an") and t[i - 2] == "buy" \
                    else -1
                if at and ((after in _SELLERS and topic[-1] not in _TRADES) or
                           (buy >= 0 and (buy == 0 or t[buy - 1] not in _BUYERS))):
                    return True
        return False

    @property
    def coupons(self) -> bool:
        """The primary keyword wants a discount code at a store ("surfshark coupon")."""
        return bool(self.primary.cues & COUPON_CUES)


#: A question about how a thing works ("how does a heloc work", "how do solar panels work").
_HOW_IT_WORKS = re.compile(r"^how (does|do) .+ work$")
#: A question about which one to get.
_CHOOSING = re.compile(r"^(what|which) .+ (do i need|should i (get|buy|use|choose))\b")
#: Words that say a named thing is a place one goes to: the tails that make a request name
#: of a place (`intent.PLACE_TAILS`, "best buy hours"), one list for both readings; not
#: "location" ("iphone location services").
_PLACE_WORDS = frozenset({w for tail in PLACE_TAILS for w in tail})
#: Shops that sell a thing, after its name ("mattress *outlet* near me"), stemmed.
_SELLERS = frozenset(stem(w) for w in ("store", "shop", "outlet", "dealer", "retailer",
                                        "showroom", "warehouse"))
#: Who buys from the searcher, before "buy" ("*we* buy houses", "companies *that* buy
#: gold"), stemmed.
_BUYERS = frozenset(stem(w) for w in ("we", "i", "who", "that", "companies", "company"))
#: Words of a cluster that sells to a buyer ("sell my house fast", "gold buyers"), stemmed.
_SELLING = frozenset(stem(w) for w in ("sell", "selling", "sold", "buyer", "buyers"))
#: Shops named by their trade, not by goods they sell ("*pawn* shop", "*print* shop",
#: "*coffee* shop", "*body* shop"), stemmed.
_TRADES = frozenset(stem(w) for w in ("pawn", "print", "coffee", "body", "repair", "thrift",
                                       "dollar", "convenience", "barber", "tattoo", "auto",
                                       "smoke"))
#: Modifiers of a search for what to get instead of a named thing.
ALTERNATIVE_CUES = frozenset({"alternative", "alternatives", "alternatives to",
                              "alternative to", "competitors"})
#: Modifiers of a search for a store's discount codes.
COUPON_CUES = frozenset({"coupon", "coupons", "coupon code", "coupon codes", "promo code",
                         "promo codes", "discount code", "discount codes", "voucher",
                         "vouchers", "voucher code", "promo"})


#: Nouns that name a task, and the verb that does it ("monstera *care*": "Care for").
_NOUN_TASKS = {"care": "Care for", "maintenance": "Maintain", "installation": "Install",
               "cleaning": "Clean", "removal": "Remove", "replacement": "Replace",
               "assembly": "Assemble", "propagation": "Propagate", "pruning": "Prune",
               "repotting": "Repot", "storage": "Store", "winterizing": "Winterize"}
#: Head nouns of tools a reader uses rather than buys or learns about.
_TOOLS = frozenset({"calculator", "calculators", "template", "templates", "checker",
                    "generator", "converter", "tracker", "planner", "spreadsheet", "worksheet",
                    "checklist", "estimator", "finder", "chart", "charts", "quiz", "test"})

#: Jobs a local search hires someone for: the provider is "… Service" ("HVAC Repair Service").
_JOBS = frozenset({"repair", "repairs", "installation", "install", "removal", "inspection",
                   "replacement", "maintenance", "cleanup", "detailing", "moving", "control",
                   "care", "prep", "delivery", "disposal", "extermination",
                   "treatment", "restoration", "remediation", "abatement", "haul", "hauling",
                   "tune", "tuneup", "checkup"})

#: Jobs done in one visit, counted like things ("a Termite Inspection", "a Furnace Repair").
_COUNTED_JOBS = frozenset({"inspection", "installation", "install", "replacement", "removal",
                           "repair", "checkup", "tuneup"})
#: Services done to a person, which a "diy" keyword does oneself, never makes ("diy haircut").
_SERVICES = frozenset({"haircut", "manicure", "pedicure", "massage", "facial", "tattoo",
                       "piercing", "wax", "tan", "perm", "makeover", "workout"})


def _with_articles(words: Sequence[str], counted: frozenset[str]) -> list[str]:
    """A task typed bare with the articles a keyword leaves out ("host website on home
    server" → "host a website on home server"), where they are sure: only on the verb's
    direct object, or the object of "for" ("prequalify for a personal loan"), that has no
    determiner and ends on a countable, singular noun the project knows: a product of the
    lists, or one the cluster writes with "a" itself (`counted`, "can i host *a website*").
    Never after a preposition of time or place ("at night", "in snow", "on home server"),
    on a mass noun or a word after the noun ("oil", "money online", "credit fast"), a gerund
    ("without *affecting* credit") or a particle ("set *up* tent"): those are left as
    typed, which reads better than a wrong article ("a Money Online", "at a Night")."""
    iw, v = idea_words(), vocabulary()
    known = v.product_stems | v.bookable_stems | counted
    out = list(words[:1])
    rest = list(words[1:])
    while rest and normalise(rest[0]) in iw.particles:
        out.append(rest.pop(0))
    takes = True  # the direct object first
    while rest:
        if normalise(rest[0]) in iw.prepositions:
            takes = normalise(rest[0]) == "for"
            out.append(rest.pop(0))
            continue
        end = next((i for i, w in enumerate(rest) if normalise(w) in iw.prepositions),
                   len(rest))
        phrase, rest = rest[:end], rest[end:]
        first, head = normalise(phrase[0]), normalise(phrase[-1])
        if takes and first not in v.stopwords and not first.endswith("ing") and \
                not YEAR_OR_NUMBER.match(first) and countable(head) and \
                not is_plural(head) and stem(head) in known:
            out.append(english.indefinite_article(title_case(phrase)))
        out.extend(phrase)
        takes = False
    return out


#: A number or a year, which counts its noun itself ("change 2 tires").
YEAR_OR_NUMBER = re.compile(r"^\d")


def _ranked(name: str, analyses: Iterable[Analysis]) -> bool:
    """Whether a keyword ranks `name` ("best tv series" beside "tv series review"): then it
    is a kind of thing, whatever its review says; not its alternatives ("best cutco
    alternatives" ranks other knives)."""
    words = tuple(name.split())
    size = len(words)
    for a in analyses:
        t = a.tokens
        for i in range(len(t) - size):
            if t[i] in RANKED and t[i + 1:i + 1 + size] == words and \
                    " ".join(t[i + 1 + size:i + 2 + size]) not in ALTERNATIVE_CUES:
                return True
    return False



def _order(k: Keyword) -> tuple[int, str, str]:
    return (-k.volume, k.analysis.normalised, k.text)


def _vote_intent(keywords: Sequence[Keyword], site: bool) -> Intent:
    """The cluster's intent: its keywords' votes by volume and confidence. A name typed alone
    with no cue ("carfax", `intent.lone_name`) votes as the topic it was read as before it
    was read as a name: whether the searcher wants the brand's site or a page about it is
    the rest of the cluster's to say, and a page about it suits both ("Everything You Need
    to Know About Cutco"); as a navigational vote it handed plans to a smaller keyword's weak
    cue ("free carfax": "The 4 Best Carfaxes"). A cluster that signs in to it or calls it
    ("kronos login", "eargo customer service"; `site`, `_shows_a_site`) says it is a site:
    there the name votes as read ("Kronos: How to Sign In and Fix Common Problems")."""
    votes: dict[Intent, float] = defaultdict(float)
    for k in keywords:
        if k.intent.intent == "navigational" and not k.intent.cues and not site and \
                lone_name(k.analysis):
            votes["informational"] += (k.volume + 1) * UNREAD_CONFIDENCE
        else:
            votes[k.intent.intent] += (k.volume + 1) * k.intent.confidence
    best = max(votes.values())
    return next(i for i in INTENT_PRECEDENCE if votes.get(i) == best)


def _shows_a_site(keywords: Sequence[Keyword]) -> bool:
    """Whether a keyword of the cluster asks for a site's own page: its sign-in, app, menu,
    hours, help line or address ("kronos login", "chipotle menu", "cutco.com"). Read from
    the analysis's modifiers, which keep the words a head also keeps ("app", "menu")."""
    site = _site_cues()
    return any(site.intersection(k.analysis.modifiers) for k in keywords)


@cache
def _site_cues() -> frozenset[str]:
    return frozenset(m for m, i in vocabulary().modifiers.items() if i == "navigational")


def _is_core(word: str, core_stems: frozenset[str], core_compact: str) -> bool:
    w = normalise(word)
    return stem(w) in core_stems or (len(w) >= 4 and w in core_compact) or \
        w in vocabulary().stopwords


def names_in(keywords: Iterable[str]) -> frozenset[str]:
    """The names the request shows (`intent.request_names`, with modifiers: "best egg login"),
    less those a keyword ranks ("best tv series"): normalised, "victorinox fibrox". A name
    only an hours, locations or website tail shows (`analysis.NOUN_TAILS`) needs a second
    sign: the request searches it another way too ("micro center hours" and "micro center
    near me"), as these tails follow plenty of common nouns ("billable hours", "office
    hours", "wedding website"); a menu, app or download tail is sign enough ("hello fresh
    menu")."""
    analyses = [analyse(" ".join(k.split())) for k in keywords]
    sure = request_names(analyses, site_tails=False, modifiers=True)
    shown = sure | {n for n in request_names(analyses, modifiers=True) - sure
                    if len(ways := _ways_searched(n, analyses)) >= 2 or
                    any(rest not in _NOUN_TAILS for rest in ways)}
    return frozenset(n for n in shown if not _ranked(n, analyses)) | _lines_of(analyses)


def _lines_of(analyses: Sequence[Analysis]) -> frozenset[str]:
    """Names made of a ranking word and a word, typed alone, that the rest of the request
    only ever searches for one product of the lists, once with words between ("best egg",
    "best egg loans", "best egg personal loan": the lender Best Egg). A ranked kind is
    followed by its own kinds ("best laptop", "best laptop bag", "best laptop for
    students"), never always by one product; an acronym of the lists ("best vpn") or a
    product noun ("best laptop") ranks a kind whatever follows it, and so does a word that
    describes the kind: a gerund, an adjective or any word of the lists ("best *gaming*
    laptop", "best *cheap* phone", "best *wireless* headphones"), not "The 4 Best Best
    Cheaps"."""
    v = vocabulary()
    names: set[str] = set()
    for a in analyses:
        t = a.tokens
        if len(t) != 2 or t[0] not in RANKED or _describes(t[1]):
            continue
        rest = [b.tokens[2:] for b in analyses if b.tokens != t]
        if len(rest) >= 2 and all(b.tokens[:2] == t for b in analyses) and \
                len({stem(r[-1]) if r else "" for r in rest}) == 1 and \
                stem(rest[0][-1] if rest[0] else "") in v.product_stems and \
                any(len(r) > 1 for r in rest):
            names.add(" ".join(t))
    return frozenset(names)


def _describes(word: str) -> bool:
    """Whether a word after a ranking word describes the kind ranked rather than naming a
    line: a gerund ("gaming"), a word with an adjective's ending ("wireless", "portable",
    "organic") or a word of the project's lists (a modifier such as "cheap", a product, a
    task, an acronym, a trailing adjective, a mass noun)."""
    v, iw = vocabulary(), idea_words()
    s = stem(word)
    return word.endswith(_ADJECTIVE_ENDINGS) or word in v.modifiers or \
        word in v.stopwords or s in v.product_stems or s in v.bookable_stems or \
        s in v.task_stems or word in iw.acronyms or word in iw.trailing_adjectives or \
        word in iw.uncountable or word in iw.keep_in_topic or word in iw.audiences


#: Endings of gerunds and adjectives ("gaming", "wireless", "portable", "organic").
_ADJECTIVE_ENDINGS = ("ing", "less", "ful", "able", "ible", "ive", "ous", "ic", "al", "ish")


#: The `analysis.NOUN_TAILS` as the rest of a keyword after a name.
_NOUN_TAILS = frozenset((w,) for w in NOUN_TAILS)


def _ways_searched(name: str, analyses: Sequence[Analysis]) -> set[tuple[str, ...]]:
    """The ways the request searches a name, spaced or glued: alone, or with a tail that
    names it or a local cue after it ("micro center", "micro center hours", "micro center
    near me"; "expressvpn.com" for "express vpn")."""
    words = tuple(name.split())
    glued = "".join(words)
    ways: set[tuple[str, ...]] = set()
    for a in analyses:
        t = a.tokens[1:] if a.tokens[:1] == ("the",) else a.tokens
        if t[:len(words)] == words:
            rest, spelled = t[len(words):], name
        elif len(words) > 1 and t[:1] == (glued,):
            rest, spelled = t[1:], glued  # "express vpn website" beside "expressvpn.com"
        else:
            continue
        if not rest or " ".join(rest) in LOCAL_CUES or \
                spelled in request_names([a], modifiers=True):
            ways.add(rest)
    return ways


def request_reading(keywords: Iterable[str]) -> tuple[frozenset[str], frozenset[str]]:
    """What the whole request shows of each of its keywords: the names (`names_in`) and the
    words it uses as verbs (`analysis.verbs_in`); the ideas and the article read it alike."""
    listed = [" ".join(k.split()) for k in keywords]
    return names_in(listed), verbs_in(analyse(k) for k in listed)


def plan_keywords(items: Iterable[KeywordItem | tuple[str, int]], *, name: str = "",
                  intent: Intent | None = None, primary: str | None = None,
                  names: frozenset[str] | None = None,
                  verbs: frozenset[str] | None = None) -> Plan:
    """Take a cluster's keywords apart and group them (package doc, step 1). `primary`
    (else `name`) names the primary keyword when it is among them; else the highest volume
    is. A keyword given twice counts once. Names the request shows (`names_in`, else `names`
    when the items are only part of the request) are read as names in every keyword, and
    so are the words it uses as verbs (`analysis.verbs_in`, else `verbs`): "host website on
    home server" beside "can i host a website…" is a task."""
    keep_in_topic = idea_words().keep_in_topic
    seen: dict[str, Keyword] = {}
    opaque: set[str] = set()
    given = [(i.text, i.volume, i.intent) if isinstance(i, KeywordItem) else (i[0], i[1], None)
             for i in items]
    if names is None or verbs is None:
        shown, used = request_reading(t for t, _v, _i in given)
        names = shown if names is None else names
        verbs = used if verbs is None else verbs
    for text, volume, said in given:
        k = analyse_keyword(text, volume, said, names, verbs)
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
        k = analyse_keyword(primary, 0, intent, names, verbs)
        seen[k.text] = k
    if not seen and name and normalise(name):
        k = analyse_keyword(name, 0, intent, names, verbs)
        seen[k.text] = k
    if not seen:
        raise ValueError("no keyword or name with Latin letters or digits to plan from")
    ordered = sorted(seen.values(), key=_order)
    head = find(primary) or find(name) or ordered[0]
    ordered = [head] + [k for k in ordered if k is not head]
    # a word the topic keeps ("rates" of "mortgage rates") is no angle for the other keywords
    kept = {normalise(w) for w in head.topic_words} & keep_in_topic
    if kept:
        ordered = [head] + [
            replace(k, angle=angle_of(k.cues - kept, k.analysis.tokens, k.task))
            if k.cues & kept else k for k in ordered[1:]]
    left, right = head.sides
    versus = bool(left and right)
    topic = head.topic_words if versus else \
        for_audience(head.subject_words or head.topic_words)
    if not versus and _modifiers_only(topic):
        # a primary of modifiers alone ("best cheap") names no thing: the next keyword that
        # does gives the topic ("best cheap laptop"), not "The 4 Best Best Cheaps"
        other = next((k for k in ordered[1:] if not k.sides[0] and
                      not _modifiers_only(k.topic_words)), None)
        if other is not None:
            topic = for_audience(other.subject_words or other.topic_words)
    core_words = head.topic_words
    core_stems = {stem(normalise(w)) for w in core_words}
    core_compact = "".join(normalise(w).replace(" ", "") for w in core_words)

    def extra_stems(k: Keyword) -> set[str]:
        return {stem(k.analysis.tokens[i]) for i in k.topic
                if k.analysis.tokens[i] not in keep_in_topic and
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
    # a name the request shows ("best egg login", "victorinox fibrox review") is a brand too
    # when it is the whole topic: "Best Egg", one "Victorinox Fibrox", no "Best Eggs" (a
    # brand's kind of thing, "renogy solar panels", stays a kind: "Solar Panel Reviews")
    named = normalise(" ".join(topic)) in names and \
        (len(topic) == 1 or not head_is_plural(topic))  # "QuickBooks" is one
    # a name only a brand's spelling shows, leading the topic ("onemain financial":
    # OneMain), as for a brand of the lists; not one after its head ("cameras for youtube"),
    # nor its price, which is saved on ("4 Ways to Save on ClickUp Pricing")
    cased_name = bool(topic) and brand_cased(normalise(topic[0])) is not None and \
        normalise(topic[-1]) not in idea_words().price_words
    site = _shows_a_site(ordered)
    voted = intent or _vote_intent(ordered, site)
    # a navigational cluster with no keyword asking for a site's page ("fitbit", "fitbit
    # watch"; "carfax" and "free carfax"; "riesling", a word read as a name) gets a page
    # about the name, whoever set the intent (voted here, stored by auto_cluster, a user):
    # "Where to Go" is for a site
    intent = "informational" if voted == "navigational" and not site else voted
    # a navigational reading that rests only on words typed alone ("wedding", "heloc": a
    # fifth of them are no names) does not make the topic a brand's ("a Wedding")
    branded = voted == "navigational" and any(
        k.intent.intent == "navigational" and not lone_name(k.analysis) for k in ordered)
    if _abbreviates(topic, ordered):
        topic = [topic[0].upper()]  # "ABRP", as "a better route planner" spells it
    # a navigational search names a destination: a brand whether or not the lexicon knows
    # it ("netflix login" is no "a Netflix"); so does a coupon search: "surfshark coupon"
    # saves at Surfshark, it buys no "Surfsharks"
    brand = branded or bool(head.cues & COUPON_CUES) or named or \
        any(normalise(w) in brand_words or normalise(w) in NAME_TIERS for w in topic) or \
        cased_name
    if brand and not versus and head.analysis.tokens[:1] == ("the",) and topic and \
            normalise(topic[0]) != "the":
        topic = [head.display[0], *topic]  # the name's own article: "The Farmer's Dog"
    return Plan(keywords=tuple(ordered), primary=head,
                intent=intent, topic=tuple(topic),
                groups=tuple(sorted(groups.values(), key=lambda g: (-g.volume, g.key))),
                sides=sides, versus=versus, brand=brand,
                opaque=tuple(sorted(opaque)), named=named)


def _modifiers_only(words: Sequence[str]) -> bool:
    """Whether a keyword's topic is only modifiers and stop words: the analysis found no
    thing in it and kept its words ("best cheap")."""
    v = vocabulary()
    return all(normalise(w) in v.modifiers or normalise(w) in v.stopwords for w in words)


def _abbreviates(topic: Sequence[str], keywords: Sequence[Keyword]) -> bool:
    """Whether the topic, one word of three letters or more, is the initials of a keyword's
    words ("abrp" beside "a better route planner"): an acronym, written in capitals. Only
    its casing: an acronym may be a name ("ABRP") or a kind ("a CDN"), and so may the
    phrase it abbreviates ("Private Internet Access", "a Content Delivery Network"). A
    phrase that has the word itself spells nothing out ("*bar* and restaurant", "*car*
    accident report": no "BAR"), nor is a word of the project's lists an acronym."""
    words = [normalise(w) for w in topic]
    return len(words) == 1 and len(words[0]) >= 3 and not _describes(words[0]) and \
        any(len(k.analysis.tokens) == len(words[0]) and words[0] not in k.analysis.tokens and
            "".join(w[0] for w in k.analysis.tokens) == words[0] for k in keywords)


#: What the primary keyword asks (`asks.ask_of`) adds to each structure's score: the first
#: idea answers the searcher's own question ("how often to replace X" is a question about an
#: interval, not a how-to; "X review" a review, whatever the other keywords say).
ASK_PRIOR: dict[str, dict[str, float]] = {
    "frequency": {"faq": 0.6, "guide": 0.4, "how_to": -0.5, "listicle": -0.3},
    "question": {"faq": 0.6, "guide": 0.4, "how_to": -0.5, "listicle": -0.3},
    "definition": {"guide": 0.6, "faq": 0.4, "comparison": -0.3},
    "howto": {"how_to": 0.6, "listicle": -0.3, "review": -0.3},
    "problem": {"guide": 0.6, "how_to": 0.3, "faq": 0.2, "listicle": -0.3, "review": -0.6,
                "comparison": -0.6},
    "comparison": {"comparison": 0.6},
    "best": {"listicle": 0.4},
    "review": {"review": 0.6},
    "buy": {"guide": 0.6, "listicle": -0.2},
    "local": {"guide": 0.6, "listicle": 0.2},
}


def rank_structures(plan: Plan) -> list[str]:
    """The structures, best first (package doc, step 2)."""
    structure_cues = idea_words().structure_cues
    total = sum(k.volume + 1 for k in plan.keywords)
    prior = INTENT_PRIOR[plan.intent]
    scores: dict[str, float] = {}
    for s in CONTENT_STRUCTURES:
        cues = structure_cues[s]
        share = sum(k.volume + 1 for k in plan.keywords if k.cues & cues) / total
        scores[s] = share + prior.get(s, 0.0)
    for s, extra in ASK_PRIOR.get(plan.ask, {}).items():
        scores[s] += extra
    if len(plan.keywords) >= 8 or sum(g.facet for g in plan.groups) >= 3:
        scores["pillar"] += 0.12
    if plan.sides[0]:
        scores["comparison"] += 0.2
    if plan.named and not plan.local and \
            not plan.has_cue("best", "top", "top rated", *ALTERNATIVE_CUES):
        # one named product is reviewed or explained; a list of it ("4 Best Victorinox
        # Fibroxes", "4 Things to Know About …") is a thin page nobody searched for
        scores["listicle"] -= 0.5
    if plan.versus:
        # a "vs" topic is a comparison, explained or answered, not a list of products
        scores["listicle"] -= 1.0
        scores["review"] -= 1.0
    ranked = sorted(CONTENT_STRUCTURES, key=lambda s: (-scores[s], CONTENT_STRUCTURES.index(s)))
    if scores["news"] <= prior.get("news", 0.0):
        ranked.remove("news")
        ranked.append("news")  # news only when something is news
    return ranked
