"""Keyword similarity: TF-IDF over the terms' stems and character n-grams times the facets'
penalties (`Space`), or given embeddings' cosine.

On the lexical similarity an acronym reads as its expansion when another keyword of the same
request spells it out (`expand_acronyms`), and a keyword naming one page type conflicts as
that page's intent (`page_intents`).

Each keyword is prepared once (`prepare`: analysis, intent, firm-intent bit), in the sorted
order every later tie-break relies on.
"""

from __future__ import annotations

import functools
import math
import operator
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from igny8d.ai.cluster.facets import terms_of
from igny8d.ai.cluster.results import KeywordItem
from igny8d.ai.cluster.rules import INTENT_BIT, LISTICLE_BIT
from igny8d.ai.intent import IntentResult, classify_analysis, name_and_products, request_names
from igny8d.ai.text import Analysis, analyse, char_ngrams, stem, vocabulary
from igny8d.vocab import Intent

WORD_WEIGHT = 0.5
#: The similarity is multiplied by this once per facet one keyword has and the other lacks
#: (the constants of this block were measured on eval/data's dev set; see docs/decisions.md).
FACET_PENALTY = 0.5
#: ... per term one listicle has and the other lacks (at most twice).
LISTICLE_PENALTY = 0.85
#: ... per side one comparison has and the other lacks (at most twice).
COMPARE_PENALTY = 0.8
#: Facets that make another list of the same products (eval/data/GUIDE.md: "best road bike" /
#: "best road bike for beginners" / "best budget road bike"): between two listicles, one of
#: these that one has and the other lacks counts twice.
LISTICLE_SUBPAGES = frozenset({"beginner", "budget", "free", "used"})
#: Facets that name a page type; two keywords naming different ones are different pages.
PAGE_FACETS = frozenset({"best", "buy", "local", "alternative", "login", "support"})
#: ... once more when both name a page type and the types differ ("best X" / "X price").
PAGE_PENALTY = 0.3
#: Facets that name a site's own page (a login, support): on the lexical path, one keyword
#: having one and the other not costs `PAGE_PENALTY` too (GUIDE.md: "one cluster per
#: destination"; dev2 +0.010, dev -0.002, LONO +0.005). "app" is no facet: the head keeps it
#: (`text.vocabulary().head_keeping_modifiers`), so "sleep number app" differs by its terms.
DESTINATIONS = frozenset({"login", "support"})
#: Facets only the lexical path compares (`facets.terms_of`: "yes_no", a yes/no question).
LEXICAL_FACETS = frozenset({"yes_no"})

Vector = dict[str, float]


@dataclass(slots=True)
class Prepared:
    """A keyword with what every clustering path needs of it."""

    item: KeywordItem
    analysis: Analysis
    intent: IntentResult
    firm_bit: int  # 0 when the intent is a guess


def prepare(items: Iterable[KeywordItem]) -> list[Prepared]:
    """The keywords analysed and classified (with the names the request shows,
    `intent.request_names`; the firm bit without them), in sorted order (normalised text,
    text, id), so no result depends on the input order; a repeated id is a ValueError."""
    out: list[Prepared] = []
    seen: set[int] = set()
    listed = list(items)
    analyses = [analyse(item.text) for item in listed]
    names = request_names(analyses)
    for item, analysis in zip(listed, analyses, strict=True):
        if item.id in seen:
            raise ValueError(f"duplicate keyword id {item.id}")
        seen.add(item.id)
        guess = classify_analysis(analysis, names)
        result = guess if item.intent is None else IntentResult(item.intent, ("given",), 1.0)
        # conflicts go by the keyword's own words: a name read from the request changes the
        # reported intent only, as one spelling recognised and another not ("turbotax vs
        # h&r block" / "h and r block vs turbo tax") would cut one comparison page in two
        # (LONO 0.675 → 0.672 when names counted; docs/decisions.md, round 5)
        firm = result if item.intent is not None or not names else classify_analysis(analysis)
        bit = INTENT_BIT[firm.intent] if firm.is_firm else 0
        out.append(Prepared(item, analysis, result, bit))
    out.sort(key=lambda p: (p.analysis.normalised, p.item.text, p.item.id))
    return out


