"""Article drafts for the local provider: outline first, then an HTML scaffold that follows it.

The outline is the brief's when it has one — followed as written: every heading verbatim, in
order, H3s under their H2 — else it is made from the title and keywords the way ideas make
theirs (`ideas.plan_keywords` + `ideas.outline_for` for the brief's content structure).

The draft is honest about what it is: a template-built scaffold, not researched prose. It
opens with an HTML comment and a visible note paragraph saying so. The prose comes from
sentence pools chosen by each heading's kind (overview, steps, tips, mistakes, price,
comparison, choosing, a listicle pick, pros, cons, questions, conclusion, else general), filled
with the topic and the section's keywords, so it reads as sensible generic advice to the reader
an editor then makes specific. The primary keyword is in the introduction, every secondary
keyword in the section it belongs to (the outline's `keywords`, else the section whose
headings share most stems with it). Sections get words in proportion to their size (an H3
counts 0.6 of an H2) so the whole reaches about `target_word_count`.

Deterministic: the keywords are sorted before use and every choice comes from a
`random.Random` seeded with a digest of the brief, never from hash seeds or the clock. The HTML
uses only <h2>, <h3>, <p>, <ul>, <li>, <em> and one `class` attribute, so the sanitiser
(`text.sanitize_html`) leaves it as it is — except the leading comment, which it
drops like any comment.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

from igny8d.ai.ideas import analyse_keyword, outline_for, plan_keywords
from igny8d.ai.ideas.words import idea_words
from igny8d.ai.text import normalise, stem, vocabulary
from igny8d.ai.types import ArticleBrief, ArticleDraft, OutlineSection
from igny8d.text import word_count
from igny8d.vocab import CONTENT_STRUCTURES

META_TITLE_MAX = 60
META_DESCRIPTION_MAX = 160
SLUG_MAX = 80
MAX_SECONDARY = 10
MIN_WORDS, MAX_WORDS = 100, 20000
#: An H3 gets this share of an H2's words.
H3_WEIGHT = 0.6

DRAFT_COMMENT = ("<!-- igny8d local draft: a scaffold built from templates and the outline, "
                 "offline and without a language model. Check every claim and rewrite before "
                 "publishing. -->")
DRAFT_NOTE = ('<p class="draft-note"><em>This draft was generated offline from the outline; '
              "edit before publishing.</em></p>")

_WORD = re.compile(r"\w+(?:['’\-]\w+)*")


def _words(text: str) -> int:
    return len(_WORD.findall(text))


# -- sentence pools ------------------------------------------------------------------------------
# {topic}: the article's topic in running text; {Topic}: the same capitalised; {phrase}: the
# heading in running text; {Phrase}: capitalised; {kw}/{Kw}: a keyword.

POOLS: dict[str, tuple[str, ...]] = {
    "overview": (
        "{Topic} can look simple from the outside, but a few basics make every later "
        "decision easier.",
        "At the core of {topic} is one idea: matching the right approach to what you "
        "actually need.",
        "People come to {topic} for different reasons, so it helps to start with the "
        "fundamentals.",
        "Understanding the basics of {topic} puts you in a better position to judge advice, "
        "products and claims.",
        "The short version: a little preparation and a clear goal go a long way with "
        "{topic}.",
        "Before going further, it is worth agreeing on the basic terms around {topic}.",
        "Most confusion around {topic} comes from skipping the basics, so they come first "
        "here.",
        "Once the key terms are clear, everything else about {topic} is much easier to "
        "follow.",
    ),
    "steps": (
        "Work through the steps in order; each one builds on the last.",
        "Set aside enough time so you are not rushing the part that matters most.",
        "Gather everything you need before you begin, so you can keep going without "
        "interruptions.",
        "Take notes as you go: small adjustments are easier to repeat when you know what you "
        "changed.",
        "If a step does not work the first time, change one thing and try again.",
        "Check the result against what you expected before moving on.",
        "Start with the simplest version of the process, then refine it once it works.",
        "Keep your setup the same between attempts so you can tell what made the difference.",
    ),
    "tips": (
        "Small habits make the biggest difference with {topic}.",
        "Focus on consistency first; fine-tuning comes later.",
        "Learn from people who have done it before, but test their advice against your own "
        "situation.",
        "Keep it simple at the start and add complexity only when you need it.",
        "Every so often, review what worked and what did not, and adjust.",
        "A little planning up front saves a lot of correction later.",
        "Good inputs usually matter more than clever tricks.",
    ),
    "mistakes": (
        "The most common mistake with {topic} is rushing the basics.",
        "Another frequent error is copying someone else's setup without checking that it fits "
        "your needs.",
        "Skipping preparation tends to cost more time than it saves.",
        "Changing too many things at once makes it hard to know what actually helped.",
        "Ignoring small warning signs early often leads to bigger problems later.",
        "Spending too much too soon is easy to do and hard to undo.",
    ),
    "price": (
        "Prices for {topic} vary widely, so decide on a budget before you start comparing.",
        "The cheapest option is not always the best value once running costs are included.",
        "Paying more makes sense when it buys something you will actually use.",
        "Look beyond the headline price to what is included and what costs extra.",
        "Sales and discounts help only if the option fits your needs in the first place.",
        "Compare the total cost over a year or two, not just the upfront price.",
    ),
    "compare": (
        "The right choice depends less on which option is better in general and more on which "
        "fits your situation.",
        "Compare the options on the criteria that matter to you, not on the longest feature "
        "list.",
        "Each option has trade-offs; the question is which ones you can live with.",
        "Side by side, the differences are often smaller than marketing suggests, but they add "
        "up.",
        "Think about how you will use it day to day, then weigh the options against that.",
        "Cost, ease of use and results are usually the three criteria that decide it.",
    ),
    "choose": (
        "Choosing well starts with knowing what you need and what you can skip.",
        "Make a short list of must-have features before you look at any specific option.",
        "Reviews from people with similar needs are more useful than overall ratings.",
        "Consider how much time and effort you want to put in, not only the price.",
        "Build quality and support matter more the longer you plan to use it.",
        "If two options look equal, pick the one that is easier to live with every day.",
    ),
    "pick": (
        "The {phrase} should get the basics right without compromises that matter for this "
        "use.",
        "A strong choice here balances performance, price and ease of use.",
        "Look for solid build quality and a record of reliable results.",
        "It should suit the people this pick is for without charging for extras they will "
        "not use.",
        "Check recent owner reviews before you buy, since models and prices change often.",
        "If it is out of stock or over budget, the next pick in this list is a reasonable "
        "alternative.",
    ),
    "pros": (
        "The main strength is reliability: it does what it promises, consistently.",
        "Many people appreciate how easy it is to get started.",
        "Good value for the price is one of the most common points of praise.",
        "Small design details often make the biggest difference in daily use.",
        "Owners also tend to mention how little maintenance it needs.",
    ),
    "cons": (
        "No option is perfect, and it is better to know the trade-offs up front.",
        "Some complaints concern durability over time, so check the warranty terms.",
        "Others mention a learning curve in the first few weeks.",
        "Price can be a sticking point when cheaper alternatives cover the basics.",
        "A few owners would like better support when something goes wrong.",
    ),
    "question": (
        "The short answer depends on your situation, but a few general points apply.",
        "In most cases, the answer comes down to how you plan to use {topic}.",
        "It is a fair question, and the part most people miss is the detail below.",
        "If you remember one thing, remember that the basics matter more than the details.",
        "Experts tend to agree on the fundamentals, even when they differ on the fine points.",
        "When in doubt, start with the simplest option and adjust from there.",
    ),
    "faq": (
        "These are the questions that come up most often about {topic}.",
        "Short answers first; the sections above have the detail.",
        "If your question is not here, the basics covered earlier usually point the way.",
    ),
    "conclusion": (
        "None of this has to be complicated once the basics of {topic} are in place.",
        "Start with the points that matter most for your situation and build from there.",
        "Come back to this page when you are ready for the next step.",
        "With a clear goal and a little patience, you will get better results than most.",
        "The best next step is a small one: apply one idea from this article today.",
    ),
    "general": (
        "There is no single right answer here, but there are clear patterns worth knowing.",
        "A careful, steady approach usually works better than a quick fix.",
        "Keep your goal in mind and judge each option against it.",
        "Good information is easy to find; the hard part is applying it to your own situation.",
        "Take the time to compare a few options before settling on one.",
        "What works for one person may not work for another, so test and adjust.",
        "Pay attention to the small details, because they add up over time.",
        "Decide what a good result looks like before you begin.",
        "If you are unsure, start with the option that is easiest to change later.",
        "A bit of research here pays off in fewer surprises later on.",
        "The same principles apply whether you are just starting out or refining your "
        "approach.",
        "It is worth revisiting this as your needs change.",
        "Clear priorities make every later decision faster and easier.",
        "Trusted sources, real-world experience and your own testing are the best guides.",
        "Most problems here have simple causes, which makes them easy to fix once you spot "
        "them.",
        "Even small improvements here can make a noticeable difference.",
        "Think in the long run: what will still work well a year from now?",
        "Neither the cheapest nor the most elaborate option is automatically right.",
        "Write down what you learn; it makes the next decision easier.",
        "Be realistic about the time and effort you can commit.",
        "If something seems too good to be true, check the details twice.",
        "Comparing notes with others who share your goals can save you time.",
    ),
}

#: Openers for a section about a topic of its own: they name the heading.
PHRASE_SENTENCES: tuple[str, ...] = (
    "{Phrase} deserves a closer look, because it shapes many of the decisions that follow.",
    "When it comes to {phrase}, the details matter more than they first appear.",
    "It helps to think about {phrase} in terms of what you want to achieve.",
    "A practical approach to {phrase} starts with your own needs and limits.",
    "Most questions about {phrase} come down to a handful of practical points.",
)

#: Sentences that carry one of the section's keywords.
KEYWORD_SENTENCES: tuple[str, ...] = (
    "Readers searching for \u201c{kw}\u201d usually want a clear, practical answer, and this "
    "section gives one.",
    "If \u201c{kw}\u201d is what brought you here, the points in this section apply directly.",
    "A common search here is \u201c{kw}\u201d; the same principles hold for it.",
    "Questions around \u201c{kw}\u201d usually come down to the same few factors.",
    "For \u201c{kw}\u201d, the usual trade-offs between cost, effort and results come into "
    "play.",
    "Anyone looking into \u201c{kw}\u201d should start from their own needs rather than the "
    "most popular choice.",
)

#: List items for the kinds that take a list.
LIST_ITEMS: dict[str, tuple[str, ...]] = {
    "steps": ("Prepare what you need", "Follow each step in order", "Check the result",
              "Adjust one thing at a time", "Write down what worked"),
    "tips": ("Start simple", "Be consistent", "Measure the results",
             "Change one thing at a time", "Review regularly"),
    "mistakes": ("Rushing the basics", "Changing too much at once", "Ignoring the details",
                 "Overspending early", "Skipping maintenance"),
    "price": ("Set a budget first", "Compare total cost, not just the price",
              "Check what is included", "Watch for seasonal deals"),
    "compare": ("Cost", "Ease of use", "Results", "Long-term value"),
    "choose": ("Your main use", "Budget", "Size and fit", "Ease of use",
               "Support and warranty"),
    "pick": ("Who it suits", "What stands out", "What to watch for", "Typical price range"),
    "pros": ("Reliable results", "Easy to get started", "Good value"),
    "cons": ("Durability questions", "A learning curve", "Price"),
}

INTROS: dict[str, tuple[str, ...]] = {
    "guide": ("This guide covers {primary}: the essentials, what matters most and how to get "
              "good results.",
              "Everything you need to know about {primary} is in one place below, from the "
              "basics to the details that make a difference."),
    "listicle": ("If you searched for {primary}, this list is for you: it walks through the "
                 "strongest options and what sets each apart.",),
    "how_to": ("This step-by-step guide covers {primary}, from preparation to the final "
               "result.",),
    "comparison": ("If you are weighing up {primary}, this comparison sets out the key "
                   "differences side by side.",),
    "review": ("This review of {primary} looks at what owners like, what they do not and "
               "whether it is worth the money.",),
    "faq": ("Here are clear answers to the most common questions about {primary}.",),
    "pillar": ("This is a complete resource on {primary}, from the basics to more advanced "
               "topics.",),
    "news": ("Here is what has changed around {primary} and why it matters.",),
}
INTRO_FOLLOW: tuple[str, ...] = (
    "Use the sections below to jump to what you need.",
    "Each section is short and practical, so you can read it in order or skip ahead.",
    "The aim is simple: help you make a confident decision without wading through noise.",
)
CLOSING: tuple[str, ...] = (
    "That covers the essentials of {topic}; start with the part that matters most to you.",
    "With these points in mind, you are ready to take the next step with {topic}.",
)

_KIND_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("conclusion", re.compile(r"\b(conclusions?|final thoughts|bottom line|verdict|wrapping up|"
                              r"wrap up|summary|takeaways?|in closing|where to go next|"
                              r"still have questions|next steps)\b")),
    ("faq", re.compile(r"\b(faq|frequently asked|questions)\b")),
    ("mistakes", re.compile(r"\b(mistakes?|avoid|pitfalls?|complaints)\b")),
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
    ("cons", re.compile(r"\b(could be better|cons|drawbacks?|downsides?|falls short)\b")),
    ("pros", re.compile(r"\b(pros|like|liked|benefits?|does well|strengths?)\b")),
    ("overview", re.compile(r"\b(what is|what are|overview|explained|basics|introduction|"
                            r"at a glance|in brief|short answer|why)\b")),
)


def heading_kind(heading: str) -> str:
    """What kind of section a heading opens (see the module doc)."""
    text = normalise(heading)
    if heading.strip().endswith("?") and not re.search(r"\b(which should|right for)\b", text):
        return "question"
    for kind, pattern in _KIND_RULES:
        if pattern.search(text):
            return kind
    return "general"


def running_text(text: str) -> str:
    """A heading or keyword as it reads inside a sentence: lower case except acronyms and
    words written with inner capitals ("HubSpot"), the part before a colon, no "?"."""
    text = text.split(":", 1)[0].strip().rstrip("?").strip()
    iw = idea_words()
    out: list[str] = []
    for w in text.split():
        bare = w.strip(".,;!()\"'")
        if bare.lower() in iw.acronyms or (bare.isupper() and len(bare) > 1) or \
                any(c.isupper() for c in bare[1:]):
            out.append(w)
        elif bare.lower() in iw.brand_casing:
            out.append(w.replace(bare, iw.brand_casing[bare.lower()]))
        else:
            out.append(w.lower())
    return " ".join(out)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


# -- keywords ------------------------------------------------------------------------------------


def _key(text: str) -> str:
    """What makes two keywords the same: their normalised text, or for text the
    normalisation empties (no Latin letters), the text case-folded."""
    return normalise(text) or " ".join(text.split()).casefold()


def _clean(texts: Sequence[str]) -> list[str]:
    out: dict[str, str] = {}
    for t in texts:
        clean = " ".join(t.split())
        key = _key(clean)
        if key and key not in out:
            out[key] = clean
    return [out[k] for k in sorted(out)]


def _stems(text: str) -> set[str]:
    return {stem(w) for w in normalise(text).split() if w not in vocabulary().stopwords}


def choose_primary(title: str, keywords: Sequence[str]) -> str:
    """The keyword most like the title (most shared stems, then shortest, then alphabetical);
    with no keywords, the title's topic."""
    if keywords:
        title_stems = _stems(title)
        return min(keywords, key=lambda k: (-len(_stems(k) & title_stems), len(k),
                                            normalise(k), k))
    k = analyse_keyword(title)
    words = [w for w in k.topic_words if not w.isdigit()]
    return " ".join(words).lower() if words else (normalise(title) or " ".join(title.split()))


