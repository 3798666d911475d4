"""Escalation, acknowledgement and breach with an injected clock: no sleeps."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from alerts.config import PACKAGE_TEMPLATES, Config, load_config
from alerts.intake import parse_event, parse_profile
from alerts.lifecycle import acknowledge, breach, commands_due, due_step, escalate
from alerts.matching import ProfileIndex
from alerts.model import Incident, IncidentStatus, PlacementEvent, Priority, Recipient
from alerts.rendering import Renderer
from alerts.triage import triage
from tests.support import REPO, make_event, sample_profiles

NOW = datetime(2026, 11, 28, 23, 0, tzinfo=UTC)
RENDERER = Renderer(PACKAGE_TEMPLATES)
OFFICER = Recipient(agency_id="met-police-mispers", name="MISPER on-call officer", address="+447700900101")


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(REPO / "config")


@pytest.fixture(scope="module")
def opened(config: Config) -> tuple[Incident, PlacementEvent]:
    index = ProfileIndex()
    for profile in sample_profiles():
        index.upsert(parse_profile(json.dumps(profile)))
    event = parse_event(json.dumps(make_event(now=NOW, child_reference="HAR-2026-0192", last_seen_ago=timedelta(minutes=10))))
    outcome = triage(event, open_incident=None, index=index, config=config, renderer=RENDERER, now=NOW)
    assert outcome.open_incident is not None and outcome.open_incident.priority == Priority.HIGH
    return outcome.open_incident, event


def test_steps_fall_due_from_receipt_then_repeat(config: Config, opened: tuple[Incident, PlacementEvent]) -> None:
    incident, _ = opened
    chain = config.escalation.chains[Priority.HIGH]  # steps at 5 and 15 minutes, then every 15
    assert [due_step(incident, chain, NOW + timedelta(minutes=m)) for m in (0, 4, 5, 14, 15, 29, 30, 45)] == [
        0,
        0,
        1,
        1,
        2,
        2,
        3,
        4,
    ]


def test_escalation_notifies_the_step_and_is_taken_once(config: Config, opened: tuple[Incident, PlacementEvent]) -> None:
    incident, event = opened
    at = NOW + timedelta(minutes=5)
    outcome = escalate(incident, 1, event, None, config, RENDERER, at)
    assert outcome.label == "escalated"
    escalated = outcome.open_incident
    assert escalated is not None and escalated.status == IncidentStatus.ESCALATED and escalated.escalation_step == 1
    assert {(n.recipient.agency_id, n.kind) for n in outcome.notifications} == {("met-police-mispers", "escalation")}
    assert "ESCALATION" in next(n for n in outcome.notifications if n.channel == "sms").message.text
    again = escalate(escalated, 1, event, None, config, RENDERER, at + timedelta(seconds=15))
    assert again.label == "escalation_not_needed" and again.notifications == []
    second = escalate(escalated, 2, event, None, config, RENDERER, NOW + timedelta(minutes=15))
    keys_1 = {n.idempotency_key for n in outcome.notifications}
    assert keys_1.isdisjoint(n.idempotency_key for n in second.notifications), "each step is a distinct notification"
    assert second.open_incident is not None
    assert any(a.recipient.agency_id == "border-force-national" for a in second.open_incident.alerted), (
        "stand-down reaches them too"
    )


def test_acknowledgement_stops_escalation(config: Config, opened: tuple[Incident, PlacementEvent]) -> None:
    incident, event = opened
    outcome = acknowledge(incident, OFFICER, "sms", NOW + timedelta(minutes=3))
    acked = outcome.open_incident
    assert outcome.label == "acknowledged" and acked is not None
    assert acked.status == IncidentStatus.ACKNOWLEDGED
    assert acked.acknowledgements[0].by == OFFICER and acked.acknowledgements[0].at == NOW + timedelta(minutes=3)
    assert due_step(acked, config.escalation.chains[Priority.HIGH], NOW + timedelta(minutes=50)) == 0
    assert escalate(acked, 1, event, None, config, RENDERER, NOW + timedelta(minutes=5)).notifications == []
    assert acknowledge(acked, OFFICER, "link", NOW + timedelta(minutes=4)).label == "duplicate_acknowledgement"
    assert commands_due([acked], config, NOW + timedelta(hours=2)) == []


def test_breach_is_recorded_once_after_the_deadline(config: Config, opened: tuple[Incident, PlacementEvent]) -> None:
    incident, _ = opened
    assert breach(incident, incident.deadline - timedelta(seconds=1)).label == "breach_not_due"
    outcome = breach(incident, incident.deadline)
    assert outcome.label == "breached" and outcome.open_incident is not None and outcome.open_incident.breached
    assert breach(outcome.open_incident, incident.deadline + timedelta(minutes=5)).label == "breach_not_due"


def test_commands_due_asks_for_the_latest_step_and_the_breach(config: Config, opened: tuple[Incident, PlacementEvent]) -> None:
    incident, _ = opened
    assert commands_due([incident], config, NOW + timedelta(minutes=4)) == []
    [command] = commands_due([incident], config, NOW + timedelta(minutes=16))
    assert (command.command, command.step, command.child_reference) == ("escalate", 2, incident.child_reference)
    late = commands_due([incident], config, incident.deadline + timedelta(seconds=1))
    assert {c.command for c in late} == {"escalate", "breach"}
