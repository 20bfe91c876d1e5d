"""Titles and descriptions of ideas: per-structure templates filled with the plan's topic.

Variants are chosen by the topic (`stable_index`), never at random, so one cluster always gets
the same titles.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from igny8d.ai.ideas.grammar import fit, stable_index, suffix
from igny8d.ai.ideas.planning import ALTERNATIVE_CUES, Plan
from igny8d.ai.types import OutlineSection

#: Cues of a site's own pages a navigational title names: signing in, reaching its people.
SIGN_IN_CUES = ("login", "log in", "sign in", "signin", "portal")
CONTACT_CUES = ("customer service", "phone number", "contact", "support")

#: Modifiers that make a keyword a "when" question without its question word ("best time to
#: fish": "When Is the Best Time to Fish?").
_WHEN_CUES = ("best time to", "best month to")


def title_for(plan: Plan, structure: str, items: int = 5) -> str:
    """A readable title for the structure (package doc, step 4); `items` is a listicle's
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
    elif plan.intent == "navigational" and structure in ("guide", "faq") and not plan.versus \
            and not plan.primary.worded_as_question:  # "Is Chess.com Free?" is answered
        # the searcher wants a place (a login, an app, a help line), not an essay on the brand
        place = plan.destination
        if structure == "faq":
            options = [f"{place}: Your Questions Answered"]
        elif plan.has_cue(*SIGN_IN_CUES):
            options = [f"{place}: How to Sign In and Fix Common Problems"]
        elif plan.has_cue(*CONTACT_CUES):
            options = [f"{place}: How to Reach a Person and What to Have Ready"]
        else:
            options = [f"{place}: Where to Go and What to Expect"]
    elif plan.coupons and structure in ("guide", "listicle", "comparison", "how_to", "faq"):
        # a store's discount codes: where they are and which work, not "Where to Buy Surfsharks"
        deals = f"{t} Coupons and Promo Codes"
        options = {"guide": [f"{deals}: How to Save", f"{deals}: What Works and Where to Find It"],
                   "listicle": [f"{n} Ways to Save at {t}"],
                   "comparison": [f"{t} Discounts Compared: Coupons, Promo Codes and Sales"],
                   "how_to": [f"How to Use a {t} Promo Code"],
                   "faq": [f"{deals}: Your Questions Answered"]}[structure]
    elif plan.local and plan.brand and structure in ("guide", "listicle", "how_to", "pillar"):
        # a named store or chain near me is a place to find, not "Good Mattress Firm"
        options = {"guide": [f"{t} Near You: How to Find a Location and What to Expect"],
                   "listicle": [f"{n} Things to Know Before Visiting {t} Near You"],
                   "how_to": [f"How to Find {t} Near You"],
                   "pillar": [f"{t} Near You: The Complete Guide"]}[structure]
    elif plan.store and not plan.local and not plan.task and \
            structure in ("guide", "listicle", "how_to"):
        # a named store whose hours or locations are searched is visited, not bought
        options = {"guide": [f"{t}: Locations, Hours and What to Expect"],
                   "listicle": [f"{n} Things to Know Before Visiting {t}"],
                   "how_to": [f"How to Find {t} Near You"]}[structure]
    elif plan.sold and structure in ("guide", "listicle", "how_to", "pillar"):
        # goods near me are bought in a shop, not "a Good Standing Desk Near You" found
        options = {"guide": [f"Where to Buy {a_t} Near You: What to Check"],
                   "listicle": [f"Buying {a_t} Near You: {n} Things to Check First"],
                   "how_to": [f"How to Shop for {a_t} Near You"],
                   "pillar": [f"Buying {a_t} Near You: The Complete Guide"]}[structure]
    elif plan.local and structure in ("guide", "listicle", "how_to", "pillar"):
        one, some, a_one = plan.provider
        good = "a Good" if plan.hired or plan.countable else "Good"  # "Good Yoga"
        options = {"guide": [f"How to Find {good} {one} Near You"],
                   "listicle": [f"The Best {some} Near You: How to Choose"],
                   "how_to": [f"How to Choose {a_one} Near You"],
                   "pillar": [f"{some} Near You: The Complete Guide"]}[structure]
    elif (plan.primary.worded_as_question or plan.has_cue(*_WHEN_CUES)) and \
            plan.ask in ("frequency", "question") and structure in ("guide", "pillar", "listicle"):
        q = plan.primary.question(title=True)
        options = {"guide": [f"{q} What to Know", f"{q} The Complete Answer"],
                   "pillar": [f"{q} Everything to Know"],
                   "listicle": [f"{q} {n} Things That Decide It"]}[structure]
    elif plan.ask == "definition" and structure in ("guide", "pillar") and not plan.versus:
        # the searcher's own question ("What Is Retinol?"), not an article guessed for it
        what = plan.primary.question(title=True) if plan.primary.worded_as_question \
            else plan.what_is
        options = [f"{what} A Plain-English Guide", f"{what} Explained"]
    elif plan.ask == "problem" and not plan.versus and \
            structure in ("guide", "how_to", "listicle", "pillar"):
        # a symptom wants its causes and the fix ("iPhone Not Charging? Causes and Fixes"),
        # not "How to Make the Most of iPhone Not Charging"
        symptom = plan.primary.question(title=True) if plan.primary.worded_as_question \
            else f"{t}?"
        options = {"guide": [f"{symptom} Causes and Fixes",
                             f"{symptom} Likely Causes and How to Fix Them"],
                   "how_to": [f"{t}: A Step-by-Step Fix", f"{t}: How to Fix It Step by Step"],
                   "listicle": [f"{t}: {n} Common Causes and Their Fixes"],
                   "pillar": [f"{t}: The Complete Troubleshooting Guide"]}[structure]
    elif plan.ask == "howto" and plan.task and structure in ("guide", "pillar", "faq"):
        options = {"guide": [f"How to {plan.task}: A Complete Guide"],
                   "pillar": [f"How to {plan.task}: Everything to Know"],
                   "faq": [f"How to {plan.task}: Your Questions Answered"]}[structure]
    elif structure == "listicle":
        if plan.priced:
            options = [f"{n} Ways to Save on {t}", f"{t}: {n} Ways to Pay Less"]
        elif plan.primary.cues & ALTERNATIVE_CUES:  # the alternatives, not "4 Best Cutcos"
            alternatives = suffix(t, "Alternatives")
            options = [f"The {n} Best {alternatives}", f"{n} {alternatives} Worth a Look"]
        elif plan.brand and (plan.named or not plan.plural_topic):
            options = [f"{n} Things to Know About {t}", f"{t}: {n} Things to Know"]
        elif not buyer and plan.has_cue("tips", "ideas", "ways to", "examples"):
            if plan.has_cue("ideas"):
                ideas = plan.listed("Ideas")
                options = [f"{n} {ideas} Worth Trying", f"{n} Great {ideas}"]
            else:
                tips = plan.listed("Tips")
                options = [f"{n} {tips} That Actually Help", f"{n} Practical {tips}"]
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
        elif plan.tool:
            options = [f"How to Use {a_t}: A Step-by-Step Guide", f"How to Use {a_t}"]
        elif plan.priced:
            options = [f"How to Estimate {t}: A Step-by-Step Guide",
                       f"How to Work Out {t}, Step by Step"]
        elif buyer or plan.choosing:
            options = [f"How to Choose {a_t}: A Step-by-Step Guide",
                       f"How to Pick the Right {t}"]
        elif plan.explained:  # a concept: "How Net Metering Works, Step by Step"
            options = [f"{plan.works}, Step by Step"]
        elif plan.owned:  # one thing a reader has ("How to Make the Most of a Laptop")
            options = [f"How to Get Started with {a_t}", f"How to Make the Most of {a_t}"]
        elif plan.countable and not plan.plural_topic and plan.price_of:
            # a price of something, its head before "of" ("Average Cost of a Wedding")
            options = [f"How to Work Out the {t}"]
        elif plan.countable and not plan.plural_topic:
            # one thing the cluster says nothing more of ("Priority Pass", "Standing Desk
            # Height"): no verb or article guessed for it, and no claim it is done in steps
            options = [f"{t}: A Practical Guide"]
        else:  # a brand, an activity, things: "How to Get Started with Meal Prep"
            options = [f"How to Get Started with {a_t}"]
    elif structure == "comparison":
        if plan.local and plan.hired:  # "Pest Control Services", not "Pest Controls"
            many = plan.provider[1]
        if a:
            options = [f"{a} vs {b}: Which Is Better?", f"{a} vs {b}: Key Differences Explained"]
        elif plan.brand or plan.has_cue(*ALTERNATIVE_CUES):
            alternatives = suffix(t, "Alternatives")
            options = [f"The Best {alternatives}, Compared",
                       f"{alternatives}: How the Options Stack Up"]
        else:
            options = [f"{many} Compared: How to Pick the Right One",
                       f"Comparing {many}: What Really Matters"]
    elif structure == "review":
        if plan.priced:
            options = [f"{t}: What People Actually Pay", f"{t}: Is It Worth It?"]
        elif plan.qualified and not plan.brand:  # no "Sunscreen for Face Review"
            things = plan.many if plan.countable else t
            options = [f"Reviews of {things}: What Buyers Should Know",
                       f"{things}, Reviewed: What Owners Really Think"]
        elif plan.brand or not plan.countable:
            review = suffix(t, "Review")
            options = [f"{review}: Is It Worth It?", f"{review}: The Good and the Bad"]
        else:
            reviews = suffix(plan.one, "Review") + "s"
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
        # what is bought, not its price ("lawn mower price" → "Lawn Mowers"); a thing with
        # no plural is got, not bought by the piece ("Car Insurance for Young Drivers")
        goods, countable = plan.goods
        verb = "Buy" if countable else "Get"
        options = [f"Where to {verb} {goods}: Prices, Deals and What to Check"]
    else:
        options = [f"{t}: A Complete Guide", f"{t}: A Beginner's Guide",
                   f"Everything You Need to Know About {a_t}",
                   f"{t} Explained: A Practical Guide"]
        if "beginner" in t.lower():  # no "Camera for Beginners: A Beginner's Guide"
            options.remove(f"{t}: A Beginner's Guide")
    # a name that starts with a ranking word ("Best Egg") reads "The Best Best Egg …" in some
    # variants: the others are kept
    options = [o for o in options if not _DOUBLED.search(o)] or options
    return fit(options[stable_index(plan.primary.analysis.normalised + structure,
                                    len(options))])


_DOUBLED = re.compile(r"\b(\w+) \1\b", re.IGNORECASE)


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
