from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.pipeline.broker import LocalBroker, LocalCluster
from tests.support import REPO


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real broker: KAFKA_BOOTSTRAP when set, else a local KRaft broker for this session."""
    if bootstrap := os.environ.get("KAFKA_BOOTSTRAP"):
        yield bootstrap
        return
    port = int(os.environ.get("CRUCIAL_TEST_KAFKA_PORT", "19092"))
    broker = LocalBroker(state_dir=tmp_path_factory.mktemp("kafka"), port=port)
    took = broker.start()
    print(f"\nkafka broker started at {broker.bootstrap} in {took:.1f} s")
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def kafka_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """Three KRaft nodes of this session's own (replication 3, min.insync.replicas 2), for the tests
    that kill and restart brokers. Node n listens on CRUCIAL_TEST_CLUSTER_PORT + 2(n-1) (default 29192)."""
    port = int(os.environ.get("CRUCIAL_TEST_CLUSTER_PORT", "29192"))
    cluster = LocalCluster(state_dir=tmp_path_factory.mktemp("cluster"), port=port, size=3, heap="256m")
    took = cluster.start()
    print(f"\nkafka cluster started at {cluster.bootstrap} in {took:.1f} s")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def repo() -> Path:
    return REPO
