"""Headings read for writing: what kind of section one opens, and how it reads in a sentence."""

from __future__ import annotations

import re

from igny8d.ai.ideas.analysis import named_words
from igny8d.ai.ideas.grammar import brand_cased, is_acronym
from igny8d.ai.text import normalise

_KIND_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("conclusion", re.compile(r"\b(conclusions?|final thoughts|bottom line|verdict|wrapping up|"
                              r"wrap up|summary|takeaways?|in closing|where to go next|"
                              r"still have questions|next steps)\b")),
    ("faq", re.compile(r"\b(faq|frequently asked|questions)\b")),
    # one step of a how-to ("Step 2: Prepare"), and what to gather first: not "the steps of
    # step 2" nor "the steps of what you need before you start"
    ("step", re.compile(r"^step \d+\b")),
    # a symptom's page: why it happens, how to keep it away, when a person can't fix it
    ("causes", re.compile(r"\b(causes?|why it happens|reasons? why)\b")),
    ("prevent", re.compile(r"\b(prevent\w*|coming back|happening again)\b")),
    ("help", re.compile(r"\b(expert help|call a pro|professional help|get help)\b")),
    ("needs", re.compile(r"\b(what you need|what you ll need|before you start|you will need|"
                         r"supplies|tools needed|materials needed)\b")),
    ("mistakes", re.compile(r"\b(mistakes?|avoid|pitfalls?)\b")),
    ("fit", re.compile(r"\b(who it is for|who it s for|who should buy|who it suits|"
                       r"who should get)\b")),
    ("steps", re.compile(r"\b(step|steps|how to|get started|getting started|set up|setup|"
                         r"before you start|what you need)\b")),
    ("tips", re.compile(r"\b(tips?|best practices|advice|better results|keep improving|"
                        r"basics|plan ahead)\b")),
    ("price", re.compile(r"\b(price|prices|pricing|cost|costs|budget|value|afford\w*|cheap\w*|"
                         r"deals?)\b")),
    ("compare", re.compile(r"\b(vs|versus|compared?|comparison|comparing|differences?|"
                           r"alternatives?|types of)\b")),
    ("choose", re.compile(r"\b(choose|choosing|look for|buying|buy|which|how we|right for)\b")),
    ("pick", re.compile(r"^best\b")),
    ("cons", re.compile(r"\b(could be better|cons|drawbacks?|downsides?|falls short|"
                        r"complaints?)\b")),
    ("pros", re.compile(r"\b(pros|like|liked|benefits?|does well|strengths?)\b")),
    ("overview", re.compile(r"\b(what is|what are|overview|explained|basics|introduction|"
                            r"at a glance|in brief|short answer|why)\b")),
)


def heading_kind(heading: str) -> str:
    """What kind of section a heading opens (overview, step, causes, prevent, help, needs,
    steps, tips, mistakes, fit, price, compare, choose, pick, pros, cons, question, faq,
    conclusion, else general)."""
    text = normalise(heading)
    if _KIND_RULES[0][1].search(text):
        return "conclusion"  # "Still Have Questions?" closes the article, it asks nothing
    if heading.strip().endswith("?") and not re.search(r"\b(which should|right for)\b", text):
        return "question"
    for kind, pattern in _KIND_RULES:
        if pattern.search(text):
            return kind
    return "general"


def running_text(text: str, names: frozenset[str] = frozenset()) -> str:
    """A heading or keyword as it reads inside a sentence: lower case except acronyms, words
    written with inner capitals ("HubSpot") and the request's `names` (as the title writes
    them: "Victorinox Fibrox"), the part before a colon, no "?"."""
    text = text.split(":", 1)[0].strip().rstrip("?").strip()
    out: list[str] = []
    for w in text.split():
        bare = w.strip(".,;!()\"'")
        if is_acronym(bare) or (bare.isupper() and len(bare) > 1) or \
                any(c.isupper() for c in bare[1:]):
            out.append(w)
        elif (named := brand_cased(bare)) is not None:
            out.append(w.replace(bare, named))
        else:
            out.append(w.lower())
    return " ".join(named_words(out, names))


def cap(text: str) -> str:
    """`text` with its first letter upper case (the rest as it is), unless its first word is
    written with an inner capital ("iPhone 15 review", "eBay fees")."""
    first = text.split(" ", 1)[0]
    if any(c.isupper() for c in first[1:]):
        return text
    return text[:1].upper() + text[1:]
