"""Keyword clustering: TF-IDF similarity of terms, page facets, threshold linkage, intents apart.

Deterministic, for the local provider (and, over an LLM's groups, for the OpenAI-compatible one).

Each keyword is read as *terms* and *facets* (`facets.terms_of`): the facets say which kind of
page it wants (a listicle, a buy or price page, a local pack, alternatives, a login, a
how-often question…), the terms are its head without facet words and page-neutral words
("best" vs "top rated", a year, "for women"), after general synonym phrases ("or" reads as
"vs"). An acronym is read as its expansion when the request itself spells it out
(`vectors.expand_acronyms`: "srs" with "spaced repetition system" elsewhere in the batch; no
lexicon, units and roman numerals excluded). Similarity of two
keywords = `WORD_WEIGHT` * cosine of their terms' word vectors (TF-IDF over Snowball stems) +
(1 - `WORD_WEIGHT`) * cosine of their character vectors (TF-IDF over the 3- and 4-grams of the
terms with spaces removed), times the facets' penalties (`vectors.Space.factor`). Words catch
word order and plural/singular, characters catch spelling and compounds ("pour over" /
"pourover").

Candidate pairs are blocked by an inverted index over stems and character 4-grams; a feature
found in more than `block_cap` terms is too common to propose pairs (it still counts in the
similarity of the pairs proposed by rarer ones). Pairs never proposed have similarity 0.

Agglomeration: every keyword starts alone, except that keywords whose terms have the same
stems in any order and the same facets start together ("best kayak" / "best kayaks",
`linkage.lexical_space`); the pair of clusters with the highest linkage
(average, the default: mean similarity over all cross pairs, every pair at least `PAIR_FLOOR`;
complete: the smallest one) is merged while it is ≥ `threshold`, unless the merge would mix
conflicting firm intents (`CONFLICTS`; a keyword naming one page type with a guessed intent
conflicts as that page: "how much does X cost" as the price page, `vectors.page_intents`) or
exceed `max_cluster_size`. Neither chains: a~b and
b~c do not pull a and c together unless a~c too. Ties break on the keywords' sorted position
(normalised text, text, id), so the result does not depend on the input order.

**The learned lexical model** (`learned.LexicalPairModel`, shipped in
`data/pair_model_lexical.json`, fitted on eight writers' gold sets by `eval/fit_pair_model.py
--path local --model boosted --write`): with no `threshold` or `linkage` given, a key pair's
edge is instead the probability that one page serves both, from gradient-boosted trees
(`learned.Trees`; numpy only) over the pair's own measures (the similarity above, the facet
factor and its parts, TF-IDF cosines, stems shared, intents; `learned.lexical_pairs`), merged
by average linkage at the model's floor and threshold. New keywords join an existing cluster
by the same model (`assign_to_existing`: the cluster's mean probability with them, at the
model's `join_threshold`). An explicit `threshold` keeps the hand similarity, for both.

**Every keyword with text ends in a cluster**: one that fits nowhere is a cluster of its own,
named after it. Only a keyword empty after normalisation is *unclustered* (`empty`). With a
`min_cluster_size` above 1, smaller groups are unclustered with a reason: `no_match`,
`intent_conflict`, `size_limit`, `low_cohesion`. `place_leftovers` gives the keywords another
path left out (an LLM's answer) clusters of their own.

**On embeddings** (`cluster_keywords(items, embeddings=...)`): a pair's similarity is the
larger of the vectors' cosine (plus a tenth of the lexical similarity where that is strong) and
the lexical similarity above (the same terms and facets are 1.0 whatever the vectors say); two
keywords wanting different pages by their facets or buying intents (`semantic.other_pages`: a
local pack, a sub-listicle, "best X" / "X price") have it lowered, and two naming conflicting
page types (`vectors.pages_conflict`) are never merged; complete linkage at
`EMBEDDING_THRESHOLD` by default; naming and intent conflicts are the same. Every pair is
scored, so the cost is O(n² · dimensions). `assign_to_existing(..., embeddings=...)` matches
on the average of the same similarity (bonus, penalty, page intents) over a cluster's keywords,
with the same page-type rule. With a `pair_model` (`learned.PairModel`, fitted for one
embedding model's vectors) the similarity is instead the model's probability that one page
serves both keywords, at its own thresholds (to cluster, and for a new keyword to join).

**On someone else's groups** (`clusters_from_groups`, an LLM's answer): the same naming,
intent-conflict and minimum-size rules applied to groups made elsewhere.
"""

from igny8d.ai.cluster.assign import assign_to_existing
from igny8d.ai.cluster.groups import clusters_from_groups, place_leftovers
from igny8d.ai.cluster.linkage import (
    DEFAULT_LINKAGE,
    EMBEDDING_LINKAGE,
    MIN_EDGE,
    PAIR_FLOOR,
    Linkage,
    cluster_keywords,
)
from igny8d.ai.cluster.results import (
    Assignment,
    AssignResult,
    Cluster,
    ClusterResult,
    ExistingCluster,
    KeywordItem,
    Unclustered,
)
from igny8d.ai.cluster.rules import (
    CONFLICTS,
    DEFAULT_MAX_CLUSTER_SIZE,
    DEFAULT_THRESHOLD,
    EMBEDDING_THRESHOLD,
)
from igny8d.ai.cluster.vectors import WORD_WEIGHT, Embeddings

__all__ = [
    "CONFLICTS",
    "DEFAULT_LINKAGE",
    "DEFAULT_MAX_CLUSTER_SIZE",
    "DEFAULT_THRESHOLD",
    "EMBEDDING_LINKAGE",
    "EMBEDDING_THRESHOLD",
    "MIN_EDGE",
    "PAIR_FLOOR",
    "WORD_WEIGHT",
    "AssignResult",
    "Assignment",
    "Cluster",
    "ClusterResult",
    "Embeddings",
    "ExistingCluster",
    "KeywordItem",
    "Linkage",
    "Unclustered",
    "assign_to_existing",
    "cluster_keywords",
    "clusters_from_groups",
    "place_leftovers",
]
