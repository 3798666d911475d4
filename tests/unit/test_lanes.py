"""Delivery lanes (alerts/lanes.py): which waiting notification is sent first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts.lanes import IMMEDIATE_CHANNELS, STATUS_RANK, Lane, lane_of, rank_of
from alerts.model import Notification, NotificationKind, Priority, Recipient, RenderedMessage

NOW = datetime(2026, 11, 28, 23, 0, tzinfo=UTC)


def note(kind: NotificationKind, channel: str, priority: Priority, deadline_in: int = 60) -> Notification:
    return Notification(
        idempotency_key=f"{kind}-{channel}-{priority}-{deadline_in}",
        incident_id="inc-1",
        incident_reference="CH-4K7QX2",
        child_reference="HAR-2026-0192",
        kind=kind,
        channel=channel,
        recipient=Recipient(agency_id="met-police-mispers", name="MISPER on-call officer", address="+447700900101"),
        message=RenderedMessage(text="x"),
        priority=priority,
        created_at=NOW,
        received_at=NOW,
        deadline=NOW + timedelta(minutes=deadline_in),
    )


def test_the_first_alert_of_a_high_priority_incident_on_a_phone_takes_the_top_lane() -> None:
    assert {"sms", "voice"} <= IMMEDIATE_CHANNELS and "email" not in IMMEDIATE_CHANNELS  # the registry's `immediate` flag
    for kind in ("alert", "possible_match", "manual_check"):
        for channel in IMMEDIATE_CHANNELS:
            assert lane_of(note(kind, channel, Priority.HIGH)) == Lane.FIRST_ALERT
    assert lane_of(note("alert", "email", Priority.HIGH)) == Lane.ALERT_BY_EMAIL
    assert lane_of(note("alert", "sms", Priority.MEDIUM)) == Lane.IMMEDIATE
    assert lane_of(note("escalation", "sms", Priority.HIGH)) == Lane.IMMEDIATE
    assert lane_of(note("update", "sms", Priority.HIGH)) == Lane.ROUTINE
    assert lane_of(note("stand_down", "email", Priority.HIGH)) == Lane.ROUTINE


def test_waiting_work_is_ordered_by_lane_then_priority_then_deadline() -> None:
    waiting = [
        note("update", "sms", Priority.HIGH),
        note("alert", "email", Priority.HIGH),
        note("alert", "sms", Priority.LOW),
        note("alert", "sms", Priority.MEDIUM, deadline_in=30),
        note("alert", "sms", Priority.MEDIUM, deadline_in=10),
        note("alert", "sms", Priority.HIGH, deadline_in=50),
        note("alert", "sms", Priority.HIGH, deadline_in=5),
    ]
    ordered = sorted(waiting, key=rank_of)
    assert [(n.kind, n.channel, n.priority.value, (n.deadline - NOW).seconds // 60) for n in ordered] == [
        ("alert", "sms", "high", 5),
        ("alert", "sms", "high", 50),
        ("alert", "sms", "medium", 10),
        ("alert", "sms", "medium", 30),
        ("alert", "sms", "low", 60),
        ("alert", "email", "high", 60),
        ("update", "sms", "high", 60),
    ]
    first_alert, other = rank_of(note("alert", "sms", Priority.HIGH)), rank_of(note("alert", "sms", Priority.MEDIUM))
    assert first_alert < STATUS_RANK < other, "a status report (it may call for a fallback) goes before other alerts"
