"""Outlines: each structure's skeleton of H2s and H3s, filled with the plan's keyword groups.

Each skeleton section absorbs the keyword groups of some angles; facet groups become sections of
their own (their other keywords as H3s); a group nothing absorbs goes to the skeleton's
catch-all section, so every keyword lands in some section's `keywords`. Optional sections (FAQ,
prices) appear only when keywords fill them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from igny8d.ai.ideas.analysis import Keyword
from igny8d.ai.ideas.asks import ask_of
from igny8d.ai.ideas.grammar import fit, suffix
from igny8d.ai.ideas.planning import ALTERNATIVE_CUES, Group, Plan
from igny8d.ai.text import normalise
from igny8d.ai.types import OutlineSection
from igny8d.vocab import MAX_OUTLINE_ITEMS

#: Facet groups shown as their own H2s; the rest go under one "More about" H2 as H3s.
MAX_FACET_SECTIONS = 6
MAX_SUBHEADINGS = 5
#: Word-count estimate: intro + per H2 + per H3 (the article generator aims at the same).
WORDS_INTRO = 150
WORDS_PER_H2 = 200
WORDS_PER_H3 = 120


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
    if plan.ask == "problem" and not plan.versus and structure in ("guide", "how_to"):
        return _troubleshooting(plan, structure, faq)
    if plan.coupons and structure in ("guide", "listicle", "comparison", "how_to"):
        return _deals(plan, faq)
    if structure == "how_to":
        chosen = plan.provider[2] if plan.local else a_t
        task = plan.task or ("Use " + a_t if plan.tool else "Estimate " + plan.t
                             if plan.priced else "Choose " + chosen
                             if buyer or plan.choosing else "Work Out the " + plan.t
                             if plan.price_of else "Get Started with " + a_t)
        known = plan.task or plan.tool or buyer or plan.priced or plan.choosing or \
            plan.price_of
        steps = f"{plan.works}: Step by Step" if plan.explained and not known else \
            f"{plan.t}: Step by Step" if not (known or plan.owned or plan.plural_topic) \
            and plan.countable else f"How to {task}: Step by Step"  # as the title has it
        return ([_Sec("What You Need Before You Start", absorbs=frozenset({"overview", "buy"}),
                      catch_all=True),
                 _Sec(steps,
                      subs=["Step 1: Gather What You Need", "Step 2: Prepare",
                            "Step 3: Carry Out the Main Work",
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
        if plan.primary.cues & ALTERNATIVE_CUES:  # what to get instead of the named thing
            alt = f"Alternative to {t}"
            return ([_Sec(f"Why Look Beyond {t}", absorbs=frozenset({"overview", "review"}),
                          catch_all=True),
                     _Sec(f"Best Overall {alt}", absorbs=frozenset({"best", "comparison"}),
                          item=True),
                     _Sec(f"Best Budget {alt}", absorbs=frozenset({"price", "buy"}),
                          item=True)],
                    [_Sec(f"Best Premium {alt}", item=True),
                     _Sec(f"How to Choose an {alt}", absorbs=frozenset({"howto"})),
                     faq, _Sec("The Bottom Line")])
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
            these = plan.listed("Ideas" if plan.has_cue("ideas") else "Tips")
            return ([_Sec(f"Why These {these} Work", absorbs=frozenset({"overview"}),
                          catch_all=True),
                     _Sec("Start with the Basics", absorbs=frozenset({"howto"}),
                          kw_subs="heading", item=True),
                     _Sec("Plan Ahead", absorbs=frozenset({"best", "review"}), item=True)],
                    [_Sec("Keep Improving Over Time", absorbs=frozenset({"price", "buy"}),
                          item=True),
                     faq, _Sec("The Bottom Line")])
        if plan.local and plan.hired:  # "Best Overall HVAC Repair Service"
            t, many, a_t = plan.provider
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
                     _Sec(f"What Is {plan.bare_sides[0]}?"),
                     _Sec(f"What Is {plan.bare_sides[1]}?"),
                     _Sec("Key Differences", subs=["Cost", "Ease of Use", "Results"],
                          absorbs=frozenset({"price"}))],
                    [_Sec("Which Should You Choose?",
                          absorbs=frozenset({"best", "review", "buy", "howto"})),
                     faq, _Sec("The Verdict")])
        if plan.local and plan.hired:  # "Pest Control Services Compared at a Glance"
            t, many, a_t = plan.provider
        others = f"{t} Alternatives Worth Considering" \
            if plan.has_cue(*ALTERNATIVE_CUES) or plan.brand else f"Types of {many} Compared"
        return ([_Sec(f"{many} Compared at a Glance",
                      absorbs=frozenset({"comparison", "overview"}), catch_all=True),
                 _Sec("How We Compared Them", subs=["Features", "Price", "Ease of Use"],
                      absorbs=frozenset({"review"}))],
                [_Sec(others, absorbs=frozenset({"best"})),
                 _Sec("Price Comparison", absorbs=frozenset({"price", "buy"}), optional=True),
                 _Sec("Which One Is Right for You?", absorbs=frozenset({"howto"})),
                 faq, _Sec("The Verdict")])
    if structure == "review":
        review = (f"Reviews of {many if plan.countable else t}" if plan.qualified and
                  not plan.brand else suffix(t, "Review") if plan.brand or not plan.countable
                  else suffix(plan.one, "Review") + "s")
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
        # the searcher's own question when the primary keyword asks one ("How Long to Boil
        # Eggs: The Short Answer", not "Eggs: The Short Answer"); a colon, so that the brief's
        # running text stops at it
        short = plan.short_answer \
            if plan.primary.worded_as_question or plan.ask in ("frequency", "question") \
            else f"How to {plan.task}: The Short Answer" if plan.task and plan.ask == "howto" \
            else f"{plan.destination if plan.intent == 'navigational' else t}: The Short Answer"
        return ([_Sec(short, absorbs=frozenset({"overview"}),
                      catch_all=True)],
                [_Sec(f"More Questions About {t}",
                      absorbs=frozenset({"howto", "nav"}) | _ALL_COMMERCIAL, optional=True,
                      kw_subs="question"),
                 _Sec("Still Have Questions?")])
    if structure == "pillar":
        asked = plan.primary.worded_as_question and not plan.versus
        overview = plan.short_answer \
            if asked else f"{t}: An Overview"
        return ([_Sec(overview, absorbs=frozenset({"overview"}), catch_all=True)],
                [_Sec(f"How to {plan.task}" if plan.task else
                      "The Details That Change the Answer" if asked else
                      f"Getting Started with {t}",
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
    asked = plan.primary.worded_as_question and not plan.versus
    if asked:  # "can non teslas use superchargers": its answer, not "What Are Non Teslas…?"
        first = plan.short_answer
    elif plan.task and plan.ask == "howto" and not plan.versus:
        first = f"Before You {plan.task}: The Basics"  # not "What Is a Wedding?"
    elif plan.sold:  # goods near me: where they are sold
        first = f"Where to Buy {a_t} Near You"
    elif plan.local and not plan.versus:  # a local search: no buying guide
        first = f"What a Good {plan.provider[0]} Does" if plan.hired or plan.countable \
            else f"{t} Near You: The Basics"
    elif plan.intent == "transactional" and not plan.versus:
        first = f"{t}: The Basics" if plan.priced else f"{t} Buying Guide: The Basics"
    else:
        first = f"{plan.destination}: Where to Go" if plan.intent == "navigational" \
            else plan.what_is
    goods, _counted = plan.goods
    choose = "Which Is Better for You?" if plan.versus else \
        f"How to Compare Prices for {goods}" if plan.priced else \
        f"How to Choose {plan.provider[2]}" if plan.local else f"How to Choose {a_t}"
    started = f"How to {plan.task}" if plan.task else \
        "The Details That Change the Answer" if asked else \
        f"How to Use {a_t}" if plan.tool else \
        f"How to Budget for {goods}" if plan.priced else \
        f"How to Book {plan.provider[2]}" if plan.local and plan.hired else \
        "What to Check Before You Buy" if plan.sold else \
        f"How to Get Started with {a_t}" if not _unknown(plan) else \
        f"How to Work Out the {t}" if plan.price_of else f"{t}: Step by Step"
    return ([_Sec(first, absorbs=frozenset({"overview"}), catch_all=True)],
            [_Sec(started, absorbs=frozenset({"howto"}), kw_subs="heading"),
             _Sec(choose, absorbs=_ALL_COMMERCIAL, optional=True),
             _Sec("Common Mistakes to Avoid"),
             faq, _Sec("Final Thoughts")])


def _unknown(plan: Plan) -> bool:
    """One thing of which an informational cluster says nothing a how-to could teach (no
    task, tool, price or choice, no product of the lists a reader owns, no local search):
    its steps, as its how-to title has them ("Priority Pass: Step by Step"), not "How to Get
    Started with a Priority Pass"."""
    return plan.countable and not plan.plural_topic and not plan.owned and \
        plan.intent == "informational" and not plan.local and \
        not (plan.task or plan.tool or plan.priced or plan.choosing)


