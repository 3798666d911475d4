"""Risk grading by the rules in config/risk.yaml: the priority and every reason that led to it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alerts.assessment import assess
from alerts.config import Grading, Risk, load_config
from alerts.grading import grade
from alerts.intake import parse_event, parse_profile
from alerts.matching import ProfileIndex
from alerts.model import Decision, MatchResult, PlacementEvent, Priority, ProfileLink, RiskProfile
from tests.support import REPO, sample_profiles


@pytest.fixture(scope="module")
def risk() -> Risk:
    return load_config(REPO / "config").risk


def event(
    *, seen: datetime, placed: datetime | None = None, dob: str | None = "2015-06-01", **circumstances: Any
) -> PlacementEvent:
    child: dict[str, Any] = {"reference": "HAR-G-1", "given_names": "Kai", "family_name": "Walker"}
    if dob:
        child["date_of_birth"] = {"value": dob}
    placement: dict[str, Any] = {"id": "plc-1", "name": "Larchwood", "local_authority": "Harrow", "postcode": "HA1 9ZZ"}
    if placed:
        placement["placed_at"] = placed.isoformat()
    return parse_event(
        json.dumps(
            {
                "event_id": "evt-g-1",
                "type": "left_placement",
                "occurred_at": seen.isoformat(),
                "reported_at": (seen + timedelta(minutes=10)).isoformat(),
                "placement": placement,
                "child": child,
                "circumstances": {"last_seen_at": seen.isoformat(), "last_seen_place": "gate", **circumstances},
                "reporter": {"name": "Carer", "role": "care worker", "callback_phone": "+447700900401"},
            }
        )
    )


def flagged(risk_level: str, indicators: list[str] | None = None) -> RiskProfile:
    data = sample_profiles()[0] | {"risk_level": risk_level, "indicators": indicators or []}
    return parse_profile(json.dumps(data))


MATCHED = MatchResult(decision=Decision.MATCH, profile_id="prof-0001", score=0.97)
AFTERNOON = datetime(2026, 1, 14, 15, 0, tzinfo=UTC)


def test_a_low_risk_profile_with_nothing_else_is_low(risk: Risk) -> None:
    priority, reasons = grade(event(seen=AFTERNOON, dob="2010-01-01"), flagged("low"), MATCHED, risk.grading)
    assert (priority, reasons) == (Priority.LOW, ["trafficking-risk profile graded low"])


def test_a_high_risk_profile_is_high_whatever_else(risk: Risk) -> None:
    priority, reasons = grade(event(seen=AFTERNOON, dob="2010-01-01"), flagged("high"), MATCHED, risk.grading)
    assert priority == Priority.HIGH
    assert reasons == ["trafficking-risk profile graded high"]


def test_circumstances_raise_a_medium_profile_to_high_with_every_reason_listed(risk: Risk) -> None:
    seen = datetime(2026, 7, 14, 21, 30, tzinfo=UTC)  # 22:30 in London (BST): night
    report = event(
        seen=seen,
        placed=seen - timedelta(hours=30),
        dob="2010-01-01",
        accompanied_by=["unknown adult male"],
        vehicles=["silver saloon"],
        near=["coach_station"],
        previous_missing_episodes=2,
    )
    priority, reasons = grade(report, flagged("medium", ["debt bondage", "nail bar work"]), MATCHED, risk.grading)
    assert priority == Priority.HIGH
    assert reasons == [
        "trafficking-risk profile graded medium",
        "indicators on the profile: debt bondage, labour exploitation",  # "nail bar work" is a wording of it
        "last seen at night (22:30 UK time)",
        "left with an unknown adult",
        "a vehicle is involved",
        "last seen near a coach station",
        "missing 30 h after placement: trafficked children often go back to traffickers within 48 hours",
        "2 previous missing episode(s)",
    ]


def test_time_of_day_is_read_in_london_not_utc(risk: Risk) -> None:
    winter = event(seen=datetime(2026, 1, 14, 21, 30, tzinfo=UTC), dob="2010-01-01")  # 21:30 GMT: not yet night
    summer = event(seen=datetime(2026, 7, 14, 21, 30, tzinfo=UTC), dob="2010-01-01")  # 22:30 BST
    assert not any("night" in r for r in grade(winter, flagged("low"), MATCHED, risk.grading)[1])
    assert any("night" in r for r in grade(summer, flagged("low"), MATCHED, risk.grading)[1])


def test_a_young_child_is_at_least_medium(risk: Risk) -> None:
    priority, reasons = grade(event(seen=AFTERNOON, dob="2015-06-01"), flagged("low"), MATCHED, risk.grading)
    assert priority == Priority.MEDIUM
    assert "aged 10" in reasons


def test_placement_more_than_48_hours_ago_does_not_count(risk: Risk) -> None:
    report = event(seen=AFTERNOON, placed=AFTERNOON - timedelta(hours=49), dob="2010-01-01")
    assert not any("after placement" in r for r in grade(report, flagged("low"), MATCHED, risk.grading)[1])


def test_a_link_to_a_high_risk_profile_raises_a_child_with_no_profile(risk: Risk) -> None:
    link = ProfileLink(profile_id="prof-0001", kind="vehicle", detail="vehicle LR19XKP…", risk_level=Priority.HIGH)
    unmatched = MatchResult(decision=Decision.NO_MATCH, links=[link])
    priority, reasons = grade(event(seen=AFTERNOON, dob="2010-01-01", vehicles=["LR19 XKP"]), None, unmatched, risk.grading)
    assert priority == Priority.HIGH
    assert reasons == ["a vehicle is involved", "linked by circumstance to high-risk profile prof-0001 (vehicle)"]


def test_no_rule_at_all_is_low_and_says_so(risk: Risk) -> None:
    priority, reasons = grade(
        event(seen=AFTERNOON, dob="2010-01-01"), None, MatchResult(decision=Decision.NO_MATCH), risk.grading
    )
    assert (priority, reasons) == (Priority.LOW, ["no grading rule applies"])


def test_the_rules_come_from_config_not_code(risk: Risk) -> None:
    only_rule = risk.grading.rules[0].model_copy(
        update={"when": risk.grading.rules[0].when.model_copy(update={"profile_risk": [Priority.LOW]})}
    )
    rules = Grading.model_validate(risk.grading.model_dump() | {"rules": [only_rule.model_dump()]})
    assert grade(event(seen=AFTERNOON, dob="2010-01-01"), flagged("low"), MATCHED, rules)[0] == Priority.HIGH


# --- the whole step: match, grade, and whether an incident opens ----------------------------------


def test_a_linked_child_without_a_profile_opens_an_incident_routed_as_a_possible_match(risk: Risk) -> None:
    index = ProfileIndex(risk.matching, risk.links)
    for p in sample_profiles():
        index.upsert(parse_profile(json.dumps(p)))
    linked = event(seen=AFTERNOON, dob="2010-01-01", phone_numbers=["07700 900555"])
    assessed = assess(linked, index, risk)
    assert assessed.profile is None and assessed.opens_incident
    assert assessed.match.decision == Decision.POSSIBLE_MATCH and assessed.match.profile_id is None
    assert assessed.match.explanation[0] == "no profile of the child's own matched; linked by circumstance:"
    assert assessed.priority == Priority.MEDIUM


def test_an_unlinked_child_without_a_profile_opens_nothing(risk: Risk) -> None:
    index = ProfileIndex(risk.matching, risk.links)
    for p in sample_profiles():
        index.upsert(parse_profile(json.dumps(p)))
    assessed = assess(event(seen=AFTERNOON, dob="2010-01-01"), index, risk)
    assert (assessed.opens_incident, assessed.match.decision, assessed.profile) == (False, Decision.NO_MATCH, None)


# --- issue 17: phrase rules with negations; "an airport" ---------------------------------------------


def unknown_adult(risk: Risk, companion: str) -> bool:
    _, reasons = grade(event(seen=AFTERNOON, dob="2010-01-01", accompanied_by=[companion]), flagged("low"), MATCHED, risk.grading)
    return "left with an unknown adult" in reasons


@pytest.mark.parametrize(
    ("companion", "unknown"),
    [
        ("his brother Tom (not a stranger)", False),
        ("a man staff did not recognise", True),
        ("an older man in a grey car", True),
        ("her key worker, no strangers", False),
        ("woman in her 30s, not known to staff", True),
        ("her mum", False),
        ("a man staff had never seen before", True),
        ("two lads she knows from school, no adults", False),
        ("her uncle, not an unidentified man", False),
    ],
)
def test_left_with_an_unknown_adult_reads_phrases_and_negations(risk: Risk, companion: str, unknown: bool) -> None:
    assert unknown_adult(risk, companion) is unknown


@pytest.mark.parametrize(("near", "said"), [("airport", "an airport"), ("port", "a port"), ("coach_station", "a coach station")])
def test_near_says_a_or_an(risk: Risk, near: str, said: str) -> None:
    _, reasons = grade(event(seen=AFTERNOON, dob="2010-01-01", near=[near]), flagged("low"), MATCHED, risk.grading)
    assert f"last seen near {said}" in reasons
