"""One section of the writer's brief: its aim and word target, the questions it must answer,
the points to cover (one per keyword, from what the keyword asks) and the keywords to place.

Every line names its section — its heading or one of its keywords — and the `Lines` register
refuses a sentence already written anywhere in the brief, so nothing is said twice.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

from igny8d.ai.article.headings import cap, heading_kind, running_text
from igny8d.ai.article.keywords import stems_of
from igny8d.ai.ideas import analyse_keyword
from igny8d.ai.ideas.asks import ask_of
from igny8d.ai.text import normalise
from igny8d.ai.types import OutlineSection

#: An H3 gets this share of an H2's words.
H3_WEIGHT = 0.6

#: What a section of each kind must answer ({t}: the article's topic, {h}: the heading as it
#: reads in a sentence).
QUESTIONS: dict[str, tuple[str, ...]] = {
    "overview": ("How would you sum up {t} in one plain sentence?",
                 "Who needs to know about {t}, and when?",
                 "What must a reader know about {h} before the rest?"),
    "steps": ("What does the reader need before starting on {h}?",
              "What are the steps of {h}, in order, and how long does each take?",
              "How does the reader know each step of {h} worked?"),
    "fit": ("Which readers is {t} right for, and why?",
            "Who should skip {t}, and what should they get instead?"),
    "step": ("What exactly does the reader do in {h}, and with what?",
             "How does the reader know {h} is done right before moving on?"),
    "causes": ("What causes {t} most often, and what sign points to each cause?",
               "Which cause should the reader check first, and why?"),
    "prevent": ("What routine keeps {t} from coming back?",
                "Which early signs tell the reader it is returning?"),
    "help": ("When is {t} beyond a home fix, and who should the reader call?",
             "What does expert help cost, and what should the reader ask first?"),
    "needs": ("Which tools and materials go on the checklist for {t}, and what is each for?",
              "What should the reader check or set up before starting on {t}?"),
    "tips": ("Which tips make the biggest difference with {t}?",
             "Which tips for {t} do beginners overlook?"),
    "mistakes": ("Which mistakes do people make most often with {t}?",
                 "What does each mistake cost, and how is it fixed?"),
    "price": ("What should a reader expect to pay for {t} today, cheapest to premium?",
              "What pushes the price of {t} up or down?",
              "Where is the best value in {t}?"),
    "compare": ("How do the options differ on cost, ease of use and results?",
                "Which option suits which reader, and why?"),
    "choose": ("What should the reader look for in {t}, in order of importance?",
               "Which features of {t} are worth paying for, and which are not?",
               "How should the reader match {t} to their needs and budget?"),
    "pick": ("Which specific product or provider is the {h} pick (make and model)?",
             "Why does it earn the {h} spot over the others?",
             "Who should skip the {h} pick, and what should they get instead?"),
    "pros": ("What do owners like most about {t}?",
             "Which strengths of {t} hold up after months of use?"),
    "cons": ("What do owners complain about most with {t}?",
             "Which drawbacks of {t} are deal-breakers, and for whom?"),
    "question": ("What is the short answer to \u201c{H}?\u201d",
                 "What changes that answer (the situation, the budget, experience)?"),
    "faq": ("Which questions do readers ask most about {t}?",),
    "conclusion": ("What is the one-sentence verdict on {t}?",
                   "What should the reader do next about {t}?"),
    "define": ("What is {h}, in one plain sentence?",
               "How does {h} work, and what is it used for?"),
    "general": ("What must a reader know about {h}?",
                "What difference does {h} make to what the reader does with {t}?"),
}

#: What a section of each kind is for, said after its word target.
AIMS: dict[str, str] = {
    "overview": "define it plainly and set up the sections that follow",
    "steps": "a numbered list of steps, each with what to do and how to tell it worked",
    "step": "what to do in this step, in order, and how to tell it worked",
    "fit": "who it suits and who should skip it, each with the reason",
    "causes": "each likely cause, the most common first, with the sign that points to it",
    "prevent": "the habits and checks that stop it returning, each with why it works",
    "help": "the signs that call for an expert, who to call and what it costs",
    "needs": "a checklist of the tools, materials and skills, each with what it is for",
    "tips": "each tip as one action with the reason it works",
    "mistakes": "each mistake, why it happens and the fix",
    "price": "real figures with a date and a source, and what moves them",
    "compare": "a side-by-side comparison, ideally a table, and who should pick which",
    "choose": "the criteria in order of importance, each with what good looks like",
    "pick": "one named product or provider, who it suits, its strengths and its limits",
    "pros": "the strengths owners report, each with an example",
    "cons": "the weaknesses owners report, each with who it matters to",
    "question": "the direct answer first, then what qualifies it",
    "faq": "each question answered in 40 to 60 words, the answer first",
    "conclusion": "the verdict and the next step, no new material",
    "define": "a plain definition first, then how it works and one example",
    "general": "what the reader should know and do, with one concrete example",
}

#: What a keyword asks the section to deliver, by its ask (`ideas.asks`).
POINTS: dict[str, str] = {
    "frequency": "state the interval as a number (every so many days, months or uses) and "
                 "the signs that call for it sooner",
    "question": "answer it in the first two sentences, then the exceptions",
    "definition": "define it in one plain sentence, then how it works and one example",
    "howto": "give the steps in order as a numbered list, with what is needed for each",
    "problem": "list its likely causes, the most common first, each with the sign that points "
               "to it and the fix",
    "comparison": "compare both sides on cost, ease of use and results, and say who should "
                  "pick which",
    "best": "name three to five specific products or providers (make and model), one line "
            "each on who it suits",
    "review": "sum up what owners and reviewers report: strengths, complaints, reliability",
    "buy": "say where to buy it, what it costs today and what to check before paying",
    "price": "give current figures with a date and a source, and what moves them",
    "local": "explain how to find and judge one nearby: hours, prices, reviews, credentials",
    "brand": "say where the official page is, how to get in and what to do when it fails",
    "general": "explain what it is and how it matters here, with one concrete example",
}


#: The point for a keyword that asks nothing itself, by the kind of section it is placed in.
KIND_POINTS: dict[str, str] = {
    "pick": "say what makes a product a good fit for it and name the one that fits best",
    "price": "give what it costs today, with a date and a source",
    "compare": "say how the options differ on it and which one wins",
    "steps": "say at which step it comes in and what to do there",
    "step": "say what to do about it in this step",
    "needs": "say what it takes: the tools, the materials and the time",
    "causes": "say which cause it points to and how to confirm it",
    "mistakes": "say what goes wrong with it and how to avoid it",
    "tips": "give one concrete tip for it with the reason it works",
    "choose": "say what good looks like for it and what to avoid",
}

#: Words in a keyword that say what it wants more precisely than its ask (first match wins).
WORD_POINTS: tuple[tuple[frozenset[str], str], ...] = (
    (frozenset({"ratio", "ratios"}), "give the ratio as numbers (for example grams to "
     "millilitres) and how to adjust it"),
    (frozenset({"lifespan", "life", "last", "lasts"}), "give the typical lifespan as a number "
     "and what shortens or extends it"),
    (frozenset({"schedule", "schedules", "chart", "calendar"}), "set it out as a table or list "
     "of intervals or amounts"),
    (frozenset({"signs", "symptoms"}), "list the signs a reader can check, the most reliable "
     "first"),
    (frozenset({"coupon", "coupons", "promo", "voucher", "vouchers", "discount"}), "list the "
     "codes and offers that work now, each with its date, its conditions and where it is "
     "published"),
    (frozenset({"calculator"}), "explain the inputs and show one worked example with real "
     "numbers"),
    (frozenset({"recipe", "recipes"}), "give the ingredients with quantities and the steps in "
     "order"),
    (frozenset({"template", "templates", "examples", "example", "format"}), "show one or two "
     "complete examples a reader can copy"),
    (frozenset({"requirements", "rules", "limits", "limit"}), "list each one with its current "
     "figure or condition and where it comes from"),
    (frozenset({"benefits"}), "list the benefits with the evidence for each"),
    (frozenset({"risks", "effects", "dangers"}), "list them with how common they are and "
     "when to get professional help"),
    (frozenset({"ideas", "tips"}), "give specific, concrete items, each with one line on why "
     "it works"),
    (frozenset({"alternatives", "alternative", "competitors"}), "name the alternatives and "
     "say who each one suits better"),
)


def point_for(keyword: str, kind: str = "general", names: frozenset[str] = frozenset()) -> str:
    """The point a keyword asks for: "“coffee to water ratio”: give the ratio as numbers…";
    a keyword that asks nothing itself gets the section's `kind` of point (a pick section:
    what makes a product fit it); the request's `names` are written as names."""
    low = normalise(keyword)
    words = set(low.split())
    by_word = next((what for cue, what in WORD_POINTS if cue & words), None)
    if by_word is not None and ask_of(keyword) not in ("comparison", "howto", "local"):
        what = by_word
    else:
        what = POINTS[ask_of(keyword)]
        if ask_of(keyword) == "general" and kind in KIND_POINTS:
            what = KIND_POINTS[kind]
        k = analyse_keyword(keyword, names=names)
        if k.worded_as_question and ask_of(keyword) in ("question", "frequency"):
            what = f"answer \u201c{k.question()}\u201d in the first two sentences, then " + \
                ("the signs that call for it sooner" if ask_of(keyword) == "frequency"
                 else "the exceptions")
        if words & {"beginners", "beginner"}:
            what += ", pitched at beginners"
    return f"\u201c{keyword}\u201d: {what}."


