"""Escalation, acknowledgement and breach with an injected clock: no sleeps."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from alerts.config import PACKAGE_TEMPLATES, Config, load_config
from alerts.intake import parse_event, parse_profile
from alerts.lifecycle import acknowledge, breach, commands_due, due_step, escalate
from alerts.matching import ProfileIndex
from alerts.model import Escalate, Incident, IncidentStatus, PlacementEvent, Priority, Recipient
from alerts.rendering import Renderer
from alerts.triage import Context, Report, triage
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
    outcome = triage(event, Context(config, RENDERER, NOW, index))
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
    outcome = escalate(Context(config, RENDERER, at), incident, 1, Report(event))
    assert outcome.label == "escalated"
    escalated = outcome.open_incident
    assert escalated is not None and escalated.status == IncidentStatus.ESCALATED and escalated.escalation_step == 1
    # The hub was alerted at opening (high risk): step 1 adds the duty officer only.
    assert {(n.recipient.agency_id, n.kind) for n in outcome.notifications} == {("met-duty-officer", "escalation")}
    assert "ESCALATION" in next(n for n in outcome.notifications if n.channel == "sms").message.text
    again = escalate(Context(config, RENDERER, at + timedelta(seconds=15)), escalated, 1, Report(event))
    assert again.label == "escalation_not_needed" and again.notifications == []
    second = escalate(Context(config, RENDERER, NOW + timedelta(minutes=15)), escalated, 2, Report(event))
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
    assert escalate(Context(config, RENDERER, NOW + timedelta(minutes=5)), acked, 1, Report(event)).notifications == []
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
    assert isinstance(command, Escalate) and (command.step, command.child_reference) == (2, incident.child_reference)
    late = commands_due([incident], config, incident.deadline + timedelta(seconds=1))
    assert {c.command for c in late} == {"escalate", "breach"}


def test_a_failed_sms_after_the_handover_falls_back_to_the_sergeant_now_on_duty(
    config: Config, opened: tuple[Incident, PlacementEvent]
) -> None:
    from alerts.lifecycle import Failure, fall_back
    from alerts.rota import on_call

    incident, event = opened
    rota = config.rota.rotas["met-nw-mispers"]
    night = next(a.recipient for a in incident.alerted if a.recipient.agency_id == "met-nw-bcu" and a.channel == "sms")
    after_handover = datetime(2026, 11, 29, 8, 5, tzinfo=UTC)  # 08:05 GMT: the days layer
    on_duty = on_call(rota, after_handover)
    assert on_duty is not None and on_duty.person.name != night.name
    outcome = fall_back(
        Context(config, RENDERER, after_handover), incident, Failure(night, "sms", "alert", "invalid number"), Report(event)
    )
    reached = {(n.recipient.name, n.channel) for n in outcome.notifications}
    assert (on_duty.person.name, "sms") in reached, "the sergeant on duty at the fallback"
    assert outcome.open_incident is not None
    again = fall_back(
        Context(config, RENDERER, after_handover),
        outcome.open_incident,
        Failure(night, "sms", "alert", "invalid number"),
        Report(event),
    )
    assert (on_duty.person.name, "sms") not in {(n.recipient.name, n.channel) for n in again.notifications}, (
        "someone already alerted is not alerted again: the next in the order is"
    )


# --- escalation: new tiers only, a ceiling, and a possible match stays possible ------------------------


def test_escalation_never_re_alerts_someone_already_alerted(config: Config, opened: tuple[Incident, PlacementEvent]) -> None:
    incident, event = opened
    alerted = {(a.channel, a.recipient.address) for a in incident.alerted}
    current = incident
    for step in (1, 2):
        outcome = escalate(Context(config, RENDERER, NOW + timedelta(minutes=5 * step + 10)), current, step, Report(event))
        assert outcome.label == "escalated" and outcome.open_incident is not None
        sent = {(n.channel, n.recipient.address) for n in outcome.notifications}
        assert not sent & alerted, f"step {step} re-alerted {sorted(sent & alerted)}"
        alerted |= sent
        current = outcome.open_incident


def test_escalation_stops_at_its_ceiling_and_says_so(config: Config, opened: tuple[Incident, PlacementEvent]) -> None:
    incident, event = opened
    chain = config.escalation.chains[Priority.HIGH]
    ceiling = len(chain.steps) + chain.max_repeats
    far = NOW + timedelta(hours=6)
    assert due_step(incident, chain, far) == ceiling, "no step beyond the ceiling, however long nobody answers"
    current = incident
    for step in range(1, ceiling + 1):
        outcome = escalate(Context(config, RENDERER, NOW + timedelta(minutes=15 * step)), current, step, Report(event))
        assert outcome.open_incident is not None
        current = outcome.open_incident
    assert current.escalation_stopped
    assert "escalation stopped at its ceiling" in current.timeline[-1].what
    assert not [c for c in commands_due([current], config, far) if c.command == "escalate"]
    from alerts.directory import IncidentView
    from streams.web.board import incident_json  # the board shows it

    assert incident_json(IncidentView(current), far)["escalation_stopped"] is True


def test_a_possible_match_escalates_as_possible_and_only_to_whom_a_possible_match_may_go(config: Config) -> None:
    index = ProfileIndex()
    for row in sample_profiles():
        index.upsert(parse_profile(json.dumps(row)))
    data = make_event(now=NOW, child_reference="HAR-2026-7777", given_names="Minh", family_name="Tranh")
    data["child"]["date_of_birth"] = {"value": "2010-06-01", "estimated": True}
    ev = parse_event(json.dumps(data))
    opened = triage(ev, Context(config, RENDERER, NOW, index))
    incident = opened.open_incident
    assert incident is not None and incident.match.decision.value == "possible_match", incident and incident.match
    current = incident
    for step in (1, 2):
        outcome = escalate(Context(config, RENDERER, NOW + timedelta(minutes=15 * step)), current, step, Report(ev))
        assert outcome.open_incident is not None
        current = outcome.open_incident
        for note in outcome.notifications:
            kind = config.agencies[note.recipient.agency_id].kind if note.recipient.agency_id in config.agencies else "social"
            assert kind in ("emergency_duty_team", "police"), note.recipient.agency_id
            text = note.message.text
            assert "POSSIBLE" in text.upper() and "matches a trafficking-risk profile" not in text
    assert any("not told of a possible match" in entry.what for entry in current.timeline)


def test_a_stand_down_skips_addresses_known_to_be_invalid(config: Config, opened: tuple[Incident, PlacementEvent]) -> None:
    from alerts.lifecycle import Failure, fall_back

    incident, event = opened
    edt = next(a.recipient for a in incident.alerted if a.recipient.agency_id == "harrow-edt" and a.channel == "sms")
    at = Context(config, RENDERER, NOW + timedelta(minutes=1))
    failed = fall_back(at, incident, Failure(edt, "sms", "alert", "invalid_number"), Report(event))
    assert failed.open_incident is not None
    index = ProfileIndex()
    returned = parse_event(
        json.dumps(make_event(type="returned", now=NOW + timedelta(minutes=20), child_reference="HAR-2026-0192"))
    )
    outcome = triage(returned, Context(config, RENDERER, NOW + timedelta(minutes=20), index), failed.open_incident)
    sent = {(n.channel, n.recipient.address) for n in outcome.notifications}
    assert ("sms", edt.address) not in sent, "a number known to be invalid is not texted again"
    assert ("email", "edt@harrow.gov.example") in sent, "the same team by another channel still is"
    assert "known to be invalid" in outcome.records[-1].incident.timeline[-1].what


def test_the_invalid_address_reasons_are_reasons_the_channels_raise() -> None:
    from alerts.channels.reasons import ALL
    from alerts.lifecycle import ADDRESS_INVALID

    assert ADDRESS_INVALID <= ALL


def test_a_late_escalation_takes_every_step_it_missed(config: Config, opened: tuple[Incident, PlacementEvent]) -> None:
    from alerts.config import EscalationChain, EscalationStep

    incident, event = opened
    chain = EscalationChain(
        steps=[
            EscalationStep(after_minutes=5, notify=["met-duty-officer"]),
            EscalationStep(after_minutes=15, notify=["border-force-national"]),
        ]
    )
    escalation = config.escalation.model_copy(update={"chains": {Priority.HIGH: chain}})
    disjoint = config.model_copy(update={"escalation": escalation})
    # The leader's timer was down: the first command it sends is for step 2. Step 1's tier is not skipped.
    outcome = escalate(Context(disjoint, RENDERER, NOW + timedelta(minutes=16)), incident, 2, Report(event))
    assert {n.recipient.agency_id for n in outcome.notifications} == {"met-duty-officer", "border-force-national"}