def _troubleshooting(plan: Plan, structure: str, faq: _Sec) -> tuple[list[_Sec], list[_Sec]]:
    """A symptom's page: its likely causes, the fix in the order a person checks, how to keep
    it from coming back and when to hand it to an expert."""
    fix = _Sec("Fixing It: Step by Step",
               subs=["Step 1: Confirm the Symptom", "Step 2: Rule Out the Simple Causes",
                     "Step 3: Apply the Fix", "Step 4: Test It and Watch for a Return"],
               absorbs=frozenset({"howto"}), kw_subs="heading", generic_subs=True)
    causes = _Sec("The Most Likely Causes", absorbs=frozenset({"overview"}), catch_all=True)
    help_ = _Sec("When to Get Expert Help", absorbs=_ALL_COMMERCIAL, optional=True)
    prevent = _Sec("How to Stop It Coming Back")
    if structure == "how_to":
        return [causes, fix], [prevent, help_, faq, _Sec("Conclusion")]
    return [causes], [fix, prevent, help_, faq, _Sec("Final Thoughts")]


def _deals(plan: Plan, faq: _Sec) -> tuple[list[_Sec], list[_Sec]]:
    """A store's discount codes: which exist, how to use one, the sales worth waiting for,
    why a code is refused and other ways to pay less there."""
    t = plan.t
    return ([_Sec(f"{t} Coupons and Promo Codes at a Glance",
                  absorbs=frozenset({"overview", "comparison"}), catch_all=True)],
            [_Sec(f"How to Use a {t} Promo Code", absorbs=frozenset({"howto"}),
                  kw_subs="heading"),
             _Sec("Sales and Seasonal Deals", absorbs=frozenset({"price", "buy", "best"})),
             _Sec("Common Mistakes with Promo Codes"),
             _Sec(f"Tips to Save More at {t}", absorbs=frozenset({"review"})),
             faq, _Sec("Final Thoughts")])


def _facet_heading(plan: Plan, structure: str, k: Keyword) -> str:
    if structure == "faq":
        return k.question()
    h = k.heading()
    if structure == "listicle" and plan.intent in ("commercial", "transactional") and \
            not (k.worded_as_question or k.task or k.vs_at >= 0 or plan.versus or
                 ask_of(k.text) == "price"):  # no "Best Powerwall 3 Price"
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
    """The structure's outline for the plan (package doc, step 3): every keyword of the plan
    is in the `keywords` of exactly one section."""
    return build_outline(plan, structure)[0]


def build_outline(plan: Plan, structure: str) -> tuple[tuple[OutlineSection, ...], int]:
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
        out.append(OutlineSection(fit(s.heading),
                                  tuple(fit(h) for h in subs[:MAX_SUBHEADINGS]),
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
