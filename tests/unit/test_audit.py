"""The audit record of an incident, per person, usable as a serious-case-review record."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from alerts.audit import audit_record, format_audit, format_markdown
from alerts.model import (
    Alerted,
    Decision,
    DeliveryRecord,
    Incident,
    IncidentRecord,
    IncidentStatus,
    MatchResult,
    Priority,
    Recipient,
    TimelineEntry,
)

T0 = datetime(2026, 7, 14, 20, 51, tzinfo=UTC)  # 21:51 BST
SERGEANT = Recipient(agency_id="met-nw-bcu", name="PS Devon Ilves", address="+447700900114")
EDT = Recipient(agency_id="harrow-edt", name="EDT duty social worker", address="+447700900201")


def incident() -> Incident:
    return Incident(
        incident_id="inc-audit",
        reference="CH-AUDIT",
        status=IncidentStatus.OPEN,
        event_id="evt-audit",
        child_reference="HAR-A-1",
        placement_id="plc-1",
        local_authority="Harrow",
        match=MatchResult(decision=Decision.MATCH, profile_id="prof-1", score=0.99),
        priority=Priority.HIGH,
        last_seen_at=T0 - timedelta(minutes=15),
        received_at=T0,
        deadline=T0 + timedelta(minutes=45),
        alerted=[Alerted(channel="sms", recipient=SERGEANT), Alerted(channel="sms", recipient=EDT)],
        timeline=[TimelineEntry(at=T0, what="matched (match); alerting 2 recipient(s)")],
    )


def delivery(who: Recipient, state: str, seconds: int, attempts: int, **detail: object) -> DeliveryRecord:
    return DeliveryRecord(
        idempotency_key=f"key-{who.agency_id}",
        incident_id="inc-audit",
        channel="sms",
        kind="alert",
        agency_id=who.agency_id,
        recipient_tag=who.tag,
        state=state,  # type: ignore[arg-type]
        at=T0 + timedelta(seconds=seconds),
        attempts=attempts,
        **detail,  # type: ignore[arg-type]
    )


RECORDS = [IncidentRecord(change="opened", at=T0, incident=incident())]
DELIVERIES = [
    delivery(SERGEANT, "intent", 1, 1),
    delivery(SERGEANT, "intent", 4, 2, reason="timeout", retryable=True),
    delivery(SERGEANT, "accepted", 5, 2, provider_id="SM0123456789abcdef"),
    delivery(SERGEANT, "failed", 30, 2, provider_id="SM0123456789abcdef", reason="undelivered", retryable=False),
    delivery(EDT, "intent", 1, 1),
    delivery(EDT, "failed", 2, 1, reason="invalid_number", retryable=False),
]


def test_each_person_has_every_attempt_with_its_number_reason_and_time() -> None:
    record = audit_record(RECORDS, DELIVERIES)
    people = {p["name"]: p for p in record["people"]}
    sergeant = people["PS Devon Ilves"]
    assert sergeant["agency_id"] == "met-nw-bcu" and sergeant["channel"] == "sms"
    assert [(s["attempt"], s["state"], s["reason"]) for s in sergeant["steps"]] == [
        (1, "intent", None),
        (2, "intent", "retry after timeout"),
        (2, "accepted", None),
        (2, "failed", "undelivered"),
    ]
    assert sergeant["outcome"] == "failed: undelivered"
    assert people["EDT duty social worker"]["outcome"] == "failed: invalid_number"
    assert sergeant["steps"][0]["at"] == "2026-07-14T20:51:01+00:00"
    json.dumps(record)  # serialisable as it is


def test_markdown_names_the_person_and_the_failure_reason_not_the_message_id() -> None:
    md = format_markdown(RECORDS, DELIVERIES)
    assert md.startswith("# Incident CH-AUDIT (inc-audit)")
    assert "### PS Devon Ilves — met-nw-bcu, sms" in md
    assert "| 2026-07-14 21:51:05 BST | alert | 2 | accepted | SM0123456789abcdef |" in md
    assert "| 2026-07-14 21:51:30 BST | alert | 2 | failed | undelivered |" in md
    assert "| 2026-07-14 21:51:04 BST | alert | 2 | intent | retry after timeout |" in md
    assert "outcome: failed: undelivered" in md


def test_the_text_format_is_per_person_too() -> None:
    text = format_audit(RECORDS, DELIVERIES)
    assert "PS Devon Ilves (met-nw-bcu) by sms: failed: undelivered" in text
    assert "attempt 2  failed     undelivered" in text


def test_a_pipe_in_a_timeline_entry_does_not_break_the_table() -> None:
    incident = RECORDS[0].incident
    odd = incident.model_copy(update={"timeline": [TimelineEntry(at=T0, what="last seen at Gate | B\nnear the shop")]})
    md = format_markdown([IncidentRecord(change="opened", at=T0, incident=odd)], [])
    assert "| 2026-07-14 21:51:00 BST | last seen at Gate \\| B near the shop |" in md


def test_no_records_says_so() -> None:
    assert format_markdown([], []) == "no such incident"
    assert audit_record([], []) == {"incident": None, "people": [], "changes": [], "timeline": []}


def test_the_serious_case_review_record_golden() -> None:
    from tests.golden.golden import check_golden

    check_golden("audit/incident.md", format_markdown(RECORDS, DELIVERIES) + "\n")
