"""A triage-only and a deliver-only worker (streams/pipeline/roles.py), their agents with Faust's
test_context: triage stamps each notification with its report's time, and the deliver-only worker
reads triage's lag from that stamp (it has no triage of its own to watch)."""

from __future__ import annotations

import json

import pytest

from streams.pipeline.pressure import BEHIND_S, REPORT_AT
from tests.agents.conftest import NOW, RecordingOutputs, RecordingSender, drained, make_worker
from tests.support import make_event

REPORT_WRITTEN = 1_800_000_000.25  # the report's Kafka timestamp (epoch seconds)


async def test_triage_stamps_every_notification_of_a_report_with_the_reports_time(
    outputs: RecordingOutputs, senders: dict[str, RecordingSender]
) -> None:
    worker = make_worker(outputs, senders, role="triage")
    topics = worker.config.settings.kafka.topics
    event = make_event(now=NOW, child_reference="HAR-2026-0192")
    async with worker.triage_agent.test_context() as agent:
        await agent.put(json.dumps(event).encode(), key=b"HAR-2026-0192", timestamp=REPORT_WRITTEN)
    assert len(outputs.sent[topics.notifications]) >= 3
    stamps = [dict(headers).get(REPORT_AT) for headers in outputs.headers[topics.notifications]]
    assert stamps == [f"{REPORT_WRITTEN:.3f}".encode()] * len(stamps)
    assert all(REPORT_AT not in dict(headers) for headers in outputs.headers[topics.incidents])
    assert senders["sms"].sent == [] and senders["email"].sent == [], "a triage worker sends nothing"


async def test_a_deliver_worker_learns_triages_lag_from_the_stamp_and_still_sends_each_notification_once(
    outputs: RecordingOutputs, senders: dict[str, RecordingSender]
) -> None:
    notes_out = RecordingOutputs()
    triage = make_worker(notes_out, {}, role="triage")
    topics = triage.config.settings.kafka.topics
    async with triage.triage_agent.test_context() as agent:
        event = make_event(now=NOW, child_reference="HAR-2026-0192")
        await agent.put(json.dumps(event).encode(), key=b"HAR-2026-0192", timestamp=REPORT_WRITTEN)
    notes = [
        (json.dumps(n).encode(), headers)
        for (_, n), headers in zip(notes_out.sent[topics.notifications], notes_out.headers[topics.notifications], strict=True)
    ]

    worker = make_worker(outputs, senders, role="deliver")
    written = REPORT_WRITTEN + BEHIND_S * 6  # triage wrote them long after the report
    async with worker.deliver_agent.test_context() as agent:
        for raw, headers in notes + notes:  # each twice, as after a replay
            await agent.put(raw, key=json.loads(raw)["idempotency_key"].encode(), timestamp=written, headers=headers)
        assert worker.triage_lag.lag_s == pytest.approx(BEHIND_S * 6)
        await drained(worker)
    accepted = [r for _, r in outputs.sent[topics.deliveries] if r["state"] == "accepted"]
    assert sorted(r["idempotency_key"] for r in accepted) == sorted(json.loads(raw)["idempotency_key"] for raw, _ in notes)
