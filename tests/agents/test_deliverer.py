"""The deliverer (streams/pipeline/deliverer.py) through the deliver agent: the ledger's steps, status reports
and the fall-back command a failure sends to the incident's owner."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

import alerts.directory as directory_module
from alerts.channels.base import Accepted, DeliveryError
from alerts.lanes import Lane, lane_of
from alerts.model import (
    DeliveryRecord,
    DeliveryStatus,
    FallBack,
    IncidentCommands,
    IncidentRecord,
    Notification,
    Priority,
)
from streams.pipeline.app import Worker
from tests.agents.conftest import NOW, RecordingOutputs, RecordingSender, drained, put_on
from tests.support import make_event

CHILD = "HAR-2026-0192"


async def notifications(worker: Worker, outputs: RecordingOutputs) -> list[Notification]:
    async with worker.triage_agent.test_context() as agent:
        await agent.put(json.dumps(make_event(now=NOW, child_reference=CHILD)).encode(), key=CHILD.encode())
    sent = outputs.sent[worker.config.settings.kafka.topics.notifications]
    return [Notification.model_validate_json(json.dumps(n)) for _, n in sent]


def steps(outputs: RecordingOutputs, worker: Worker, key: str) -> list[str]:
    return [r["state"] for k, r in outputs.sent[worker.config.settings.kafka.topics.deliveries] if k == key]


def fall_backs(outputs: RecordingOutputs, worker: Worker) -> list[FallBack]:
    commands = [
        IncidentCommands.decode(json.dumps(c)) for _, c in outputs.sent[worker.config.settings.kafka.topics.incident_commands]
    ]
    assert all(isinstance(c, FallBack) for c in commands)
    return commands  # type: ignore[return-value]


async def test_a_status_report_completes_the_ledger_once(worker: Worker, outputs: RecordingOutputs) -> None:
    topics = worker.config.settings.kafka.topics
    note = next(n for n in await notifications(worker, outputs) if n.channel == "sms")
    async with worker.deliver_agent.test_context() as agent:
        await agent.put(note.model_dump_json().encode(), key=note.idempotency_key.encode())
        await drained(worker)
        [(_, accepted)] = [(k, r) for k, r in outputs.sent[topics.deliveries] if r["state"] == "accepted"]
        status = DeliveryStatus(
            idempotency_key=note.idempotency_key, provider_id=accepted["provider_id"], outcome="delivered", at=NOW
        )
        for _ in range(2):  # the provider repeats its callback
            await put_on(agent, topics.delivery_status, status.model_dump_json().encode(), note.idempotency_key.encode())
        await drained(worker)
    assert steps(outputs, worker, note.idempotency_key) == ["intent", "accepted", "delivered"]
    assert fall_backs(outputs, worker) == []


async def test_an_undelivered_status_asks_the_owner_to_fall_back(worker: Worker, outputs: RecordingOutputs) -> None:
    topics = worker.config.settings.kafka.topics
    note = next(n for n in await notifications(worker, outputs) if n.channel == "sms")
    async with worker.deliver_agent.test_context() as agent:
        await agent.put(note.model_dump_json().encode(), key=note.idempotency_key.encode())
        await drained(worker)
        provider_id = outputs.sent[topics.deliveries][-1][1]["provider_id"]
        status = DeliveryStatus(
            idempotency_key=note.idempotency_key, provider_id=provider_id, outcome="failed", reason="unreachable", at=NOW
        )
        await put_on(agent, topics.delivery_status, status.model_dump_json().encode(), note.idempotency_key.encode())
        await drained(worker)
    assert steps(outputs, worker, note.idempotency_key) == ["intent", "accepted", "failed"]
    [command] = fall_backs(outputs, worker)
    assert (command.by, command.channel, command.kind, command.reason) == (note.recipient, "sms", note.kind, "unreachable")


async def test_a_permanent_failure_is_recorded_then_falls_back(
    worker: Worker, outputs: RecordingOutputs, senders: dict[str, RecordingSender]
) -> None:
    senders["sms"].fail_with = DeliveryError("invalid_number", retryable=False)
    notes = await notifications(worker, outputs)
    sms = [n for n in notes if n.channel == "sms"]
    async with worker.deliver_agent.test_context() as agent:
        for note in notes:
            await agent.put(note.model_dump_json().encode(), key=note.idempotency_key.encode())
        await drained(worker)
    for note in sms:
        assert steps(outputs, worker, note.idempotency_key) == ["intent", "failed"]
    failed = {(c.by.address, c.reason) for c in fall_backs(outputs, worker)}
    assert failed == {(n.recipient.address, "invalid_number") for n in sms}
    # ... and the owner, given the command, puts the failure on the incident's record.
    command: Any = fall_backs(outputs, worker)[0]
    async with worker.triage_agent.test_context() as agent:
        await put_on(
            agent, worker.config.settings.kafka.topics.incident_commands, command.model_dump_json().encode(), CHILD.encode()
        )
    last = outputs.sent[worker.config.settings.kafka.topics.incidents][-1][1]["incident"]
    assert "failed: invalid_number" in last["timeline"][-1]["what"]


class GatedSender(RecordingSender):
    """Holds every send until the gate opens; records the order in which sends complete."""

    def __init__(self, name: str, gate: asyncio.Event, order: list[str]) -> None:
        super().__init__(name)
        self.gate, self.order = gate, order

    async def send(self, notification: Notification) -> Accepted:
        await self.gate.wait()
        self.order.append(notification.idempotency_key)
        return await super().send(notification)


async def test_a_first_sms_of_a_high_priority_incident_overtakes_the_email_backlog(
    worker: Worker, outputs: RecordingOutputs, senders: dict[str, RecordingSender]
) -> None:
    """Emails flood the deliverer (their provider slow: held until the gate opens); then one first
    alert by SMS of a high-priority incident arrives. It is sent as soon as a send worker is free, not
    after the backlog: at most the emails already being sent go before it."""
    gate, order = asyncio.Event(), []  # type: ignore[var-annotated]
    senders["email"] = GatedSender("email", gate, order)
    senders["sms"] = GatedSender("sms", gate, order)
    assert worker.deliverer is not None
    worker.deliverer.senders = senders
    notes = await notifications(worker, outputs)
    first_sms = next(n for n in notes if n.channel == "sms" and n.kind == "alert")
    assert first_sms.priority == Priority.HIGH and lane_of(first_sms) == Lane.FIRST_ALERT
    template = next(n for n in notes if n.channel == "email")
    kinds = ("update", "alert", "stand_down", "escalation")
    emails = [
        template.model_copy(update={"idempotency_key": f"email-{i:04d}", "kind": kinds[i % len(kinds)], "priority": Priority.LOW})
        for i in range(200)
    ]
    workers = worker.config.settings.delivery_concurrency
    assert len(emails) > 4 * workers
    async with worker.deliver_agent.test_context() as agent:
        for note in [*emails, first_sms]:
            await agent.put(note.model_dump_json().encode(), key=note.idempotency_key.encode())
        gate.set()
        await drained(worker)
    assert sorted(order) == sorted([first_sms.idempotency_key, *(e.idempotency_key for e in emails)]), "every one sent once"
    emails_before = order.index(first_sms.idempotency_key)
    assert emails_before <= workers, f"{emails_before} emails were sent before the first SMS; {workers} were in flight"
    accepted = [k for k, r in outputs.sent[worker.config.settings.kafka.topics.deliveries] if r["state"] == "accepted"]
    assert accepted.index(first_sms.idempotency_key) <= workers, "the ledger records it in the same order"


async def test_only_notifications_whose_provider_reports_status_are_kept_for_it(
    worker: Worker, outputs: RecordingOutputs
) -> None:
    notes = await notifications(worker, outputs)
    async with worker.deliver_agent.test_context() as agent:
        for note in notes:
            await agent.put(note.model_dump_json().encode(), key=note.idempotency_key.encode())
        await drained(worker)
    assert worker.deliverer is not None
    kept = worker.deliverer.ledger.sent
    by_channel = {channel: [n for n in notes if n.channel == channel] for channel in ("sms", "email")}
    assert by_channel["sms"] and by_channel["email"]
    assert all(kept.get(n.idempotency_key) for n in by_channel["sms"])  # Twilio's status callbacks need them
    assert not any(kept.get(n.idempotency_key) for n in by_channel["email"])  # SMTP reports nothing later
    assert all(steps(outputs, worker, n.idempotency_key) == ["intent", "accepted"] for n in notes)


def test_the_channels_that_get_status_reports_are_the_registrys_delivered_callback_ones() -> None:
    from alerts.channels import CHANNELS
    from streams.pipeline.deliverer import reports_status

    assert [c.name for c in CHANNELS if reports_status(c.name)] == [c.name for c in CHANNELS if c.delivered_callback]
    assert reports_status("sms") and reports_status("voice") and not reports_status("email")
    assert reports_status("no-such-channel")  # unknown: kept, the safe side


async def test_while_triage_is_behind_email_waits_and_first_alerts_go_then_email_catches_up(
    worker: Worker, outputs: RecordingOutputs, senders: dict[str, RecordingSender]
) -> None:
    """Under overload the event loop goes to triage and first alerts: while triage is behind
    (streams/pipeline/pressure.py) no email or routine work is sent, every SMS alert is; once it has
    caught up, every email is sent too, each once."""
    gate, order = asyncio.Event(), []  # type: ignore[var-annotated]
    gate.set()
    senders["email"] = GatedSender("email", gate, order)
    senders["sms"] = GatedSender("sms", gate, order)
    assert worker.deliverer is not None
    worker.deliverer.senders = senders
    behind = [True]
    worker.deliverer.lanes.hold_back = lambda: behind[0]
    notes = await notifications(worker, outputs)
    emails = [n for n in notes if n.channel == "email"]
    alerts = [n for n in notes if n.channel == "sms" and n.kind == "alert"]
    assert emails and alerts
    async with worker.deliver_agent.test_context() as agent:
        for note in [*emails, *alerts]:
            await agent.put(note.model_dump_json().encode(), key=note.idempotency_key.encode())
        while len(order) < len(alerts):  # the SMS alerts go while email is held back
            await asyncio.sleep(0)
        assert sorted(order) == sorted(n.idempotency_key for n in alerts), "no email while triage is behind"
        assert worker.deliverer.lanes.waiting() == len(emails)
        behind[0] = False
        await drained(worker)
    assert sorted(order[len(alerts) :]) == sorted(n.idempotency_key for n in emails), "then every email, once"


async def test_after_a_rebalance_the_first_sends_wait_for_the_steps_the_previous_owner_wrote(
    worker: Worker, outputs: RecordingOutputs, senders: dict[str, RecordingSender]
) -> None:
    """The previous owner of a partition accepted an SMS just before giving the partition up; the
    directory (fetching in batches) reads that step only once it catches up. The new owner's first sends
    after the rebalance wait for that, once, so the SMS is not sent again."""
    notes = [n for n in await notifications(worker, outputs) if n.channel == "sms"]
    first, second = notes[0], notes[1]
    assert worker.deliverer is not None
    directory, catch_ups = worker.directory, []
    for _, opened in outputs.sent[worker.config.settings.kafka.topics.incidents]:  # as the directory follows them
        directory.apply_incident(IncidentRecord.model_validate_json(json.dumps(opened)))

    async def catch_up() -> bool:  # what the follower had not yet read: the previous owner's step
        catch_ups.append(1)
        directory.apply_delivery(
            DeliveryRecord(
                idempotency_key=first.idempotency_key,
                incident_id=first.incident_id,
                channel="sms",
                kind=first.kind,
                agency_id=first.recipient.agency_id,
                recipient_tag=first.recipient.tag,
                state="accepted",
                at=NOW,
                attempts=1,
                provider_id="SM-previous-owner",
            )
        )
        return True

    directory.catch_up = catch_up
    async with worker.deliver_agent.test_context() as agent:
        await agent.put(second.model_dump_json().encode(), key=second.idempotency_key.encode())
        await drained(worker)
        assert catch_ups == [], "no rebalance: no wait"
        worker.deliverer.partitions_moved()
        for note in (first, first):
            await agent.put(note.model_dump_json().encode(), key=note.idempotency_key.encode())
        await drained(worker)
    assert catch_ups == [1], "one catch-up after the rebalance, for every send waiting on it"
    assert [n.idempotency_key for n in senders["sms"].sent] == [second.idempotency_key], "not sent again"


# --- a long run: what the deliverer keeps beside the directory stays bounded ----------------------------


class Follow:
    """Applies the incident and delivery records written so far to the worker's directory, as its
    follower would on reading them back."""

    def __init__(self, worker: Worker, outputs: RecordingOutputs) -> None:
        self.worker, self.outputs, self.read = worker, outputs, dict[str, int]()

    def __call__(self) -> None:
        topics, directory = self.worker.config.settings.kafka.topics, self.worker.directory
        for value in self._unread(topics.incidents):
            directory.apply_incident(IncidentRecord.model_validate_json(json.dumps(value)))
        for value in self._unread(topics.deliveries):
            directory.apply_delivery(DeliveryRecord.model_validate_json(json.dumps(value)))

    def _unread(self, topic: str) -> list[Any]:
        written = self.outputs.sent[topic]
        unread = [value for _, value in written[self.read.get(topic, 0) :]]
        self.read[topic] = len(written)
        return unread


async def test_the_ledger_keeps_a_step_only_until_the_directory_has_read_it_back(
    worker: Worker, outputs: RecordingOutputs
) -> None:
    notes = await notifications(worker, outputs)
    follow = Follow(worker, outputs)
    async with worker.deliver_agent.test_context() as agent:
        for note in notes:
            await agent.put(note.model_dump_json().encode(), key=note.idempotency_key.encode())
        await drained(worker)
        assert len(worker.ledger) == len(notes)  # written, not read back yet: the ledger answers
        follow()
        assert worker.ledger == {}
        # The directory answers now, so a notification read again is still not sent again.
        for note in notes:
            await agent.put(note.model_dump_json().encode(), key=note.idempotency_key.encode())
        await drained(worker)
    assert all(steps(outputs, worker, n.idempotency_key) == ["intent", "accepted"] for n in notes)


async def test_a_final_status_lets_the_notification_kept_for_it_go(worker: Worker, outputs: RecordingOutputs) -> None:
    topics = worker.config.settings.kafka.topics
    sms = [n for n in await notifications(worker, outputs) if n.channel == "sms"][:2]
    assert worker.deliverer is not None
    kept = worker.deliverer.ledger.sent
    async with worker.deliver_agent.test_context() as agent:
        for note in sms:
            await agent.put(note.model_dump_json().encode(), key=note.idempotency_key.encode())
        await drained(worker)
        assert all(kept.get(n.idempotency_key) for n in sms)
        accepted = {k: r["provider_id"] for k, r in outputs.sent[topics.deliveries] if r["state"] == "accepted"}
        delivered = DeliveryStatus(
            idempotency_key=sms[0].idempotency_key, provider_id=accepted[sms[0].idempotency_key], outcome="delivered", at=NOW
        )
        failed = delivered.model_copy(
            update={
                "idempotency_key": sms[1].idempotency_key,
                "provider_id": accepted[sms[1].idempotency_key],
                "outcome": "failed",
            }
        )
        for status in (delivered, failed) * 2:  # the provider repeats its callback
            await put_on(agent, topics.delivery_status, status.model_dump_json().encode(), status.idempotency_key.encode())
        await drained(worker)
    assert not any(kept.get(n.idempotency_key) for n in sms)
    assert steps(outputs, worker, sms[0].idempotency_key) == ["intent", "accepted", "delivered"]
    assert steps(outputs, worker, sms[1].idempotency_key) == ["intent", "accepted", "failed"]
    assert len(fall_backs(outputs, worker)) == 1  # the failure fell back once, the repeat found nothing to do


async def test_over_many_incidents_the_deliverers_state_stays_bounded(
    worker: Worker, outputs: RecordingOutputs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(directory_module, "KEPT_AFTER_RESOLVED", 2)
    topics, follow = worker.config.settings.kafka.topics, Follow(worker, outputs)
    assert worker.deliverer is not None
    first: list[Notification] = []
    for n in range(6):  # each child: reported, alerted, every SMS settled, returned
        child = f"HAR-2026-{n:04d}"
        written = len(outputs.sent[topics.notifications])
        async with worker.triage_agent.test_context() as agent:
            await agent.put(json.dumps(make_event(now=NOW, child_reference=child)).encode(), key=child.encode())
        notes = [Notification.model_validate_json(json.dumps(v)) for _, v in outputs.sent[topics.notifications][written:]]
        first = first or notes
        async with worker.deliver_agent.test_context() as agent:
            for note in notes:
                await agent.put(note.model_dump_json().encode(), key=note.idempotency_key.encode())
            await drained(worker)
            for key, step in outputs.sent[topics.deliveries]:
                assert key is not None
                if step["state"] == "accepted" and step["channel"] == "sms" and worker.deliverer.ledger.sent.get(key):
                    status = DeliveryStatus(idempotency_key=key, provider_id=step["provider_id"], outcome="delivered", at=NOW)
                    await put_on(agent, topics.delivery_status, status.model_dump_json().encode(), key.encode())
            await drained(worker)
        async with worker.triage_agent.test_context() as agent:
            returned = make_event(type="returned", now=NOW, child_reference=child)
            await agent.put(json.dumps(returned).encode(), key=child.encode())
        follow()
    assert worker.ledger == {}
    assert len(worker.deliverer.ledger.sent) == 0
    assert len(worker.deliverer.window_observed) <= 2
    assert worker.directory.sizes()["incidents"] == 2
    # The first incident is forgotten; its notifications read again (offsets not yet committed) are not
    # sent again: the directory still holds their last steps.
    assert worker.directory.get(first[0].incident_id) is None
    sent_before = len(outputs.sent[topics.deliveries])
    async with worker.deliver_agent.test_context() as agent:
        for note in first:
            await agent.put(note.model_dump_json().encode(), key=note.idempotency_key.encode())
        await drained(worker)
    assert len(outputs.sent[topics.deliveries]) == sent_before
