"""Free-text phrase rules: a phrase holds as whole words, unless a negation in its clause comes before it."""

from __future__ import annotations

import pytest

from alerts.phrases import phrase_holds

CASES = [
    ("his brother Tom (not a stranger)", "stranger", False),
    ("a man staff did not recognise", "did not recognise", True),
    ("staff didn't recognise him", "did not recognise", True),
    ("an unknown adult", "unknown adult", True),
    ("no unknown adult was seen", "unknown adult", False),
    ("never seen with a stranger", "stranger", False),
    ("two strangers", "stranger", False),  # whole words only: the rules list plurals
    ("with two strangers, not her friends", "strangers", True),  # a negation after the phrase
    ("not with her sister but with an older man", "older man", True),  # "but" starts a new clause
    ("not her sister; an older man", "older man", True),
    ("Unknown  ADULT", "unknown adult", True),
    ("strangeness", "stranger", False),
    ("woman in her 30s, not known to staff", "not known to staff", True),
    ("known to staff, not a stranger", "not known to staff", False),
]


@pytest.mark.parametrize(("text", "phrase", "holds"), CASES)
def test_phrase_holds(text: str, phrase: str, holds: bool) -> None:
    assert phrase_holds(text, phrase) is holds
