"""Rule-based search-intent classifier for the local provider.

A keyword's cues come from `igny8d.ai.text.analyse`: its modifiers (the documented cue lists,
one per intent), a leading question word ("is", "can"…), brand names and product nouns (as the
head noun: "table saw kickback" is about kickback, `text.head_noun`) — the
word lists of `text.vocabulary()` (igny8d/ai/data/keywords.json). A cue is *strong*
(an explicit modifier: "buy", "best", "login", "how to") or *weak* (a product noun, a brand next
to other terms, "online", "free", "app" without a brand). A brand of the lists opening a
keyword whose other words carry weak cues or none ("apple watch ultra") is the brand's page:
navigational, under the firm level (`_leading_brand`).

A cue is read in its context: a judgement of products by word order ("good X", "is X
good", "apps like X") is a strong commercial cue; a price or buy word inside a question or a
comparison ("how much does a wedding cost", "lease vs buy", "cost calculator") is
informational, and "order" is a purchase only as the first word ("order pizza", not "skincare
routine order"). A listicle, review or alternatives cue names the page whatever price, buy or
local word qualifies it ("best mortgage rates", "best dermatologist near me", "cheaper
alternative to jira", "better than X": commercial, eval/data/GUIDE.md), and a company's contact
page ending the keyword ("X customer service", "X phone number", "X webmail") is navigational
even for a company the brand list does not know. Two kinds weighed with "or" and no brand
("secured or unsecured loan") are research, as with "vs"; "msrp", "in stock", "black friday"
and, in a keyword that asks no question, "template", "printable", "refurbished" are
transactional, "worth the money" commercial (`_PAGE_PHRASES`), as is "rent" opening a keyword
as a verb ("rent a generator"); "download" after a brand is the brand's app (navigational).

A request tells names the lists do not hold: the words before a login, ".com", webmail,
customer-service, phone-number, coupon or promo-code tail ("kinsta login"), or an hours,
locations, menu, download, website or app tail (`_SITE_TAILS`) are a destination
for every keyword of the request, and so are the words before a "review", "pricing" or
"alternatives" tail when none is a common noun of the lists ("sony a7 iv review"; not
"table saw review") (`request_names`; the clustering and `auto_cluster` pass them).
Such a name decides a keyword only when it is the keyword with no question word ("rockler":
navigational; "how much is quickbooks" stays a question; "nanit app" the name's app page) or
what it compares ("kinsta vs wp engine": brands, commercial); beside other words it changes
nothing. A brand of the lists alone with a question or how-to is a question too ("how to
kayak", Kayak being a brand); with a sign-in it stays the site ("how to login to ikea").

Decision: the intents with strong cues compete first, then those with weak ones, and the winner
is the first in the precedence transactional > commercial > navigational > informational. With
no cue at all the keyword is informational at a low confidence, unless it is one word the lists
know nothing of ("skydio", "equifax"): typed alone, that is mostly a name, navigational just
under the firm level (`lone_name`; the writers of eval/data call 80 % of them navigational).

Confidence (0..1): strong winner 0.65 + 0.1 per extra strong cue for it (≤ 0.95), less 0.1
when another intent also had a strong cue; weak winner 0.4 (+0.05 per extra, ≤ 0.5);
no cue 0.25, a lone name 0.3, a brand opening other words 0.35. `is_firm` (confidence ≥ 0.4:
any other cue, strong or weak) is what the clustering uses to refuse merges across
conflicting intents — a product noun ("pour over coffee maker") is not the page of a how-to
("how to make pour over coffee"); a keyword with no cue at all (a lone name included), or
read only as a brand's page, never blocks a merge. (Strong cues only, the
earlier rule, measured 0.607 ARI on eval/data's dev set; any cue 0.613, and the in-repo gold
set's product pages stopped absorbing its how-tos.)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from igny8d.ai.text import (
    DOMAIN,
    Analysis,
    analyse,
    cues_with_brands,
    find_phrases,
    stem,
    vocabulary,
)
from igny8d.vocab import INTENT_PRECEDENCE, Intent

FIRM_CONFIDENCE = 0.4


@dataclass(frozen=True, slots=True)
class IntentResult:
    intent: Intent
    cues: tuple[str, ...]
    confidence: float

    @property
    def is_firm(self) -> bool:
        return self.confidence >= FIRM_CONFIDENCE


#: Words that open a question ("how much does it cost", "should i buy or lease").
_QUESTION_OPENERS = frozenset({"how", "what", "why", "when", "which", "who", "should", "is", "are",
                               "can", "do", "does", "will", "would", "could"})
#: Transactional cues that, inside a question or a comparison, ask about money or a choice
#: rather than shopping ("how much does a wedding cost", "lease vs buy", "cost calculator").
_MONEY_CUES = frozenset({"price", "prices", "pricing", "cost", "costs", "rates", "buy", "buying",
                         "cheap", "cheaper", "cheapest", "purchase", "free", "discount"})


def _reread(analysis: Analysis, intent: Intent, phrase: str) -> Intent | None:
    """A cue's intent in its context (None: the cue says nothing here)."""
    tokens = analysis.tokens
    if intent == "transactional":
        if phrase == "order" and tokens[:1] != ("order",):
            return None  # "skincare routine order", "in what order": a sequence
        if phrase == "download" and analysis.brands:
            return "navigational"  # "anki download", "tesla app download": the brand's app
        if phrase in _MONEY_CUES:
            if tokens[:1] and tokens[0] in _QUESTION_OPENERS:
                return "informational"
            if {"vs", "versus", "or", "average", "calculator"} & set(tokens):
                return "informational"
    return intent


