"""igny8d.ai.cluster: quality on the in-repo gold set (ARI, pair-F1, intent macro-F1 against a
first-word baseline), determinism, linkage without chaining, intent conflicts, the unclustered
set, new keywords joining existing clusters, and the time for 1k and 10k keywords."""

from __future__ import annotations

import random
import time
from collections import Counter

import pytest

from igny8d.ai import (
    ClusterResult,
    ExistingCluster,
    KeywordItem,
    assign_to_existing,
    classify_intent,
    cluster_keywords,
    normalise,
)
from igny8d.ai.cluster import DEFAULT_THRESHOLD
from igny8d.ai.cluster.vectors import Space
from igny8d.ai.text import analyse
from tests.helpers.gold import adjusted_rand_index, gold_rows, labels_of, macro_f1, pair_f1

INTENTS = ("informational", "commercial", "transactional", "navigational")


# --- metrics ------------------------------------------------------------------------------

def test_metrics_on_known_cases() -> None:
    assert adjusted_rand_index(list("aabb"), list("xxyy")) == 1.0
    assert pair_f1(list("aabb"), list("xxyy"))[0] == 1.0
    assert adjusted_rand_index(list("abcd"), list("xxyy")) == 0.0
    assert macro_f1(["a", "b"], ["a", "b"]) == 1.0
    assert macro_f1(["a", "a"], ["a", "b"]) == pytest.approx((2 / 3 + 0) / 2)


def _evaluate(rows: list[dict[str, str]]) -> dict[str, float]:
    items = [KeywordItem(i, r["keyword"], int(r["volume"])) for i, r in enumerate(rows)]
    gold = [r["niche"] + "/" + r["cluster"] for r in rows]
    pred = labels_of(cluster_keywords(items), len(rows))
    baseline = [normalise(r["keyword"]).split()[0] for r in rows]
    gold_intent = [r["intent"] for r in rows]
    pred_intent = [classify_intent(r["keyword"]).intent for r in rows]
    majority = Counter(gold_intent).most_common(1)[0][0]
    return {
        "ari": adjusted_rand_index(pred, gold), "pair_f1": pair_f1(pred, gold)[0],
        "intent_f1": macro_f1(pred_intent, gold_intent),
        "base_ari": adjusted_rand_index(baseline, gold),
        "base_pair_f1": pair_f1(baseline, gold)[0],
        "base_intent_f1": macro_f1([majority] * len(rows), gold_intent),
    }


def test_the_gold_set_is_well_formed() -> None:
    rows = gold_rows()
    assert len(rows) >= 300
    assert {r["intent"] for r in rows} == set(INTENTS)
    assert len({r["niche"] for r in rows}) >= 6
    texts = [r["keyword"].lower() for r in rows]  # "women's"/"womens" both on purpose
    assert len(texts) == len(set(texts)), "duplicate gold keywords"
    assert all(int(r["volume"]) >= 0 for r in rows)


# Floors a little below the figures reached (printed by the test). This small in-repo set is
# the one the first algorithm was tuned on; it merges "best X" with "buy X", which the gold
# sets of eval/data (eval/data/GUIDE.md, where the clustering is now tuned and measured) keep
# apart, so its ARI fell from 0.77 to 0.56 when the algorithm moved to those rules. It stays
# as a guard against regressions, not as the quality measure (`make eval` is). Its intents
# call "X price" commercial, the guide transactional: intent F1 0.99 → 0.94. Round 7's
# listicle/transactional conflict (docs/decisions.md) splits its "best dog food" / "cheap dog
# food" and "best personal loans" / "personal loan rates", which the guide keeps apart:
# holdout ARI 0.79 → 0.71. A lone word with no cue read as a name (the six eval/data tuning
# writers call 80 % of them navigational) moves its "hysa", an acronym the guide calls
# commercial, from one wrong intent to another: intent F1 0.920 → 0.919.
FLOORS = {
    "dev": {"ari": 0.53, "pair_f1": 0.53, "intent_f1": 0.91},
    "holdout": {"ari": 0.70, "pair_f1": 0.70, "intent_f1": 0.72},
}


