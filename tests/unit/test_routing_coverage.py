"""Routing a safeguarding lead would sign off: the findings of issue 17, each a case of the shipped config."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from alerts.config import PACKAGE_TEMPLATES, Config, load_config
from alerts.coverage import coverage, coverage_gaps
from alerts.intake import parse_event, parse_profile
from alerts.matching import ProfileIndex
from alerts.model import Decision, Priority
from alerts.rendering import Renderer
from alerts.triage import Context, triage
from tests.support import REPO, edit_config, make_event, sample_profiles
from tests.unit.test_routing import event, profile, routes_for

RENDERER = Renderer(PACKAGE_TEMPLATES)


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(REPO / "config")


def agencies_of(config: Config, **kw: object) -> set[str]:
    return {r.recipient.agency_id for r in routes_for(config, **kw)}  # type: ignore[arg-type]


def kinds_of(config: Config, ids: set[str]) -> set[str]:
    return {config.agencies[a].kind for a in ids if a in config.agencies}


@pytest.mark.parametrize("indicator", ["risk of being moved abroad", "passport held by trafficker"])
def test_movement_abroad_reaches_border_force_with_no_port_near(config: Config, indicator: str) -> None:
    ev = event(circumstances__near=[])
    ids = agencies_of(config, ev=ev, prof=profile(indicators=[indicator]))
    assert "border-force-national" in ids


def test_a_harrow_child_placed_in_kent_at_medium_risk_reaches_kent_police_and_harrow(config: Config) -> None:
    ev = event(placement__local_authority="Kent", circumstances__near=[])
    ids = agencies_of(config, ev=ev, prof=profile(responsible_local_authority="Harrow", indicators=[]), priority=Priority.MEDIUM)
    assert "kent-police" in ids, "the police force for the placement's area"
    assert "harrow-edt" in ids, "the responsible authority"
    assert "kent-edt" in ids, "the emergency duty team where the child is"
    assert "met-nw-bcu" in ids, "the responsible authority's police (the child's home force)"


def test_a_city_of_london_placement_reaches_an_emergency_duty_team(config: Config) -> None:
    ev = event(placement__local_authority="City of London", circumstances__near=[])
    ids = agencies_of(config, ev=ev, prof=profile(responsible_local_authority="City of London", indicators=[]))
    assert "emergency_duty_team" in kinds_of(config, ids)


def test_every_placement_area_of_the_shipped_config_has_an_emergency_duty_team_and_police(config: Config) -> None:
    assert coverage_gaps(config) == []


def test_check_config_says_which_placement_areas_have_no_emergency_duty_team(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from streams.cli.main import main

    edit_config(
        config_dir,
        "routing.yaml",
        lambda d: d.update(rules=[r for r in d["rules"] if r["name"] != "City of London emergency duty team"]),
    )
    assert main(["check-config", "--config", str(config_dir)]) == 0, "a gap is a warning: the worker starts"
    err = capsys.readouterr().err  # warnings go to stderr, as the worker's do at start
    assert "warning: routing coverage: placement area 'City of London' has no emergency duty team" in err
    assert "Harrow" not in err.split("warning", 1)[1]


@pytest.mark.parametrize("priority", [Priority.HIGH, Priority.MEDIUM])
def test_a_high_priority_possible_match_reaches_the_missing_person_desk_at_opening(config: Config, priority: Priority) -> None:
    ids = agencies_of(config, prof=profile(), decision=Decision.POSSIBLE_MATCH, priority=priority)
    assert ("met-police-mispers" in ids) == (priority == Priority.HIGH)
    assert "border-force-national" not in ids and "modern-slavery-referral" not in ids, "a possible match is not fanned out"


def linked_only_index(config: Config) -> ProfileIndex:
    index = ProfileIndex(config.risk.matching, config.risk.links)
    for row in sample_profiles():
        index.upsert(parse_profile(json.dumps(row)))
    return index


def test_a_child_in_a_traffickers_car_at_three_in_the_morning_reaches_police_at_opening(config: Config) -> None:
    now = datetime(2026, 11, 29, 3, 10, tzinfo=UTC)  # 03:10 GMT
    data = make_event(now=now, child_reference="HAR-2026-9999", given_names="Jordan", family_name="Okoye")
    data["child"].pop("date_of_birth", None)
    data["circumstances"].update(vehicles=["LR19 XKP"], accompanied_by=[], near=[])  # prof-0001's car, high risk
    ev = parse_event(json.dumps(data))
    outcome = triage(ev, Context(config, RENDERER, now, linked_only_index(config)))
    incident = outcome.open_incident
    assert incident is not None and incident.match.decision == Decision.POSSIBLE_MATCH and incident.match.profile_id is None
    ids = {r.recipient.agency_id for r in outcome.routes}
    assert "police" in kinds_of(config, ids), f"police at opening, not minutes later by escalation: {sorted(ids)}"
    sms = next(n for n in outcome.notifications if n.channel == "sms" and config.agencies.get(n.recipient.agency_id, None))
    assert "POSSIBLE" in sms.message.text


def test_check_config_refuses_a_possible_match_to_police_unless_high_priority_or_linked(config_dir: Path) -> None:
    from tests.support import config_error

    def change(d: dict) -> None:  # type: ignore[type-arg]
        rule = next(r for r in d["rules"] if r["name"].startswith("possible match of high priority"))
        rule["match"]["priority"] = ["high", "medium"]

    edit_config(config_dir, "routing.yaml", change)
    message = str(config_error(config_dir))
    assert "rules[17].notify_police_force: rule 'possible match of high priority — the police missing-person desk' " in message
    assert "would tell the police of every possible match — give it match.priority: [high]" in message


# --- the coverage table ------------------------------------------------------------------------------


def test_coverage_lists_every_placement_area_and_priority(config: Config) -> None:
    rows = coverage(config)
    areas = {row.local_authority for row in rows}
    assert {"Harrow", "Kent", "City of London", "Tower Hamlets"} <= areas
    assert {(row.local_authority, row.priority) for row in rows} == {(a, p) for a in areas for p in Priority}
    harrow_high = next(r for r in rows if r.local_authority == "Harrow" and r.priority == Priority.HIGH)
    assert {"harrow-edt", "met-nw-bcu", "met-police-mispers"} <= set(harrow_high.match)
    assert "met-police-mispers" in harrow_high.possible_match
    harrow_low = next(r for r in rows if r.local_authority == "Harrow" and r.priority == Priority.LOW)
    assert "met-nw-bcu" not in harrow_low.match


def test_docs_routing_md_has_the_table_the_command_prints(capsys: pytest.CaptureFixture[str]) -> None:
    from streams.cli.main import main

    assert main(["route", "--config", str(REPO / "config"), "--explain-coverage"]) == 0
    table = capsys.readouterr().out.strip()
    assert table.startswith("| local authority | priority |")
    docs = (REPO / "docs" / "routing.md").read_text()
    assert table in docs, "regenerate the table in docs/routing.md with `crucial route --explain-coverage`"
