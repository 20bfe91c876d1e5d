"""eval/clustering.py in embeddings mode with the real in-process model (all-MiniLM-L6-v2, the
settings' default threshold and linkage, its pair model and intent model): the dev figures,
intents included, stay above their floors."""

from __future__ import annotations

import pytest

from eval.clustering import FLOORS, evaluate, render
from eval.clustering_cv import TUNING_SETS
from tests.helpers.embeddings import needs_model

pytestmark = needs_model


@pytest.mark.timeout(900)  # the ten tuning sets embedded and clustered, and the assign eval
def test_the_embeddings_dev_figures_stay_above_their_floors() -> None:
    report = evaluate(sets=TUNING_SETS, modes=("embeddings",))
    assert report.skipped == [] and report.failures == [], render(report)
    fig, *others = report.figures
    for other in others:
        assert other.ari >= FLOORS[(other.set, "embeddings")]["ari"], other.set
        assert other.intent_f1 >= FLOORS[(other.set, "embeddings")]["intent_f1"], other.set
    floors = FLOORS[("dev", "embeddings")]
    assert fig.ari >= floors["ari"] and fig.pair_f1 >= floors["pair_f1"]
    assert fig.intent_f1 >= floors["intent_f1"]
    assert fig.unclustered == 0 and len(fig.niche_ari) == 18
