"""The walking skeleton on the real broker: report in, incident and notifications out."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.integration.worker import RunningWorker
from tests.support import UNFLAGGED_CHILD, expected_notifications, make_event, written_lines

pytestmark = pytest.mark.integration

FLAGGED = [{"scheme": "home_office", "value": "HO-S1234567"}]  # prof-0001: high risk, Harrow


def routed(worker: RunningWorker, event: dict) -> set[tuple[str, str, str]]:  # type: ignore[type-arg]
    """(agency, channel, address) the domain routes this event to: what the worker must have produced."""
    return expected_notifications(event, worker.config)


def sent_to(notes: list[dict]) -> set[tuple[str, str, str]]:  # type: ignore[type-arg]
    return {(n["recipient"]["agency_id"], n["channel"], n["recipient"]["address"]) for n in notes}


def _child() -> str:
    return f"HAR-T-{uuid.uuid4().hex[:6]}"


def _for_incident(incident_id: str):  # type: ignore[no-untyped-def]
    return lambda records: [r for r in records if r.get("incident_id", r.get("incident", {}).get("incident_id")) == incident_id]


def test_matched_event_opens_incident_and_notifies_exactly_the_configured_recipients(worker: RunningWorker) -> None:
    child = _child()
    event = make_event(child_reference=child, identifiers=FLAGGED)
    expected = routed(worker, event)
    assert {"social-worker", "met-police-mispers"} <= {agency for agency, _, _ in expected}
    worker.emit(event)

    incidents = worker.read(
        worker.topics.incidents,
        until=lambda rs: any(r["incident"]["event_id"] == event["event_id"] for r in rs),
    )
    opened = [r for r in incidents if r["incident"]["event_id"] == event["event_id"]]
    assert [r["change"] for r in opened] == ["opened"]
    incident = opened[0]["incident"]
    assert incident["match"]["profile_id"] == "prof-0001"
    assert incident["priority"] == "high"
    assert incident["child_reference"] == child

    mine = _for_incident(incident["incident_id"])
    notes = mine(
        worker.read(
            worker.topics.notifications, until=lambda rs: len(mine(rs)) >= len(expected), handled=[worker.topics.placement_events]
        )
    )
    assert sent_to(notes) == expected
    assert len(notes) == len(expected)
    assert len({n["idempotency_key"] for n in notes}) == len(notes)

    deliveries = mine(
        worker.read(
            worker.topics.deliveries,
            until=lambda rs: sum(r["state"] == "accepted" for r in mine(rs)) >= len(notes),
        )
    )
    assert [r["state"] for r in deliveries].count("accepted") == len(notes)
    sent = written_lines(worker.outbox)
    assert sum(1 for n in sent if n["incident_id"] == incident["incident_id"]) == len(notes)
    sms = next(n for n in sent if n["incident_id"] == incident["incident_id"] and n["channel"] == "sms")
    assert incident["reference"] in sms["message"]["text"]
    assert "Tran" not in sms["message"]["text"], "SMS must not carry the child's name by default"


def test_unmatched_event_yields_nothing_and_is_counted(worker: RunningWorker) -> None:
    before = worker.metric("crucial_events_total", outcome="no_match")
    event = make_event(child_reference=_child(), **UNFLAGGED_CHILD)  # resembles no profile
    worker.emit(event)
    marker = make_event(child_reference=_child(), identifiers=FLAGGED)
    worker.emit(marker, key=event["child"]["reference"])  # same partition: processed after the first
    worker.read(worker.topics.incidents, until=lambda rs: any(r["incident"]["event_id"] == marker["event_id"] for r in rs))
    incidents = worker.read(worker.topics.incidents, until=lambda rs: True)
    assert not [r for r in incidents if r["incident"]["event_id"] == event["event_id"]]
    assert worker.metric("crucial_events_total", outcome="no_match") == before + 1


def test_malformed_payloads_are_rejected_with_reasons_and_the_worker_goes_on(worker: RunningWorker) -> None:
    key = _child()
    bad_schema = make_event(child_reference=key)
    del bad_schema["reporter"]
    bad_schema["child"]["date_of_birth"] = {"value": "2009-02-30"}
    unknown_type = make_event(child_reference=key)
    unknown_type["type"] = "abducted"
    payloads = [b"this is not json {", json.dumps(bad_schema).encode(), json.dumps(unknown_type).encode(), b"\xff\xfe\x00"]
    for payload in payloads:
        worker.emit(payload, key=key)
    good = make_event(child_reference=key, identifiers=FLAGGED)
    worker.emit(good)

    # This module's worker has a rejected topic of its own: only these four land on it.
    rejected = worker.read(worker.topics.rejected, until=lambda rs: len(rs) >= 4)
    by_raw = {r["raw"]: r for r in rejected}
    assert by_raw["this is not json {"]["reasons"][0].startswith("(root): not JSON")
    schema_reasons = by_raw[json.dumps(bad_schema)]["reasons"]
    assert any(r.startswith("reporter: Field required") for r in schema_reasons)
    assert any(r.startswith("child.date_of_birth.value:") for r in schema_reasons)
    assert any(r.startswith("type: Input should be 'left_placement'") for r in by_raw[json.dumps(unknown_type)]["reasons"])
    binary = next(r for r in rejected if r["raw_base64"] == "//4A")
    assert binary["reasons"][0].startswith("(root): not UTF-8")

    incidents = worker.read(
        worker.topics.incidents, until=lambda rs: any(r["incident"]["event_id"] == good["event_id"] for r in rs)
    )
    assert any(r["change"] == "opened" for r in incidents if r["incident"]["event_id"] == good["event_id"])


def test_returned_event_resolves_the_incident_and_stands_everyone_down(worker: RunningWorker) -> None:
    child = _child()
    left = make_event(child_reference=child, identifiers=FLAGGED)
    expected = routed(worker, left)
    worker.emit(left)
    opened = worker.read(worker.topics.incidents, until=lambda rs: any(r["incident"]["event_id"] == left["event_id"] for r in rs))
    incident_id = next(r["incident"]["incident_id"] for r in opened if r["incident"]["event_id"] == left["event_id"])

    worker.emit(make_event(type="returned", child_reference=child))
    mine = _for_incident(incident_id)
    changes = mine(worker.read(worker.topics.incidents, until=lambda rs: any(r["change"] == "resolved" for r in mine(rs))))
    assert [r["change"] for r in changes] == ["opened", "resolved"]
    assert changes[-1]["incident"]["status"] == "resolved"
    stand_downs = [
        n
        for n in mine(
            worker.read(
                worker.topics.notifications, until=lambda rs: sum(n["kind"] == "stand_down" for n in mine(rs)) >= len(expected)
            )
        )
        if n["kind"] == "stand_down"
    ]
    assert sent_to(stand_downs) == expected


def test_incident_show_prints_the_whole_timeline_from_the_topics(
    worker: RunningWorker, capsys: pytest.CaptureFixture[str]
) -> None:
    from streams.cli.main import main

    child = _child()
    left = make_event(child_reference=child, identifiers=FLAGGED)
    worker.emit(left)
    opened = worker.read(worker.topics.incidents, until=lambda rs: any(r["incident"]["event_id"] == left["event_id"] for r in rs))
    incident = next(r["incident"] for r in opened if r["incident"]["event_id"] == left["event_id"])
    worker.emit(make_event(type="returned", child_reference=child))
    mine = _for_incident(incident["incident_id"])
    worker.read(worker.topics.incidents, until=lambda rs: any(r["change"] == "resolved" for r in mine(rs)))
    worker.read(
        worker.topics.deliveries, until=lambda rs: any(r["kind"] == "stand_down" and r["state"] == "accepted" for r in mine(rs))
    )

    assert main(["incident", "show", incident["reference"], "--config", str(worker.config_dir)]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith(f"incident {incident['reference']} ({incident['incident_id']})")
    changes = shown.split("changes:")[1].split("timeline:")[0]
    assert changes.index("opened") < changes.index("resolved")
    assert "child returned to placement: stand down" in shown
    people = shown.split("people alerted:")[1]
    assert "alert" in people and "stand_down" in people and "accepted" in people and "attempt 1" in people
    assert "Tran" not in shown.split("match:")[0], "the header names no child (the match explanation may)"
    assert main(["incident", "show", "CH-ZZZZZZ", "--config", str(worker.config_dir)]) == 1
    capsys.readouterr()

    # The serious-case-review record: per person, every attempt with its number, state and time.
    assert main(["incident", "show", incident["reference"], "--config", str(worker.config_dir), "--format", "json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert {p["agency_id"] for p in record["people"]} == {a["recipient"]["agency_id"] for a in incident["alerted"]}
    for person in record["people"]:
        kinds = {s["kind"] for s in person["steps"]}
        assert {"alert", "stand_down"} <= kinds, person["name"]
        assert all(s["attempt"] >= 1 for s in person["steps"])
    assert main(["incident", "show", incident["reference"], "--config", str(worker.config_dir), "--format", "md"]) == 0
    md = capsys.readouterr().out
    assert md.startswith(f"# Incident {incident['reference']}") and "## People alerted" in md
    assert f"### {incident['alerted'][0]['recipient']['name']} — " in md


def _committed_through_end(worker: RunningWorker, topic: str) -> bool:
    """The worker's group has committed, on every partition of `topic`, the offset after its last record."""
    from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

    settings = worker.config.settings.kafka
    partitions = [TopicPartition(topic, p) for p in range(settings.partitions)]
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap, group_id=None, enable_auto_commit=False)
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap)
    try:
        end = consumer.end_offsets(partitions)
        committed = admin.list_group_offsets(settings.app_id).get(settings.app_id, {})
    finally:
        consumer.close()
        admin.close()
    return all(end[tp] == 0 or (tp in committed and committed[tp].offset == end[tp]) for tp in partitions)


def test_notifications_are_committed_once_sent(worker: RunningWorker) -> None:
    """The deliver agent acknowledges each notification by hand, after its send is on the ledger (its
    lanes reorder them): the group's offsets still reach the end of the notifications topic."""
    import time

    event = make_event(child_reference=_child(), identifiers=FLAGGED)
    worker.emit(event)
    expected = len(routed(worker, event))
    incidents = worker.read(
        worker.topics.incidents, until=lambda rs: any(r["incident"]["event_id"] == event["event_id"] for r in rs)
    )
    mine = _for_incident(next(r["incident"]["incident_id"] for r in incidents if r["incident"]["event_id"] == event["event_id"]))
    worker.read(worker.topics.deliveries, until=lambda rs: sum(r["state"] == "accepted" for r in mine(rs)) >= expected)
    deadline = time.monotonic() + 30.0
    while not _committed_through_end(worker, worker.topics.notifications):
        assert time.monotonic() < deadline, "the notifications' offsets were never committed"
        time.sleep(0.5)  # polling the broker for a condition, not a fixed wait