@pytest.mark.parametrize("split", ["dev", "holdout"])
def test_gold_quality_against_the_baseline(split: str, capsys: pytest.CaptureFixture[str]
                                           ) -> None:
    rows = gold_rows(split)
    m = _evaluate(rows)
    with capsys.disabled():
        print(f"\n[ai gold {split}, {len(rows)} keywords] "
              f"ARI {m['ari']:.3f} (first-word baseline {m['base_ari']:.3f}), "
              f"pair-F1 {m['pair_f1']:.3f} (baseline {m['base_pair_f1']:.3f}), "
              f"intent macro-F1 {m['intent_f1']:.3f} "
              f"(majority-class baseline {m['base_intent_f1']:.3f})")
    for name, floor in FLOORS[split].items():
        assert m[name] >= floor, (name, m[name])
    assert m["ari"] > m["base_ari"] + 0.3
    assert m["pair_f1"] > m["base_pair_f1"] + 0.3
    assert m["intent_f1"] > m["base_intent_f1"] + 0.3


def _by_text(result: ClusterResult, items: list[KeywordItem]) -> list[set[str]]:
    text = {k.id: k.text for k in items}
    return [{text[i] for i in c.keyword_ids} for c in result.clusters]


def test_hard_cases_of_the_gold_set() -> None:
    rows = gold_rows()
    items = [KeywordItem(i, r["keyword"], int(r["volume"])) for i, r in enumerate(rows)]
    result = cluster_keywords(items)
    home = {kw: n for n, group in enumerate(_by_text(result, items)) for kw in group}

    def together(*kws: str) -> bool:
        return all(kw in home for kw in kws) and len({home[kw] for kw in kws}) == 1

    assert together("pour over coffee maker", "pourover coffee maker",
                    "pour-over coffee makers")                        # compound, plural
    assert together("hubspot vs salesforce", "salesforce vs hubspot")  # word order
    assert together("espresso machine", "espresso machines")
    assert together("carry on luggage", "carryon luggage")
    assert together("plumber near me", "plumbers near me")
    assert together("hubspot login", "hubspot sign in")
    assert not together("hubspot login", "hubspot pricing")           # navigational ≠ commercial
    assert not together("how to paint kitchen cabinets", "best paint for kitchen cabinets")
    assert not together("hubspot login", "salesforce login")


def test_clusters_are_named_after_their_highest_volume_keyword() -> None:
    items = [KeywordItem(1, "coffee grinders", 900), KeywordItem(2, "best coffee grinder", 5000),
             KeywordItem(3, "coffee grinder", 5000), KeywordItem(4, "coffee grinder reviews", 10)]
    (cluster,) = cluster_keywords(items).clusters
    assert cluster.name == "coffee grinder"  # tie on volume: the shortest
    assert cluster.keyword_ids == (3, 2, 1, 4)
    assert cluster.volume == 10910
    assert cluster.intent == "commercial"
    tie = [KeywordItem(1, "grinder coffee", 5), KeywordItem(2, "coffee grinder", 5)]
    assert cluster_keywords(tie).clusters[0].name == "coffee grinder"  # then alphabetical


def test_shuffled_input_gives_the_identical_result() -> None:
    rows = gold_rows()
    items = [KeywordItem(i, r["keyword"], int(r["volume"])) for i, r in enumerate(rows)]
    expected = cluster_keywords(items)
    rng = random.Random(42)
    for _ in range(3):
        shuffled = items[:]
        rng.shuffle(shuffled)
        assert cluster_keywords(shuffled) == expected
    again = cluster_keywords(items, linkage="average")
    shuffled = items[::-1]
    assert cluster_keywords(shuffled, linkage="average") == again


