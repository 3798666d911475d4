"""A worker restarted after a clean stop loads its profile index snapshot, reads the profile changes
made while it was down, and is ready only with them in the index; a profiled child reported after
the restart is matched as before. Synthetic profiles only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kafka import KafkaProducer

from streams.pipeline.profile_snapshot import snapshot_path
from tests.integration.worker import prepare_worker
from tests.support import make_event, sample_profiles

pytestmark = pytest.mark.e2e
HO = [{"scheme": "home_office", "value": "HO-S1234567"}]  # the sample profile's: a match


def test_a_restarted_worker_loads_its_snapshot_and_the_changes_made_while_it_was_down(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    worker = prepare_worker(tmp_path, kafka_bootstrap)
    profiles = sample_profiles()
    try:
        worker.start()
        assert worker.metric("crucial_profile_snapshot_total", outcome="ignored", reason="missing") == 1
        worker.stop()  # SIGTERM: a clean stop
        assert snapshot_path(worker.config).exists()
        added = profiles[1] | {"profile_id": "RP-SNAP-E2E-1"}  # the same child filed again under a new id
        producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
        topic = worker.topics.profiles
        producer.send(topic, key=added["profile_id"].encode(), value=json.dumps(added).encode())
        producer.send(topic, key=profiles[1]["profile_id"].encode(), value=None)  # ... and the old one deleted
        producer.flush()
        producer.close()

        worker.start()
        assert worker.metric("crucial_profile_snapshot_total", outcome="loaded", reason="") == 1
        # /ready answered 200: the index already holds what the topic held when the worker started.
        assert worker.metric("crucial_profile_index_profiles") == len(profiles)  # one added, one deleted
        assert worker.metric("crucial_profile_changes_total", outcome="upserted") == 1
        assert worker.metric("crucial_profile_changes_total", outcome="removed") == 1
        assert "profile index loaded from its snapshot" in worker.log_tail(400)

        worker.emit(make_event(event_id="evt-snap-1", child_reference="HAR-SNAP-0001", identifiers=HO))
        incidents = worker.read(
            worker.topics.incidents, lambda rs: any(r["incident"]["child_reference"] == "HAR-SNAP-0001" for r in rs)
        )
        opened = [r for r in incidents if r["incident"]["child_reference"] == "HAR-SNAP-0001"]
        assert opened[0]["incident"]["match"]["decision"] == "match"
    finally:
        worker.close()
