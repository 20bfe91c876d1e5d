"""One keyword read for writing: its topic, task, angle, cues and display spelling.

A keyword's *topic* is its words without intent modifiers, years and edge stop words ("best
espresso machines under 500" → "espresso machines under 500"); its *task* flag says it asks how
to do something ("how to make pour over coffee" → task "make pour over coffee"); its *angle*
(price, buy, review, comparison, how-to, question, best, navigational, overview) is read from
its modifiers.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cache

from igny8d.ai.ideas.grammar import brand_cased, is_acronym, sentence_case, title_case, written
from igny8d.ai.ideas.words import idea_words
from igny8d.ai.intent import IntentResult, classify_analysis
from igny8d.ai.text import (
    DOMAIN,
    YEAR,
    Analysis,
    analyse,
    cues_with_brands,
    find_phrases,
    match_phrase,
    normalise,
    phrase_spans,
    stem,
    vocabulary,
)
from igny8d.vocab import Intent

#: Openers after which a keyword names a task: "how to *learn python*", "how often to *replace
#: a water filter*", "how often should you *wash your hair*", "how long does it take to
#: *learn spanish*". A how-to asks for steps; the others ask a question about the task.
_HOWTO_LEAD = re.compile(r"^(how to|how do (i|you|we)|best way to|ways to) ")
_QUESTION_LEAD = re.compile(
    r"^((how (often|frequently|many times|long)|when) (should|do|can|would|will) (i|you|we|one)"
    r"|how long (does|will) it take( you)? to|(how (often|frequently|many times|long)|when) to) ")


@cache
def question_openers() -> frozenset[str]:
    """The first words of a keyword worded as a question ("what", "why", "is", "can"…)."""
    return idea_words().question_words | vocabulary().leading_questions


def _display_words(text: str, tokens: Sequence[str]) -> tuple[str, ...]:
    """The normalised tokens as the user wrote them where that is one word ("HubSpot",
    "café", "women's"), else as normalised ("pour-over" → "pour", "over"); a domain name is
    one word ("chess.com": "chess.com" and "", not "Chess Com")."""
    spelled: dict[str, str] = {}
    for chunk in text.split():
        core = chunk.strip(".,;:!?()[]{}\"'«»“”‘’*")
        parts = normalise(core).split()
        if len(parts) == 1 and core and "&" not in core:
            spelled.setdefault(parts[0], core)
        elif len(parts) == 2 and DOMAIN.fullmatch(core.lower()):
            spelled.setdefault(parts[0], core)
            spelled.setdefault(parts[1], "")
    return tuple(spelled.get(t, t) for t in tokens)


#: Modifiers that, right after a name's word, are the name's own tier ("Chase Sapphire
#: Reserve", "Spotify Premium"), not a price word or a booking verb.
NAME_TIERS = frozenset({"premium", "reserve"})
#: Modifiers that, right after a noun, make a compound with it ("meal *delivery* service",
#: "meal kit *subscription*"), not a shipping or buying word.
_COMPOUND_TAILS = frozenset({"delivery", "subscription", "subscriptions"})
#: Audience modifiers kept in the topic of a ranked list only ("best X for beginners").
_LISTED_AUDIENCES = frozenset({"for beginners"})
#: Modifiers that rank a kind ("best tv series"): a list of it, not one named thing.
RANKED = frozenset({"best", "top"})


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
    #: the task is typed with no opener ("host website on home server", `verbs_in`)
    bare: bool = False

    @property
    def topic_words(self) -> list[str]:
        return [self.display[i] for i in self.topic if self.display[i]]

    @property
    def subject_words(self) -> list[str]:
        """The topic without a task's verb: what follows its first article or possessive
        ("crate train *a* puppy" → "puppy"), else all but the verb and its particle ("pay
        off student loans" → "student loans")."""
        words = self.topic_words
        if not self.task or len(words) < 2:
            return words
        particles = idea_words().particles
        lowered = [w.lower() for w in words]
        determiners = idea_words().determiners
        at = next((i for i, w in enumerate(lowered) if w in determiners), -1)
        rest = words[at + 1:] if 0 <= at < len(words) - 1 else words[1:]
        stop = vocabulary().stopwords
        while len(rest) > 1 and (rest[0].lower() in stop or rest[0].lower() in particles):
            rest = rest[1:]
        if all(w.lower() in particles or w.lower() in stop for w in rest):
            return words  # "work out": the verb and its particle are the whole task
        return rest or words

    @property
    def sides(self) -> tuple[list[str], list[str]]:
        """The topic words before and after "vs" (both empty when there is no "vs")."""
        if self.vs_at < 0:
            return [], []
        return ([self.display[i] for i in self.topic if i < self.vs_at and self.display[i]],
                [self.display[i] for i in self.topic if i > self.vs_at and self.display[i]])

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
                           if not YEAR.match(self.analysis.tokens[i])])

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
        return title_case(for_audience(self.topic_words))

    def question(self, *, title: bool = False) -> str:
        """The keyword as a question: its own words when it is one ("Is it safe to drink
        coffee?"), else a question its modifiers ask ("crm meaning" → "What does CRM
        mean?"), "How do you …?" for a task, else "What should you know about …?". Title
        case with `title`."""
        if self.worded_as_question:
            words = [w for i, w in enumerate(self.display)
                     if not YEAR.match(self.analysis.tokens[i])]
        else:
            iw = idea_words()
            topic = [iw.second_person.get(w.lower(), w) for w in self.topic_words]
            form = next((f for mods, f in iw.question_forms if self.cues & mods), None)
            topic, form = _fit_form(topic, form)
            t = title_case(topic) if title else written(topic)
            if form is None:
                form = "How do you {t}?" if self.task else "What should you know about {t}?"
            words = form.format(t=t, k=" ".join(w for w in self.display if w)).split()
        words[-1] = words[-1].rstrip("?")
        return (title_case(words) if title else sentence_case(words)) + "?"


