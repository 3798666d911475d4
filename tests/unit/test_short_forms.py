"""Short forms, diminutives and prefixed names (alerts.short_forms; the nicknames package + curated)."""

from __future__ import annotations

import pytest

from alerts.identity import name_tokens, sound, token_similarity
from alerts.short_forms import same_name, short_form_keys


@pytest.mark.parametrize(
    ("short", "full"),
    [
        ("jess", "jessica"),  # the nicknames package
        ("tom", "thomas"),
        ("alex", "alexandru"),  # curated: Romanian
        ("bayo", "adebayo"),  # Yoruba prefix Ade-
        ("seun", "oluwaseun"),  # Yoruba prefix Oluwa-
        ("emeka", "chukwuemeka"),  # Igbo prefix Chukwu-
        ("amaka", "chiamaka"),  # Igbo prefix Chi-
    ],
)
def test_a_short_form_pairs_with_its_full_name_and_shares_a_blocking_key(short: str, full: str) -> None:
    assert same_name(short, full) and same_name(full, short)
    # the old similarity floor (0.8) let these fall under it
    assert token_similarity(short, full) >= 0.8
    codes_short = {sound(k) for k in short_form_keys(short)}
    codes_full = {sound(k) for k in short_form_keys(full)}
    assert codes_short & codes_full


def test_unrelated_names_are_not_short_forms_of_each_other() -> None:
    assert not same_name("tom", "jessica")
    assert not same_name("seun", "tobi")
    assert not same_name("ali", "alison")  # Ali is a name in its own right, not the package's short form
    assert token_similarity("ardit", "arben") < 0.8


@pytest.mark.parametrize(
    ("written", "tokens"),
    [
        ("Oluwa Seun", ("oluwaseun",)),
        ("Chukwu-Emeka Obi", ("chukwuemeka", "obi")),
        ("Chi Amaka", ("chiamaka",)),
        ("Linh Chi", ("linh", "chi")),  # a Vietnamese name, not a prefix
        ("Chi Linh", ("chi", "linh")),
    ],
)
def test_a_prefix_written_apart_is_one_name_only_where_it_is_a_prefix(written: str, tokens: tuple[str, ...]) -> None:
    assert name_tokens(written) == tokens
