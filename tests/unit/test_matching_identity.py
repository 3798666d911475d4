"""Names, dates and contact details reduced to comparable forms (alerts.identity)."""

from __future__ import annotations

from datetime import date

import pytest

from alerts.identity import (
    associate_key,
    dob_of,
    fold,
    name_tokens,
    name_words,
    nationality_key,
    phone_key,
    plate_keys,
    profile_plates,
    sound,
    token_similarity,
)
from alerts.model import DateOfBirth


@pytest.mark.parametrize(
    ("written", "tokens"),
    [
        ("Nguyễn Thị-Hoa", ("nguyen", "thi", "hoa")),
        ("Ionuț Lăcătuș", ("ionut", "lacatus")),
        ("O'Brien", ("obrien",)),
        ("Mohamed A.", ("mohamed", "a")),
        ("Abdul Rahman Al-Hassan", ("abdrahman", "hassan")),
        ("Abdelrahman", ("abdrahman",)),
        ("Nasr El Din", ("nasreldin",)),
        ("Sami Ullah", ("samiullah",)),
        ("Abu Bakr", ("abubakr",)),
        ("Ënxhi Çela", ("enxhi", "cela")),
    ],
)
def test_names_fold_to_ascii_tokens_with_arabic_compounds_held_together(written: str, tokens: tuple[str, ...]) -> None:
    assert name_tokens(written) == tokens


@pytest.mark.parametrize(
    "variants",
    [
        ("mohammed", "muhammad", "mohamed", "mohamad", "muhammed"),
        ("yusuf", "youssef", "yousef", "jusuf"),
        ("hussein", "husain", "hossein"),
        ("osman", "usman"),
        ("omid", "umid"),
        ("tesfaye", "tesfay"),
        ("yohannes", "johannes"),
        ("nawid", "naveed"),
        ("hoxha", "hodja"),
    ],
)
def test_transliterations_share_a_sound_and_count_as_the_same_name(variants: tuple[str, ...]) -> None:
    assert len({sound(v) for v in variants}) == 1
    assert all(token_similarity(variants[0], v) >= 0.85 for v in variants)


@pytest.mark.parametrize(
    ("a", "b"), [("hung", "hoang"), ("anh", "an"), ("linh", "lan"), ("mahmoud", "mohammed"), ("tuan", "tran")]
)
def test_different_short_names_are_not_taken_for_each_other(a: str, b: str) -> None:
    assert token_similarity(a, b) < 0.8


def test_an_article_written_onto_a_name_is_allowed_for() -> None:
    assert token_similarity("elsadig", "sadiq") >= 0.8
    assert token_similarity("alexandra", "xandra") < 0.8  # 'al' before a vowel is part of the name


def test_estimated_dates_and_ranges_are_described_as_recorded() -> None:
    assert dob_of(DateOfBirth(value=date(2009, 1, 1), estimated=True)).describe() == "2009 (estimated)"  # type: ignore[union-attr]
    disputed = DateOfBirth(value=date(2009, 6, 1), estimated=True, earliest=date(2008, 9, 1), latest=date(2010, 3, 31))
    assert dob_of(disputed).describe() == "2009-06-01 (disputed: 2008-09-01 to 2010-03-31)"  # type: ignore[union-attr]
    assert dob_of(None) is None


def test_contact_details_normalise() -> None:
    assert phone_key("07700 900555") == phone_key("+44 7700 900555") == phone_key("0044 7700-900555") == "447700900555"
    assert "LR19XKP" in plate_keys("black BMW, reg LR19 XKP")
    assert profile_plates("white Ford Transit LR19 XKP") == {"LR19XKP"}
    assert nationality_key("Viet Nam") == nationality_key("Vietnamese")
    assert nationality_key("UK") == nationality_key("British") == "gb"
    assert fold("  Đặng   Văn ") == "dang van"


def test_companions_are_reduced_to_the_words_that_can_be_names() -> None:
    assert name_words("with a man called Van Long (said to be an uncle)") == ["van", "long"]
    assert associate_key(["van", "long"]) == associate_key(["long", "van"])
    assert associate_key(["tuan"]) is None


# --- invisible characters, phone formats, nationality (issue 13) ---------------------------------


@pytest.mark.parametrize("hidden", ["\u200b", "\u00ad", "\u200c", "\u200d", "\u200e", "\u202e", "\u2060", "\ufeff"])
def test_invisible_characters_inside_a_name_are_folded_away(hidden: str) -> None:
    assert name_tokens(f"Jes{hidden}sica Ho{hidden}xha") == ("jessica", "hoxha")


@pytest.mark.parametrize(
    "written", ["+44 (0)7700 900555", "07700 900555", "0044 7700 900555", "+447700900555", "07700-900-555", "(07700) 900555"]
)
def test_one_phone_number_however_written_is_one_key(written: str) -> None:
    assert phone_key(written) == "447700900555"


@pytest.mark.parametrize(
    ("one", "other"),
    [("Austrian", "Australian"), ("Nigerian", "Nigerien"), ("Guinean", "Guinea-Bissau"), ("Guinean", "Bissau-Guinean")],
)
def test_nationalities_that_share_their_first_letters_are_different(one: str, other: str) -> None:
    assert nationality_key(one) != nationality_key(other)


@pytest.mark.parametrize(
    ("one", "other"),
    [("Vietnamese", "Viet Nam"), ("Nigerian", "Nigeria"), ("Niger", "Nigerien"), ("Afghan", "Afghanistan"), ("UK", "British")],
)
def test_a_nationality_and_its_country_are_one_key(one: str, other: str) -> None:
    assert nationality_key(one) == nationality_key(other) != ""