# -- building the HTML ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Block:
    """One heading's text to write: an H2's lead or one of its H3s."""

    level: int
    heading: str
    weight: float
    keywords: list[str] = field(default_factory=list)


class _Writer:
    """Sentences from the pools: never one template twice in a block while others are left,
    each as rarely as possible across the article (ties broken by the seeded generator)."""

    def __init__(self, rng: random.Random, topic: str) -> None:
        self.rng = rng
        self.topic = topic
        self.used: dict[str, int] = {}
        self.block: set[str] = set()

    def pick(self, pool: Sequence[str]) -> str:
        fresh = [t for t in pool if t not in self.block] or list(pool)
        least = min(self.used.get(t, 0) for t in fresh)
        choices = [t for t in fresh if self.used.get(t, 0) == least]
        choice = choices[self.rng.randrange(len(choices))]
        self.used[choice] = self.used.get(choice, 0) + 1
        self.block.add(choice)
        return choice

    def fill(self, template: str, phrase: str = "", kw: str = "") -> str:
        return template.format(topic=self.topic, Topic=_cap(self.topic), phrase=phrase,
                               Phrase=_cap(phrase), kw=kw, Kw=_cap(kw), primary=kw)

    def opener(self, kind: str, phrase: str) -> str:
        """A block's first sentence: about its heading for a general section."""
        self.block = set()
        if kind == "general":
            return self.fill(self.pick(PHRASE_SENTENCES), phrase=phrase)
        return self.sentence(kind, phrase)

    def sentence(self, kind: str, phrase: str) -> str:
        pool = POOLS.get(kind, POOLS["general"])
        if kind != "general" and all(t in self.block for t in pool):
            pool = POOLS["general"]  # the kind's own sentences are spent here: go general
        return self.fill(self.pick(pool), phrase=phrase)

    def keyword_sentence(self, kw: str) -> str:
        return self.fill(self.pick(KEYWORD_SENTENCES), kw=kw)

    def list_items(self, kind: str) -> list[str]:
        items = list(LIST_ITEMS[kind])
        self.rng.shuffle(items)
        return items[:min(len(items), 3 + self.rng.randrange(2))]


