"""Clustering on given embeddings (igny8d.ai.cluster with `embeddings=`) and on groups made
elsewhere (`clusters_from_groups`): the vectors' cosine replaces the TF-IDF similarity, the
naming, intent-conflict and unclustered rules stay; deterministic. The vectors are the fake
server's (hashed character trigrams), also fetched through the provider over HTTP once."""

from __future__ import annotations

import math
import random

import pytest

from igny8d.ai import ExistingCluster, KeywordItem, assign_to_existing, cluster_keywords
from igny8d.ai.cluster import EMBEDDING_THRESHOLD, ClusterResult, clusters_from_groups
from igny8d.ai.providers.openai import OpenAIProvider
from igny8d.ai.text import normalise
from igny8d.ai.types import ProviderConfig
from tests.helpers.fake_openai import FakeOpenAI, fake_embedding
from tests.helpers.gold import adjusted_rand_index, gold_rows, labels_of, pair_f1


def _vectors(items: list[KeywordItem]) -> dict[int, list[float]]:
    return {k.id: fake_embedding(k.text) for k in items}


def _together(result: ClusterResult, *ids: int) -> bool:
    return any(set(ids) <= set(c.keyword_ids) for c in result.clusters)


def test_pour_over_and_pourover_join_and_are_named_by_volume() -> None:
    items = [KeywordItem(1, "pour over coffee maker", 300),
             KeywordItem(2, "pourover coffee maker", 900),
             KeywordItem(3, "pour-over coffee maker", 40),
             KeywordItem(4, "zebra migration facts", 5)]
    result = cluster_keywords(items, embeddings=_vectors(items), min_cluster_size=2)
    (cluster,) = result.clusters
    assert cluster.name == "pourover coffee maker"
    assert cluster.keyword_ids == (2, 1, 3)
    assert cluster.volume == 1240
    (alone,) = result.unclustered
    assert alone.keyword_id == 4
    assert alone.reason == (f"no_match: no keyword's embedding is close enough (threshold "
                            f"{EMBEDDING_THRESHOLD:.2f})")


def test_the_vectors_or_the_words_make_two_keywords_alike() -> None:
    """"sofa" and "couch" share no word or trigram: TF-IDF keeps them apart, vectors that say
    they are alike put them together. The similarity is the larger of the vectors' cosine and
    the words' (lexical) similarity: "coffee grinder" and "coffee grinders" are the same terms
    whatever their vectors say, "coffee grinder" and "coffee maker" are not."""
    items = [KeywordItem(1, "sofa", 10), KeywordItem(2, "couch", 20),
             KeywordItem(3, "coffee grinder", 5), KeywordItem(4, "coffee grinders", 4),
             KeywordItem(5, "coffee maker", 3)]
    assert not _together(cluster_keywords(items), 1, 2)
    assert _together(cluster_keywords(items), 3, 4)
    vectors = {1: [1.0, 0.1, 0.0, 0.0], 2: [0.9, 0.15, 0.0, 0.0], 3: [0.0, 0.0, 1.0, 0.0],
               4: [0.0, 1.0, 0.0, 0.0], 5: [0.0, 0.0, 0.0, 1.0]}
    result = cluster_keywords(items, embeddings=vectors, min_cluster_size=2)
    assert [(c.name, c.keyword_ids) for c in result.clusters] == [("couch", (2, 1)),
                                                                  ("coffee grinder", (3, 4))]
    assert {u.keyword_id for u in result.unclustered} == {5}


def test_conflicting_intents_are_never_merged_even_with_identical_vectors() -> None:
    items = [KeywordItem(1, "how to paint kitchen cabinets", 100),
             KeywordItem(2, "best paint for kitchen cabinets", 90),
             KeywordItem(3, "painting kitchen cabinets guide", 50),
             KeywordItem(4, "kitchen cabinet paint sale", 30),
             KeywordItem(5, "hubspot login", 10), KeywordItem(6, "hubspot pricing", 9)]
    same = {k.id: [1.0, 2.0, 3.0] for k in items}  # everything "identical"
    result = cluster_keywords(items, embeddings=same, min_cluster_size=2)
    intents = dict(result.intents)
    assert intents[1] == "informational" and intents[2] == "commercial"
    assert intents[5] == "navigational" and intents[6] == "transactional"  # a price page
    for c in result.clusters:
        firm = {intents[i] for i in c.keyword_ids}
        assert not ({"informational", "commercial"} <= firm), c
        assert not ({"navigational", "commercial"} <= firm), c
        assert not ({"navigational", "transactional"} <= firm), c
    assert _together(result, 1, 3)
    assert not _together(result, 5, 6)
    given = [KeywordItem(1, "espresso machine", 10, "informational"),
             KeywordItem(2, "espresso machines", 5, "commercial")]
    out = cluster_keywords(given, embeddings={1: [1.0, 0.0], 2: [1.0, 0.0]}, min_cluster_size=2)
    assert out.clusters == ()
    assert {u.code for u in out.unclustered} == {"intent_conflict"}


