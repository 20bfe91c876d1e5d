"""Keywords with the same terms in another plural or order and the same facets are one page
(eval/data/GUIDE.md): the lexical clustering starts them together, so average linkage cannot
grow each into a different cluster first (`linkage.lexical_space`)."""

from __future__ import annotations

import pytest

from eval.clustering import by_niche, rows_of
from igny8d.ai import KeywordItem, cluster_keywords
from igny8d.ai.cluster.linkage import lexical_space
from igny8d.ai.cluster.vectors import prepare


@pytest.mark.parametrize(("gold_set", "niche", "pairs"), [
    ("dev4", "kayaks", [("best kayak", "best kayaks"), ("best kayak 2025", "best kayaks 2025")]),
    ("dev2", "mattresses", [("cheap mattress", "cheap mattresses"),
                            ("best mattress", "best mattresses")]),
])
def test_a_plural_ends_with_its_singular_in_a_whole_niche(gold_set: str, niche: str,
                                                          pairs: list[tuple[str, str]]) -> None:
    rows = by_niche(rows_of(gold_set))[niche]
    items = [KeywordItem(i, r["keyword"], int(r["volume"])) for i, r in enumerate(rows)]
    result = cluster_keywords(items)
    home = {rows[i]["keyword"]: k for k, c in enumerate(result.clusters) for i in c.keyword_ids}
    for a, b in pairs:
        assert home[a] == home[b], (a, b)


def test_one_key_for_the_same_stems_in_any_order_and_the_same_facets() -> None:
    texts = ["pet insurance", "insurance for pets", "pet insurances", "best pet insurance",
             "pet insurance cost"]
    prepared = prepare(KeywordItem(i, t) for i, t in enumerate(texts))
    _space, key_of = lexical_space(prepared)
    key = {p.item.text: key_of[i] for i, p in enumerate(prepared)}
    assert key["pet insurance"] == key["insurance for pets"] == key["pet insurances"]
    # another facet is another page
    assert len({key["pet insurance"], key["best pet insurance"],
                key["pet insurance cost"]}) == 3