#: Commercial cues that name the page itself — a listicle, a review, alternatives: with a price,
#: buy or local word beside them the page is still the listicle ("best mortgage rates", "best
#: dermatologist near me", "cheaper alternative to jira", eval/data/GUIDE.md: `best X near me`
#: is commercial), so they win over the transactional cues.
_LISTICLE_CUES = frozenset({"best", "top", "top rated", "highest rated", "review", "reviews",
                            "reviewed", "alternative", "alternatives", "alternative to",
                            "alternatives to", "dupe", "dupes", "competitors", "similar to",
                            "… than"})
#: A company's contact pages, named after the company ("coleman customer service", "bluehost
#: webmail"): navigational when they end the keyword, even for a brand the lists do not know.
_CONTACT_TAILS = (("customer", "service"), ("phone", "number"), ("webmail",))


def _judging(tokens: tuple[str, ...]) -> str | None:
    """A phrasing that asks for a judgement of products ("good X", "is X good", "apps like X",
    "most X"): a commercial cue the modifier lists cannot hold, as it depends on word order."""
    if not tokens:
        return None
    if tokens[0] == "good" or (tokens[0] == "most" and tokens[1:2] not in (("common",),
                                                                           ("popular",))):
        return tokens[0] + " …"
    if tokens[0] in ("is", "are") and "good" in tokens and "for" not in \
            tokens[tokens.index("good"):]:
        return "is … good"
    if "like" in tokens[1:-1] and tokens[tokens.index("like") - 1].endswith("s"):
        return "… like …"
    if "than" in tokens[1:-1] and tokens[tokens.index("than") - 1] in ("better", "cheaper") \
            and tokens[0] not in _QUESTION_OPENERS:
        # "better than duolingo", "cheaper than yeti": the alternatives ("is a hammock
        # better than a tent" is a question)
        return "… than"
    return None