@pytest.mark.slow
def test_embeddings_on_the_gold_set_beat_the_baseline(capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    rows = gold_rows()
    items = [KeywordItem(i, r["keyword"], int(r["volume"])) for i, r in enumerate(rows)]
    gold = [r["niche"] + "/" + r["cluster"] for r in rows]
    # the fake's trigram vectors are close to character TF-IDF, whose cosines are low: 0.4
    result = cluster_keywords(items, embeddings=_vectors(items), threshold=0.4)
    pred = labels_of(result, len(rows))
    baseline = [normalise(r["keyword"]).split()[0] for r in rows]
    ari, f1 = adjusted_rand_index(pred, gold), pair_f1(pred, gold)[0]
    base_ari = adjusted_rand_index(baseline, gold)
    with capsys.disabled():
        print(f"\n[ai gold on fake trigram embeddings, {len(rows)} keywords] ARI {ari:.3f}, "
              f"pair-F1 {f1:.3f} (first-word baseline ARI {base_ari:.3f})")
    assert ari >= 0.6 and f1 >= 0.6
    assert ari > base_ari + 0.4
    assert len(result.unclustered) < len(rows) // 5


def test_the_same_result_in_any_order() -> None:
    rows = gold_rows("holdout")
    items = [KeywordItem(i, r["keyword"], int(r["volume"])) for i, r in enumerate(rows)]
    vectors = _vectors(items)
    expected = cluster_keywords(items, embeddings=vectors, threshold=0.4)
    rng = random.Random(3)
    for _ in range(3):
        shuffled = items[:]
        rng.shuffle(shuffled)
        reordered = dict(sorted(vectors.items(), key=lambda _: rng.random()))
        assert cluster_keywords(shuffled, embeddings=reordered, threshold=0.4) == expected
    average = cluster_keywords(items, embeddings=vectors, threshold=0.4, linkage="average")
    assert cluster_keywords(items[::-1], embeddings=vectors, threshold=0.4,
                            linkage="average") == average


def test_complete_linkage_on_vectors_does_not_chain() -> None:
    # a~b at cos 0.83, b~c at 0.78, a~c at 0.29: a and c never share a cluster
    a, b, c = [1.0, 0.0], [math.cos(0.6), math.sin(0.6)], [math.cos(1.28), math.sin(1.28)]
    items = [KeywordItem(1, "alpha thing", 10), KeywordItem(2, "beta thing", 20),
             KeywordItem(3, "gamma thing", 5)]
    result = cluster_keywords(items, embeddings={1: a, 2: b, 3: c}, threshold=0.75,
                              min_cluster_size=2)
    assert [cl.keyword_ids for cl in result.clusters] == [(2, 1)]
    assert result.unclustered[0].keyword_id == 3
    assert result.unclustered[0].code == "low_cohesion"


def test_bad_embeddings_are_value_errors() -> None:
    items = [KeywordItem(1, "coffee grinder"), KeywordItem(2, "coffee grinders")]
    with pytest.raises(ValueError, match="no embedding for keyword id 2"):
        cluster_keywords(items, embeddings={1: [1.0, 0.0]})
    with pytest.raises(ValueError, match="dimensions"):
        cluster_keywords(items, embeddings={1: [1.0, 0.0], 2: [1.0, 0.0, 0.0]})
    with pytest.raises(ValueError, match="not finite"):
        cluster_keywords(items, embeddings={1: [1.0, float("nan")], 2: [1.0, 0.0]})
    # a keyword with nothing left after normalisation needs none, and is "empty"
    out = cluster_keywords([*items, KeywordItem(3, "!!!")], min_cluster_size=2,
                           embeddings={1: [1.0, 0.0], 2: [1.0, 0.01]})
    assert [c.keyword_ids for c in out.clusters] == [(1, 2)]
    assert out.unclustered[0].code == "empty"
    # a zero vector is like nothing
    apart = [KeywordItem(1, "coffee grinder"), KeywordItem(2, "tea kettle")]
    zero = cluster_keywords(apart, embeddings={1: [0.0, 0.0], 2: [1.0, 0.0]}, min_cluster_size=2)
    assert zero.clusters == ()


def test_new_keywords_join_existing_clusters_on_vectors() -> None:
    existing = [
        ExistingCluster("best coffee grinder", (KeywordItem(1, "best coffee grinder", 100),
                                                KeywordItem(2, "coffee grinders", 50)), id=7),
        ExistingCluster("cold brew recipe", (KeywordItem(3, "cold brew recipe", 90),), id=8),
        ExistingCluster("hubspot login", (), id=9),  # no keywords: its name's vector, key -3
    ]
    new = [KeywordItem(10, "coffee grinder reviews", 5), KeywordItem(11, "cold brew recipes", 4),
           KeywordItem(12, "hubspot log in", 3), KeywordItem(13, "hubspot pricing", 2),
           KeywordItem(14, "zebra migration facts", 1)]
    vectors = {k.id: fake_embedding(k.text) for c in existing for k in c.keywords}
    vectors.update({k.id: fake_embedding(k.text) for k in new})
    vectors[-3] = fake_embedding("hubspot login")
    out = assign_to_existing(existing, new, embeddings=vectors, threshold=0.4)
    assert {a.keyword_id: a.cluster_id for a in out.assigned} == {10: 7, 11: 8, 12: 9}
    assert [k.id for k in out.rest] == [13, 14]  # 13: commercial ≠ navigational
    assert all(0 < a.score <= 1 for a in out.assigned)
    assert assign_to_existing(existing, new[::-1], embeddings=vectors, threshold=0.4) == out
    # without the name's vector the empty cluster is no candidate
    del vectors[-3]
    out = assign_to_existing(existing, new, embeddings=vectors, threshold=0.4)
    assert 12 not in {a.keyword_id for a in out.assigned}
    with pytest.raises(ValueError, match="no embedding for keyword id 14"):
        assign_to_existing(existing, new, embeddings={k: v for k, v in vectors.items()
                                                      if k != 14})


def test_groups_from_elsewhere_follow_our_rules() -> None:
    items = [KeywordItem(1, "hubspot login", 40), KeywordItem(2, "hubspot pricing", 30),
             KeywordItem(3, "hubspot sign in", 50), KeywordItem(4, "coffee grinder", 5),
             KeywordItem(5, "coffee grinders", 9), KeywordItem(6, "espresso", 1),
             KeywordItem(7, "!!!", 0)]
    result = clusters_from_groups(items, [[1, 2, 3], [4, 5], [6], [7]], min_cluster_size=2,
                                  reasons={})
    assert [(c.name, c.keyword_ids) for c in result.clusters] == [
        ("hubspot sign in", (3, 1)), ("coffee grinders", (5, 4))]
    codes = {u.keyword_id: u.code for u in result.unclustered}
    assert codes == {2: "intent_conflict", 6: "no_match", 7: "empty"}
    assert 0 < result.clusters[1].cohesion <= 1
    left = clusters_from_groups(items, [[4, 5]], min_cluster_size=2,
                                reasons={1: "no_match: the model did not place it"})
    reasons = {u.keyword_id: u.reason for u in left.unclustered}
    assert reasons[1] == "no_match: the model did not place it"
    assert reasons[2] == "no_match: not placed in any group"
    with pytest.raises(ValueError, match="unknown keyword id 99"):
        clusters_from_groups(items, [[1, 99]])
    with pytest.raises(ValueError, match="in two groups"):
        clusters_from_groups(items, [[4, 5], [5, 6]])
    sized = clusters_from_groups(items, [[4, 5, 6]], max_cluster_size=2, min_cluster_size=2)
    assert [c.keyword_ids for c in sized.clusters] == [(5, 4)]


async def test_embeddings_fetched_over_http_cluster_the_same() -> None:
    """The provider's embed() through the fake server gives the vectors the clustering uses."""
    items = [KeywordItem(1, "pour over kettle", 10), KeywordItem(2, "pourover kettle", 30),
             KeywordItem(3, "gooseneck kettle", 3), KeywordItem(4, "hubspot login", 8)]
    async with FakeOpenAI() as fake:
        provider = OpenAIProvider(ProviderConfig(kind="openai", base_url=fake.url,
                                                 embedding_model="text-embedding-3-small"))
        try:
            got = await provider.embed(tuple(k.text for k in items))
        finally:
            provider.close()
    vectors = {k.id: v for k, v in zip(items, got.value, strict=True)}
    result = cluster_keywords(items, embeddings=vectors, min_cluster_size=2)
    assert result == cluster_keywords(items, embeddings=_vectors(items), min_cluster_size=2)
    assert [(c.name, c.keyword_ids) for c in result.clusters] == [("pourover kettle", (2, 1))]


_PAGES = [KeywordItem(1, "best yoga mat", 900), KeywordItem(2, "top rated yoga mats", 90),
          KeywordItem(3, "yoga mat reviews", 80), KeywordItem(4, "yoga mat price", 70),
          KeywordItem(5, "buy yoga mat", 60), KeywordItem(6, "yoga mat alternatives", 50)]


@pytest.mark.parametrize("linkage", ["complete", "average"])
def test_keywords_naming_different_page_types_never_share_a_cluster(linkage: str) -> None:
    """The same vector for all: a listicle, a buy page and alternatives are still three
    pages (none of their intents conflict: the page types alone keep them apart)."""
    same = {k.id: [1.0, 0.0] for k in _PAGES}
    result = cluster_keywords(_PAGES, embeddings=same, linkage=linkage)  # type: ignore[arg-type]
    assert sorted(sorted(c.keyword_ids) for c in result.clusters) == [[1, 2, 3], [4, 5], [6]]


def test_a_new_keyword_naming_another_page_type_does_not_join_on_vectors() -> None:
    existing = [ExistingCluster("best yoga mat", (_PAGES[0], _PAGES[1]), id=7)]
    new = [_PAGES[2], _PAGES[3], _PAGES[5], KeywordItem(8, "yoga mat", 40)]
    vectors = {k.id: [1.0, 0.0] for k in [*_PAGES, new[-1]]}
    out = assign_to_existing(existing, new, embeddings=vectors)
    assert {a.keyword_id for a in out.assigned} == {3, 8}  # reviews, and no page type named
    assert {k.id for k in out.rest} == {4, 6}
