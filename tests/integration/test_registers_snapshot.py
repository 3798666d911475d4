"""A worker restarted after a clean stop loads the shared registers (event ids, request signatures)
from the snapshot it wrote, instead of reading the event ids' whole history: an event id sent before
the restart with another body is still a 409 with the reference it was given, and a signed request
seen before is still a replay. Synthetic reports only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alerts.triage import incident_ids
from tests.ingest_support import post_event, prepare_ingest_worker, signed_headers
from tests.support import make_event

pytestmark = pytest.mark.integration


def test_a_restarted_worker_loads_its_registers_and_still_refuses_a_changed_body_and_a_replay(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    worker = prepare_ingest_worker(tmp_path, kafka_bootstrap)
    try:
        worker.start()
        assert worker.metric("crucial_feed_snapshot_total", feed="shared registers", outcome="ignored", reason="missing") == 1
        event = make_event(child_reference="HAR-REG-0001")
        assert post_event(worker.port, event).status == 202
        signed = json.dumps(make_event(child_reference="HAR-REG-0002")).encode()
        headers = signed_headers(signed)
        assert post_event(worker.port, signed, key=None, headers=headers).status == 202

        worker.stop()  # SIGTERM: a clean stop, which writes the registers' snapshot
        data = worker.config.path(worker.config.settings.data_dir)
        assert list(data.glob("registers.*.snapshot"))
        worker.start()
        assert worker.metric("crucial_feed_snapshot_total", feed="shared registers", outcome="loaded", reason="") == 1
        assert "shared registers loaded from its snapshot" in worker.log_tail(400)

        changed = json.loads(json.dumps(event))
        changed["child"]["reference"] = "HAR-REG-0003"  # the same event id for another child
        conflict = post_event(worker.port, changed)
        assert conflict.status == 409, conflict.body
        assert conflict.json()["reference"] == incident_ids(event["event_id"], "larchwood-care")[1]
        replayed = post_event(worker.port, signed, key=None, headers=headers)
        assert replayed.status == 401 and replayed.json()["reasons"] == ["(auth): replayed signature"]
    finally:
        worker.close()
