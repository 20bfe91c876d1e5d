"""What two keywords' pages have in common: their *terms* (the head without page-neutral words)
and their *facets* (the kind of page wanted: a listicle, a price or buy page, a local pack,
alternatives, a login, a how-often question…).

The head of `igny8d.ai.text.analyse` drops every modifier, so "best retinol serum", "buy
retinol serum" and "retinol serum near me" look identical, and so do "how to use retinol" and
"how often to use retinol". An SEO specialist gives each its own page. The facets put that
difference back, as a penalty on the similarity (`vectors.Space.sim`), while words that never
change the page — "best" vs "top rated", a year, "for women", "now" — stay out of both.

The word lists are data (igny8d/ai/data/cluster_terms.json): general English and common SEO
patterns, not entries copied from a gold set. Every other modifier the analyser recognises
(igny8d/ai/data/keywords.json: "checklist", "ideas", "under", "download", "vs"…) is a facet of
its own unless it only frames the question (`framing`: "how to", "what is", "explained") or is
page-neutral: a modifier names what the page is for. A framing phrase is matched like a facet's
and names none, so no facet starts inside it ("best way to clean X" is a how-to, not a
listicle). Two readings in context: "good for" in a question ("is hot yoga good for you") is no
listicle, and "buy"/"buying" beside a listicle or worth-it word ("best ev to buy", "is buying an
ev worth it") is that page's purpose, not a price page.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache

from igny8d.ai.lexicon import mapping, read, strings, word_set
from igny8d.ai.text import Analysis, match_phrase, split_modifiers, stem, vocabulary


@dataclass(frozen=True, slots=True)
class Lexicon:
    #: phrase words → the phrase (as `text.match_phrase` wants it): the facets' phrases and
    #: the framing ones (no facet)
    table: dict[tuple[str, ...], str]
    #: phrase → its facet
    facet_of: dict[str, str]
    noise: frozenset[str]
    #: generic venue nouns, dropped from a local search's terms
    local_venues: frozenset[str]
    #: phrase words → the words that replace it (none: dropped)
    synonyms: dict[tuple[str, ...], tuple[str, ...]]
    #: phrase words → the phrase, for `match_phrase`
    synonym_table: dict[tuple[str, ...], str]


@cache
def lexicon() -> Lexicon:
    data = mapping(read("cluster_terms.json"), "cluster_terms.json")
    facet_of: dict[str, str] = {}
    for facet, listed in mapping(data["facets"], "cluster_terms.json facets").items():
        for phrase in strings(listed, f"cluster_terms.json facets.{facet}"):
            if phrase in facet_of:
                raise ValueError(f"cluster_terms.json: {phrase!r} is in two facets")
            facet_of[phrase] = facet
    synonyms = mapping(data["synonyms"], "cluster_terms.json synonyms")
    noise = word_set(data["noise"], "cluster_terms.json noise")
    framing = word_set(data["framing"], "cluster_terms.json framing")
    # every other modifier the analyser knows changes the page ("camping checklist" is not
    # "camping tips"): its own facet, instead of being dropped with the head's modifiers
    vocab = vocabulary()
    for phrase in sorted(vocab.modifiers):
        if phrase not in facet_of and phrase not in noise and phrase not in framing \
                and phrase not in vocab.head_keeping_modifiers and phrase not in synonyms:
            facet_of[phrase] = "m:" + phrase
    # a framing phrase is matched too, as no facet, so its words start none ("best way to
    # clean X" is a how-to, not a listicle: "best" is part of the framing)
    table = {tuple(p.split()): p for p in framing if p not in facet_of}
    table.update({tuple(p.split()): p for p in facet_of})
    return Lexicon(table, facet_of,
                   noise,
                   word_set(data["local_venues"], "cluster_terms.json local_venues"),
                   {tuple(str(k).split()): tuple(str(v).split()) for k, v in synonyms.items()},
                   {tuple(str(k).split()): str(k) for k in synonyms})


@dataclass(frozen=True, slots=True)
class Terms:
    """A keyword as the clustering compares it."""

    stems: tuple[str, ...]
    #: the terms' words (the stems' sources)
    words: tuple[str, ...]
    #: the terms' words joined without spaces (for character n-grams)
    compact: str
    facets: tuple[str, ...]


@lru_cache(maxsize=65536)
def terms_of(a: Analysis) -> Terms:
    """The keyword's terms and facets (see the module doc)."""
    lex = lexicon()
    words = _rewrite(list(a.tokens), lex)
    facets: set[str] = set()
    used: set[str] = set()
    matched: set[str] = set()
    i = 0
    while i < len(words):
        phrase = match_phrase(words, i, lex.table)
        if phrase is None:
            i += 1
            continue
        if phrase in lex.facet_of:
            facets.add(lex.facet_of[phrase])
            matched.add(phrase)
        used.update(phrase.split())
        i += len(phrase.split())
    if "best" in facets and "good" in used and _question_good_for(words):
        facets.discard("best")  # "is hot yoga good for you": a question, not a listicle
    buys = {p for p in matched if lex.facet_of[p] == "buy"}
    if "best" in facets and buys and buys <= _BUY_VERBS:
        facets.discard("buy")  # "best ev to buy", "is buying an ev worth it": the listicle
    if words and words[0] in _YES_NO:
        facets.add("yes_no")
    drop = lex.noise | lex.local_venues if "local" in facets else lex.noise
    head = [w for w in split_modifiers(words)[0] if w not in used and w not in drop]
    if not head:
        head = list(a.head)
    return Terms(tuple(stem(w) for w in head), tuple(head), "".join(head),
                 tuple(sorted(facets)))


#: Buying as a verb: beside a listicle or worth-it word it names the listicle's purpose ("best
#: ev to buy"), not a price or deal page.
_BUY_VERBS = frozenset({"buy", "buying"})


#: Words that open a yes/no question: "is debt consolidation a good idea" asks for a verdict,
#: not the explainer of "what is debt consolidation" or the how-to (facet "yes_no", compared on
#: the lexical path only: dev -0.001, dev2 +0.005, LONO +0.003).
_YES_NO = frozenset({"is", "are", "can", "should", "does", "do", "will", "would", "could"})


def _question_good_for(words: list[str]) -> bool:
    """Whether "good" only asks what a thing is good for, in a question ("is hot yoga good for
    you", "how long are car seats good for"): no judgement of products."""
    if not words or (words[0] not in vocabulary().leading_questions and words[0] != "how"):
        return False
    return all(words[i + 1:i + 2] == ["for"] for i, w in enumerate(words) if w == "good")


def _rewrite(words: list[str], lex: Lexicon) -> list[str]:
    """The words with each synonym phrase (longest first) replaced by its canonical words."""
    out: list[str] = []
    i = 0
    while i < len(words):
        phrase = match_phrase(words, i, lex.synonym_table)
        if phrase is None:
            out.append(words[i])
            i += 1
            continue
        key = tuple(phrase.split())
        out.extend(lex.synonyms[key])
        i += len(key)
    return out
