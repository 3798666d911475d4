"""Fail open (alerts/manual_check.py): an accepted report that could not be processed reaches the
placement's emergency duty team and its force's missing-person desk, minimal, and goes on the board."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alerts.channels.sms import MESSAGES
from alerts.config import Config, load_config
from alerts.intake import parse_event
from alerts.manual_check import ManualCheckMessages, agencies_for, manual_check
from alerts.model import IncidentStatus, PlacementEvent, Priority
from alerts.rendering import Renderer
from alerts.sms import sms_cost
from alerts.triage import Context, incident_ids
from tests.golden.golden import GOLDEN, check_golden
from tests.support import REPO

RECEIVED = datetime(2026, 7, 14, 20, 51, tzinfo=UTC)
CONFIG = load_config(REPO / "config")
RENDERER = Renderer.from_config(CONFIG)  # the context carries one; the manual check uses its own templates


def golden_event(**placement: str) -> PlacementEvent:
    data = json.loads((GOLDEN / "input" / "event.json").read_text())
    data["placement"].update(placement)
    return parse_event(json.dumps(data))


def messages(config: Config = CONFIG) -> ManualCheckMessages:
    return ManualCheckMessages.from_config(config)


def test_the_placements_duty_team_and_its_forces_desk_are_told() -> None:
    assert agencies_for(golden_event(local_authority="Harrow"), CONFIG) == ["harrow-edt", "met-police-mispers"]
    assert agencies_for(golden_event(local_authority="  tower   hamlets "), CONFIG) == ["tower-hamlets-edt", "met-police-mispers"]
    assert agencies_for(golden_event(local_authority="City of London"), CONFIG) == ["city-of-london-edt", "city-of-london-police"]
    assert agencies_for(golden_event(local_authority="Nowhere"), CONFIG) == ["met-police-mispers"]  # otherwise


def test_an_unknown_authority_with_no_otherwise_reaches_every_police_and_duty_team_agency() -> None:
    routing = CONFIG.routing.model_copy(update={"manual_check": CONFIG.routing.manual_check.model_copy(update={"otherwise": []})})
    config = CONFIG.model_copy(update={"routing": routing})
    wide = agencies_for(golden_event(local_authority="Nowhere"), config)
    assert set(wide) == {a for a, agency in CONFIG.agencies.items() if agency.kind in ("police", "emergency_duty_team")}


def test_the_outcome_opens_a_high_priority_incident_on_the_board_with_minimal_messages() -> None:
    event = golden_event()
    outcome = manual_check(Context(CONFIG, RENDERER, RECEIVED), messages(), event, None)
    incident = outcome.open_incident
    assert incident is not None and outcome.label == "manual_check"
    assert (incident.incident_id, incident.reference) == incident_ids(event.event_id)
    assert incident.status == IncidentStatus.OPEN and incident.priority == Priority.HIGH
    assert [r.change for r in outcome.records] == ["opened"]
    agencies = {n.recipient.agency_id for n in outcome.notifications}
    assert agencies == {"harrow-edt", "met-police-mispers"}
    assert {n.channel for n in outcome.notifications} == {"sms", "email"}
    assert all(n.kind == "manual_check" for n in outcome.notifications)
    assert len({n.idempotency_key for n in outcome.notifications}) == len(outcome.notifications)
    # No more personal data than the SMS policy allows: nothing of the child but the reference.
    child = event.child
    for note in outcome.notifications:
        text = note.message.text + note.message.subject
        assert incident.reference in text
        for personal in [child.given_names, child.family_name or "", *child.aliases]:
            assert not re.search(rf"\b{re.escape(personal)}\b", text)
    sms = next(n for n in outcome.notifications if n.channel == "sms")
    assert sms_cost(sms.message.text).segments <= MESSAGES.required(CONFIG).max_segments


def test_a_report_for_an_open_incident_updates_it_and_reaches_its_people_too() -> None:
    event = golden_event()
    first = manual_check(Context(CONFIG, RENDERER, RECEIVED), messages(), event, None).open_incident
    assert first is not None
    again = manual_check(Context(CONFIG, RENDERER, RECEIVED), messages(), event, first)
    assert [r.change for r in again.records] == ["updated"]
    assert again.open_incident is not None and again.open_incident.incident_id == first.incident_id
    assert len(again.open_incident.alerted) == len(first.alerted)  # no one twice


def test_manual_check_messages_match_the_golden_files() -> None:
    event = golden_event()
    outcome = manual_check(Context(CONFIG, RENDERER, RECEIVED), messages(), event, None)
    sms = next(n for n in outcome.notifications if n.channel == "sms").message
    email = next(n for n in outcome.notifications if n.channel == "email").message
    check_golden("messages/manual_check.sms.txt", sms.text + "\n")
    check_golden("messages/manual_check.email.txt", f"{email.subject}\n\n{email.text}")


def _routing_with(tmp_path: Path, change: Callable[[dict[str, Any]], object]) -> Path:
    import yaml

    from tests.support import write_config

    directory = write_config(tmp_path / "config")
    routing = yaml.safe_load((directory / "routing.yaml").read_text())
    change(routing)
    (directory / "routing.yaml").write_text(yaml.safe_dump(routing, sort_keys=False))
    return directory


def test_the_manual_check_config_is_validated_naming_file_key_and_fix(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from alerts.errors import ConfigError

    cases = [
        (
            lambda r: r["manual_check"]["emergency_duty_teams"].update({"Tower Hamlets": "no-such"}),
            "manual_check.emergency_duty_teams.Tower Hamlets: unknown agency 'no-such'",
        ),
        (
            lambda r: r["manual_check"]["emergency_duty_teams"].update({"Harrow": "met-police-mispers"}),
            "is of kind police, not emergency_duty_team",
        ),
        (
            lambda r: r["police_forces"].update({"Wessex Constabulary": "met-police-mispers"}),
            "police_forces.Wessex Constabulary: not a force of police_force_areas",
        ),
        # a config key with spaces is named as written (report payloads hide such keys; config does not)
        (
            lambda r: r["police_force_areas"].update({"City of London Police": "City of London"}),
            "police_force_areas.City of London Police: Input should be a valid list",
        ),
    ]
    for n, (change, message) in enumerate(cases):
        with pytest.raises(ConfigError) as refused:
            load_config(_routing_with(tmp_path / str(n), change))
        assert "routing.yaml" in str(refused.value) and message in str(refused.value), str(refused.value)
