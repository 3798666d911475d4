"""No commit passes a record still being handled, so a worker that dies loses nothing it had in hand.

The deliverer finishes records out of order by design (an SMS goes before an email read earlier), and
faust, acknowledged out of order, committed past the record still in hand (streams/pipeline/acks.py):
a worker SIGKILLed while an email was being retried came back after it, and the email was never sent.
Here an email and then an SMS are written to one partition of the notifications topic while the SMTP
server is down: the SMS goes, the email is retried, a commit is seen to happen, and the partition's
committed offset must not have passed the email. Then the worker is SIGKILLed, the SMTP server comes
back, and the restarted worker sends the email, and the SMS not again.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kafka import KafkaAdminClient, TopicPartition

from alerts.model import Notification, Priority, Recipient, RenderedMessage
from tests.e2e.channels import Stack, channel_stack
from tests.support import make_event, wait_for

pytestmark = pytest.mark.e2e

PARTITION = 0
UNKNOWN: dict[str, Any] = {
    "given_names": "Sam",
    "family_name": "Quill",
    "date_of_birth": {"value": "2012-05-05", "estimated": False},
}


@pytest.fixture
def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # The email is retried for longer than the test takes to reach the SIGKILL.
    with channel_stack(tmp_path_factory.mktemp("commit-order"), kafka_bootstrap, smtp_budget_s=300) as running:
        yield running


def notification(reference: str, channel: str, address: str) -> Notification:
    now = datetime.now(UTC)
    recipient = Recipient(agency_id="police_harrow", name="Harrow on-call", address=address)
    incident_id = f"inc-{reference}"
    return Notification(
        idempotency_key=Notification.key_for(incident_id, recipient, channel, "alert"),
        incident_id=incident_id,
        incident_reference=reference,
        child_reference=f"HAR-{reference}",
        kind="alert",
        channel=channel,
        recipient=recipient,
        message=RenderedMessage(subject=f"{reference} left placement", text=f"{reference}: a synthetic alert"),
        priority=Priority.HIGH,
        created_at=now,
        received_at=now,
        deadline=now + timedelta(hours=1),
    )


def write(stack: Stack, note: Notification) -> int:
    """Writes `note` to the test's partition; its offset."""
    sent = stack.worker.producer.send(
        stack.worker.topics.notifications,
        key=note.idempotency_key.encode(),
        value=note.model_dump_json().encode(),
        partition=PARTITION,
    )
    return int(sent.get(timeout=30).offset)


def committed(stack: Stack) -> int:
    """The worker's committed offset on the test's partition of the notifications topic (-1: none)."""
    settings = stack.worker.config.settings.kafka
    tp = TopicPartition(settings.topics.notifications, PARTITION)
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap)
    try:
        offsets = admin.list_group_offsets({settings.app_id: [tp]})[settings.app_id]
    finally:
        admin.close()
    return offsets[tp].offset if tp in offsets else -1


def accepted(stack: Stack, note: Notification) -> bool:
    records = stack.worker.read(stack.worker.topics.deliveries, lambda _: True, timeout_s=5)
    return any(r["idempotency_key"] == note.idempotency_key and r["state"] == "accepted" for r in records)


def test_a_commit_never_passes_an_email_still_being_retried_and_after_a_sigkill_it_is_sent(stack: Stack) -> None:
    reference = f"CH-{uuid.uuid4().hex[:6].upper()}"
    email = notification(reference, "email", "duty@police-harrow.example")
    sms = notification(reference, "sms", "+447700900123")
    stack.smtp.down()
    email_offset = write(stack, email)
    sms_offset = write(stack, sms)
    assert sms_offset > email_offset

    wait_for("the SMS, sent while the email is retried", lambda: stack.sms_for(reference), timeout_s=60)
    wait_for("the SMS's ledger step", lambda: accepted(stack, sms), timeout_s=30)
    # A commit after the SMS was acknowledged: faust commits every partition's acknowledgements at once.
    stack.worker.emit(make_event(child_reference=f"HAR-U-{uuid.uuid4().hex[:6]}", **UNKNOWN))
    stack.worker.handled_all([stack.worker.topics.placement_events])
    assert not stack.emails_for(reference)
    assert committed(stack) <= email_offset, "committed past the email still being retried"

    stack.worker.stop(kill=True)
    stack.smtp.up()
    stack.worker.start()
    wait_for("the email, from the restarted worker", lambda: stack.emails_for(reference), timeout_s=90)
    stack.worker.handled_all([stack.worker.topics.notifications])
    assert len(stack.emails_for(reference)) == 1
    assert len(stack.sms_for(reference)) == 1  # its ledger step was written before the SIGKILL
