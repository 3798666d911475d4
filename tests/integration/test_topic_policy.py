"""Retention and durability as policy, read back from the real broker (streams/pipeline/connection.py)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic

from alerts.config import Config, load_config
from streams.cli.main import main
from streams.pipeline.connection import DAY_MS, TopicPolicyError, ensure_topics, topic_policies
from tests.support import REPO, unique_topics, write_config

pytestmark = pytest.mark.integration


def fresh_config(base: Path, bootstrap: str, **kafka: Any) -> Config:
    prefix = f"r{uuid.uuid4().hex[:8]}"
    settings = {"bootstrap": bootstrap, "app_id": f"crucial-{prefix}", "partitions": 2, "topics": unique_topics(prefix), **kafka}
    return load_config(write_config(base / "config", kafka=settings))


def broker_view(bootstrap: str, topics: list[str]) -> dict[str, dict[str, str]]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, t) for t in topics], config_filter="all")
        configs = next(iter(described.values()))
        layout = {d["name"]: d for d in admin.describe_topics(topics)}
    finally:
        admin.close()
    view = {}
    for topic in topics:
        entry = {key: str(value["value"]) for key, value in configs[topic].items()}
        entry["replicas"] = str(min(len(p["replica_nodes"]) for p in layout[topic]["partitions"]))
        view[topic] = entry
    return view


def test_every_topic_is_created_with_the_policy_and_reads_back_so(kafka_bootstrap: str, tmp_path: Path) -> None:
    config = fresh_config(tmp_path, kafka_bootstrap)
    created = ensure_topics(config)
    policies = {p.name: p for p in topic_policies(config)}
    assert set(created) == set(policies) and len(policies) == 17
    view = broker_view(kafka_bootstrap, list(policies))
    topics = config.settings.kafka.topics
    for audit in (topics.incidents, topics.deliveries, topics.incident_commands, topics.delivery_status):
        assert (view[audit]["cleanup.policy"], view[audit]["retention.ms"]) == ("delete", "-1"), audit
    # The event-id register names incidents: kept as long as they are (the first record of a key wins,
    # so it is never compacted); a request signature only as long as a replay of it could be in time.
    assert (view[topics.event_ids]["cleanup.policy"], view[topics.event_ids]["retention.ms"]) == ("delete", "-1")
    assert view[topics.request_signatures]["retention.ms"] == str(DAY_MS)
    for state in (
        topics.profiles,
        topics.placements,
        topics.auth_state,
        f"{config.settings.kafka.app_id}-notifications-sent-changelog",
    ):
        assert (view[state]["cleanup.policy"], view[state]["retention.ms"]) == ("compact", "-1"), state
    assert view[topics.placement_events]["retention.ms"] == view[topics.notifications]["retention.ms"] == str(30 * DAY_MS)
    assert view[topics.rejected]["retention.ms"] == view[topics.dead_letters]["retention.ms"] == str(14 * DAY_MS)
    for topic, entry in view.items():
        assert entry["min.insync.replicas"] == "1" and entry["replicas"] == "1" and entry["retention.bytes"] == "-1", topic
    # A second start finds everything as the policy wants: nothing created, nothing refused.
    assert ensure_topics(config) == []


def test_an_audit_topic_with_seven_day_retention_is_refused_everywhere(kafka_bootstrap: str, tmp_path: Path) -> None:
    config = fresh_config(tmp_path, kafka_bootstrap)
    incidents = config.settings.kafka.topics.incidents
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:  # as the broker's defaults made it before this policy: seven days
        admin.create_topics([NewTopic(incidents, 2, 1, topic_configs={"retention.ms": str(7 * DAY_MS)})])
    finally:
        admin.close()
    with pytest.raises(TopicPolicyError) as refused:
        ensure_topics(config)
    problem = refused.value.problems[0]
    assert (problem.topic, problem.setting, problem.have, problem.want) == (incidents, "retention.ms", str(7 * DAY_MS), "-1")
    assert f"--entity-name {incidents} --add-config retention.ms=-1" in problem.fix
    # The worker refuses to start, naming the topic, the setting and the fix.
    worker = subprocess.run(
        [sys.executable, "-m", "streams.cli.main", "worker", "--config", str(config.directory)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert worker.returncode == 1
    assert f"topic {incidents}: retention.ms is {7 * DAY_MS}, policy -1 (can lose data)" in worker.stderr
    assert "kafka-configs.sh" in worker.stderr
    # check-config --kafka says the same, offline, and fails.
    assert main(["check-config", "--config", str(config.directory), "--kafka"]) == 1
    assert main(["check-config", "--config", str(config.directory)]) == 0


def test_min_insync_above_the_replicas_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(Exception, match=r"kafka.min_insync_replicas: exceeds kafka.replication_factor"):
        load_config(write_config(tmp_path / "config", kafka={"replication_factor": 1, "min_insync_replicas": 2}))


def test_a_longer_retention_on_a_raw_topic_is_reported_not_refused(kafka_bootstrap: str, tmp_path: Path) -> None:
    config = fresh_config(tmp_path, kafka_bootstrap)
    rejected = config.settings.kafka.topics.rejected
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        admin.create_topics([NewTopic(rejected, 2, 1, topic_configs={"retention.ms": str(365 * DAY_MS)})])
    finally:
        admin.close()
    ensure_topics(config)  # a privacy difference, not a loss: the worker starts (and warns)
    assert main(["check-config", "--config", str(config.directory), "--kafka"]) == 0


def test_retention_on_a_compacted_only_topic_loses_nothing(kafka_bootstrap: str, tmp_path: Path) -> None:
    config = fresh_config(tmp_path, kafka_bootstrap)
    profiles = config.settings.kafka.topics.profiles
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:  # compacted, with the broker's seven-day retention.ms, which compaction ignores
        admin.create_topics([NewTopic(profiles, 2, 1, topic_configs={"cleanup.policy": "compact"})])
    finally:
        admin.close()
    ensure_topics(config)
    assert main(["check-config", "--config", str(config.directory), "--kafka"]) == 0
    # ... but the same topic without compaction would lose profiles after seven days: refused.
    other = fresh_config(tmp_path / "other", kafka_bootstrap)
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        admin.create_topics([NewTopic(other.settings.kafka.topics.profiles, 2, 1)])
    finally:
        admin.close()
    with pytest.raises(TopicPolicyError) as refused:
        ensure_topics(other)
    assert {p.setting for p in refused.value.problems} == {"cleanup.policy", "retention.ms"}


def test_profile_tombstones_outlive_the_oldest_snapshot_a_worker_may_load(tmp_path: Path) -> None:
    from streams.pipeline.profile_snapshot import MAX_AGE_S

    config = load_config(write_config(tmp_path / "config"))
    profiles = next(p for p in topic_policies(config) if p.name == config.settings.kafka.topics.profiles)
    assert int(profiles.configs["delete.retention.ms"]) >= MAX_AGE_S * 1000
    assert all("delete.retention.ms" not in p.configs for p in topic_policies(config) if p.name != profiles.name)
