"""Blocking keys (alerts.matching.keys): what a profile is filed under meets what a report looks up."""

from __future__ import annotations

from alerts.identity import name_tokens
from alerts.matching.keys import _identity_keys, joined_forms


def _profile_keys(given: str, family: str) -> set[int]:
    forms = [name_tokens(f"{given} {family}"), *joined_forms(given, family)]
    return set(_identity_keys(forms, [2011], ("m",)))


def _report_keys(given: str, family: str) -> set[int]:
    forms = [name_tokens(f"{given} {family}"), *joined_forms(given, family)]
    return set(_identity_keys(forms, [2011], ("m", "u")))


def test_a_multi_word_given_name_is_filed_joined_too() -> None:
    assert joined_forms("Thanh Tùng", "Nguyễn") == [("thanhtung", "nguyen")]
    assert joined_forms("Minh", "Nguyễn") == []
    # either way of writing it meets the other
    assert _profile_keys("Thanh Tùng", "Nguyễn") & _report_keys("Thanhtung", "Nguyen")
    assert _profile_keys("Thanhtung", "Nguyễn") & _report_keys("Thanh Tùng", "Nguyen")


def test_a_typo_in_one_name_still_meets_through_the_other_name_and_its_initial() -> None:
    assert _profile_keys("Ardit", "Gjoka") & _report_keys("Ardit", "Gjkoa")


def test_a_short_form_meets_its_full_name() -> None:
    assert _profile_keys("Jessica", "Smith") & _report_keys("Jess", "Smith")
    assert _profile_keys("Seun", "Okafor") & _report_keys("Oluwaseun", "Okafor")


def test_unrelated_names_share_no_pair_key() -> None:
    pairs = {k for k, (weight, *_) in _identity_keys([name_tokens("Ardit Hoxha")], [2011], ("m",)).items() if weight == 3.0}
    assert not pairs & _report_keys("Besnik", "Leka")