@pytest.mark.parametrize("linkage", ["average", "complete"])
def test_linkage_does_not_chain(linkage: str) -> None:
    texts = ["coffee table book", "table book stand", "book stand wood"]
    space = Space([analyse(t) for t in texts])
    threshold = 0.4
    # the premise: a~b and b~c above the threshold, a and c far apart (single linkage chains)
    assert space.sim(0, 1) >= threshold and space.sim(1, 2) >= threshold
    assert space.sim(0, 2) < threshold / 2
    items = [KeywordItem(i, t, 10) for i, t in enumerate(texts)]
    result = cluster_keywords(items, threshold=threshold, linkage=linkage,  # type: ignore[arg-type]
                              min_cluster_size=2)
    assert all(len(c.keyword_ids) < 3 for c in result.clusters)
    assert len(result.clusters) == 1 and result.clusters[0].keyword_ids == (2, 1)
    (left,) = result.unclustered
    assert left.keyword_id == 0 and left.code == "low_cohesion"


def test_conflicting_intents_never_share_a_cluster() -> None:
    items = [KeywordItem(1, "how to paint kitchen cabinets", 100),
             KeywordItem(2, "best paint for kitchen cabinets", 90),
             KeywordItem(3, "painting kitchen cabinets", 50),
             KeywordItem(4, "paint kitchen cabinets diy", 40),
             KeywordItem(5, "kitchen cabinet paint", 30, "commercial")]
    result = cluster_keywords(items)
    intent = {1: "informational", 2: "commercial", 4: "informational", 5: "commercial"}
    for c in result.clusters:
        seen = {intent[i] for i in c.keyword_ids if i in intent}
        assert len(seen) == 1, c
    alone = [KeywordItem(1, "hubspot login", 10), KeywordItem(2, "hubspot pricing", 5)]
    given = [KeywordItem(1, "hubspot crm", 10, "navigational"),
             KeywordItem(2, "hubspot crms", 5, "commercial")]
    out = cluster_keywords(given, min_cluster_size=2)
    assert out.clusters == ()
    assert {u.code for u in out.unclustered} == {"intent_conflict"}
    # by default each is a cluster of its own, named after it
    out = cluster_keywords(alone)
    assert [(c.name, c.keyword_ids) for c in out.clusters] == [("hubspot login", (1,)),
                                                              ("hubspot pricing", (2,))]
    assert out.unclustered == ()


def test_a_given_intent_is_firm() -> None:
    items = [KeywordItem(1, "espresso machine", 10, "informational"),
             KeywordItem(2, "espresso machines", 5, "commercial")]
    out = cluster_keywords(items)
    assert sorted(c.keyword_ids for c in out.clusters) == [(1,), (2,)]
    assert dict(out.intents) == {1: "informational", 2: "commercial"}


def test_unclustered_reasons_and_bounds() -> None:
    variants = ["best", "top", "cheap", "buy", "", "review", "reviews", "deals", "sale",
                "for sale"]
    items = [KeywordItem(i, f"{v} standing desk".strip() if v not in ("review", "reviews",
                                                                     "deals", "sale",
                                                                     "for sale")
                         else f"standing desk {v}", 10 + i) for i, v in enumerate(variants)]
    items += [KeywordItem(100, "!!!", 0), KeywordItem(101, "zebra migration facts", 5)]
    result = cluster_keywords(items, max_cluster_size=4, min_cluster_size=2)
    assert all(len(c.keyword_ids) <= 4 for c in result.clusters)
    assert sum(len(c.keyword_ids) for c in result.clusters) + len(result.unclustered) == 12
    codes = {u.keyword_id: u.code for u in result.unclustered}
    assert codes[100] == "empty"
    assert codes[101] == "no_match"
    assert set(codes.values()) <= {"no_match", "intent_conflict", "size_limit",
                                   "low_cohesion", "empty"}
    assert all(u.reason.startswith(u.code + ": ") for u in result.unclustered)


