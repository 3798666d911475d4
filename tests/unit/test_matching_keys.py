"""Blocking keys (alerts.matching.keys): what a profile is filed under meets what a report looks up."""

from __future__ import annotations

import os
import subprocess
import sys

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


def test_the_key_groups_are_named_alike_in_every_process() -> None:
    # Candidate ranking reads groups of one size in the order of `what`: two workers must agree on it,
    # so it may not be Python's str hash (salted per process).
    script = (
        "from alerts.identity import name_tokens; from alerts.matching.keys import _identity_keys; "
        "keys = _identity_keys([tuple(name_tokens('Van Anh Nguyen'))], [0, 2012], ('m', 'u')); "
        "print(sorted(set(what for _, _, what in keys.values())))"
    )
    seen = {
        subprocess.run(
            [sys.executable, "-c", script], env={**os.environ, "PYTHONHASHSEED": seed}, capture_output=True, text=True, check=True
        ).stdout
        for seed in ("1", "2")
    }
    assert len(seen) == 1 and seen.pop().startswith("[")
