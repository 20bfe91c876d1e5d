"""eval/build_word_vectors.py and eval/word_vectors_cv.py: the static word vectors' table
(WordPiece reading, unit vectors, determinism) and their blend into the local clustering
(page types and intents still veto)."""

from __future__ import annotations

import numpy as np

from eval.build_word_vectors import Table, reduce, token_vectors, zipf_weights
from eval.word_vectors_cv import blended
from igny8d.ai import KeywordItem
from igny8d.ai.cluster import DEFAULT_THRESHOLD, cluster_keywords
from tests.helpers.embeddings import needs_model


def _table() -> Table:
    tokens = ["bike", "bicycle", "shop", "price", "mortgage", "##s", "cycle", "##ling"]
    vectors = np.array([[1, 0.1, 0], [0.95, 0.15, 0], [0, 1, 0], [0, 0.5, 1], [0, 0, 1],
                        [0.01, 0.01, 0.01], [0.9, 0, 0.2], [0, 0.1, 0.1]], dtype=np.float32)
    return Table(tokens, vectors)


def test_a_word_missing_from_the_table_reads_as_its_wordpiece_split() -> None:
    table = _table()
    assert table.pieces("bikes") == (0, 5)
    assert table.pieces("cycleling") == (6, 7)
    assert table.pieces("zebra") == ()
    assert not table.vector(["zebra"]).any()


def test_a_text_vector_is_unit_and_does_not_depend_on_the_call() -> None:
    table = _table()
    a = table.vector(["bike", "shop"])
    assert abs(float(a @ a) - 1.0) < 1e-6
    assert np.array_equal(a, _table().vector(["Bike", "shop"]))
    assert float(a @ table.vector(["bicycle", "shop"])) > float(a @ table.vector(["mortgage"]))


def test_the_reduction_and_weights_are_deterministic() -> None:
    rng = np.random.default_rng(0)
    raw = rng.normal(size=(40, 12)).astype(np.float32)
    assert np.array_equal(reduce(raw, 4), reduce(raw.copy(), 4))
    w = zipf_weights(["the", "a", "##s", "zebra", "##ing"])
    assert w[0] < w[1] < w[3] and w[2] < w[4] and w.max() <= 1.0


def test_the_blend_links_synonyms_but_page_types_still_veto() -> None:
    items = [KeywordItem(1, "bike shop near me", 10), KeywordItem(2, "bicycle shop near me", 5),
             KeywordItem(3, "best bicycle", 5), KeywordItem(4, "bike price", 5)]

    def groups() -> set[frozenset[int]]:
        # the blend patches the hand similarity: the hand rules at their threshold
        return {frozenset(c.keyword_ids)
                for c in cluster_keywords(items, threshold=DEFAULT_THRESHOLD).clusters}
    assert frozenset({1, 2}) not in groups()
    with blended(_table(), 0.8, 0.5):
        linked = groups()
    assert frozenset({1, 2}) in linked
    assert not any({3, 4} <= g for g in linked)
    assert frozenset({1, 2}) not in groups()  # restored


@needs_model[0]
@needs_model[1]
def test_distilled_vectors_put_a_synonym_nearer_than_an_unrelated_word() -> None:
    tokens, raw = token_vectors(["bike", "bicycle", "mortgage", "wedding", "marriage"])
    table = Table(tokens, raw - raw.mean(axis=0))
    bike = table.vector(["bike"])
    assert float(bike @ table.vector(["bicycle"])) > float(bike @ table.vector(["mortgage"]))
    wedding = table.vector(["wedding"])
    assert float(wedding @ table.vector(["marriage"])) > float(wedding @ table.vector(["bike"]))