def test_every_keyword_with_text_ends_in_a_cluster() -> None:
    items = [KeywordItem(1, "standing desk", 50), KeywordItem(2, "standing desks", 40),
             KeywordItem(3, "  Zebra   migration facts ", 5), KeywordItem(4, "!!!", 0),
             KeywordItem(5, "best standing desk", 30), KeywordItem(6, "buy standing desk", 20)]
    result = cluster_keywords(items)
    placed = sorted(k for c in result.clusters for k in c.keyword_ids)
    assert placed == [1, 2, 3, 5, 6]
    assert [(u.keyword_id, u.code) for u in result.unclustered] == [(4, "empty")]
    single = {c.keyword_ids: c.name for c in result.clusters if len(c.keyword_ids) == 1}
    assert single[(3,)] == "Zebra migration facts"  # named after it, spacing tidied
    home = {k: c.keyword_ids for c in result.clusters for k in c.keyword_ids}
    assert home[1] == home[2]  # a plural joins
    assert home[5] != home[6]  # a listicle is not a buy page


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        cluster_keywords([KeywordItem(1, "a b"), KeywordItem(1, "c d")])
    with pytest.raises(ValueError):
        cluster_keywords([], threshold=0)
    assert cluster_keywords([]) == ClusterResult((), (), ())


@pytest.mark.parametrize("threshold", [None, DEFAULT_THRESHOLD], ids=["model", "hand"])
def test_new_keywords_join_existing_clusters_when_they_fit(threshold: float | None) -> None:
    existing = [
        ExistingCluster("best coffee grinder", (KeywordItem(1, "best coffee grinder", 100),
                                                KeywordItem(2, "coffee grinders", 50)), id=7),
        ExistingCluster("how to make cold brew", (KeywordItem(3, "how to make cold brew", 90),
                                                  KeywordItem(4, "cold brew recipe", 80)), id=8),
        ExistingCluster("hubspot login", (), id=9),  # no keywords: matched on its name
    ]
    new = [KeywordItem(10, "coffee grinder reviews", 5), KeywordItem(11, "cold brew recipes", 4),
           KeywordItem(12, "hubspot sign in", 3), KeywordItem(13, "hubspot pricing", 2),
           KeywordItem(14, "zebra migration facts", 1)]
    out = assign_to_existing(existing, new, threshold=threshold)
    got = {a.keyword_id: a.cluster_id for a in out.assigned}
    assert got == {10: 7, 11: 8, 12: 9}
    assert [k.id for k in out.rest] == [13, 14]
    assert all(0 < a.score <= 1 for a in out.assigned)
    assert assign_to_existing(existing, new[::-1], threshold=threshold) == out
    full = assign_to_existing(existing, new, max_cluster_size=2, threshold=threshold)
    assert {a.keyword_id for a in full.assigned} == {12}


def test_new_keywords_join_by_the_lexical_models_mean_probability() -> None:
    """With no threshold the shipped lexical model scores the joins (a comparison written the
    other way round, with the product's name spelt apart, joins its page); an explicit
    threshold, or a model without a join threshold, keeps the hand similarity, which leaves
    it out. The score is the cluster's mean probability, at least the join threshold."""
    import dataclasses

    from igny8d.ai.cluster import learned

    model = learned.shipped_lexical()
    assert model is not None and model.join_threshold is not None
    existing = [ExistingCluster("sawyer squeeze vs katadyn befree", (
        KeywordItem(1, "sawyer squeeze vs katadyn befree", 90),
        KeywordItem(2, "befree vs sawyer squeeze", 40)), id=5),
        ExistingCluster("best water filter for backpacking", (
            KeywordItem(3, "best water filter for backpacking", 70),), id=6)]
    new = [KeywordItem(10, "katadyn be free vs sawyer", 20)]
    joined = assign_to_existing(existing, new)
    assert [(a.keyword_id, a.cluster_id) for a in joined.assigned] == [(10, 5)]
    assert model.join_threshold <= joined.assigned[0].score <= 1.0
    hand = assign_to_existing(existing, new, threshold=DEFAULT_THRESHOLD)
    assert hand.assigned == () and [k.id for k in hand.rest] == [10]
    unset = dataclasses.replace(model, join_threshold=None)
    assert assign_to_existing(existing, new, lexical_model=unset) == hand


