from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from alerts.config import PACKAGE_TEMPLATES, Config, load_config
from alerts.intake import parse_event, parse_profile
from alerts.matching import ProfileIndex
from alerts.model import IncidentStatus
from alerts.rendering import Renderer
from alerts.triage import Context, Outcome, triage
from tests.support import REPO, UNFLAGGED_CHILD, make_event, sample_profiles

NOW = datetime(2026, 11, 28, 23, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(REPO / "config")


@pytest.fixture(scope="module")
def index() -> ProfileIndex:
    index = ProfileIndex()
    for profile in sample_profiles():
        index.upsert(parse_profile(json.dumps(profile)))
    return index


def run(event: dict, config: Config, index: ProfileIndex, open_incident=None, now: datetime = NOW) -> Outcome:  # type: ignore[no-untyped-def,type-arg]
    return triage(parse_event(json.dumps(event)), Context(config, Renderer(PACKAGE_TEMPLATES), now, index), open_incident)


def flagged(**kwargs) -> dict:  # type: ignore[no-untyped-def,type-arg]
    return make_event(now=NOW, child_reference="HAR-2026-0192", **kwargs)


def test_match_opens_an_incident_with_the_window_from_last_seen(config: Config, index: ProfileIndex) -> None:
    outcome = run(flagged(last_seen_ago=timedelta(minutes=25)), config, index)
    assert outcome.label == "opened"
    incident = outcome.open_incident
    assert incident is not None and incident.status == IncidentStatus.OPEN
    assert incident.last_seen_at == NOW - timedelta(minutes=25)
    assert incident.deadline == incident.last_seen_at + timedelta(minutes=60)
    assert incident.received_at == NOW
    assert [r.change for r in outcome.records] == ["opened"]
    assert {(n.recipient.agency_id, n.channel) for n in outcome.notifications} == {
        (a.recipient.agency_id, a.channel) for a in incident.alerted
    }
    assert all(n.kind == "alert" for n in outcome.notifications)


def test_no_match_produces_nothing(config: Config, index: ProfileIndex) -> None:
    event = make_event(now=NOW, child_reference="NOBODY-1", **UNFLAGGED_CHILD)
    event["circumstances"]["vehicles"] = []
    outcome = run(event, config, index)
    assert (outcome.label, outcome.records, outcome.notifications, outcome.open_incident) == ("no_match", [], [], None)


def test_a_replayed_event_yields_identical_ids_and_keys(config: Config, index: ProfileIndex) -> None:
    event = flagged()
    first = run(event, config, index)
    again = run(event, config, index, open_incident=first.open_incident, now=NOW + timedelta(seconds=5))
    assert again.label == "opened"
    assert again.open_incident is not None and first.open_incident is not None
    assert again.open_incident.incident_id == first.open_incident.incident_id
    assert [n.idempotency_key for n in again.notifications] == [n.idempotency_key for n in first.notifications]


def test_a_second_report_while_open_updates_without_realerting(config: Config, index: ProfileIndex) -> None:
    opened = run(flagged(), config, index).open_incident
    outcome = run(flagged(), config, index, open_incident=opened)
    assert outcome.label == "repeat_report"
    assert outcome.notifications == []
    assert outcome.open_incident is not None and "further missing report" in outcome.open_incident.timeline[-1].what


def test_returned_resolves_and_stands_down_everyone_alerted(config: Config, index: ProfileIndex) -> None:
    opened = run(flagged(), config, index)
    assert opened.open_incident is not None
    outcome = run(flagged(type="returned"), config, index, open_incident=opened.open_incident)
    assert outcome.label == "resolved" and outcome.open_incident is None
    assert outcome.records[0].incident.status == IncidentStatus.RESOLVED
    assert {(n.recipient.address, n.channel) for n in outcome.notifications} == {
        (n.recipient.address, n.channel) for n in opened.notifications
    }
    assert all(n.kind == "stand_down" for n in outcome.notifications)
    assert "STAND DOWN" in next(n for n in outcome.notifications if n.channel == "sms").message.text


def test_returned_with_nothing_open_is_counted_not_alerted(config: Config, index: ProfileIndex) -> None:
    assert run(flagged(type="returned"), config, index).label == "no_open_incident"
