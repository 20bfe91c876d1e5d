"""igny8d.ai.text: normalisation, stemming, modifiers, character n-grams."""

from __future__ import annotations

import pytest

from igny8d.ai.text import (
    analyse,
    char_ngrams,
    normalise,
    slug,
    split_modifiers,
    stem,
    tokens,
)


@pytest.mark.parametrize(("raw", "expected"), [
    ("  Best   Coffee\tGrinder ", "best coffee grinder"),
    ("Café Crème", "cafe creme"),
    ("Bed & Breakfast", "bed and breakfast"),
    ("pour-over coffee", "pour over coffee"),
    ("women's running shoes", "womens running shoes"),
    ("booking.com login!!", "booking com login"),
    ("Ｆｕｌｌｗｉｄｔｈ", "fullwidth"),
    ("crème brûlée?", "creme brulee"),
    ("", ""),
    ("!!!", ""),
])
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


def test_stem_is_snowball_english() -> None:
    assert stem("grinders") == stem("grinder") == "grinder"
    assert stem("running") == "run"
    assert stem("shoes") == stem("shoe")
    assert stem("reviews") == stem("review")


def test_modifiers_are_split_from_the_head() -> None:
    head, mods = split_modifiers(tokens("best cheap espresso machine near me"))
    assert head == ["espresso", "machine"]
    assert mods == ["best", "cheap", "near me"]


def test_longest_modifier_phrase_wins() -> None:
    head, mods = split_modifiers(tokens("best way to paint kitchen cabinets"))
    assert mods == ["best way to"]
    assert head == ["paint", "kitchen", "cabinets"]
    _, mods = split_modifiers(tokens("running shoe buying guide"))
    assert mods == ["buying guide"]


def test_years_and_stop_words_leave_the_head() -> None:
    a = analyse("Top CRM software for small business 2024")
    assert a.head == ("crm", "software", "small", "business")
    assert "2024" in a.modifiers and "top" in a.modifiers


def test_brands_stay_in_the_head() -> None:
    a = analyse("HubSpot vs Salesforce")
    assert a.head == ("hubspot", "salesforce")
    assert a.brands == ("hubspot", "salesforce")
    assert analyse("home depot login").brands == ("home depot",)


def test_a_keyword_of_only_modifiers_keeps_them_as_head() -> None:
    assert analyse("best deals").head == ("best", "deals")


def test_char_ngrams_ignore_spaces() -> None:
    assert char_ngrams("pour over") == char_ngrams("pourover")
    grams = char_ngrams("abc")
    assert grams == ["#ab", "abc", "bc#", "#abc", "abc#"]
    assert char_ngrams("ab", (4,)) == ["#ab#"]


def test_compact_head_and_stems() -> None:
    a = analyse("Pour-Over Coffee Makers")
    assert a.compact_head == "pourovercoffeemakers"
    assert a.head_stems == ("pour", "over", "coffe", "maker")


def test_slug_is_the_house_slug_of_the_normalised_words() -> None:
    assert slug("Women's Running Shoes") == "womens-running-shoes"
    assert slug("Café & Crème — 10 Tips!") == "cafe-and-creme-10-tips"
    assert slug("Кофемолка") == ""  # nothing the analysis reads: the caller falls back
    long = slug("word " * 40, max_length=30)
    assert long == "word-word-word-word-word-word" and len(long) <= 30