def _proper(display: tuple[str, ...], tokens: Sequence[str],
            named: dict[tuple[str, ...], str]) -> tuple[str, ...]:
    """The display words with a request name's words capitalised where the user typed them in
    lower case: a name is a proper noun, in a sentence too ("Is Best Egg legit?", not "Is best
    egg legit?"); a known spelling or an acronym still wins when the words are cased."""
    if not named:
        return display
    out = list(display)
    for i, name in phrase_spans(tokens, named):
        for j in range(i, i + len(name.split())):
            w = out[j]
            if w and w.islower() and w.isalpha() and not is_acronym(w):
                out[j] = brand_cased(w) or w[:1].upper() + w[1:]
    return tuple(out)


def named_words(words: Sequence[str], names: frozenset[str]) -> list[str]:
    """Running words (a heading or a keyword inside a sentence) with the request's names
    capitalised as a title writes them (`_proper`): "Victorinox Fibrox 8 inch", not
    "victorinox fibrox 8 inch", when the request shows "victorinox fibrox" to be a name."""
    if not names:
        return list(words)
    tokens = [normalise(w) for w in words]
    return list(_proper(tuple(words), tokens, {tuple(n.split()): n for n in names}))


def _fit_form(topic: list[str], form: str | None) -> tuple[list[str], str | None]:
    """The topic as a question form takes it: "How much does {t} cost?" without the topic's
    own price word ("kitchen remodel cost cost"), "the average …"; "What are the benefits of
    {t}?" with "health" moved out of the topic ("coffee health")."""
    if not form or not topic:
        return topic, form
    low = [w.lower() for w in topic]
    if form.endswith("cost?"):
        prices = idea_words().price_words
        at = next((i for i, w in enumerate(low[:-2]) if i and w in prices and
                   low[i + 1] == "per"), -1)
        if any(w in prices and low[i + 1] == "of" for i, w in enumerate(low[:-1])):
            return topic, "What is the {t}?"  # "What is the average cost of pest control?"
        if at > 0:  # "factor meals cost per meal": "How much does … cost per meal?"
            rest = " ".join(topic[at + 1:]).replace("{", "").replace("}", "")
            return topic[:at], form[:-1] + f" {rest}?"
        while len(topic) > 1 and low[-1] in prices:
            topic, low = topic[:-1], low[:-1]
        if low[0] in ("average", "typical") and len(topic) > 1:
            topic = ["the", *topic]
    elif "benefits of" in form and len(topic) > 1 and low[-1] == "health":
        return topic[:-1], form.replace("benefits of", "health benefits of")
    return topic, form


def for_audience(words: Sequence[str]) -> list[str]:
    """"flat feet running shoes women" → "... running shoes for women": an audience put last
    without its preposition."""
    iw = idea_words()
    out = list(words)
    if len(out) >= 3 and out[-1].lower() in iw.audiences and \
            out[-2].lower() not in iw.prepositions | {"and", "or", "&"}:
        out.insert(len(out) - 1, "for")
    return out


def angle_of(cues: set[str] | frozenset[str], words: Sequence[str], task: bool) -> str:
    """What a keyword without a facet asks about the topic (`IdeaWords.angles`): "question"
    for a question that is not a how-to, the first angle its cues match, else "overview"."""
    if ("question" in cues or (words and words[0] in question_openers())) and \
            not task and not (cues & {"how to", "how do", "best way to"}):
        return "question"
    for name, phrases in idea_words().angles:
        if cues & phrases:
            return name
    return "overview"


