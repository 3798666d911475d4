"""The local three-node cluster (streams/pipeline/broker.py LocalCluster): the project's topics on it are
replicated three ways with min.insync.replicas 2, and an acknowledged write survives the SIGKILL of
its partition's leader."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

from alerts.config import load_config
from streams.cli.main import main
from streams.pipeline.broker import LocalCluster
from streams.pipeline.connection import ensure_topics
from tests.support import unique_topics, write_config

pytestmark = pytest.mark.integration


def test_project_topics_get_the_configured_replication_and_min_insync(kafka_cluster: LocalCluster, tmp_path: Path) -> None:
    topics = unique_topics(f"cl{uuid.uuid4().hex[:6]}")
    config = load_config(
        write_config(
            tmp_path / "config",
            kafka={"bootstrap": kafka_cluster.bootstrap, "replication_factor": 3, "min_insync_replicas": 2, "topics": topics},
        )
    )
    created = ensure_topics(config)
    assert topics["placement_events"] in created
    kafka_cluster.wait_in_sync()  # every node has the new topics' metadata
    replicas = [len(p["replica_nodes"]) for p in kafka_cluster.partitions([topics["placement_events"]])]
    assert replicas == [3] * config.settings.kafka.partitions
    assert topic_config(kafka_cluster, topics["placement_events"], "min.insync.replicas") == "2"


def topic_config(cluster: LocalCluster, topic: str, name: str, timeout_s: float = 30.0) -> str | None:
    """A topic's effective setting; asked again while the answering node does not know the topic yet."""
    admin = KafkaAdminClient(bootstrap_servers=cluster.bootstrap.split(","))
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)], config_filter="All")
            entry = described.get("topic", {}).get(topic, {}).get(name)
            if entry is not None or time.monotonic() > deadline:
                return entry["value"] if entry else None
            time.sleep(0.3)
    finally:
        admin.close()


def test_an_acknowledged_write_survives_the_leaders_sigkill(kafka_cluster: LocalCluster) -> None:
    topic = f"cl-leader-{uuid.uuid4().hex[:6]}"
    admin = KafkaAdminClient(bootstrap_servers=kafka_cluster.bootstrap.split(","))
    try:
        from kafka.admin import NewTopic

        admin.create_topics([NewTopic(topic, 1, 3)])
    finally:
        admin.close()
    kafka_cluster.wait_in_sync()
    producer = KafkaProducer(bootstrap_servers=kafka_cluster.bootstrap.split(","), acks="all", enable_idempotence=True)
    try:
        before = [producer.send(topic, key=b"k", value=f"before-{i}".encode()) for i in range(20)]
        for future in before:
            future.get(timeout=60)
        leader = kafka_cluster.leader(topic)
        assert kafka_cluster.node(leader).kill()
        after = [producer.send(topic, key=b"k", value=f"after-{i}".encode()) for i in range(20)]
        for future in after:
            future.get(timeout=120)
        assert kafka_cluster.leader(topic) != leader
    finally:
        producer.close()
        kafka_cluster.start()  # the killed node rejoins for the next test
    kafka_cluster.wait_in_sync()
    consumer = KafkaConsumer(bootstrap_servers=kafka_cluster.bootstrap.split(","), group_id=None, enable_auto_commit=False)
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        values: list[str] = []
        while len(values) < 40:
            batch = consumer.poll(timeout_ms=30_000)
            assert batch, f"only {len(values)} of 40 records came back"
            values += [r.value.decode() for records in batch.values() for r in records]
    finally:
        consumer.close()
    assert values == [f"before-{i}" for i in range(20)] + [f"after-{i}" for i in range(20)]


def test_the_cli_reports_each_node(kafka_cluster: LocalCluster, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["dev", "cluster", "status", "--port", str(kafka_cluster.port), "--state-dir", str(kafka_cluster.state_dir)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert [line.split(":")[0] for line in out.splitlines()] == [f"node {n} at 127.0.0.1" for n in (1, 2, 3)]
    assert out.count("registered") == 3
