"""routing.yaml (alerts/config/routing.py): each invalid case reports exactly one message naming the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.support import REPO, Edit
from tests.unit.config.cases import Case, ids, problems_after

SHIPPED_AGENCIES = sorted(yaml.safe_load((REPO / "config" / "agencies.yaml").read_text())["agencies"])

CASES: list[Case] = [
    (
        "possible match to the police",
        lambda d: d["rules"][11]["match"].update(decision=["match", "possible_match"]),
        "routing.yaml: rules[11].notify[0]: rule 'Met North West BCU' would tell 'met-nw-bcu' (police) of a possible match — "
        "possible matches go to emergency duty teams and the social worker, for a person to confirm, and to "
        "the police only with match.priority: [high] or match.linked_by_circumstance: true: "
        "narrow the rule, or move the agency to a rule without possible_match in match.decision",
    ),
    (
        "no_match is not routed",
        lambda d: d["rules"][0]["match"].update(decision=["no_match"]),
        "routing.yaml: rules[0].match.decision[0]: Input should be 'match' or 'possible_match' — use one of the values listed",
    ),
    (
        "empty condition",
        lambda d: d["rules"][0]["match"].update(local_authority=[]),
        "routing.yaml: rules[0].match.local_authority: List should have at least 1 item after validation, not 0 — "
        "give at least one entry",
    ),
    (
        "unknown place near",
        lambda d: d["rules"][21]["match"].update(near=["harbour"]),
        "routing.yaml: rules[21].match.near[0]: Input should be 'port', 'airport', 'coach_station' or 'railway_station' — "
        "use one of the values listed",
    ),
    (
        "misspelt condition",
        lambda d: d["rules"][0]["match"].update(local_authorty=["Harrow"]),
        "routing.yaml: rules[0].match.local_authorty: unknown key — remove it, or correct its spelling",
    ),
    (
        "local authority in two force areas",
        lambda d: d["police_force_areas"]["City of London Police"].append("Hackney"),
        "routing.yaml: police_force_areas.City of London Police[1]: 'Hackney' is already in the area of "
        "'Metropolitan Police Service' — list each local authority under one police force only",
    ),
    (
        "unknown agency",
        lambda d: d["rules"][0].update(notify=["met-police-misper"]),
        "routing.yaml: rules[0].notify[0]: unknown agency 'met-police-misper' — define it in agencies.yaml or use a known id "
        f"({', '.join(SHIPPED_AGENCIES)})",
    ),
    (
        "unknown priority",
        lambda d: d["rules"][0]["match"].update(priority=["urgent"]),
        "routing.yaml: rules[0].match.priority[0]: Input should be 'high', 'medium' or 'low' — use one of the values listed",
    ),
    (
        "no rules",
        lambda d: d.update(rules=[]),
        "routing.yaml: rules: List should have at least 1 item after validation, not 0 — give at least one entry",
    ),
]


@pytest.mark.parametrize(("case", "change", "message"), CASES, ids=ids(CASES))
def test_each_invalid_routing_file_names_the_key_and_the_fix(config_dir: Path, case: str, change: Edit, message: str) -> None:
    assert problems_after(config_dir, "routing.yaml", change) == [message]


def test_the_case_indexes_still_point_at_the_rules_they_describe() -> None:
    rules = yaml.safe_load((REPO / "config" / "routing.yaml").read_text())["rules"]
    assert rules[11]["name"] == "Met North West BCU"
    assert "near" in rules[21]["match"]
