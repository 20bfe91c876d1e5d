"""The rules every clustering path shares: defaults, intent conflicts, a cluster's name and intent.

A keyword's firm intent is one bit of a mask (`INTENT_BIT`); a cluster's mask is the union of
its keywords' bits, and two clusters whose masks hold a conflicting pair never merge.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from igny8d.vocab import INTENT_PRECEDENCE, Intent

if TYPE_CHECKING:
    from igny8d.ai.cluster.vectors import Prepared

#: The lexical path's merge threshold (and joining's): 0.25 since eight writers (every writer
#: left out chooses 0.25 or 0.3 on the other seven; docs/decisions.md, "The local threshold
#: on eight writers"), 0.2 before.
DEFAULT_THRESHOLD = 0.25
DEFAULT_MAX_CLUSTER_SIZE = 100
#: Complete-linkage threshold on the cosine of embeddings, the one default of every path on
#: embeddings (`Settings.embedding_threshold` defaults to it; a model may set its own through
#: `embedding_thresholds`). Embedding cosines sit much higher than TF-IDF ones (with dense
#: text-embedding models even unrelated short texts score 0.2 or more, rewordings of one query
#: 0.8 or more), so the TF-IDF threshold would merge whole niches. For all-MiniLM-L6-v2 the two
#: tuning sets' writers disagree: dev does best at 0.60, dev2 at 0.72; pooled leave-one-niche-out
#: over both (`python -m eval.clustering_cv --mode embeddings`) is flat from 0.65 (0.635) to 0.70
#: (0.639) (docs/decisions.md, "Embedding threshold on two writers"). With the other-page
#: penalty (`semantic.penalise_other_pages`) every fold picks 0.675 (docs/decisions.md,
#: "Embeddings round 7 (dev + dev2)"). The tests' hashed character-trigram vectors behave like
#: the TF-IDF ones and do best near 0.4.
EMBEDDING_THRESHOLD = 0.675

_T, _C, _N, _I = "transactional", "commercial", "navigational", "informational"
#: Intent pairs that never share a cluster. Transactional and commercial may (both are the
#: buying stage: "best espresso machine" and "espresso machine sale" are one page); every other
#: pair of different intents is a different page.
CONFLICTS: frozenset[frozenset[str]] = frozenset({
    frozenset({_T, _I}), frozenset({_C, _I}), frozenset({_N, _I}), frozenset({_N, _T}),
    frozenset({_N, _C}),
})
INTENT_BIT: dict[str, int] = {intent: 1 << i for i, intent in enumerate(INTENT_PRECEDENCE)}
#: A listicle's bit beside its commercial one (set on the lexical path only,
#: `vectors.listicle_bits`): it conflicts with a transactional keyword ("best cheap standing
#: desk" / "cheap standing desk", "best personal loan" / "personal loan rates": GUIDE.md,
#: commercial vs transactional for the same product).
LISTICLE_BIT = 1 << len(INTENT_PRECEDENCE)
_CONFLICT_MASK: dict[int, int] = {
    INTENT_BIT[a]: sum(INTENT_BIT[b] for b in INTENT_PRECEDENCE if frozenset({a, b}) in CONFLICTS)
    for a in INTENT_PRECEDENCE}
_CONFLICT_MASK[INTENT_BIT[_T]] |= LISTICLE_BIT
_CONFLICT_MASK[LISTICLE_BIT] = INTENT_BIT[_T]


def conflicts(mask_a: int, mask_b: int) -> bool:
    """Whether two intent masks hold a pair of intents that never share a cluster."""
    bits = mask_a
    while bits:
        low = bits & -bits
        if _CONFLICT_MASK[low] & mask_b:
            return True
        bits ^= low
    return False


def rank(p: Prepared) -> tuple[int, int, str, int]:
    """Naming order: highest volume, then shortest, then alphabetical (then id)."""
    return (-p.item.volume, len(p.analysis.normalised), p.analysis.normalised, p.item.id)


def cluster_intent(members: list[Prepared]) -> Intent:
    """The members' intent voted by volume and confidence; a tie goes to the precedence."""
    votes: dict[Intent, float] = defaultdict(float)
    for p in members:
        votes[p.intent.intent] += (p.item.volume + 1) * p.intent.confidence
    best = max(votes.values())
    return next(i for i in INTENT_PRECEDENCE if votes.get(i) == best)


def tidy(text: str) -> str:
    """A keyword's text as a cluster's name: its own words, spacing collapsed."""
    return " ".join(text.split())[:255]
