from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.broker import LocalBroker
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


@pytest.fixture
def repo() -> Path:
    return REPO