Key = tuple[tuple[str, ...], str, tuple[str, ...]]


def page_types(a: Analysis) -> frozenset[str]:
    """The page types a keyword names (its facets among `PAGE_FACETS`): a listicle, a buy or
    price page, a local pack, alternatives, a login, support."""
    return PAGE_FACETS.intersection(terms_of(a).facets)


def pages_conflict(a: frozenset[str], b: frozenset[str]) -> bool:
    """Two keywords naming different page types want different pages ("best X" / "X price"),
    however close their embeddings are; one naming more types than the other ("best X to buy"
    / "best X") does not conflict with it."""
    return bool(a) and bool(b) and not (a <= b or b <= a)


#: The intent of the page a page type names (`page_types`).
PAGE_INTENT: dict[str, Intent] = {
    "best": "commercial", "alternative": "commercial", "buy": "transactional",
    "local": "transactional", "login": "navigational", "support": "navigational"}


def page_intents(prepared: Iterable[Prepared]) -> None:
    """On either similarity (lexical or embeddings), a keyword naming one page type, with a
    guessed intent, conflicts as that page's intent (its `firm_bit`): "how much does dog
    training cost" is an informational question, but its page is the price page of "dog
    training cost" (one page serves both, eval/data/GUIDE.md). Its reported intent stays the
    classifier's."""
    for p in prepared:
        if p.firm_bit and p.item.intent is None:
            pages = page_types(p.analysis)
            if len(pages) == 1:
                p.firm_bit = INTENT_BIT[PAGE_INTENT[next(iter(pages))]]


def name_intents(prepared: Iterable[Prepared]) -> None:
    """On the lexical similarity, a keyword that is only a name the request shows to be a
    destination ("upstart" beside "upstart review", "orkin" beside "orkin cost") conflicts as
    navigational: the site is one page, its review, price and how-to pages others (both gold
    sets keep a brand's bare name apart from its review or price page). Comparisons of names
    are commercial and unaffected."""
    listed = list(prepared)
    # the names of login, review… tails only: with the site tails' ("X hours", "X app") the
    # pages moved (round 8, docs/decisions.md); those change the reported intent alone
    names = request_names((p.analysis for p in listed), site_tails=False)
    wide = request_names(p.analysis for p in listed)
    for p in listed:
        if p.item.intent is not None or p.firm_bit == INTENT_BIT["navigational"]:
            continue
        guess = p.intent if names == wide else classify_analysis(p.analysis, names)
        if (not p.firm_bit and guess.is_firm and guess.intent == "navigational") \
                or _brand_product(p.analysis, names):
            p.firm_bit = INTENT_BIT["navigational"]


def listicle_bits(prepared: Iterable[Prepared]) -> None:
    """On the lexical similarity, a firmly commercial listicle ("best X") also conflicts with
    a transactional keyword (`rules.LISTICLE_BIT`): the list of products and the price, cheap
    or buy page are two pages, though commercial and transactional may otherwise share one.
    A given commercial intent counts too, so clustering again keeps the split."""
    for p in prepared:
        if p.firm_bit == INTENT_BIT["commercial"] and "best" in page_types(p.analysis):
            p.firm_bit |= LISTICLE_BIT


_COMPARING = frozenset({"or", "vs", "versus"})


def _brand_product(a: Analysis, names: frozenset[str]) -> bool:
    """Whether the keyword is a name the request shows followed by product nouns and no
    modifier (`intent.name_and_products`): the brand's own product page, as navigational as the
    bare name (dev2 LONO +0.007; dev flat); a comparison of names is not one."""
    return not _COMPARING.intersection(a.tokens) and name_and_products(a, names)


