"""The voice channel in the incident's lifecycle, with an injected clock: an escalation tier that calls
("call if not acknowledged in 5 minutes"), a key press of 2 passing the call to the next on call, a
call nobody answered falling back like a failed SMS, and an acknowledgement by voice stopping the chain."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from alerts.config import PACKAGE_TEMPLATES, Config, load_config
from alerts.intake import parse_event, parse_profile
from alerts.lifecycle import PASSED_ON, Failure, acknowledge, commands_due, escalate, fall_back
from alerts.matching import ProfileIndex
from alerts.model import Escalate, Incident, IncidentStatus, PlacementEvent, Priority, Recipient
from alerts.rendering import Renderer
from alerts.rota import on_call, on_call_order
from alerts.triage import Context, Report, triage
from tests.support import make_event, sample_profiles, write_config

NOW = datetime(2026, 11, 28, 23, 0, tzinfo=UTC)  # nights: PS Casey Nwosu on call
RENDERER = Renderer(PACKAGE_TEMPLATES)
CALL_AT_5 = {"after_minutes": 5, "notify": ["met-nw-bcu"], "channels": ["voice"]}
TEXT_AT_15 = {"after_minutes": 15, "notify": ["met-duty-officer"]}


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Config:
    """The repository's config, with voice numbers for the NW BCU sergeants, a calling tier, and
    a no-answer also texting the same person (routing.yaml fallback: voice: [sms])."""
    directory = write_config(Path(tmp_path_factory.mktemp("voice")) / "config")
    rota = yaml.safe_load((directory / "rota.yaml").read_text())
    for person in rota["rotas"]["met-nw-mispers"]["people"].values():
        person["voice"] = person["sms"]
    (directory / "rota.yaml").write_text(yaml.safe_dump(rota))
    escalation = yaml.safe_load((directory / "escalation.yaml").read_text())
    escalation["chains"]["high"] = {"steps": [CALL_AT_5, TEXT_AT_15]}
    (directory / "escalation.yaml").write_text(yaml.safe_dump(escalation))
    routing = yaml.safe_load((directory / "routing.yaml").read_text())
    routing["fallback"]["voice"] = ["sms"]
    (directory / "routing.yaml").write_text(yaml.safe_dump(routing))
    return load_config(directory)


@pytest.fixture(scope="module")
def opened(config: Config) -> tuple[Incident, PlacementEvent]:
    index = ProfileIndex()
    for profile in sample_profiles():
        index.upsert(parse_profile(json.dumps(profile)))
    event = parse_event(json.dumps(make_event(now=NOW, child_reference="HAR-2026-0192", last_seen_ago=timedelta(minutes=10))))
    outcome = triage(event, Context(config, RENDERER, NOW, index))
    assert outcome.open_incident is not None and outcome.open_incident.priority == Priority.HIGH
    assert "voice" not in {n.channel for n in outcome.notifications}, "rules without channels: [voice] ring no phone"
    return outcome.open_incident, event


def called(config: Config, opened: tuple[Incident, PlacementEvent]) -> tuple[Incident, Recipient]:
    incident, event = opened
    outcome = escalate(Context(config, RENDERER, NOW + timedelta(minutes=5)), incident, 1, Report(event, None))
    assert outcome.open_incident is not None
    [call] = [n for n in outcome.notifications if n.channel == "voice"]
    return outcome.open_incident, call.recipient


def test_an_escalation_tier_calls_the_sergeant_on_call(config: Config, opened: tuple[Incident, PlacementEvent]) -> None:
    incident, event = opened
    assert [c.step for c in commands_due([incident], config, NOW + timedelta(minutes=5)) if isinstance(c, Escalate)] == [1]
    outcome = escalate(Context(config, RENDERER, NOW + timedelta(minutes=5)), incident, 1, Report(event, None))
    [call] = outcome.notifications
    sergeant = on_call(config.rota.rotas["met-nw-mispers"], NOW + timedelta(minutes=5))
    assert sergeant is not None
    assert (call.channel, call.kind, call.recipient.name, call.recipient.address) == (
        "voice",
        "escalation",
        sergeant.person.name,
        sergeant.person.address("voice"),
    )
    assert call.message.text.startswith("Crucial Hour escalation. High risk missing child, not yet acknowledged, reference ")
    assert call.message.text.endswith("Press 2 to pass this to the next person on call.")
    assert outcome.open_incident is not None
    assert f"{sergeant.person.name} (met-nw-bcu) by voice" in outcome.open_incident.timeline[-1].what


def test_pressing_2_passes_the_call_to_the_next_on_call_and_to_nobody_else(
    config: Config, opened: tuple[Incident, PlacementEvent]
) -> None:
    incident, sergeant = called(config, opened)
    _, event = opened
    later = NOW + timedelta(minutes=6)
    outcome = fall_back(
        Context(config, RENDERER, later), incident, Failure(sergeant, "voice", "escalation", PASSED_ON), Report(event, None)
    )
    order = [p.person for p in on_call_order(config.rota.rotas["met-nw-mispers"], later) if p.person.name != sergeant.name]
    assert [(n.channel, n.recipient.name) for n in outcome.notifications] == [("voice", order[0].name)]
    assert outcome.open_incident is not None
    what = outcome.open_incident.timeline[-1].what
    assert what.startswith(f"{sergeant.name} (met-nw-bcu) passed the escalation by voice on to the next on call")
    assert f"falling back to {order[0].name} by voice" in what and "failed" not in what
    assert outcome.open_incident.unreachable == [], "passing it on says nothing against the number"


def test_a_call_nobody_answers_falls_back_like_a_failed_sms(config: Config, opened: tuple[Incident, PlacementEvent]) -> None:
    incident, sergeant = called(config, opened)
    _, event = opened
    later = NOW + timedelta(minutes=6)
    outcome = fall_back(
        Context(config, RENDERER, later), incident, Failure(sergeant, "voice", "escalation", "no_answer"), Report(event, None)
    )
    reached = [(n.channel, n.recipient.name) for n in outcome.notifications]
    assert reached[0][0] == "voice" and reached[0][1] != sergeant.name, "the next on call is rung"
    assert ("sms", sergeant.name) not in reached, "already texted at opening: not texted again"
    assert outcome.open_incident is not None
    assert "escalation by voice to" in outcome.open_incident.timeline[-1].what
    assert "failed: no_answer" in outcome.open_incident.timeline[-1].what
    again = fall_back(
        Context(config, RENDERER, later),
        outcome.open_incident,
        Failure(sergeant, "voice", "escalation", "no_answer"),
        Report(event, None),
    )
    assert reached[0] not in [(n.channel, n.recipient.name) for n in again.notifications], "nobody is rung twice"


def test_pressing_1_acknowledges_by_voice_and_the_chain_stops(config: Config, opened: tuple[Incident, PlacementEvent]) -> None:
    incident, sergeant = called(config, opened)
    outcome = acknowledge(incident, sergeant, "voice", NOW + timedelta(minutes=6))
    acked = outcome.open_incident
    assert acked is not None and acked.status == IncidentStatus.ACKNOWLEDGED
    assert acked.timeline[-1].what == f"acknowledged by {sergeant.name} (met-nw-bcu) via voice"
    assert [(a.by, a.via) for a in acked.acknowledgements] == [(sergeant, "voice")]
    assert commands_due([acked], config, NOW + timedelta(minutes=16)) == [], "step 2 (15 minutes) never comes"
    assert [c.step for c in commands_due([incident], config, NOW + timedelta(minutes=16)) if isinstance(c, Escalate)] == [2], (
        "the control"
    )
