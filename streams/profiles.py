"""Keep the in-memory profile index current from the compacted profiles topic.

Every worker reads every partition (no consumer group): the index is global, not sharded. The
feed is `ready` once it has caught up with the end offsets seen at start, so no event is matched
against a half-loaded index.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition

from alerts.config import Config
from alerts.errors import RejectedInput
from alerts.intake import parse_profile
from alerts.matching import ProfileIndex
from streams.connection import aiokafka_kwargs
from streams.metrics import PROFILES

log = logging.getLogger("crucial.profiles")


def apply_profile_record(index: ProfileIndex, key: bytes | None, value: bytes | None) -> str:
    """Apply one record (a tombstone deletes); returns the outcome label."""
    if value is None:
        if key is not None:
            index.remove(key.decode("utf-8", "replace"))
        return "removed"
    try:
        profile = parse_profile(value)
    except RejectedInput as exc:
        log.error("profile record rejected (key %r): %s", key, exc)
        return "rejected"
    index.upsert(profile)
    return "upserted"


class ProfileFeed:
    def __init__(self, config: Config, index: ProfileIndex) -> None:
        self.config = config
        self.index = index
        self.ready = asyncio.Event()

    async def run(self) -> None:
        topic = self.config.settings.kafka.topics.profiles
        # No group: aiokafka then assigns every partition of the topic to this consumer.
        consumer = AIOKafkaConsumer(
            topic, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest", **aiokafka_kwargs(self.config)
        )
        await consumer.start()
        try:
            end: dict[TopicPartition, int] = {}
            while True:
                if not self.ready.is_set():
                    end = end or await self._end_offsets(consumer)
                    if end and all([await consumer.position(tp) >= offset for tp, offset in end.items()]):
                        log.info("profile index ready: %d profiles", len(self.index))
                        self.ready.set()
                batches = await consumer.getmany(timeout_ms=200)
                for records in batches.values():
                    for record in records:
                        PROFILES.labels(apply_profile_record(self.index, record.key, record.value)).inc()
        finally:
            await consumer.stop()

    @staticmethod
    async def _end_offsets(consumer: AIOKafkaConsumer) -> dict[TopicPartition, int]:
        assigned = consumer.assignment()
        return dict(await consumer.end_offsets(list(assigned))) if assigned else {}