def test_a_reordering_of_an_existing_keyword_joins_its_cluster_as_the_same_key() -> None:
    """A new keyword with an existing one's stems in another order (or number) and the same
    facets is that keyword's key, as when clustering (`lexical_space`): it scores 1.0 with it,
    not a pair probability, and joins its cluster."""
    existing = [ExistingCluster("pet insurance", (KeywordItem(1, "pet insurance", 90),), id=5),
                ExistingCluster("pet food", (KeywordItem(2, "pet food", 80),), id=6)]
    new = [KeywordItem(10, "insurance for pets", 20), KeywordItem(11, "foods for pet", 10)]
    joined = assign_to_existing(existing, new)
    assert sorted((a.keyword_id, a.cluster_id, a.score) for a in joined.assigned) == [
        (10, 5, 1.0), (11, 6, 1.0)]


# --- time ---------------------------------------------------------------------------------

def _parts(text: str) -> list[str]:
    return text.split("|")


_NOUNS = _parts("coffee grinder|espresso machine|pour over kettle|cold brew maker|french press|"
          "milk frother|running shoe|trail shoe|running watch|hydration vest|running socks|"
          "foam roller|crm software|email marketing tool|project management app|"
          "invoicing software|help desk software|landing page builder|kitchen cabinet|"
          "bathroom vanity|vinyl plank floor|cordless drill|deck stain|water heater|"
          "garage door opener|ceiling fan|window blind|travel insurance|carry on suitcase|"
          "packing cube|travel backpack|hotel room|rental car|credit card|savings account|"
          "index fund|personal loan|mortgage rate|budget app|dog food|cat litter|dog crate|"
          "lawn mower|raised garden bed|protein powder|yoga mat|resistance band|standing desk|"
          "office chair|air fryer|rice cooker|water filter|air purifier|robot vacuum|"
          "electric toothbrush|hair dryer|gaming laptop|mechanical keyboard|webcam|wifi router|"
          "smart thermostat|security camera|video doorbell|electric bike|camping tent|"
          "sleeping bag|hiking boot|ski jacket|rain jacket|winter coat|baby stroller|car seat")
_ATTRS = _parts("wireless|portable|electric|manual|small|large|lightweight|waterproof|organic|"
          "stainless steel|bamboo|leather|vegan|heavy duty|compact|smart|quiet|premium|kids|"
          "womens|mens|professional|commercial|outdoor|indoor|travel|home|office|2 person|"
          "blue|black|white|wooden|glass|ceramic|cordless|foldable|adjustable|ergonomic|"
          "rechargeable|automatic|digital")
_PLACES = _parts("london|paris|rome|tokyo|chicago|austin|seattle|denver|boston|berlin|lisbon")
_PRE = ["", "", "", "best ", "top ", "cheap ", "buy ", "how to choose a ", "how to clean a ",
        "how to use a ", "what is a ", "affordable "]
_POST = ["", "", "", " review", " reviews", " near me", " for sale", " price", " vs", " guide",
         " 2024", " deals", " for beginners", " alternatives", " in {place}", " repair",
         " parts", " accessories"]


def generated_keywords(n: int, seed: int = 7) -> list[KeywordItem]:
    """n distinct realistic-looking keywords over ~70 product heads and their modifiers."""
    rng = random.Random(seed)
    out: set[str] = set()
    while len(out) < n:
        noun = rng.choice(_NOUNS)
        if rng.random() < 0.5:
            noun = rng.choice(_ATTRS) + " " + noun
        if rng.random() < 0.4:
            noun += "s"
        post = rng.choice(_POST).replace("{place}", rng.choice(_PLACES))
        if post == " vs":
            post = " vs " + rng.choice(_NOUNS)
        out.add(rng.choice(_PRE) + noun + post)
    return [KeywordItem(i, kw, (i * 7919) % 5000) for i, kw in enumerate(sorted(out))]