#: Page words the modifier lists do not hold (kept out of them, so the clustering's heads are
#: unchanged): a stock, launch-price or sale-day query (a deal), something to get (a template,
#: a printable, a refurbished unit: transactional, as eval/data/GUIDE.md says of templates and
#: the eight tuning writers of 96 %, 92 % and 100 % of them), and the other ways to ask "worth
#: it" (commercial). Templates alone cost dev's embeddings ARI 0.003 on one writer (round 8);
#: on eight, with the other words, intent F1 rose on every set (docs/decisions.md, "Things to
#: get, and renting").
_PAGE_PHRASES: tuple[tuple[tuple[str, ...], Intent], ...] = (
    (("msrp",), "transactional"), (("in", "stock"), "transactional"),
    (("black", "friday"), "transactional"), (("cyber", "monday"), "transactional"),
    (("worth", "the", "money"), "commercial"), (("worth", "the", "price"), "commercial"),
    (("worth", "buying"), "commercial"))


#: Things to get (`_PAGE_PHRASES`' second part): a page phrase only in a keyword that asks no
#: question ("how to make a template" is a how-to). Where a question word leads anyway ("will
#: template", with "will" a cue of its own), the stronger page wins as for the other phrases.
_GET_PHRASES: tuple[tuple[tuple[str, ...], Intent], ...] = (
    (("template",), "transactional"), (("templates",), "transactional"),
    (("printable",), "transactional"), (("refurbished",), "transactional"))
_PAGE_PHRASES += _GET_PHRASES
_GET_WORDS = frozenset(" ".join(phrase) for phrase, _ in _GET_PHRASES)

_PAGE_PHRASE_TABLE = {phrase: " ".join(phrase) for phrase, _ in _PAGE_PHRASES}
_PAGE_PHRASE_INTENT: dict[str, Intent] = {" ".join(p): i for p, i in _PAGE_PHRASES}


def _page_phrases(tokens: tuple[str, ...]) -> list[tuple[str, Intent]]:
    """The `_PAGE_PHRASES` in the keyword, as (phrase, intent), and "rent" opening it ("rent a
    pressure washer": the rental; not "rent or buy skis", a comparison)."""
    # "will" opens a question ("will it rain") and is a document ("will template")
    asks = bool(tokens) and tokens[0] in _QUESTION_OPENERS and tokens[0] != "will"
    found = [(phrase, _PAGE_PHRASE_INTENT[phrase])
             for phrase in find_phrases(list(tokens), _PAGE_PHRASE_TABLE)
             if not (asks and phrase in _GET_WORDS)]
    if _rents(tokens):
        found.append(("rent", "transactional"))
    return found


def _rents(tokens: tuple[str, ...]) -> bool:
    """Whether the keyword asks to rent a thing: "rent" opening it as a verb, before an
    article or a thing of the lists ("rent a generator", "rent pressure washer"), not the
    noun ("rent control", "rent increase letter") and not a comparison ("rent or buy")."""
    if tokens[:1] != ("rent",) or len(tokens) < 2 or {"or", "vs", "versus"} & set(tokens):
        return False
    v = vocabulary()
    return tokens[1] in ("a", "an") or any(
        stem(w) in v.product_stems or stem(w) in v.bookable_stems for w in tokens[1:])


def _compares_kinds(analysis: Analysis) -> bool:
    """Whether the keyword weighs two kinds or ways with "or" and names no brand ("flip or
    rotate mattress", "secured or unsecured loan"): research, as "vs" without brands is
    (`text`), even when a product noun ends it. Names of the request are brands here, so "uplift
    or jarvis" with both known stays commercial."""
    tokens = analysis.tokens
    return "or" in tokens[1:-1] and not analysis.brands \
        and tokens[0] not in _QUESTION_OPENERS


def _contact_page(tokens: tuple[str, ...]) -> str | None:
    """A company's contact page ("X customer service", "X phone number", "X webmail"): the
    tail, when a name comes before it and the keyword is no question."""
    if not tokens or tokens[0] in _QUESTION_OPENERS:
        return None
    for tail in _CONTACT_TAILS:
        if len(tokens) > len(tail) and tokens[-len(tail):] == tail:
            return " ".join(tail)
    return None


