"""igny8d.text: slugs, cuts at a word and English plurals (pure functions, no server)."""

from __future__ import annotations

import pytest

from igny8d.text import cut_at_word, is_plural, plural, singular, slugify, squash


@pytest.mark.parametrize(("text", "slug"), [
    ("Zürich", "zurich"),
    ("Café", "cafe"),
    ("Caf", "caf"),
    ("Crème Brûlée & Tea", "creme-brulee-and-tea"),
    ("  Hello,   World!  ", "hello-world"),
    ("São Paulo Coffee Roasters", "sao-paulo-coffee-roasters"),
    ("Ærøskøbing", "aeroskobing"),
    ("日本語", "ri-ben-yu"),
])
def test_slugify_transliterates(text: str, slug: str) -> None:
    assert slugify(text) == slug


def test_slugify_cuts_at_a_hyphen_and_falls_back() -> None:
    assert slugify("alpha beta gamma delta", max_length=12) == "alpha-beta"
    assert slugify("!!!", fallback="item") == "item"
    assert slugify("") == ""


@pytest.mark.parametrize(("noun", "plural_form"), [
    ("hero", "heroes"), ("quiz", "quizzes"), ("criterion", "criteria"), ("series", "series"),
    ("grinder", "grinders"), ("knife", "knives"), ("analysis", "analyses"),
    ("lens", "lenses"), ("status", "statuses"), ("CRM", "CRMs"), ("iPhone", "iPhones"),
    ("software", "software"), ("news", "news"), ("physics", "physics"), ("Hero", "Heroes"),
    ("grinders", "grinders"), ("baby", "babies"), ("box", "boxes"),
])
def test_plural(noun: str, plural_form: str) -> None:
    assert plural(noun) == plural_form


@pytest.mark.parametrize(("noun", "singular_form"), [
    ("heroes", "hero"), ("quizzes", "quiz"), ("criteria", "criterion"), ("series", "series"),
    ("analysis", "analysis"), ("lens", "lens"), ("boss", "boss"), ("CRMs", "CRM"),
    ("Grinders", "Grinder"), ("babies", "baby"), ("glasses", "glass"), ("tennis", "tennis"),
    ("data", "data"), ("status", "status"), ("3d", "3d"),
])
def test_singular(noun: str, singular_form: str) -> None:
    assert singular(noun) == singular_form


def test_is_plural() -> None:
    assert is_plural("grinders") and is_plural("criteria") and is_plural("CRMs")
    assert not any(is_plural(w) for w in ("lens", "series", "grinder", "analysis", "news"))


@pytest.mark.parametrize(("text", "limit", "kw", "out"), [
    ("short text", 20, {}, "short text"),
    ("The quick brown fox jumps over the lazy dog", 20, {}, "The quick brown fox"),
    ("The quick brown fox and the dog", 24, {"drop": {"and", "the"}}, "The quick brown fox"),
    ("Supercalifragilistic word", 10, {"ellipsis": "…"}, "Supercali…"),
    ("alpha, beta, gamma", 12, {}, "alpha, beta"),
    ("a   lot\tof\n space", 100, {}, "a lot of space"),
])
def test_cut_at_word(text: str, limit: int, kw: dict[str, object], out: str) -> None:
    got = cut_at_word(text, limit, **kw)  # type: ignore[arg-type]
    assert got == out and len(got) <= limit


def test_squash() -> None:
    assert squash("  a \n b\t c ") == "a b c"