@pytest.mark.timeout(300)
@pytest.mark.slow
def test_1k_and_10k_keywords_are_all_placed(capsys: pytest.CaptureFixture[str]) -> None:
    """Every keyword of a large batch comes back exactly once. The time is printed, not
    asserted (a shared CI box makes wall time a coin toss); `make eval` reports it."""
    figures = []
    for n in (1_000, 10_000):
        items = generated_keywords(n)
        start = time.process_time()
        result = cluster_keywords(items)
        elapsed = time.process_time() - start
        placed = [k for c in result.clusters for k in c.keyword_ids]
        placed += [u.keyword_id for u in result.unclustered]
        assert sorted(placed) == [i.id for i in items]
        figures.append(f"{n} keywords {elapsed:.2f}s CPU ({len(result.clusters)} clusters, "
                       f"{len(result.unclustered)} unclustered)")
    with capsys.disabled():
        print("\n[ai clustering time] " + "; ".join(figures))


def test_a_recognised_modifier_names_another_page() -> None:
    """A modifier the analyser knows ("checklist", "under", "vs") is a facet, not a dropped
    word: "camping checklist" is not "camping tips" (page-neutral), a price cap is another
    list, and a comparison keeps its pair whatever the order."""
    kws = ["camping checklist", "camping packing list", "what to bring camping", "camping tips",
           "asana vs trello", "trello vs asana", "asana vs monday", "gaming pc under 1000",
           "gaming pc"]
    result = cluster_keywords([KeywordItem(i, k, 10) for i, k in enumerate(kws)],
                              threshold=0.6)
    groups = sorted(sorted(kws[i] for i in c.keyword_ids) for c in result.clusters)
    assert groups == [["asana vs monday"], ["asana vs trello", "trello vs asana"],
                      ["camping checklist", "camping packing list", "what to bring camping"],
                      ["camping tips"], ["gaming pc"], ["gaming pc under 1000"]]


def _groups(kws: list[str], **kw: float) -> list[list[str]]:
    result = cluster_keywords([KeywordItem(i, k, 10) for i, k in enumerate(kws)], **kw)
    return sorted(sorted(kws[i] for i in c.keyword_ids) for c in result.clusters)


def test_an_acronym_reads_as_its_expansion_in_the_same_request() -> None:
    """"srs" is the initials of "spaced repetition system", found in another keyword of the
    request, so it reads as those words; with no expansion in the request it stays itself, and
    units and roman numerals are never read as acronyms."""
    kws = ["srs flashcards", "spaced repetition system", "anki flashcards", "heloc",
           "what is a home equity line of credit"]
    assert ["spaced repetition system", "srs flashcards"] in _groups(kws)
    assert ["heloc", "what is a home equity line of credit"] in _groups(kws)
    assert ["srs flashcards"] in _groups(["srs flashcards", "anki flashcards"], threshold=0.6)
    from igny8d.ai.cluster.vectors import expand_acronyms
    words = [("sony", "a7", "iv"), ("sq", "ft", "home")]
    texts = ["sony a7 iii vs canon", "federal tax credit", "sony a7 iv", "sq ft home"]
    assert expand_acronyms(words, [analyse(t) for t in texts]) == [
        (("soni", "a7", "iv"), "sonya7iv"), (("sq", "ft", "home"), "sqfthome")]


def test_or_compares_as_vs() -> None:
    kws = ["asana vs trello", "asana or trello", "asana vs monday"]
    # the hand rules keep the other pair apart; the learned model, with nothing else in the
    # request, joins it at P 0.19 (docs/decisions.md, "The learned pair model on the lexical
    # path")
    assert _groups(kws, threshold=DEFAULT_THRESHOLD) == [
        ["asana or trello", "asana vs trello"], ["asana vs monday"]]
    assert any({"asana or trello", "asana vs trello"} <= set(g) for g in _groups(kws))


def test_a_cost_question_joins_its_price_page() -> None:
    """"how much does X cost" is an informational question (its reported intent) but names the
    price page, so it may join "X cost" (transactional); a how-to still may not."""
    kws = ["dog training cost", "dog training price", "how much does dog training cost",
           "how to train a dog"]
    result = cluster_keywords([KeywordItem(i, k, 10) for i, k in enumerate(kws)])
    groups = sorted(sorted(kws[i] for i in c.keyword_ids) for c in result.clusters)
    assert ["dog training cost", "dog training price", "how much does dog training cost"] in \
        groups
    assert dict(result.intents)[2] == "informational"