#: Tails that follow only a destination's name ("kinsta login", "rockler.com", "zola coupon").
_NAME_TAILS = (("login",), ("log", "in"), ("sign", "in"), ("signin",), ("webmail",), ("com",),
               ("customer", "service"), ("phone", "number"), ("coupon",), ("coupons",),
               ("promo", "code"))
#: Tails that follow a site's or an app's name too ("micro center hours", "mattress firm
#: locations", "cookunity menu", "anki download", "express vpn website", "mealime app"): names
#: for the reported intent only (`request_names`' `site_tails`), as with them the clustering's
#: conflicts moved pages (dev ARI 0.678 → 0.677 in round 8; without, unchanged). "app" takes
#: one word only: "project management app", "meal planner app" name a kind of app.
_SITE_TAILS = (("hours",), ("locations",), ("menu",), ("download",), ("website",), ("app",))
#: Site tails that follow only a place's own name ("best buy hours", "mattress firm
#: locations"): like `_NAME_TAILS`, a name before them may hold a modifier (`request_names`'
#: `modifiers`), and the writer reads a name with them as a store (`planning.Plan.store`).
#: Not "near me": in the tuning sets every "best/cheap/free X near me" with no product noun
#: ranks a kind ("best exterminator near me", "free fishing spots near me"; 12 of 12).
PLACE_TAILS = (("hours",), ("locations",))
#: Tails that show a product rather than a site ("nanit review", "kinsta pricing", "jira
#: alternatives"): a name only when none of its words is a product, bookable or task noun of
#: the lists ("table saw review" names no product). Plural "reviews" mostly follows a category
#: ("road bike reviews", "web hosting reviews"; with it, 6 more dev concept comparisons read
#: commercial), so it is no tail.
_PRODUCT_TAILS = (("review",), ("pricing",), ("alternatives",))
#: Modifiers a name's last word may not be: a ranking ("top rated login") or a destination
#: word of its own ("chess com login", "netflix account login"); "buy" may ("best buy hours").
_NAME_END_BARRED = ("commercial", "navigational")
#: The most words a name read from the request may have ("mr cooper", "wp engine").
_NAME_WORDS = 3


def request_names(analyses: Iterable[Analysis], site_tails: bool = True,
                  modifiers: bool = False) -> frozenset[str]:
    """Names the request itself shows to be destinations: the words before a login, ".com",
    webmail, customer-service, phone-number, coupon or promo-code tail ("kinsta login",
    "rockler.com", "mr cooper login"), with `site_tails` an hours, locations, menu, download,
    website or app tail (`_SITE_TAILS`), or before a review, pricing or alternatives tail with
    no common noun (`_PRODUCT_TAILS`): at most three (one before "app"), none a stop word (but a
    leading "the": "the sill review"), modifier or number. With
    them "kinsta vs wp engine" compares brands (commercial) and "rockler" alone is the site
    (navigational), as for the brands `text.vocabulary` lists. With `modifiers`, a name before a
    destination's own tail (`_NAME_TAILS`: login, ".com", customer service, coupon…) may hold
    a modifier word when its last word neither ranks nor is a site word (`_NAME_END_BARRED`:
    not "top rated login") and none is a product, bookable or task noun ("best egg login":
    the lender Best Egg; not "free vpn login"), and so may a place's before its hours or locations
    (`PLACE_TAILS`: "best buy hours") and the words of "is … legit" ("is best egg legit"); a
    site's address as typed names its words ("mullvad.net"): the writer's reading, as a
    searcher signs in at a place, visits a store and asks whether a company is legit, never
    a ranking."""
    v = vocabulary()
    nouns = v.product_stems | v.bookable_stems | v.task_stems
    tails = _NAME_TAILS + (_SITE_TAILS if site_tails else ()) + _PRODUCT_TAILS
    names: set[str] = set()
    sites: set[tuple[str, ...]] = set()
    for a in analyses:
        tokens = a.tokens
        for tail in tails:
            n = len(tokens) - len(tail)
            # a leading "the" is part of many names ("the sill", "the knot")
            name = tokens[1:n] if n > 1 and tokens[0] == "the" else tokens[:n]
            most = 1 if tail == ("app",) else _NAME_WORDS
            held = modifiers and tail in _NAME_TAILS + PLACE_TAILS and bool(name) and \
                v.modifiers.get(name[-1]) not in _NAME_END_BARRED and \
                not any(stem(w) in nouns for w in name)
            if 0 < n <= most and tokens[n:] == tail and not any(
                    w in v.stopwords or (w in v.modifiers and not held) or w.isdigit()
                    for w in name
            ) and (tail not in _PRODUCT_TAILS or not any(stem(w) in nouns for w in name)):
                names.add(" ".join(tokens[:n]))
        name = tokens[1:-1]
        if modifiers and tokens[:1] == ("is",) and tokens[-1:] == ("legit",) and \
                0 < len(name) <= _NAME_WORDS and \
                v.modifiers.get(name[-1]) not in _NAME_END_BARRED and \
                not any(w in v.stopwords or stem(w) in nouns for w in name):
            names.add(" ".join(name))  # "is best egg legit": one asks it of a company
        # a site's address as typed ("mullvad.net"; the dot tells it from "fishing net"): the
        # writer's reading only, the clustering keeps reading tokens (its ".com" tail)
        if modifiers and len(tokens) > 1 and DOMAIN.fullmatch(a.text.strip().lower()) and \
                not any(w in v.stopwords or w in v.modifiers for w in tokens[:-1]):
            sites.add(tokens)
    # a site the request already names with its ending ("chess.com login") keeps that name
    names |= {" ".join(t[:-1]) for t in sites if " ".join(t) not in names}
    return frozenset(names)


