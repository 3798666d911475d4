"""When even the dead-letter write fails (the broker unreachable), a record's work is tried again in its
place (streams/pipeline/stage.py `until_done`) in both stages: the report is triaged and the SMS sent
once the broker takes writes again, each once, without a restart."""

from __future__ import annotations

import json

from prometheus_client import CollectorRegistry

from alerts.model import Notification
from streams.pipeline import metrics
from streams.pipeline.stage import Headers
from tests.agents.conftest import NOW, RecordingOutputs, RecordingSender, drained, make_worker
from tests.support import make_event

CHILD = "HAR-2026-0417"


class UnwritableFor(RecordingOutputs):
    """Refuses every write to `topics` while `refusals` lasts, counting each refusal down."""

    def __init__(self, topics: set[str], refusals: int) -> None:
        super().__init__()
        self.topics, self.refusals = topics, refusals

    async def emit(self, topic: str, key: str | None, value: bytes, headers: Headers = ()) -> None:
        if topic in self.topics and self.refusals > 0:
            self.refusals -= 1
            raise ConnectionError("the broker is unreachable")
        await super().emit(topic, key, value, headers)


def no_pause(failures: int) -> float:
    return 0.0


def failures(registry: CollectorRegistry, stage: str) -> float:
    return registry.get_sample_value("crucial_stage_work_failures_total", {"stage": stage}) or 0.0


async def test_a_report_whose_writes_and_dead_letter_fail_is_triaged_once_the_broker_is_back() -> None:
    senders = {"sms": RecordingSender("sms"), "email": RecordingSender("email")}
    probe = make_worker(RecordingOutputs(), senders)  # only for the topic names
    names = probe.config.settings.kafka.topics
    # The incident records, the fail-open step's records and the dead letter: all refused, twice over.
    outputs = UnwritableFor({names.incidents, names.dead_letters}, refusals=6)
    worker = make_worker(outputs, senders)
    assert worker.triage is not None
    worker.triage.backoff = no_pause
    registry = CollectorRegistry()
    registry.register(metrics.STAGE_WORK_FAILURES)
    before = failures(registry, "triage")
    async with worker.triage_agent.test_context() as agent:
        await agent.put(json.dumps(make_event(now=NOW, child_reference=CHILD)).encode(), key=CHILD.encode())
        await worker.triage.drained()
    assert outputs.refusals == 0
    assert failures(registry, "triage") - before >= 2
    opened = [r for _, r in outputs.sent[names.incidents] if r["change"] == "opened"]
    assert len(opened) == 1, "one incident, opened once the writes went through"
    assert outputs.sent[names.notifications], "its notifications were written"
    assert not outputs.sent[names.dead_letters], "nothing was the record's fault"


async def test_a_notification_whose_ledger_and_dead_letter_writes_fail_is_sent_once_the_broker_is_back() -> None:
    senders = {"sms": RecordingSender("sms"), "email": RecordingSender("email")}
    triaged = make_worker(RecordingOutputs(), senders)
    names = triaged.config.settings.kafka.topics
    async with triaged.triage_agent.test_context() as agent:
        await agent.put(json.dumps(make_event(now=NOW, child_reference=CHILD)).encode(), key=CHILD.encode())
    assert isinstance(triaged.outputs, RecordingOutputs)
    sent = triaged.outputs.sent[names.notifications]
    note = next(n for n in (Notification.model_validate_json(json.dumps(v)) for _, v in sent) if n.channel == "sms")

    outputs = UnwritableFor({names.deliveries, names.dead_letters}, refusals=4)
    worker = make_worker(outputs, {"sms": RecordingSender("sms"), "email": RecordingSender("email")})
    assert worker.deliverer is not None
    worker.deliverer.lanes.backoff = no_pause
    registry = CollectorRegistry()
    registry.register(metrics.STAGE_WORK_FAILURES)
    before = failures(registry, "deliver")
    async with worker.deliver_agent.test_context() as agent:
        await agent.put(note.model_dump_json().encode(), key=note.idempotency_key.encode())
        await drained(worker)
    assert outputs.refusals == 0
    assert failures(registry, "deliver") - before == 2
    sms = worker.deliverer.senders["sms"]
    assert isinstance(sms, RecordingSender)
    assert [n.idempotency_key for n in sms.sent] == [note.idempotency_key], "sent once"
    states = [r["state"] for k, r in outputs.sent[names.deliveries] if k == note.idempotency_key]
    assert states == ["intent", "accepted"]
    assert not outputs.sent[names.dead_letters]
