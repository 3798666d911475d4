"""The agents tier's worker: no broker; outputs and channels recorded in memory."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from alerts.channels.base import Accepted, DeliveryError
from alerts.config import load_config
from alerts.intake import parse_profile
from alerts.model import Notification
from streams.pipeline.app import Worker, create_app
from streams.pipeline.stage import Headers
from tests.support import REPO, sample_profiles

NOW = datetime(2026, 11, 28, 23, 0, tzinfo=UTC)


class RecordingOutputs:
    def __init__(self) -> None:
        self.sent: dict[str, list[tuple[str | None, dict]]] = defaultdict(list)  # type: ignore[type-arg]
        self.headers: dict[str, list[list[tuple[str, bytes]]]] = defaultdict(list)

    async def emit(self, topic: str, key: str | None, value: bytes, headers: Headers = ()) -> None:
        self.sent[topic].append((key, json.loads(value)))
        self.headers[topic].append(list(headers))


class RecordingSender:
    def __init__(self, name: str, fail_with: DeliveryError | None = None) -> None:
        self.name, self.fail_with, self.sent = name, fail_with, []  # type: ignore[var-annotated]

    async def send(self, notification: Notification) -> Accepted:
        if self.fail_with:
            raise self.fail_with
        self.sent.append(notification)
        return Accepted(provider_id=f"{self.name}-{len(self.sent)}")

    async def close(self) -> None:
        return None


@pytest.fixture
def outputs() -> RecordingOutputs:
    return RecordingOutputs()


@pytest.fixture
def senders() -> dict[str, RecordingSender]:
    return {"sms": RecordingSender("sms"), "email": RecordingSender("email")}


@pytest.fixture
def worker(outputs: RecordingOutputs, senders: dict[str, RecordingSender]) -> Iterator[Worker]:
    yield make_worker(outputs, senders)


def make_worker(
    outputs: RecordingOutputs, senders: dict[str, RecordingSender], triage_concurrency: int | None = None, role: str = "all"
) -> Worker:
    """The in-memory worker (of `role`), its profiles loaded; `triage_concurrency` overrides settings.yaml's."""
    config = load_config(REPO / "config")
    if triage_concurrency is not None:
        kafka = config.settings.kafka.model_copy(update={"triage_concurrency": triage_concurrency})
        config = config.model_copy(update={"settings": config.settings.model_copy(update={"kafka": kafka})})
    worker = create_app(config, clock=lambda: NOW, senders=senders, outputs=outputs, in_memory=True, role=role)  # type: ignore[arg-type]
    worker.app.conf.store = "memory://"  # type: ignore[assignment]  # faust reads a URL string here
    for profile in sample_profiles():
        worker.index.upsert(parse_profile(json.dumps(profile)))
    worker.feed.ready.set()
    worker.directory_feed.ready.set()
    return worker


async def put_on(agent: Any, topic: str, value: bytes, key: bytes) -> None:
    """Put one record on `agent` as if read from `topic` (a test agent names no topic of its own when
    it reads several)."""
    original = agent.to_message

    def on_topic(*args: Any, **kwargs: Any) -> Any:
        message = original(*args, **kwargs)
        message.topic = topic
        return message

    agent.to_message = on_topic
    try:
        await agent.put(value, key=key)
    finally:
        agent.to_message = original


async def drained(worker: Worker) -> None:
    """Until the deliverer's send workers have handled every record the deliver agent has read (its
    test `put` returns once the record is read and queued in its lane, not sent)."""
    assert worker.deliverer is not None
    await worker.deliverer.lanes.drained()