def _decided_by_names(analysis: Analysis, found: list[str]) -> bool:
    """Whether names read from the request decide the keyword: it is the name with no question
    word (the site; "how much is wp engine" stays a question), alone or with a site word the
    head keeps ("nanit app", "surfshark account", as for the brands of the lists), or it
    compares names ("kinsta vs wp engine", "duolingo or babbel"). A name beside other words
    ("duolingo spanish") is left as it reads without it."""
    words = {w for name in found for w in name.split()}
    modifiers = vocabulary().modifiers
    asks = any(modifiers[m] == "informational" for m in analysis.modifiers
               if m in modifiers)
    # a site word the head keeps ("nanit app", "surfshark account") is the name's page
    keep = vocabulary().head_keeping_modifiers
    if all(w in words or w in keep for w in analysis.head) and not asks:
        return True
    # "or" compares as "vs" does ("duolingo or babbel" with only "duolingo" a name)
    return bool({"vs", "versus"} & set(analysis.modifiers)) or "or" in analysis.tokens


def name_and_products(analysis: Analysis, found: Iterable[str]) -> bool:
    """Whether the keyword is a name read from the request followed by product nouns only
    (weak cues, no modifier: "casper mattress", "upstart personal loans"): the brand's own
    product page, navigational like the name alone."""
    tokens = analysis.tokens
    return not analysis.modifiers and bool(analysis.cues) \
        and not any(c.strong for c in analysis.cues) \
        and any(0 < len(n.split()) < len(tokens) and tokens[:len(n.split())] == tuple(n.split())
                for n in found)


def _leading_brand(analysis: Analysis) -> str | None:
    """The brand of the lists a keyword opens with, when the rest are words with weak cues
    or none (`name_and_products`) and no page phrase, judgement, contact tail or "or"
    reads the keyword otherwise ("apple watch in stock", "microsoft word template")."""
    tokens = analysis.tokens
    if not analysis.brands or not name_and_products(analysis, analysis.brands) or \
            "or" in tokens or _page_phrases(tokens) or _judging(tokens) is not None or \
            _contact_page(tokens) is not None:
        return None
    return next(b for b in analysis.brands if tokens[:len(b.split())] == tuple(b.split()))


