"""The agents with Faust's test_context: no broker; outputs and channels recorded in memory."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import timedelta
from typing import Any

import pytest

from alerts.model import Acknowledge, DeliveryRecord, Notification, Recipient
from streams.pipeline.app import Worker
from tests.agents.conftest import NOW, RecordingOutputs, RecordingSender, drained, make_worker, put_on
from tests.support import expected_notifications, make_event

OFFICER = Recipient(agency_id="met-police-mispers", name="MISPER on-call officer", address="+447700900101")


async def test_triage_agent_rejects_garbage_then_opens_an_incident(worker: Worker, outputs: RecordingOutputs) -> None:
    topics = worker.config.settings.kafka.topics
    async with worker.triage_agent.test_context() as agent:
        await agent.put(b"not json", key=b"K1")
        await agent.put(json.dumps(make_event(now=NOW, child_reference="HAR-2026-0192")).encode(), key=b"HAR-2026-0192")
    [(key, rejected)] = outputs.sent[topics.rejected]
    assert key == "K1" and rejected["raw"] == "not json" and rejected["reasons"][0].startswith("(root): not JSON")
    [(_, opened)] = outputs.sent[topics.incidents]
    assert opened["change"] == "opened"
    event = make_event(now=NOW, child_reference="HAR-2026-0192")
    expected = expected_notifications(event, worker.config, NOW)
    assert len(expected) >= 3
    assert {
        (n["recipient"]["agency_id"], n["channel"], n["recipient"]["address"]) for _, n in outputs.sent[topics.notifications]
    } == expected
    assert len(outputs.sent[topics.notifications]) == len(expected)
    assert worker.open_incidents["HAR-2026-0192"] is not None


async def test_deliver_agent_sends_once_per_idempotency_key(worker: Worker, outputs: RecordingOutputs) -> None:
    topics = worker.config.settings.kafka.topics
    async with worker.triage_agent.test_context() as agent:
        await agent.put(json.dumps(make_event(now=NOW, child_reference="HAR-2026-0192")).encode(), key=b"HAR-2026-0192")
    notes = [json.dumps(n).encode() for _, n in outputs.sent[topics.notifications]]
    async with worker.deliver_agent.test_context() as agent:
        for raw in notes + notes:  # every notification twice, as after a replay
            await agent.put(raw, key=json.loads(raw)["idempotency_key"].encode())
        await drained(worker)
    accepted = [r for _, r in outputs.sent[topics.deliveries] if r["state"] == "accepted"]
    assert len(accepted) == len(notes)
    assert len({r["idempotency_key"] for r in accepted}) == len(notes)
    intents = [r for _, r in outputs.sent[topics.deliveries] if r["state"] == "intent"]
    assert len(intents) == len(notes), "an intent is recorded before each send, and none for the duplicates"
    key = accepted[0]["idempotency_key"]
    assert worker.ledger[key].state == "accepted"


async def test_a_send_the_deliveries_topic_knows_is_not_repeated_when_the_ledger_lost_it(
    worker: Worker, outputs: RecordingOutputs
) -> None:
    """After a SIGKILL the ledger's changelog may lack its last records; the deliveries topic (read
    whole by the directory, its writes awaited) still says the notification was accepted."""
    topics = worker.config.settings.kafka.topics
    async with worker.triage_agent.test_context() as agent:
        await agent.put(json.dumps(make_event(now=NOW, child_reference="HAR-2026-0192")).encode(), key=b"HAR-2026-0192")
    notes = [Notification.model_validate_json(json.dumps(n)) for _, n in outputs.sent[topics.notifications]]
    done, pending = notes[0], notes[1:]
    for state in ("intent", "accepted"):
        worker.directory.apply_delivery(
            DeliveryRecord(
                idempotency_key=done.idempotency_key,
                incident_id=done.incident_id,
                channel=done.channel,
                kind=done.kind,
                state=state,
                at=NOW,
                attempts=1,
            )
        )
    async with worker.deliver_agent.test_context() as agent:
        for note in notes:
            await agent.put(note.model_dump_json().encode(), key=note.idempotency_key.encode())
        await drained(worker)
    intents = {r["idempotency_key"] for _, r in outputs.sent[topics.deliveries] if r["state"] == "intent"}
    assert intents == {n.idempotency_key for n in pending}, "sent once already: not sent again"


async def test_the_ledger_takes_the_newer_of_its_own_step_and_the_deliveries_topics(
    worker: Worker, outputs: RecordingOutputs
) -> None:
    """No ledger table: this worker's steps are held in memory and the directory (the deliveries topic
    read whole) knows the rest. A lagging read-back of an older step must not make a sent notification
    look unsent; a step written later elsewhere (after a rebalance) wins over this worker's own."""
    topics = worker.config.settings.kafka.topics
    async with worker.triage_agent.test_context() as agent:
        await agent.put(json.dumps(make_event(now=NOW, child_reference="HAR-2026-0192")).encode(), key=b"HAR-2026-0192")
    raw = [json.dumps(n).encode() for _, n in outputs.sent[topics.notifications]]
    async with worker.deliver_agent.test_context() as agent:
        for note in raw:
            await agent.put(note, key=json.loads(note)["idempotency_key"].encode())
        await drained(worker)
        own = [
            DeliveryRecord.model_validate_json(json.dumps(r))
            for _, r in outputs.sent[topics.deliveries]
            if r["state"] == "intent"
        ]
        for step in own:  # the directory reads this worker's intents back after it accepted them
            worker.directory.apply_delivery(step)
        for note in raw:
            await agent.put(note, key=json.loads(note)["idempotency_key"].encode())
        await drained(worker)
    intents = [r for _, r in outputs.sent[topics.deliveries] if r["state"] == "intent"]
    assert len(intents) == len(raw), "accepted here, an older intent read back later does not send again"
    later = own[0].model_copy(update={"state": "failed", "at": worker.clock() + timedelta(seconds=1), "retryable": False})
    worker.directory.apply_delivery(later)
    assert worker.deliverer is not None
    assert worker.deliverer.ledger.entry(later.incident_id, later.idempotency_key) == later


