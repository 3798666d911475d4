"""Follow whole topics into memory: every partition, from the beginning, no consumer group.

Each worker needs the whole picture (all profiles, all incidents), not its share of partitions.
`ready` is set once the records that existed at start have been applied. Each record is applied
inside the follower's stage guard (streams/pipeline/stage.py): a bad one is quarantined, the rest applied.

A follower may fetch in batches (`batch_ms`): the broker holds each fetch until enough has arrived or
batch_ms has passed, so what was written a moment ago may not be applied yet. `caught_up(timeout)`
is read-your-writes for its readers: it returns once everything written before the call is applied.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from alerts.config import Config
from streams.pipeline.connection import aiokafka_kwargs
from streams.pipeline.stage import Record, Stage

log = logging.getLogger("crucial.follow")
# A batched follower asks the broker to hold each fetch until this much has arrived or batch_ms has
# passed: one fetch per batch, not one per record or two.
BATCH_MIN_BYTES = 256 * 1024
Positions = dict[TopicPartition, int]


class Follower:
    def __init__(
        self, config: Config, topics: list[str], apply: Callable[[ConsumerRecord[bytes, bytes]], None], what: str, guard: Stage
    ) -> None:
        self.config, self.topics, self.apply, self.what, self.guard = config, topics, apply, what, guard
        self.on_ready: Callable[[], None] | None = None  # called once, just before `ready` is set
        # How long a record may wait for others to be fetched with it; None: fetched as soon as it is
        # there (the registers' follower, whose writers wait to read their claim back).
        self.batch_ms: int | None = None
        self.ready = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self._applying = False
        self._waiting: list[tuple[Positions, asyncio.Future[None]]] = []  # caught_up's targets

    async def run(self) -> None:
        # Without a group, aiokafka assigns every partition of the subscribed topics to this consumer.
        consumer = AIOKafkaConsumer(
            *self.topics,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **self.fetch_settings(),
            **aiokafka_kwargs(self.config),
        )
        await consumer.start()
        self._consumer = consumer
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
                self._applying = True  # positions are past these records already: not applied until the loop ends
                for records in batches.values():
                    for record in records:
                        await self.guard.handle(Record.of(record), self._applier(record))
                        self.handled(record)
                self._applying = False
                await self._release(consumer)
                await self.between_batches()
        finally:
            self._consumer = None
            await consumer.stop()

    def fetch_settings(self) -> dict[str, int]:
        """aiokafka's fetch settings for this follower (its defaults unless `batch_ms` is set)."""
        return {} if self.batch_ms is None else {"fetch_min_bytes": BATCH_MIN_BYTES, "fetch_max_wait_ms": self.batch_ms}

    async def caught_up(self, timeout_s: float) -> bool:
        """Wait until every record written to the followed topics before this call is applied: the
        topics' end offsets are asked now, then the follower must pass them. True once it has; False
        at once when the follower is not running (nothing will be applied), or after `timeout_s` (logged) —
        the caller then answers from what it has, as it would have without waiting."""
        consumer = self._consumer
        if consumer is None:
            return False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        try:
            await asyncio.wait_for(self.ready.wait(), timeout_s)  # still loading: first what existed at start
            end = await asyncio.wait_for(consumer.end_offsets(list(consumer.assignment())), deadline - loop.time())
        except (TimeoutError, KafkaError) as exc:
            log.warning("%s: not caught up (%s): answering from what is applied", self.what, type(exc).__name__)
            return False
        target = {tp: offset for tp, offset in end.items() if offset > 0}
        if not self._applying and await self._reached(consumer, target):
            return True
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiting.append((target, waiter))
        try:
            await asyncio.wait_for(asyncio.shield(waiter), max(0.0, deadline - loop.time()))
            return True
        except TimeoutError:
            log.warning("%s did not catch up within %.1f s: answering from what is applied", self.what, timeout_s)
            return False
        finally:
            if (target, waiter) in self._waiting:
                self._waiting.remove((target, waiter))

    async def _release(self, consumer: AIOKafkaConsumer) -> None:
        """After each fetch's records are applied: wake the caught_up callers whose targets are passed."""
        for target, waiter in list(self._waiting):
            if not waiter.done() and await self._reached(consumer, target):
                waiter.set_result(None)

    @staticmethod
    async def _reached(consumer: AIOKafkaConsumer, target: Positions) -> bool:
        # Outside `_applying`, the position is what is applied: a fetch's records are all applied before the next.
        return all([await consumer.position(tp) >= offset for tp, offset in target.items()])

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
