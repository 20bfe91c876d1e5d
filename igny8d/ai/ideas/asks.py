"""What a keyword asks for, read from its wording: the page a searcher expects.

Finer than the four search intents: "how often to replace X" is informational like "how to
replace X", but it wants an interval, not steps. Titles, outlines' briefs and meta
descriptions follow the ask.
"""

from __future__ import annotations

import re

from igny8d.ai.ideas.words import idea_words
from igny8d.ai.text import normalise

#: Modifiers that ask for a place near the searcher ("dentist near me", "costco open now").
LOCAL_CUES = ("near me", "nearby", "near you", "open now")
#: A local cue anywhere in a normalised keyword.
LOCAL = re.compile(rf"\b({'|'.join(LOCAL_CUES)})\b")

#: (ask, pattern on the normalised keyword), first match wins.
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("local", LOCAL),
    ("frequency", re.compile(r"\b(how often|how frequently|how many times)\b|"
                             r"^when (to|should)\b")),
    ("comparison", re.compile(r"\b(vs|versus|difference between|compared to|or)\b")),
    ("definition", re.compile(r"^(what (is|are)|whats)\b|\b(meaning|definition|stand for)\b|"
                              r"^what does .* mean\b")),
    ("howto", re.compile(r"^(how to|how do (i|you))\b")),
    # a symptom: the searcher wants its causes and the fix, not a definition or a how-to;
    # whatever a thing "won't" do is a failure ("pc wont post"), unlike "don't" ("plants that
    # dont need sun"), and unless a relative clause picks a kind by it ("plants that wont
    # die", "dogs that wont shed": a list, no symptom)
    ("problem", re.compile(r"\b(not|wont|cant|doesnt|isnt|wouldnt) [a-z]+ing\b|"
                           r"(?<!that )(?<!which )(?<!who )\bwont [a-z]+|"
                           r"\b(doesnt|dont|didnt|cant|isnt|stopped) (work|start|turn on|"
                           r"charge|connect|load|open|drain|flush|heat|cool|boot|sync|print|"
                           r"respond|spin|rise|grow|bloom|eat)\b|"
                           r"\b(problems?|troubleshoot\w*|error codes?|not working|"
                           r"keeps? [a-z]+ing|(turning|going) (yellow|brown|black|white|red)|"
                           r"leaking|overheating|dying|drooping|wilting|yellow leaves|"
                           r"brown spots|no (sound|power|signal|display|picture))\b")),
    # "best time to fish" asks when, it ranks no fish
    ("question", re.compile(r"^(the )?best (time|times|month|day|season|age) to\b")),
    # the question words (ideas.json; "what's", "where's" typed without their apostrophe:
    # "wheres my refund") or an auxiliary opening a yes/no question
    ("question", re.compile(rf"^({'|'.join(sorted(idea_words().question_words))}|"
                            r"is|are|can|do|does|should|will|could|would)\b")),
    # a destination's own words: "best egg login" signs in at Best Egg, it ranks nothing
    ("brand", re.compile(r"\b(login|log in|sign in|signin|customer service|phone number|"
                         r"webmail|customer portal)\b")),
    ("best", re.compile(r"\b(best|top|top rated)\b")),
    ("review", re.compile(r"\b(reviews?|worth it|pros and cons)\b")),
    ("buy", re.compile(r"^(buy|order|shop)\b|\bsales$|\b(for sale|on sale|sale|deals?|cheap|"
                       r"cheapest|coupon|discount|online store)\b")),
    ("price", re.compile(r"\b(price|prices|pricing|cost|costs|rates?|fees?|salary)\b")),
    ("brand", re.compile(r"\b(login|log in|sign in|signin|app|website|customer service)\b")),
)

ASKS = (*dict.fromkeys(a for a, _ in _RULES), "general")


def ask_of(keyword: str) -> str:
    """The keyword's ask: local, frequency, comparison, definition, howto, problem, question,
    best, review, buy, price, brand, else general."""
    text = normalise(keyword)
    for ask, pattern in _RULES:
        if pattern.search(text):
            # "cat or dog for apartment" compares; "power of attorney or will" too, but a
            # lone "or" inside a longer question is still the question
            if ask == "comparison" and " or " in f" {text} " and \
                    not re.search(r"\b(vs|versus|difference between|compared to)\b", text) \
                    and re.match(r"^(how|what|why|when|where|who|is|can|do|does)\b", text):
                continue
            return ask
    return "general"