#: Site words that follow common nouns too ("office hours", "wedding website"): there the
#: noun's head, part of the topic.
NOUN_TAILS = frozenset({"hours", "locations", "website"})
#: A verb after an opener or a subject: "how to *host* …", "can i *host* …", "ways to …".
_VERB_AFTER = re.compile(r"\b(?:how to|ways? to|how (?:do|can|should) (?:i|you|we)|"
                         r"(?:can|should|do) (?:i|you|we)) (\w+)")


def verbs_in(analyses: Iterable[Analysis]) -> frozenset[str]:
    """Words the request uses as verbs ("can i *host* a website on my own computer") that
    also start one of its keywords with no opener, on the same object ("*host* website on
    home server"): that keyword is the task typed bare. Not when the next word is the
    evidence's own ("how to *crate train* a puppy" beside "crate training", "how to *texas
    rig*" beside "texas rig": a compound, the bare keyword its noun), nor with no object in
    common ("how to compost" beside "compost bin"), nor when the next word heads the bare
    keyword's noun and is no object of the evidence ("how to plant tomatoes" beside "*plant
    food* for tomatoes": a compound's head, not the thing planted; "fix bicycle flat" beside
    "how to fix a flat tire" is a task). No part-of-speech data is needed, only the
    request's own words (and "-ify" beside its "-ication": "prequalify", "prequalification");
    modifiers ("how to buy") keep their cue."""
    listed = list(analyses)
    v, iw = vocabulary(), idea_words()
    stop = v.stopwords

    def after(tokens: Sequence[str], at: int) -> tuple[str, set[str]]:
        """The stem of the word after `at` and the content stems after it."""
        rest = tokens[at + 1:]
        return (stem(rest[0]) if rest else "",
                {stem(w) for w in rest if w not in stop})

    used: dict[str, list[tuple[str, set[str]]]] = defaultdict(list)
    tokens_all = {w for a in listed for w in a.tokens}
    for a in listed:
        for m in _VERB_AFTER.finditer(a.normalised):
            at = len(a.normalised[:m.start(1)].split())
            used[m.group(1)].append(after(a.tokens, at))
    verbs: set[str] = set()
    for a in listed:
        t = a.tokens
        if not t or t[0] in stop or t[0] in v.modifiers or t[0] in question_openers() or \
                _HOWTO_LEAD.match(a.normalised + " ") or _QUESTION_LEAD.match(a.normalised + " "):
            continue
        nxt, objects = after(t, 0)
        # the next word heads the bare keyword's noun phrase ("plant *food* for tomatoes",
        # "plant *tomatoes*"): then it must be the thing the evidence does the verb to
        head_next = len(t) > 1 and (len(t) == 2 or t[2] in iw.prepositions) and t[1] not in stop
        if t[0].endswith("ify") and t[0][:-1] + "ication" in tokens_all:
            # "-ify" makes only verbs; its noun shows it is no name ("Shopify")
            verbs.add(t[0])
        elif any(n != nxt and (nxt in o or (o & objects and not head_next))
                 for n, o in used.get(t[0], ())):
            verbs.add(t[0])
    return frozenset(verbs)