def _paragraphs(sentences: list[str], rng: random.Random) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(sentences):
        size = 3 + rng.randrange(2)
        if len(sentences) - (i + size) == 1:
            size += 1  # no one-sentence paragraph at the end
        out.append(" ".join(sentences[i:i + size]))
        i += size
    return out


def _write_block(w: _Writer, block: _Block, budget: int, rng: random.Random) -> list[str]:
    """HTML of one block: its heading (none for the lead of an H2 written just before), then
    paragraphs of about `budget` words, with a list for the kinds that take one."""
    kind = heading_kind(block.heading)
    phrase = running_text(block.heading)
    sentences: list[str] = [w.opener(kind, phrase)]
    sentences.extend(w.keyword_sentence(kw) for kw in block.keywords)
    items = w.list_items(kind) if kind in LIST_ITEMS and budget >= 60 else []
    total = sum(_words(s) for s in sentences) + sum(_words(i) for i in items)
    while total < budget:
        # after the opener and one more of the kind's own, alternate with general advice
        general = kind != "general" and len(sentences) >= 2 and len(sentences) % 2 == 0
        s = w.sentence("general" if general else kind, phrase)
        sentences.append(s)
        total += _words(s)
    # keep the opening sentence first, the others in a seeded order
    rest = sentences[1:]
    rng.shuffle(rest)
    paragraphs = _paragraphs([sentences[0], *rest], rng)
    html = [f"<p>{escape(paragraphs[0], quote=False)}</p>"]
    if items:
        html.append("<ul>" + "".join(f"<li>{escape(i, quote=False)}</li>" for i in items) +
                    "</ul>")
    html.extend(f"<p>{escape(p, quote=False)}</p>" for p in paragraphs[1:])
    return html


