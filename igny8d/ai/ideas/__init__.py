"""Content ideas for the local provider: title, structure, an outline covering every keyword.

Each idea of a cluster has a different content structure, an H2/H3 outline that places every
keyword of the cluster, its target keywords and a word-count estimate.

Pure and deterministic: the keywords are put in one order first (volume, then normalised text),
so the same cluster in any order gives the same ideas; nothing depends on hash seeds or time.

How an idea is built (one module per step):

1. *Plan* (`analysis.analyse_keyword`, `planning.plan_keywords`): each keyword is taken apart
   with `text.analyse`; its *topic* is its words without intent modifiers, years and edge stop
   words ("best espresso machines under 500" → "espresso machines under 500"), its *task* flag
   says it asks how to do something ("how to make pour over coffee" → task "make pour over
   coffee"). The primary keyword (the cluster's name, else the highest-volume one) gives the
   cluster's topic; its stems are the *core*. Every other keyword is grouped by *shared
   terms*: by its most common non-core stem (its *facet*: "conical burr grinder" and "best
   conical burr coffee grinder" share "conic"), or, when it has none, by its *angle* (price,
   buy, review, comparison, how-to, question, best, navigational, overview) read from its
   modifiers.
2. *Structure* (`planning.rank_structures`): each structure of `CONTENT_STRUCTURES` scores the
   share of the cluster's volume whose keywords carry its cues ("best"/"top" → listicle,
   "vs"/"alternative" → comparison, "review" → review, "how to" → how_to, questions → faq,
   "guide" → guide, "news"/"latest" → news) plus a prior from the cluster's intent; ideas take
   the best structures in turn, so several ideas of one cluster differ in structure.
3. *Outline* (`outlines.outline_for`): the structure's skeleton of H2s (with H3s), each
   skeleton section absorbing the keyword groups of some angles, facet groups as their own
   sections (their other keywords as H3s); a group nothing absorbs goes to the skeleton's
   catch-all section, so every keyword lands in some section's `keywords`. Optional sections
   (FAQ, prices) appear only when keywords fill them.
4. *Title* (`titles.title_for`) from per-structure templates with the topic title-cased
   sensibly (`grammar`: small words lower case, acronyms upper case, a user's capitals kept),
   the estimate from the outline's size (`outlines.estimate_words`); `compose.generate_ideas`
   puts them together.

The word lists (small words, acronyms, angles, structure cues…) are data
(igny8d/ai/data/ideas.json, `words.idea_words()`), read on first use.
"""

from igny8d.ai.ideas.analysis import Keyword, analyse_keyword, verbs_in
from igny8d.ai.ideas.compose import MAX_IDEAS, generate_ideas, idea_for
from igny8d.ai.ideas.grammar import sentence_case, title_case
from igny8d.ai.ideas.outlines import estimate_words, outline_for
from igny8d.ai.ideas.planning import (
    Plan,
    names_in,
    plan_keywords,
    rank_structures,
    request_reading,
)
from igny8d.ai.ideas.titles import description_for, title_for

__all__ = [
    "MAX_IDEAS", "Keyword", "Plan", "analyse_keyword", "description_for", "estimate_words",
    "generate_ideas", "idea_for", "names_in", "outline_for", "plan_keywords", "rank_structures",
    "request_reading", "sentence_case", "title_case", "title_for", "verbs_in",
]