def analyse_keyword(text: str, volume: int = 0, intent: Intent | None = None,
                    names: frozenset[str] = frozenset(),
                    verbs: frozenset[str] = frozenset()) -> Keyword:
    """Take one keyword apart for writing (see `Keyword`). `names` are names the request
    shows (`planning.plan_keywords`): a modifier word inside one is the name's ("best egg"
    of "best egg loans" is the lender Best Egg), no cue, as for a brand of the lists. `verbs`
    are words the request shows to be verbs (`verbs_in`): a keyword starting with one is a
    task with its opener left out ("host website on home server")."""
    v, iw = vocabulary(), idea_words()
    stop = v.stopwords
    clean = " ".join(text.split())
    a = analyse(clean)
    words = a.tokens
    named = {tuple(n.split()): n for n in names}
    keep: list[int] = []
    spans: list[tuple[int, int, str]] = []  # modifiers: (start, size, phrase)
    task_pending = False
    task = False
    vs_at = -1
    i = 0
    while i < len(words):
        word = words[i]
        name = match_phrase(words, i, named) if named else None
        if name is not None:
            keep.extend(range(i, i + len(name.split())))
            i += len(name.split())
            continue
        if match_phrase(words, i, v.brand_phrases) is None:
            phrase = match_phrase(words, i, v.modifier_phrases)
            if phrase is not None:
                size = len(phrase.split())
                if phrase in ("vs", "versus") and vs_at < 0:
                    vs_at = i
                if phrase in v.head_keeping_modifiers or (
                        phrase in iw.keep_in_topic and
                        (phrase not in _LISTED_AUDIENCES or RANKED & set(words))) or (
                        phrase in NAME_TIERS | _COMPOUND_TAILS and i and i - 1 in keep):
                    # "best cameras *for beginners*" is its own list (their picks differ);
                    # "yoga for beginners" is a guide to yoga
                    keep.extend(range(i, i + size))
                elif phrase == "under" and i + 1 < len(words) and words[i + 1].isdigit():
                    keep.extend((i, i + 1))
                    size = 2
                else:
                    spans.append((i, size, phrase))
                    if phrase in iw.task_openers and not keep and (
                            phrase not in iw.pronoun_openers or
                            (i + size < len(words) and words[i + size] in iw.pronouns)):
                        task_pending = True
                i += size
                continue
        if YEAR.match(word) or (i == 0 and word in v.leading_questions):
            i += 1
            continue
        if task_pending and not keep and word not in stop:
            task = True
        keep.append(i)
        i += 1
    brand_words = {w for b in a.brands for w in b.split()}
    named_words = {w for n in names for w in n.split()}
    if keep and all(words[j] in brand_words or words[j] in stop for j in keep):
        # a brand alone says little: "hubspot pricing" is about HubSpot's pricing
        question_mods = next(p for n, p in iw.angles if n == "question")
        for start, size, phrase in spans:
            if phrase not in iw.never_topic and phrase not in question_mods and \
                    phrase not in iw.task_openers:
                keep.extend(range(start, start + size))
        keep.sort()
    for start, size, phrase in spans:
        # a modifier right after a kept article is the article's noun: "self hosting a
        # *website* at home" must not read "self hosting a at home"; a navigational word
        # before a kept noun is that noun's adjunct: "best *website* builder" is no "builder"
        after = start + size
        if (start - 1 in keep and words[start - 1] in iw.determiners and
                any(j > start for j in keep)) or \
                (v.modifiers.get(phrase) == "navigational" and after in keep and
                 words[after] not in stop):
            keep.extend(range(start, after))
        elif phrase in NOUN_TAILS and start - 1 in keep and \
                words[start - 1] not in brand_words | named_words | stop:
            # after a common noun a site word is its compound's head: "billable *hours*",
            # "wedding *website*" (after a name it is the name's page: "costco hours")
            keep.append(start)
    keep.sort()
    while keep and words[keep[0]] in stop:
        keep.pop(0)
    while keep and words[keep[-1]] in stop:
        keep.pop()
    if words and words[0] in question_openers() and words[:2] != ("how", "to"):
        # "how long does a water heater *last*", "is grain free dog food *bad*"
        while len(keep) > 1 and (words[keep[-1]] in iw.question_tails or
                                 words[keep[-1]] in stop):
            keep.pop()
    if not keep:
        keep = [j for j, w in enumerate(words) if w not in stop] or list(range(len(words)))
        task = False
    mods = {phrase for _, _, phrase in spans} | {words[j] for j in keep
                                                 if words[j] in iw.keep_in_topic}
    cues = set(mods)
    cues.update(w for w in words if w in iw.structure_cues["news"])
    if words and words[0] in v.leading_questions:
        cues.add("question")
    if task or any(stem(words[j]) in v.task_stems for j in keep):
        cues.add("task")
    angle = angle_of(cues, words, task)
    joined = " ".join(words) + " "
    lead = _HOWTO_LEAD.match(joined) or _QUESTION_LEAD.match(joined)
    bare = lead is None and bool(words) and words[0] in verbs and \
        match_phrase(words, 0, named) is None
    if lead is not None or bare:
        # the task is every word after the opener ("do a pull up", "learn python"), not only
        # those the modifiers left; a question about a task keeps its question angle
        start = len(lead.group(0).split()) if lead is not None else 0
        rest = [j for j in range(start, len(words)) if not YEAR.match(words[j])]
        while rest and words[rest[-1]] in stop and words[rest[-1]] not in iw.particles:
            rest.pop()
        if any(words[j] not in stop for j in rest):
            keep, task = rest, True
            cues.add("task")
    inside = {w for n in find_phrases(list(words), named) for w in n.split()} if named else set()
    if inside & set(a.modifiers):
        # the name's modifier is the name's: "best egg login" signs in, it ranks nothing
        a = cues_with_brands(replace(a, head=(*(w for w in words if w in inside), *a.head),
                                     modifiers=tuple(m for m in a.modifiers if m not in inside)),
                             find_phrases(list(words), named))
    given = IntentResult(intent, ("given",), 1.0) if intent is not None else None
    return Keyword(text=clean, volume=max(0, volume), analysis=a,
                   intent=given or classify_analysis(a),
                   display=_proper(_display_words(clean, words), words, named),
                   topic=tuple(keep), task=task,
                   cues=frozenset(cues), angle=angle, vs_at=vs_at, bare=task and bare)