def classify_analysis(analysis: Analysis, names: frozenset[str] = frozenset()) -> IntentResult:
    """(intent, matched cues, confidence) of an analysed keyword; `names` (`request_names`)
    count as brands."""
    if names and not analysis.brands:
        found = find_phrases(list(analysis.tokens), names)
        if found and _decided_by_names(analysis, found):
            analysis = cues_with_brands(analysis, found)
        elif found and name_and_products(analysis, found):
            return IntentResult("navigational", (found[0],), 0.45)
    lead = _leading_brand(analysis)
    if lead is not None:
        # a brand of the lists before other words and nothing else to read ("apple watch
        # ultra", "bosch universal mixer"): the eight tuning writers call it navigational
        # (51 %), hardly ever commercial (3 %); under the firm level, as it is a guess
        return IntentResult("navigational", (lead,), BRAND_PRODUCT_CONFIDENCE)
    strong: dict[Intent, list[str]] = {}
    weak: dict[Intent, list[str]] = {}
    judging = _judging(analysis.tokens)
    if judging is not None:
        strong["commercial"] = [judging]
    for cue in analysis.cues:
        intent = _reread(analysis, cue.intent, cue.phrase)
        if intent is None:
            continue
        (strong if cue.strong else weak).setdefault(intent, []).append(cue.phrase)
    if _compares_kinds(analysis):
        strong.setdefault("informational", []).append("… or …")
    for phrase, intent in _page_phrases(analysis.tokens):
        strong.setdefault(intent, []).append(phrase)
    contact = _contact_page(analysis.tokens)
    if contact is not None and "navigational" not in strong:
        strong["navigational"] = [contact]
    if "informational" in strong and set(strong.get("navigational", ())) <= set(analysis.brands):
        # a question about a brand typed alone is a question ("how much is strava", "how to
        # kayak" with Kayak a brand), as for the names a request shows; a sign-in is not
        strong.pop("navigational", None)
    if _LISTICLE_CUES.intersection(strong.get("commercial", ())):
        # the listicle is the page; its price or local words qualify it
        strong.pop("transactional", None)
        weak.pop("transactional", None)
    for pool, base, step, cap in ((strong, 0.65, 0.1, 0.95), (weak, 0.4, 0.05, 0.5)):
        for intent in INTENT_PRECEDENCE:
            if intent in pool:
                matched = pool[intent]
                confidence = min(cap, base + step * (len(matched) - 1))
                if pool is strong and len(strong) > 1:
                    confidence -= 0.1
                return IntentResult(intent, tuple(matched), round(confidence, 2))
    if lone_name(analysis):
        return IntentResult("navigational", (), LONE_NAME_CONFIDENCE)
    return IntentResult("informational", (), UNREAD_CONFIDENCE)


#: A keyword with no cue at all: informational, at the lowest confidence.
UNREAD_CONFIDENCE = 0.25
#: A lone word with no cue is read as a name, under the firm level (`is_firm`): it sets the
#: keyword's page, never refuses a merge (docs/decisions.md, "A lone unknown word").
LONE_NAME_CONFIDENCE = 0.3
#: A brand of the lists before product words, with no modifier: navigational, not firm.
BRAND_PRODUCT_CONFIDENCE = 0.35


def lone_name(analysis: Analysis) -> bool:
    """Whether the keyword is one word the lists know nothing of ("skydio", "equifax"):
    typed alone, it is mostly a brand or a site the searcher wants to reach (the six tuning
    writers call 80 % of such words navigational), not a topic to read about."""
    return len(analysis.tokens) == 1 and analysis.head == analysis.tokens and \
        analysis.tokens[0].isalpha() and len(analysis.tokens[0]) >= 3 and \
        analysis.tokens[0] not in vocabulary().stopwords


def classify_intent(text: str, names: frozenset[str] = frozenset()) -> IntentResult:
    """(intent, matched cues, confidence) of one keyword (`names`: see `request_names`)."""
    return classify_analysis(analyse(text), names)
