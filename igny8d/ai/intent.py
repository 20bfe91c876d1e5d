"""Rule-based search-intent classifier for the local provider.

A keyword's cues come from `igny8d.ai.text.analyse`: its modifiers (the documented cue lists,
one per intent), a leading question word ("is", "can"…), brand names and product nouns — the
word lists of `text.vocabulary()` (igny8d/ai/data/keywords.json). A cue is *strong*
(an explicit modifier: "buy", "best", "login", "how to") or *weak* (a product noun, a brand next
to other terms, "online", "free", "app" without a brand).

Decision: the intents with strong cues compete first, then those with weak ones, and the winner
is the first in the precedence transactional > commercial > navigational > informational. With
no cue at all the keyword is informational at a low confidence.

Confidence (0..1): strong winner 0.65 + 0.1 per extra strong cue for it (≤ 0.95), less 0.1
when another intent also had a strong cue; weak winner 0.4 (+0.05 per extra, ≤ 0.5);
no cue 0.25. `is_firm` (confidence ≥ 0.5, i.e. a strong cue) is what the clustering uses to
refuse merges across conflicting intents — a guess from weak cues never blocks a merge.
"""

from __future__ import annotations

from dataclasses import dataclass

from igny8d.ai.text import Analysis, analyse
from igny8d.vocab import INTENT_PRECEDENCE, Intent

FIRM_CONFIDENCE = 0.5


@dataclass(frozen=True, slots=True)
class IntentResult:
    intent: Intent
    cues: tuple[str, ...]
    confidence: float

    @property
    def is_firm(self) -> bool:
        return self.confidence >= FIRM_CONFIDENCE


def classify_analysis(analysis: Analysis) -> IntentResult:
    strong: dict[Intent, list[str]] = {}
    weak: dict[Intent, list[str]] = {}
    for cue in analysis.cues:
        (strong if cue.strong else weak).setdefault(cue.intent, []).append(cue.phrase)
    for pool, base, step, cap in ((strong, 0.65, 0.1, 0.95), (weak, 0.4, 0.05, 0.5)):
        for intent in INTENT_PRECEDENCE:
            if intent in pool:
                matched = pool[intent]
                confidence = min(cap, base + step * (len(matched) - 1))
                if pool is strong and len(strong) > 1:
                    confidence -= 0.1
                return IntentResult(intent, tuple(matched), round(confidence, 2))
    return IntentResult("informational", (), 0.25)


def classify_intent(text: str) -> IntentResult:
    """(intent, matched cues, confidence) of one keyword."""
    return classify_analysis(analyse(text))