def test_framing_words_name_no_page() -> None:
    """"best way to" frames a how-to ("best" is no listicle there); "good for" in a question
    asks what a thing does, not which product to pick; "to buy" beside a listicle word is the
    listicle's purpose, not a price page."""
    from igny8d.ai.cluster.facets import terms_of
    assert terms_of(analyse("best way to clean solar panels")).facets == ()
    assert terms_of(analyse("best solar panels")).facets == ("best",)
    assert terms_of(analyse("is hot yoga good for you")).facets == ("yes_no",)
    assert terms_of(analyse("how long are car seats good for")).facets == ("how_long",)
    assert terms_of(analyse("is the aeropress good")).facets == ("best", "yes_no")
    assert terms_of(analyse("best ev to buy")).facets == ("best",)
    assert terms_of(analyse("best ev price")).facets == ("best", "buy")
    assert terms_of(analyse("buy ev")).facets == ("buy",)
    assert ["best way to clean solar panels", "how to clean solar panels"] in _groups(
        ["how to clean solar panels", "best way to clean solar panels", "best solar panels"])


def test_a_yes_no_question_is_its_own_page() -> None:
    """"does debt consolidation hurt your credit" asks for a verdict: not the explainer of
    "what is debt consolidation" (the facet counts on the lexical path only)."""
    from igny8d.ai.cluster.facets import terms_of
    assert terms_of(analyse("does debt consolidation hurt your credit")).facets == ("yes_no",)
    assert terms_of(analyse("what is debt consolidation")).facets == ()
    analyses = [analyse("does debt consolidation hurt your credit"),
                analyse("debt consolidation hurt your credit")]
    lexical, other = Space(analyses, lexical=True), Space(analyses)
    assert lexical.factor(0, 1) == 0.5 and other.factor(0, 1) == 1.0


def test_names_from_the_request_change_the_reported_intent_not_the_conflicts() -> None:
    """"rockler" alone is the site its ".com" names (reported navigational), but conflicts go
    by each keyword's own words, so a comparison page is not cut where one spelling of a name
    is recognised and another is not."""
    from igny8d.ai.cluster.vectors import prepare
    kws = ["rockler.com", "rockler", "turbotax login", "turbotax vs h&r block",
           "h and r block vs turbo tax"]
    prepared = {p.item.text: p for p in prepare([KeywordItem(i, k, 10)
                                                 for i, k in enumerate(kws)])}
    assert prepared["rockler"].intent.intent == "navigational"
    assert prepared["turbotax vs h&r block"].intent.intent == "commercial"
    assert prepared["h and r block vs turbo tax"].intent.intent == "informational"
    assert prepared["turbotax vs h&r block"].firm_bit == \
        prepared["h and r block vs turbo tax"].firm_bit
    assert ["h and r block vs turbo tax", "turbotax vs h&r block"] in _groups(kws)


def test_a_listicle_for_beginners_or_on_a_budget_is_another_list() -> None:
    """eval/data/GUIDE.md: "best road bike" / "best road bike for beginners" / "best budget
    road bike" are three lists; between two listicles such a facet counts twice (the same terms:
    0.25, where one facet more elsewhere is 0.5)."""
    from igny8d.ai.cluster.vectors import FACET_PENALTY
    space = Space([analyse(k) for k in ("best road bike", "best road bike for beginners",
                                        "road bike for beginners", "road bike")])
    assert space.sim(0, 1) == pytest.approx(FACET_PENALTY ** 2)
    assert space.sim(2, 3) == pytest.approx(FACET_PENALTY)  # no listicles: once
    kws = ["best road bike", "top road bikes", "best road bike for beginners",
           "best budget road bike"]
    assert _groups(kws, threshold=0.3) == [["best budget road bike"],
                                           ["best road bike", "top road bikes"],
                                           ["best road bike for beginners"]]
