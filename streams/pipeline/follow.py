"""Follow whole topics into memory: every partition, from the beginning, no consumer group.

Each worker needs the whole picture (all profiles, all incidents), not its share of partitions.
`ready` is set once the records that existed at start have been applied. Each record is applied
inside the follower's stage guard (streams/pipeline/stage.py): a bad one is quarantined, the rest applied.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from alerts.config import Config
from streams.pipeline.connection import aiokafka_kwargs
from streams.pipeline.stage import Record, Stage

log = logging.getLogger("crucial.follow")


class Follower:
    def __init__(
        self, config: Config, topics: list[str], apply: Callable[[ConsumerRecord[bytes, bytes]], None], what: str, guard: Stage
    ) -> None:
        self.config, self.topics, self.apply, self.what, self.guard = config, topics, apply, what, guard
        self.on_ready: Callable[[], None] | None = None  # called once, just before `ready` is set
        self.ready = asyncio.Event()

    async def run(self) -> None:
        # Without a group, aiokafka assigns every partition of the subscribed topics to this consumer.
        consumer = AIOKafkaConsumer(
            *self.topics, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest", **aiokafka_kwargs(self.config)
        )
        await consumer.start()
        try:
            await self.prepare(consumer)
            end: dict[TopicPartition, int] = {}
            while True:
                if not self.ready.is_set():
                    end = end or await self._end_offsets(consumer)
                    if end and all([await consumer.position(tp) >= offset for tp, offset in end.items()]):
                        log.info("%s ready", self.what)
                        if self.on_ready is not None:
                            self.on_ready()
                        self.ready.set()
                batches = await consumer.getmany(timeout_ms=200)
                for records in batches.values():
                    for record in records:
                        await self.guard.handle(Record.of(record), self._applier(record))
                        self.handled(record)
                await self.between_batches()
        finally:
            await consumer.stop()

    async def prepare(self, consumer: AIOKafkaConsumer) -> None:
        """Before the first fetch, with every partition assigned: where to start (from the beginning)."""

    def handled(self, record: ConsumerRecord[bytes, bytes]) -> None:
        """After each record is applied or quarantined."""

    async def between_batches(self) -> None:
        """After each fetch (records or none): nothing is being applied while this runs."""

    def _applier(self, record: ConsumerRecord[bytes, bytes]) -> Callable[[Record], None]:
        return lambda _: self.apply(record)

    async def _end_offsets(self, consumer: AIOKafkaConsumer) -> dict[TopicPartition, int]:
        assigned = consumer.assignment()
        if {tp.topic for tp in assigned} != set(self.topics):
            return {}
        return dict(await consumer.end_offsets(list(assigned)))
