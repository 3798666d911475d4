"""Fetching again what faust would drop (streams/pipeline/recovery.py, fix 3), on a real broker: the
partition goes back to the batch's first offset and its records come again, unless something moved
the partition after the batch was fetched (recovery's own seek stands)."""

from __future__ import annotations

import asyncio
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from streams.pipeline.recovery import rewind

PATIENCE_S = 30.0  # how long a test waits for the broker before it fails (patience, not a timing claim)


async def _topic_of(bootstrap: str, count: int) -> TopicPartition:
    name = f"rewind-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])
    finally:
        admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for i in range(count):
            await producer.send_and_wait(name, f"record {i}".encode(), partition=0)
    finally:
        await producer.stop()
    return TopicPartition(name, 0)


async def _fetch(consumer: AIOKafkaConsumer, tp: TopicPartition, count: int) -> list[int]:
    offsets: list[int] = []
    async with asyncio.timeout(PATIENCE_S):
        while len(offsets) < count:
            batch = await consumer.getmany(tp, timeout_ms=500)
            offsets += [r.offset for r in batch.get(tp, [])]
    return offsets


async def test_a_batch_not_delivered_is_fetched_again_and_a_later_seek_stands(kafka_bootstrap: str) -> None:
    tp = await _topic_of(kafka_bootstrap, 5)
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        consumer.assign([tp])
        assert await _fetch(consumer, tp, 5) == [0, 1, 2, 3, 4]
        assert await consumer.position(tp) == 5

        await rewind(consumer, {tp: (0, 4)})
        assert await consumer.position(tp) == 0
        assert await _fetch(consumer, tp, 5) == [0, 1, 2, 3, 4]

        consumer.seek(tp, 2)  # as recovery seeks a changelog after the batch came back
        await rewind(consumer, {tp: (0, 4)})
        assert await consumer.position(tp) == 2
        assert await _fetch(consumer, tp, 3) == [2, 3, 4]

        await rewind(consumer, {TopicPartition(tp.topic, 7): (0, 4)})  # not assigned (revoked): left alone
        assert await consumer.position(tp) == 5
    finally:
        await consumer.stop()