def head_key(a: Analysis) -> Key:
    """What makes two keywords the same for the clustering: their terms' stems, their compact
    text and their facets (`facets.terms_of`)."""
    t = terms_of(a)
    return t.stems, t.compact, t.facets


class Space:
    """TF-IDF vectors of the distinct terms of a set of keywords, and their keys (terms and
    facets): keywords that differ only by facets share their terms' vectors, so each pair of
    terms is compared once."""

    def __init__(self, analyses: Sequence[Analysis], *, acronyms: bool = False,
                 lexical: bool = False) -> None:
        self.keys: list[Key] = []
        #: the lexical path's own rules (`DESTINATIONS`, `LEXICAL_FACETS`)
        self.lexical = lexical
        self.index: dict[Key, int] = {}
        #: distinct (stems, compact) terms; `term_of[key]` is a key's term
        self.terms: list[tuple[tuple[str, ...], str]] = []
        self.term_of: list[int] = []
        term_index: dict[tuple[tuple[str, ...], str], int] = {}
        for a in analyses:
            k = head_key(a)
            if k not in self.index:
                self.index[k] = len(self.keys)
                self.keys.append(k)
                term = (k[0], k[1])
                if term not in term_index:
                    term_index[term] = len(self.terms)
                    self.terms.append(term)
                self.term_of.append(term_index[term])
        self.keys_of_term: list[list[int]] = [[] for _ in self.terms]
        for u, t in enumerate(self.term_of):
            self.keys_of_term[t].append(u)
        compared = self.terms
        if acronyms:
            words_of = {(t.stems, t.compact): t.words for t in map(terms_of, analyses)}
            compared = expand_acronyms([words_of[term] for term in self.terms], analyses)
        word_tf = [Counter(stems) for stems, _ in compared]
        char_tf = [Counter(char_ngrams(compact)) for _, compact in compared]
        n = len(self.terms)
        word_df: Counter[str] = Counter()
        char_df: Counter[str] = Counter()
        for tf in word_tf:
            word_df.update(tf.keys())
        for tf in char_tf:
            char_df.update(tf.keys())
        self.word_df = word_df
        self.char_df = char_df
        self.term_char_tf = char_tf
        #: per key (shared with its term)
        self.word_tf = [word_tf[t] for t in self.term_of]
        self.char_tf = [char_tf[t] for t in self.term_of]
        self.word = [self._weigh(tf, word_df, n) for tf in word_tf]
        self.char = [self._weigh(tf, char_df, n) for tf in char_tf]

    def reordered(self) -> list[int]:
        """Per key, the first key with the same stems in any order and the same facets: the
        one a plural or a reordering shares ("insurance for pets" / "pet insurance")."""
        first: dict[tuple[tuple[str, ...], tuple[str, ...]], int] = {}
        return [first.setdefault((tuple(sorted(stems)), facets), u)
                for u, (stems, _compact, facets) in enumerate(self.keys)]

    @staticmethod
    def _weigh(tf: Counter[str], df: Counter[str], n: int) -> Vector:
        vec = {t: (1.0 + math.log(c)) * (math.log((1 + n) / (1 + df[t])) + 1.0)
               for t, c in sorted(tf.items())}
        norm = math.sqrt(sum(v * v for v in vec.values()))
        return {t: v / norm for t, v in vec.items()} if norm else {}

    def term_dots(self, t: int, w: int) -> tuple[float, float]:
        """The word and character TF-IDF cosines of two terms (1.0 each for the same)."""
        if t == w:
            return 1.0, 1.0
        return _dot(self.word[t], self.word[w]), _dot(self.char[t], self.char[w])

    def term_sim(self, t: int, w: int) -> float:
        """The similarity of two terms (1.0 for the same)."""
        if t == w:
            return 1.0
        return mix(*self.term_dots(t, w))

    def factor(self, u: int, v: int) -> float:
        """What the keys' facets make of their terms' similarity (at most 1)."""
        (su, _, fu), (sv, _, fv) = self.keys[u], self.keys[v]
        if not self.lexical:
            fu = tuple(x for x in fu if x not in LEXICAL_FACETS)
            fv = tuple(x for x in fv if x not in LEXICAL_FACETS)
        f = 1.0
        if "best" in fu and "best" in fv and su != sv:
            # two listicles: a word one has and the other lacks is usually another list
            # ("best yoga mat" / "best thick yoga mat")
            f *= LISTICLE_PENALTY ** min(2, len(set(su) ^ set(sv)))
        if "compare" in fu and "compare" in fv and set(su) != set(sv):
            # two comparisons: one page per pair ("asana vs trello" / "asana vs monday")
            f *= COMPARE_PENALTY ** min(2, len(set(su) ^ set(sv)))
        if fu != fv:
            for step in _facet_steps(fu, fv, self.lexical):
                f *= step
        return f

    def sim(self, u: int, v: int) -> float:
        if u == v:
            return 1.0
        return self.term_sim(self.term_of[u], self.term_of[v]) * self.factor(u, v)

    def candidates(self, block_cap: int) -> dict[int, set[int]]:
        """Distinct-term pairs (t < w) worth scoring: they share features found in at most
        `block_cap` terms — a stem counting 2, a character 4-gram 1 — at least 2 (the
        shortest terms) to 5 (long ones) times."""
        postings: dict[str, list[int]] = defaultdict(list)
        grams4: list[list[str]] = [[g for g in tf if len(g) == 4] for tf in self.term_char_tf]
        need = [max(2, min(5, (len(g) + 2) // 3)) for g in grams4]
        for t, (stems, _) in enumerate(self.terms):
            for s in set(stems):
                if self.word_df[s] <= block_cap:
                    postings["w:" + s].append(t)
            for g in grams4[t]:
                if self.char_df[g] <= block_cap:
                    postings[g].append(t)
        out: dict[int, set[int]] = {}
        for t, (stems, _) in enumerate(self.terms):
            shared: Counter[int] = Counter()
            for s in set(stems):
                for w in postings.get("w:" + s, ()):
                    if w > t:
                        shared[w] += 2
            for g in grams4[t]:
                for w in postings.get(g, ()):
                    if w > t:
                        shared[w] += 1
            nt = need[t]
            found = {w for w, c in shared.items() if c >= nt or c >= need[w]}
            if found:
                out[t] = found
        return out


#: Acronym lengths read from the request's own word sequences.
ACRONYM_LENGTHS = range(2, 6)
#: Units and roman numerals look like acronyms and are not ("sq ft", "a7 iv").
_NOT_ACRONYMS = frozenset({
    "ft", "sq", "in", "lb", "lbs", "kg", "oz", "gb", "tb", "mb", "mm", "cm", "km", "mi", "hr",
    "hrs", "mph", "kw", "kwh", "psi", "mah", "hz", "ghz", "mhz", "ml"})
_ROMAN = re.compile(r"^[ivx]+$")


def expand_acronyms(terms: Sequence[tuple[str, ...]], analyses: Sequence[Analysis]
                    ) -> list[tuple[tuple[str, ...], str]]:
    """Each term's (stems, compact) with every acronym spelled out: a 2-5 letter term word that
    is the initials of a word sequence found in the request's keywords ("srs" with "spaced
    repetition system", "pm" with "project management") reads as that sequence. No lexicon:
    the expansion comes from the request itself. Guards against chance hits: the word is not
    a stop word, modifier, listed product/task noun, unit or roman numeral ("sq ft", "a7 iv");
    the sequence has only letters, starts and ends with a word that is neither a stop word nor
    a modifier ("gpu" is not "gaming pc under"; "content delivery network" is fine), and does
    not hold the word itself; a two-letter word needs its expansion seen twice; a word with two
    equally frequent expansions is left as it is."""
    vocab = vocabulary()
    stopwords = vocab.stopwords
    known = stopwords | vocab.product_nouns | vocab.task_words | vocab.bookable_nouns | \
        _NOT_ACRONYMS
    found: dict[str, Counter[tuple[str, ...]]] = defaultdict(Counter)
    for a in analyses:
        toks = a.tokens
        for size in ACRONYM_LENGTHS:
            for i in range(len(toks) - size + 1):
                seq = toks[i:i + size]
                if seq[0] in stopwords or seq[-1] in stopwords or \
                        seq[0] in vocab.modifiers or seq[-1] in vocab.modifiers or \
                        not all(w.isalpha() for w in seq):
                    continue
                found["".join(w[0] for w in seq)][seq] += 1
    out: list[tuple[tuple[str, ...], str]] = []
    for words in terms:
        spelled: list[str] = []
        for w in words:
            counts = found.get(w) if w.isalpha() and len(w) in ACRONYM_LENGTHS and \
                w not in known and w not in vocab.modifiers and not _ROMAN.match(w) else None
            if counts:
                (seq, n), *rest = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
                if (not rest or rest[0][1] < n) and w not in seq and \
                        (len(w) > 2 or n > 1):
                    spelled.extend(seq)
                    continue
            spelled.append(w)
        out.append((tuple(stem(w) for w in spelled), "".join(spelled)))
    return out


def mix(word: float, char: float) -> float:
    """Two terms' similarity from their word and character cosines (`Space.term_dots`)."""
    return WORD_WEIGHT * word + (1.0 - WORD_WEIGHT) * char


def _dot(a: Vector, b: Vector) -> float:
    # in the vectors' (sorted) order, never a set's: the sum must not depend on hash seeds
    if len(a) > len(b):
        a, b = b, a
    total = 0.0
    get = b.get
    for t, w in a.items():
        x = get(t)
        if x is not None:
            total += w * x
    return total


@functools.lru_cache(maxsize=65_536)
def _facet_steps(fu: tuple[str, ...], fv: tuple[str, ...], lexical: bool
                 ) -> tuple[float, ...]:
    """The penalties two keys' differing facets multiply their similarity by, in order
    (`Space.factor`; kept apart so the product is the same to the bit): a batch has few
    distinct facet pairs and ~a million key pairs."""
    steps = []
    diff = set(fu) ^ set(fv)
    n = len(diff)
    if "best" in fu and "best" in fv:
        n += len(diff & LISTICLE_SUBPAGES)  # another list ("best X for beginners")
    steps.append(FACET_PENALTY ** n)
    pu, pv = PAGE_FACETS.intersection(fu), PAGE_FACETS.intersection(fv)
    if pu and pv and pu != pv:
        steps.append(PAGE_PENALTY)
    elif lexical and DESTINATIONS & diff:
        # one navigational page per destination: "hellofresh" / "hellofresh customer
        # service" / "factor login"
        steps.append(PAGE_PENALTY)
    return tuple(steps)


def _block_cap(n: int) -> int:
    return max(50, int(3 * math.sqrt(n)))


Embeddings = Mapping[int, Sequence[float]]


class Vectors:
    """The given embeddings as unit vectors (by keyword id), all of one dimension."""

    def __init__(self, embeddings: Embeddings) -> None:
        self.embeddings = embeddings
        self.dim: int | None = None
        self.cache: dict[int, tuple[float, ...]] = {}

    def __contains__(self, keyword_id: int) -> bool:
        return keyword_id in self.embeddings

    def of(self, keyword_id: int) -> tuple[float, ...]:
        unit = self.cache.get(keyword_id)
        if unit is not None:
            return unit
        raw = self.embeddings.get(keyword_id)
        if raw is None:
            raise ValueError(f"no embedding for keyword id {keyword_id}")
        values = tuple(float(x) for x in raw)
        if not values or not all(math.isfinite(x) for x in values):
            raise ValueError(f"the embedding of keyword id {keyword_id} is empty or not finite")
        if self.dim is None:
            self.dim = len(values)
        elif len(values) != self.dim:
            raise ValueError(f"the embedding of keyword id {keyword_id} has {len(values)} "
                             f"dimensions, the others {self.dim}")
        norm = math.sqrt(math.fsum(x * x for x in values))
        # a zero vector stays zero: similarity 0 to everything
        unit = tuple(x / norm for x in values) if norm else values
        self.cache[keyword_id] = unit
        return unit


def cos(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """The cosine of two unit vectors (at most 1.0)."""
    # unit vectors; fsum is exact-rounded, so the result never depends on the input order
    return min(1.0, math.fsum(map(operator.mul, a, b)))


#: Rows of the cosine matrix computed at once (keeps memory at BLOCK x n floats).
BLOCK = 512
#: Similarities are rounded to this many decimals, so the numpy and the pure-Python paths
#: (and any BLAS) give the same edges and the same ties.
DECIMALS = 9


def vector_edges(units: Sequence[tuple[float, ...]], cutoff: float) -> list[dict[int, float]]:
    """Cosine edges (≥ cutoff) between every pair of vectors, symmetric. With numpy (the
    embeddings extra brings it) in blocks of rows: a few thousand keywords in seconds; without
    it, pure Python (fine for a provider batch)."""
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy comes with the embeddings extra
        return _vector_edges_python(units, cutoff)
    edges: list[dict[int, float]] = [{} for _ in units]
    if len(units) < 2:
        return edges
    matrix = np.asarray(units, dtype=np.float64)
    for start in range(0, len(units), BLOCK):
        block = np.round(matrix[start:start + BLOCK] @ matrix.T, DECIMALS)
        rows, cols = np.nonzero(block >= cutoff)
        for r, v, s in zip(rows.tolist(), cols.tolist(), block[rows, cols].tolist(),
                           strict=True):
            u = start + r
            if v > u:
                edges[u][v] = edges[v][u] = min(1.0, s)
    return edges


def drop_page_conflicts(edges: list[dict[int, float]], pages: Sequence[frozenset[str]]
                        ) -> list[dict[int, float]]:
    """`edges` without the pairs whose page types conflict (`pages_conflict`): with no edge,
    neither linkage merges their clusters (complete: a missing pair blocks; average: the pair
    floor)."""
    for u, row in enumerate(edges):
        if pages[u]:
            for v in [v for v in row if pages_conflict(pages[u], pages[v])]:
                del row[v]
    return edges


def _vector_edges_python(units: Sequence[tuple[float, ...]], cutoff: float
                         ) -> list[dict[int, float]]:
    edges: list[dict[int, float]] = [{} for _ in units]
    for u, a in enumerate(units):
        for v in range(u + 1, len(units)):
            s = round(cos(a, units[v]), DECIMALS)
            if s >= cutoff:
                edges[u][v] = edges[v][u] = s
    return edges


def similarity_edges(space: Space, cutoff: float) -> list[dict[int, float]]:
    """Similarity edges (≥ cutoff) between distinct keys, symmetric."""
    edges: list[dict[int, float]] = [{} for _ in space.keys]
    plain = [not facets for _, _, facets in space.keys]  # no facet: a factor of 1
    factor, keys_of_term = space.factor, space.keys_of_term
    for keys in keys_of_term:
        for x, u in enumerate(keys):
            for v in keys[x + 1:]:
                s = factor(u, v)
                if s >= cutoff:
                    edges[u][v] = edges[v][u] = s
    for t, ws in sorted(space.candidates(_block_cap(len(space.terms))).items()):
        for w in sorted(ws):
            base = space.term_sim(t, w)
            if base < cutoff:
                continue  # the facets only ever lower it
            for u in keys_of_term[t]:
                for v in keys_of_term[w]:
                    s = base if plain[u] and plain[v] else base * factor(u, v)
                    if s >= cutoff:
                        edges[u][v] = edges[v][u] = s
    return edges
