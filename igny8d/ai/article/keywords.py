"""The article's keywords: which is primary, which section each secondary one belongs to."""

from __future__ import annotations

from collections.abc import Sequence

from igny8d.ai.ideas import analyse_keyword
from igny8d.ai.text import normalise, stem, vocabulary
from igny8d.ai.types import OutlineSection


def keyword_key(text: str) -> str:
    """What makes two keywords the same: their normalised text, or for text the
    normalisation empties (no Latin letters), the text case-folded."""
    return normalise(text) or " ".join(text.split()).casefold()


def clean_keywords(texts: Sequence[str]) -> list[str]:
    """The keywords whitespace-folded, each once (by `keyword_key`), in sorted order."""
    out: dict[str, str] = {}
    for t in texts:
        clean = " ".join(t.split())
        key = keyword_key(clean)
        if key and key not in out:
            out[key] = clean
    return [out[k] for k in sorted(out)]


def stems_of(text: str) -> set[str]:
    """The stems of a text's words, stop words left out: what "shares most" compares."""
    return {stem(w) for w in normalise(text).split() if w not in vocabulary().stopwords}


def choose_primary(title: str, keywords: Sequence[str]) -> str:
    """The keyword most like the title (most shared stems, then shortest, then alphabetical);
    with no keywords, the title's topic."""
    if keywords:
        title_stems = stems_of(title)
        return min(keywords, key=lambda k: (-len(stems_of(k) & title_stems), len(k),
                                            normalise(k), k))
    k = analyse_keyword(title)
    words = [w for w in k.topic_words if not w.isdigit()]
    return " ".join(words).lower() if words else (normalise(title) or " ".join(title.split()))


def assign_keywords(outline: Sequence[OutlineSection], secondary: Sequence[str],
                    primary: str) -> list[list[str]]:
    """Each section's keywords: the outline's own (less the primary), then every secondary
    keyword no section names, to the section sharing most stems with it (ties: the one with
    fewer keywords, then the earlier)."""
    prim = keyword_key(primary)
    out: list[list[str]] = []
    named: set[str] = set()
    for s in outline:
        kws = [" ".join(k.split()) for k in s.keywords if keyword_key(k) and keyword_key(k) != prim]
        kws = list(dict.fromkeys(kws))
        named.update(keyword_key(k) for k in kws)
        out.append(kws)
    stems = [stems_of(" ".join((s.heading, *s.subheadings))) for s in outline]
    for kw in secondary:
        if keyword_key(kw) in named or not outline:
            continue
        ks = stems_of(kw)
        best = min(range(len(outline)), key=lambda i: (-len(ks & stems[i]), len(out[i]), i))
        out[best].append(kw)
        named.add(keyword_key(kw))
    return out