def _assign_keywords(outline: Sequence[OutlineSection], secondary: Sequence[str],
                     primary: str) -> list[list[str]]:
    """Each section's keywords: the outline's own (less the primary), then every secondary
    keyword no section names, to the section sharing most stems with it (ties: the one with
    fewer keywords, then the earlier)."""
    prim = _key(primary)
    out: list[list[str]] = []
    named: set[str] = set()
    for s in outline:
        kws = [" ".join(k.split()) for k in s.keywords if _key(k) and _key(k) != prim]
        kws = list(dict.fromkeys(kws))
        named.update(_key(k) for k in kws)
        out.append(kws)
    stems = [_stems(" ".join((s.heading, *s.subheadings))) for s in outline]
    for kw in secondary:
        if _key(kw) in named or not outline:
            continue
        ks = _stems(kw)
        best = min(range(len(outline)), key=lambda i: (-len(ks & stems[i]), len(out[i]), i))
        out[best].append(kw)
        named.add(_key(kw))
    return out


def _blocks(outline: Sequence[OutlineSection],
            keywords: Sequence[list[str]]) -> list[list[_Block]]:
    """Per H2: its lead block and its H3 blocks, the section's keywords spread to the H3 that
    shares most stems with each (else the lead)."""
    out: list[list[_Block]] = []
    for s, kws in zip(outline, keywords, strict=True):
        lead = _Block(2, s.heading, 1.0)
        subs = [_Block(3, h, H3_WEIGHT) for h in s.subheadings]
        for kw in kws:
            ks = _stems(kw)
            scored = [(len(ks & _stems(b.heading)), -i) for i, b in enumerate(subs)]
            best = max(range(len(subs)), key=lambda i: scored[i]) if subs else -1
            target = subs[best] if best >= 0 and scored[best][0] > 0 else lead
            target.keywords.append(kw)
        out.append([lead, *subs])
    return out


