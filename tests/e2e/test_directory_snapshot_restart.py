"""A worker restarted after a clean stop loads its incident directory from the snapshot it wrote, reads
only what followed, and goes on from there: an officer alerted before the restart acknowledges after
it, and nothing alerted before is sent again. Synthetic reports only."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.pipeline.feed_snapshot import directory_snapshots
from tests.e2e.channels import Stack, channel_stack
from tests.support import expected_notifications, make_event, wait_for

pytestmark = pytest.mark.e2e
FLAGGED = [{"scheme": "home_office", "value": "HO-S1234567"}]  # the sample profile's: high risk, Harrow


@pytest.fixture
def stack(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Stack]:
    with channel_stack(tmp_path, kafka_bootstrap) as running:
        yield running


def test_a_restarted_worker_loads_its_directory_and_an_officer_alerted_before_acknowledges_after(stack: Stack) -> None:
    worker = stack.worker
    assert worker.metric("crucial_feed_snapshot_total", feed="incident directory", outcome="ignored", reason="missing") == 1
    event = make_event(child_reference=f"HAR-D-{uuid.uuid4().hex[:6]}", identifiers=FLAGGED)
    expected = expected_notifications(event, worker.config)
    officer = next(address for agency, channel, address in expected if channel == "sms" and agency == "met-police-mispers")
    worker.emit(event)
    records = worker.read(
        worker.topics.incidents, until=lambda rs: any(r["incident"]["event_id"] == event["event_id"] for r in rs)
    )
    incident = next(r["incident"] for r in records if r["incident"]["event_id"] == event["event_id"])
    reference = incident["reference"]
    wait_for("the officer's SMS", lambda: [r for r in stack.sms_for(reference) if r["form"]["To"] == officer])
    worker.handled_all(worker.stage_topics)
    sent_before = len(stack.sms_for(reference))

    worker.stop()  # SIGTERM: a clean stop, which writes the directory's snapshot
    assert directory_snapshots(worker.config).path.exists()
    worker.start()
    assert worker.metric("crucial_feed_snapshot_total", feed="incident directory", outcome="loaded", reason="") == 1
    assert "incident directory loaded from its snapshot" in worker.log_tail(400)
    # The worker's own account of the start names every part /ready waited for (streams/pipeline/startup.py).
    summary = wait_for(
        "the start-up summary", lambda: [ln for ln in worker.log_tail(400).splitlines() if "start-up: ready after" in ln]
    )
    for part in ("config checked", "profiles loaded", "directory loaded", "registers loaded", "partitions assigned"):
        assert f"{part} " in summary[-1], summary[-1]

    status, body = stack.reply_sms(officer, f"ACK {reference}")
    assert status == 200 and f"{reference} acknowledged" in body
    changes = worker.read(
        worker.topics.incidents,
        until=lambda rs: any(
            r["change"] == "acknowledged" and r["incident"]["incident_id"] == incident["incident_id"] for r in rs
        ),
    )
    acked = next(
        r["incident"]
        for r in changes
        if r["change"] == "acknowledged" and r["incident"]["incident_id"] == incident["incident_id"]
    )
    assert [(a["by"]["address"], a["via"]) for a in acked["acknowledgements"]] == [(officer, "sms")]
    worker.handled_all(worker.stage_topics)
    assert len(stack.sms_for(reference)) == sent_before  # nothing alerted before the restart is sent again
