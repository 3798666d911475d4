"""indicators.yaml (alerts/config/indicators.py): each wording means one indicator, groups name known
indicators, no qualifier is a negation, and every indicator a routing or grading rule names is known."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support import Edit
from tests.unit.config.cases import Case, ids, problems_after

CASES: list[Case] = [
    (
        "one wording for two indicators",
        lambda d: d["indicators"]["county_lines"]["synonyms"].insert(0, "Cannabis"),
        "indicators.yaml: indicators.cannabis_cultivation.synonyms[0]: 'cannabis' already means 'county_lines' "
        "(indicators.county_lines.synonyms[0]) — give each wording to one indicator only",
    ),
    (
        "a group of an unknown indicator",
        lambda d: d["groups"]["leaving_the_uk"].append("passport"),
        "indicators.yaml: groups.leaving_the_uk[2]: unknown indicator 'passport' — define it under indicators: or use a known id",
    ),
    (
        "a group named as an indicator",
        lambda d: d["groups"].update(county_lines=["sexual_exploitation"]),
        "indicators.yaml: groups.county_lines: 'county_lines' is also an indicator id — give the group a name of its own",
    ),
    (
        "a negation among the qualifiers",
        lambda d: d["qualifiers"].append("no concerns about"),
        "indicators.yaml: qualifiers[18]: 'no concerns about' is a negation — remove it: a negated indicator must map to nothing",
    ),
]


@pytest.mark.parametrize(("case", "change", "message"), CASES, ids=ids(CASES))
def test_each_invalid_vocabulary_names_the_key_and_the_fix(config_dir: Path, case: str, change: Edit, message: str) -> None:
    assert problems_after(config_dir, "indicators.yaml", change) == [message]


def test_a_routing_rule_naming_a_wording_instead_of_an_id_is_refused_with_the_id_to_use(config_dir: Path) -> None:
    change: Edit = lambda d: d["rules"][0]["match"].update(indicators=["child sexual exploitation"])  # noqa: E731
    assert problems_after(config_dir, "routing.yaml", change) == [
        "routing.yaml: rules[0].match.indicators[0]: unknown indicator 'child sexual exploitation' — "
        "use the id 'sexual_exploitation' ('child sexual exploitation' is one of its wordings)"
    ]


def test_a_grading_rule_naming_an_unknown_indicator_is_refused(config_dir: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        rule = next(r for r in d["grading"]["rules"] if "indicators" in r["when"])
        rule["when"]["indicators"] = ["trafficking", "canabis grow"]

    assert problems_after(config_dir, "risk.yaml", change) == [
        "risk.yaml: grading.rules[3].when.indicators[1]: unknown indicator 'canabis grow' — "
        "use an indicator id or group of indicators.yaml, or add it there"
    ]