def _clean_outline(outline: Sequence[OutlineSection]) -> tuple[OutlineSection, ...]:
    """The brief's outline as written, less empty headings (nothing to write under them)."""
    out: list[OutlineSection] = []
    for s in outline:
        if not s.heading.strip():
            continue
        subs = tuple(h for h in s.subheadings if h.strip())
        out.append(OutlineSection(s.heading, subs, tuple(s.keywords)))
    return tuple(out)


def _seed(*parts: object) -> int:
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big")


# -- meta ------------------------------------------------------------------------------------------

_TRAILING = re.compile(r"[\s,;:\-–—&|/]+$")


def cut_words(text: str, limit: int, *, ellipsis: str = "") -> str:
    """`text` cut at a word boundary to at most `limit` characters (with `ellipsis` appended
    when cut), trailing punctuation and dangling small words removed."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    room = limit - len(ellipsis)
    cut = text[:room + 1]
    cut = cut[:cut.rfind(" ")] if " " in cut else cut[:room]
    words = cut.split()
    dangling = vocabulary().stopwords | {"vs", "and"}
    while len(words) > 1 and words[-1].lower().strip(",;:") in dangling:
        words.pop()
    cut = _TRAILING.sub("", " ".join(words))
    return (cut + ellipsis)[:limit]


def meta_title(title: str) -> str:
    """The title when it fits 60 characters, else the part before its colon, else cut at a
    word boundary."""
    title = " ".join(title.split())
    if len(title) <= META_TITLE_MAX:
        return title
    head = title.split(":", 1)[0].strip()
    if 20 <= len(head) <= META_TITLE_MAX:
        return head
    return cut_words(title, META_TITLE_MAX)


def meta_description(primary: str, structure: str,
                     outline: Sequence[OutlineSection]) -> str:
    """One sentence naming the primary keyword and the first sections, ≤ 160 characters:
    fewer sections named until it fits, then cut at a word boundary."""
    how_to = "{P}, step by step" if normalise(primary).startswith("how ") else \
        "A step-by-step guide to {p}"
    lead = {"listicle": "The top options for {p}", "how_to": how_to,
            "comparison": "{P} compared", "review": "An honest look at {p}",
            "faq": "Answers to common questions about {p}",
            "news": "What is new with {p}"}.get(structure, "A practical guide to {p}")
    start = lead.format(p=primary, P=_cap(primary))
    headings = [running_text(s.heading) for s in outline if heading_kind(s.heading) not in
                ("conclusion", "faq")][:4]
    for n in range(len(headings), -1, -1):
        names = headings[:n]
        if not names:
            text = start + "."
        elif len(names) == 1:
            text = f"{start}: {names[0]}."
        else:
            text = f"{start}: {', '.join(names[:-1])} and {names[-1]}."
        if len(text) <= META_DESCRIPTION_MAX:
            return text
    return cut_words(start, META_DESCRIPTION_MAX, ellipsis="…")


def slugify(text: str, limit: int = SLUG_MAX) -> str:
    """Lower-case ASCII words joined by hyphens ("Café & Crème: ½ off!" → "cafe-and-creme-1-2-
    off"), at most `limit` characters cut at a hyphen."""
    slug = "-".join(normalise(text).split())
    if len(slug) > limit:
        slug = slug[:limit + 1]
        slug = slug[:slug.rfind("-")] if "-" in slug else slug[:limit]
    return slug.strip("-")


# -- the article -----------------------------------------------------------------------------------


def plan_outline(brief: ArticleBrief, primary: str,
                 keywords: Sequence[str]) -> tuple[tuple[OutlineSection, ...], bool]:
    """(the outline to follow, whether it is the brief's own)."""
    given = _clean_outline(brief.outline)
    if given:
        return given, True
    structure = brief.content_structure if brief.content_structure in CONTENT_STRUCTURES \
        else "guide"
    try:
        plan = plan_keywords([(k, 0) for k in keywords], primary=primary)
    except ValueError:  # nothing the analysis reads (no Latin letters): a plain skeleton
        return (OutlineSection("Overview", (), tuple(keywords)), OutlineSection("Key Points"),
                OutlineSection("Conclusion")), False
    return outline_for(plan, structure), False


def generate_article(brief: ArticleBrief) -> ArticleDraft:
    """A draft of the brief (see the module doc)."""
    title = " ".join(brief.title.split())
    own = _clean(brief.keywords)
    primary = choose_primary(title, own)
    if not title:
        title = _cap(primary)
    prim = _key(primary)
    related = [k for k in _clean(brief.related_keywords) if _key(k) not in
               {_key(x) for x in own}]
    secondary = [k for k in own if _key(k) != prim] + \
        [k for k in related if _key(k) != prim]
    outline, _given = plan_outline(brief, primary, [primary, *secondary])
    structure = brief.content_structure if brief.content_structure in CONTENT_STRUCTURES \
        else "guide"
    target = max(MIN_WORDS, min(MAX_WORDS, brief.target_word_count))
    seed = _seed(title, primary, tuple(secondary), outline, structure, target)
    rng = random.Random(seed)  # noqa: S311 - a seeded choice of sentences, not a secret
    try:
        topic = running_text(plan_keywords([(primary, 0)]).ts) or primary
    except ValueError:
        topic = primary
    w = _Writer(rng, topic)

    html: list[str] = [DRAFT_COMMENT + DRAFT_NOTE]
    intro = [w.fill(w.pick(INTROS.get(structure, INTROS["guide"])), kw=primary)]
    intro_budget = max(25, min(150, target // 12))
    follow = list(INTRO_FOLLOW)
    rng.shuffle(follow)
    for s in follow:
        if sum(_words(x) for x in intro) >= intro_budget:
            break
        intro.append(s)
    html.append(f"<p>{escape(' '.join(intro), quote=False)}</p>")

    blocks = _blocks(outline, _assign_keywords(outline, secondary, primary))
    ends_itself = bool(outline) and heading_kind(outline[-1].heading) == "conclusion"
    fixed = word_count("".join(html)) + sum(
        _words(b.heading) for section in blocks for b in section) + (0 if ends_itself else 25)
    units = sum(b.weight for section in blocks for b in section) or 1.0
    per_unit = max(20, int((target - fixed) / units))
    for section in blocks:
        for b in section:
            tag = "h2" if b.level == 2 else "h3"
            html.append(f"<{tag}>{escape(b.heading, quote=False)}</{tag}>")
            html.extend(_write_block(w, b, int(per_unit * b.weight), rng))
    if not ends_itself:
        html.append(f"<p>{escape(w.fill(w.pick(CLOSING)), quote=False)}</p>")
    body = "\n".join(html)
    return ArticleDraft(
        title=title, html_content=body, meta_title=meta_title(title),
        meta_description=meta_description(primary, structure, outline),
        slug=slugify(title) or slugify(primary) or f"draft-{brief.task_id}",
        primary_keyword=primary, secondary_keywords=tuple(secondary[:MAX_SECONDARY]),
        outline=outline, word_count=word_count(body))
