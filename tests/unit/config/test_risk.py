"""risk.yaml (alerts/config/risk.py): each invalid case reports exactly one message naming the key and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from alerts.config import load_config
from tests.support import REPO, Edit
from tests.unit.config.cases import Case, ids, problems, problems_after


def rule(i: int, **changes: Any) -> Edit:
    return lambda d: d["grading"]["rules"][i].update(changes)


CASES: list[Case] = [
    (
        "thresholds the wrong way round",
        lambda d: d["matching"]["thresholds"].update(possible_match=0.95),
        "risk.yaml: "
        "matching.thresholds.possible_match: 0.95 is not below match (0.9) — give possible_match a lower score than match",
    ),
    (
        "a threshold out of range",
        lambda d: d["matching"]["thresholds"].update(match=1.5),
        "risk.yaml: matching.thresholds.match: Input should be less than or equal to 1 — lower the value",
    ),
    (
        "a misspelt weight",
        lambda d: d["matching"]["weights"].update(dob_exactt=8),
        "risk.yaml: matching.weights.dob_exactt: unknown key — remove it, or correct its spelling",
    ),
    (
        "a negative weight",
        lambda d: d["matching"]["weights"].update(sex_conflict=-5),
        "risk.yaml: matching.weights.sex_conflict: Input should be greater than or equal to 0 — raise the value",
    ),
    (
        "name frequency bounds crossed",
        lambda d: d["matching"]["name_frequency"].update(min_points=7),
        "risk.yaml: matching.name_frequency.min_points: 7.0 is above max_points (6.0) — give min_points no more than max_points",
    ),
    (
        "an unknown priority for opening linked incidents",
        lambda d: d["links"].update(open_incident_at="urgent"),
        "risk.yaml: links.open_incident_at: Input should be 'high', 'medium' or 'low' — use one of the values listed",
    ),
    (
        "no grading section",
        lambda d: d.pop("grading"),
        "risk.yaml: grading: Field required — add this key",
    ),
    (
        "an unknown time zone",
        lambda d: d["grading"].update(timezone="Europe/Londn"),
        "risk.yaml: grading.timezone: unknown time zone 'Europe/Londn' — use an IANA name such as Europe/London",
    ),
    (
        "levels the wrong way round",
        lambda d: d["grading"]["levels"].update(medium=6),
        "risk.yaml: grading.levels.medium: 6 points is not below high (6) — give medium fewer points than high",
    ),
    (
        "no rules",
        lambda d: d["grading"].update(rules=[]),
        "risk.yaml: grading.rules: List should have at least 1 item after validation, not 0 — give at least one entry",
    ),
    (
        "a rule with no condition",
        rule(0, when={}),
        "risk.yaml: grading.rules[0].when: rule 'profile graded high' has no condition — list at least one condition under when:",
    ),
    (
        "a rule that changes nothing",
        rule(1, points=0, at_least=None),
        "risk.yaml: grading.rules[1]: rule 'profile graded medium' changes nothing — give it points: or at_least:",
    ),
    (
        "an unknown condition",
        rule(2, when={"profile_risk": ["low"], "near_port": True}),
        "risk.yaml: grading.rules[2].when.near_port: unknown key — remove it, or correct its spelling",
    ),
    (
        "an unknown place",
        rule(8, when={"near": ["harbour"]}),
        "risk.yaml: "
        "grading.rules[8].when.near[0]: Input should be 'port', 'airport', 'coach_station' or 'railway_station' — use one of the values listed",
    ),
    (
        "a time that is not a time",
        rule(5, when={"local_time": {"start": "22.00", "end": "06:00"}}),
        "risk.yaml: "
        "grading.rules[5].when.local_time.start: String should match pattern '^([01][0-9]|2[0-3]):[0-5][0-9]$' — correct the value's format",
    ),
    (
        "an unknown placeholder in a reason",
        rule(4, reason="aged {agee}"),
        "risk.yaml: "
        "grading.rules[4].reason: unknown placeholder {agee} — use one of {risk}, {indicators}, {age}, {local_time}, {near}, "
        "{hours_since_placement}, {episodes}, {linked}, {decision}",
    ),
    (
        "a broken template",
        rule(4, reason="aged {age"),
        "risk.yaml: "
        "grading.rules[4].reason: not a valid template (expected '}' before end of string) — write {{ and }} for literal braces",
    ),
    (
        "ages that cannot both hold",
        rule(4, when={"age_under": 13, "age_at_least": 14}),
        "risk.yaml: grading.rules[4].when.age_at_least: no age is both at least this and under age_under — lower it",
    ),
    (
        "two rules of one name",
        rule(3, name="profile graded high"),
        "risk.yaml: grading.rules[3].name: rule name 'profile graded high' is used twice — give each rule its own name",
    ),
    (
        "an unknown at_least",
        rule(0, at_least="critical"),
        "risk.yaml: grading.rules[0].at_least: Input should be 'high', 'medium' or 'low' — use one of the values listed",
    ),
]


@pytest.mark.parametrize(("case", "change", "message"), CASES, ids=ids(CASES))
def test_each_invalid_risk_file_names_the_key_and_the_fix(config_dir: Path, case: str, change: Edit, message: str) -> None:
    assert problems_after(config_dir, "risk.yaml", change) == [message]


def test_a_missing_risk_file_is_named(config_dir: Path) -> None:
    (config_dir / "risk.yaml").unlink()
    assert problems(config_dir) == [
        "risk.yaml: (file): file not found — create risk.yaml (`crucial init DIR` writes a complete starter config)"
    ]


def test_the_shipped_risk_file_is_valid_and_complete() -> None:
    risk = load_config(REPO / "config").risk
    assert risk.matching.thresholds.possible_match < risk.matching.thresholds.match
    assert [r.name for r in risk.grading.rules][:3] == ["profile graded high", "profile graded medium", "profile graded low"]