async def test_bad_records_are_dead_lettered_and_each_agent_goes_on(worker: Worker, outputs: RecordingOutputs) -> None:
    topics = worker.config.settings.kafka.topics
    async with worker.deliver_agent.test_context() as agent:
        await agent.put(b"\xff\xfe", key=b"k")
        await agent.put(b'{"idempotency_key": 1}', key=b"k")
        await agent.put(b"[" * 5000, key=b"k")
        await drained(worker)
    letters = [letter for _, letter in outputs.sent[topics.dead_letters]]
    assert [(x["stage"], x["reason_class"]) for x in letters] == [
        ("deliver", "not_json"),
        ("deliver", "schema"),
        ("deliver", "not_json"),
    ]
    async with worker.triage_agent.test_context() as agent:
        await agent.put(json.dumps(make_event(now=NOW, child_reference="HAR-2026-0192")).encode(), key=b"HAR-2026-0192")
    notes = outputs.sent[topics.notifications]
    async with worker.deliver_agent.test_context() as agent:
        await agent.put(b"garbage", key=b"k")
        for _, note in notes:
            await agent.put(json.dumps(note).encode(), key=note["idempotency_key"].encode())
        await drained(worker)
    accepted = [r for _, r in outputs.sent[topics.deliveries] if r["state"] == "accepted"]
    assert len(accepted) == len(notes) and len(outputs.sent[topics.dead_letters]) == 4


async def test_a_report_that_fails_after_intake_fails_open(
    worker: Worker, outputs: RecordingOutputs, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise OverflowError("date value out of range")

    monkeypatch.setattr("streams.pipeline.owner.triage", broken)
    topics = worker.config.settings.kafka.topics
    event = make_event(now=NOW, child_reference="HAR-2026-0192")
    async with worker.triage_agent.test_context() as agent:
        await agent.put(json.dumps(event).encode(), key=b"HAR-2026-0192")
    [(_, opened)] = outputs.sent[topics.incidents]
    assert opened["change"] == "opened" and opened["incident"]["priority"] == "high"
    told = {(n["recipient"]["agency_id"], n["kind"]) for _, n in outputs.sent[topics.notifications]}
    assert told == {("harrow-edt", "manual_check"), ("met-police-mispers", "manual_check")}
    [(_, letter)] = outputs.sent[topics.dead_letters]
    assert (letter["stage"], letter["reason_class"], letter["exception"]) == ("triage", "processing", "OverflowError")
    assert worker.open_incidents["HAR-2026-0192"] is not None  # acknowledgement, escalation and return apply


async def test_a_child_waiting_on_the_register_holds_up_no_other_childs_alert_and_keeps_its_own_order(
    outputs: RecordingOutputs, senders: dict[str, RecordingSender], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Triage handles one child's records in order and different children's at once (streams/pipeline/
    keyed.py). The slow child's second report waits in the event-id register check until the other
    child's alert is out; the acknowledgement read after that report is applied after it; each record
    is acknowledged only once handled."""
    worker = make_worker(outputs, senders, triage_concurrency=8)
    topics = worker.config.settings.kafka.topics
    slow, fast = "HAR-2026-0192", "HAR-2026-0777"
    assert worker.owner is not None and worker.triage is not None
    owner, published = worker.owner, list[tuple[str, str]]()  # (child, change) in the order the owner wrote them
    fast_out, checking = asyncio.Event(), asyncio.Event()
    slow_update = make_event(now=NOW, child_reference=slow, type="update")
    events: dict[str, Any] = {}
    original_outcome, original_check = owner.publish.outcome, owner.event_ids.check

    async def outcome(result: Any) -> None:
        await original_outcome(result)
        published.extend((r.incident.child_reference, r.change) for r in result.records)
        if any(r.incident.child_reference == fast for r in result.records):
            fast_out.set()

    async def check(sender: str, event: Any, timeout_s: float | None = None) -> Any:
        if event.event_id == slow_update["event_id"]:
            checking.set()
            # A guard against hanging, not a timing: held until the other child's alert is out.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(fast_out.wait(), 60)
            events["slow acked while waiting"] = events["slow update"].message.acked
        return await original_check(sender, event, timeout_s)

    monkeypatch.setattr(owner.publish, "outcome", outcome)
    monkeypatch.setattr(owner.event_ids, "check", check)
    async with worker.triage_agent.test_context() as agent:
        await agent.put(json.dumps(make_event(now=NOW, child_reference=slow)).encode(), key=slow.encode())
        await worker.triage.drained()
        incident = json.loads(worker.open_incidents[slow])
        ack = Acknowledge(
            incident_id=incident["incident_id"], child_reference=slow, at=NOW, by=OFFICER, via="sms"
        ).model_dump_json()
        events["slow update"] = await agent.put(json.dumps(slow_update).encode(), key=slow.encode())
        await checking.wait()
        await put_on(agent, topics.incident_commands, ack.encode(), slow.encode())
        events["fast"] = await agent.put(json.dumps(make_event(now=NOW, child_reference=fast)).encode(), key=fast.encode())
        await worker.triage.drained()
    assert published == [(slow, "opened"), (fast, "opened"), (slow, "updated"), (slow, "acknowledged")]
    assert events["slow acked while waiting"] is False, "acknowledged before it was handled"
    assert events["slow update"].message.acked and events["fast"].message.acked
    assert outputs.sent[topics.dead_letters] == []