@dataclass(slots=True)
class Block:
    """One heading's part of the brief: an H2's lead or one of its H3s."""

    level: int
    heading: str
    weight: float
    keywords: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Lines:
    """The sentences written so far: a line is kept only if no line before said the same."""

    seen: set[str] = field(default_factory=set)

    def fresh(self, text: str) -> bool:
        key = normalise(text)
        if not key or key in self.seen:
            return False
        self.seen.add(key)
        return True


def _names(text: str, topic: set[str]) -> bool:
    return bool(stems_of(text) & topic)


def _li(items: Sequence[str]) -> str:
    return "<ul>" + "".join(f"<li>{escape(i, quote=False)}</li>" for i in items) + "</ul>"


def write_block(block: Block, words: int, topic: str, lines: Lines,
                names: frozenset[str] = frozenset()) -> list[str]:
    """HTML of one block (its heading not included): aim and word target, questions, points,
    keywords to place; each line names the block's heading or keywords, none repeats; the
    request's `names` are written as the title writes them."""
    kind = heading_kind(block.heading)
    phrase = running_text(block.heading, names) or topic
    generic = re.match(r"what should you know about (.+)", phrase, flags=re.IGNORECASE)
    if generic:  # an outline's stand-in question for a keyword that asks nothing itself
        kind, phrase = "general", generic.group(1)
    defined = re.fullmatch(r"what (?:is|are) (?:an? |the )?(.+)", phrase, flags=re.IGNORECASE)
    if re.match(r"what (?:is|are) (?:the|some) \S+ of ", phrase, flags=re.IGNORECASE):
        defined = None  # "What are the benefits of X?" asks for a list, not a definition
    if kind == "question" and defined:  # "What Is Notion?": a definition, not a verdict
        kind, phrase = "define", defined.group(1)
    own = stems_of(block.heading) | stems_of(" ".join(block.keywords))

    def named(text: str) -> str:
        """The line as it is when it names the section, else led by the heading."""
        return text if _names(text, own) else f"{cap(phrase)}: {text[:1].lower()}{text[1:]}"

    out: list[str] = []
    # the heading quoted as written, not spliced into the sentence in lower case ("Questions
    # the section on are hoka good for flat feet must answer")
    quoted = f"\u201c{' '.join(block.heading.split())}\u201d"
    if kind == "question":
        aim = f"About {words} words answering {quoted}: {AIMS[kind]}."
        ask_lead, under = f"What the answer to {quoted} must settle:", \
            f"the answer to {quoted}"
    else:
        aim = f"About {words} words on {phrase}: {AIMS[kind]}."
        ask_lead, under = f"Questions the {quoted} section must answer:", quoted
    if lines.fresh(aim):
        out.append(f"<p>{escape(aim, quote=False)}</p>")
    questions = [named(q.format(t=topic, h=phrase, H=block.heading.rstrip("?")))
                 for q in QUESTIONS[kind]]
    questions = [q for q in questions if lines.fresh(q)]
    if questions:
        if lines.fresh(ask_lead):
            out.append(f"<p>{escape(ask_lead, quote=False)}</p>")
        out.append(_li(questions))
    points = [p for p in (point_for(k, kind, names) for k in block.keywords)
              if lines.fresh(p)]
    if points:
        lead = f"Points to cover in {under}:"
        if lines.fresh(lead):
            out.append(f"<p>{escape(lead, quote=False)}</p>")
        out.append(_li(points))
    if block.keywords:
        listed = ", ".join(f"\u201c{k}\u201d" for k in block.keywords)
        place = f"Keywords to place in {under}: {listed}."
        if lines.fresh(place):
            out.append(f"<p>{escape(place, quote=False)}</p>")
    return out


def outline_blocks(outline: Sequence[OutlineSection],
                   keywords: Sequence[list[str]]) -> list[list[Block]]:
    """Per H2: its lead block and its H3 blocks, the section's keywords spread to the H3 that
    shares most stems with each (else the lead)."""
    out: list[list[Block]] = []
    for s, kws in zip(outline, keywords, strict=True):
        lead = Block(2, s.heading, 1.0)
        subs = [Block(3, h, H3_WEIGHT) for h in s.subheadings]
        for kw in kws:
            ks = stems_of(kw)
            scored = [(len(ks & stems_of(b.heading)), -i) for i, b in enumerate(subs)]
            best = max(range(len(subs)), key=lambda i: scored[i]) if subs else -1
            target = subs[best] if best >= 0 and scored[best][0] > 0 else lead
            target.keywords.append(kw)
        out.append([lead, *subs])
    return out
