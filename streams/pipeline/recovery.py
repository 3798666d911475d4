"""Three fixes to faust-streaming 0.15.3, which lost placement reports when a worker restarted under
load or took over a dead worker's partitions.

1. After recovery faust resumed the stream partitions, then awaited the seek to the committed offsets,
   then cleared every agent's queue (`flow_control.resume()`). The fetcher was already running, so
   records fetched during the seek were queued, then cleared; the position was past them and nothing
   acked them: never fetched again, the partition's commits frozen (or a later gap committed over them).
   Here the partitions stay paused through the seek and the clearing, and are resumed last.
2. The consumer thread was handed the live set of active partitions. Recovery empties it (pausing the
   changelogs) while a fetch is pending, and aiokafka reads an empty set as "every partition": it
   returned every buffered record, faust dropped them as not active, the positions moved past them.
   Here the thread gets a copy, and no fetch when nothing is active.
3. Faust drops a fetched batch whose partition is no longer active or that arrives while the flow is
   stopped (a rebalance under way), and the position stays past it. It seeks stream partitions back
   to their commits after a rebalance, but never a changelog it is restoring: when a batch fetched
   just after recovery's seek came back before the partitions were resumed, the restore waited for
   records that had already gone by, the worker never became ready, and every report after it waited
   (a survivor taking over a SIGKILLed worker's partitions stalled so, about one run in ten). Here a
   batch faust would drop is fetched again, unless something has moved the partition since.

And one setting faust fixes: its consumer waits up to 1,500 ms per fetch. aiokafka sends one fetch at
a time to a broker, leaving out partitions whose records are still being processed; those wait for
the pending fetch to return, which on a quiet topic takes the whole wait. On one broker that held
reports and notifications back by up to 1.5 s under load (p99 report → SMS 2,980 ms at 1,500 ms,
292 ms at 50 ms: docs/performance.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import aiokafka
from faust.tables import TableManager
from faust.tables.recovery import Recovery
from faust.transport.consumer import RecordMap
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread, Consumer
from faust.types import TP

log = logging.getLogger("crucial.recovery")


class SeekThenResumeRecovery(Recovery):
    async def on_recovery_completed(self, generation_id: int = 0) -> None:
        app: Any = self.app
        consumer = app.consumer
        self.log.info("Restore complete!")
        await app.on_rebalance_complete.send()
        self._set_recovery_ended()
        callbacks = [
            asyncio.ensure_future(table.on_recovery_completed(self.actives_for_table[table], self.standbys_for_table[table]))
            for table in self.tables.values()
        ]
        if callbacks:
            await asyncio.wait(callbacks)
        assignment = consumer.assignment()
        if app.consumer_generation_id != generation_id:
            self.log.warning(f"Recovery rebalancing again app id {app.consumer_generation_id} param {generation_id}")
            return
        if assignment:
            self.log.info("Seek stream partitions to committed offsets.")
            await self._wait(consumer.perform_seek(), timeout=app.conf.broker_request_timeout)
        self.completed.set()
        # Clears the agents' queues: nothing fetched for a stream partition can be in them yet.
        app.flow_control.resume()
        consumer.resume_partitions({tp for tp in assignment if not self._is_changelog_tp(tp)})
        consumer.resume_flow()
        await app._fetcher.maybe_start()
        self.tables.on_actives_ready()
        if not app.assignor.assigned_standbys():
            self.tables.on_standbys_ready()
        app.on_rebalance_end()
        self.log.info("Worker ready")


class SeekThenResumeTableManager(TableManager):
    """Faust's table manager with the recovery above (the `TableManager` setting names it)."""

    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            self._recovery = SeekThenResumeRecovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery


class SnapshotConsumer(Consumer):
    """Faust's aiokafka consumer, fetching for a copy of the active partitions (fix 2), and fetching
    again what faust would drop unread (fix 3)."""

    _thread: FetchAgainThread

    def _new_consumer_thread(self) -> AIOKafkaConsumerThread:
        return FetchAgainThread(self, loop=self.loop, beacon=self.beacon)

    async def _getmany(self, active_partitions: set[TP] | None, timeout: float) -> Any:
        if active_partitions is not None:
            active_partitions = set(active_partitions)
            if not active_partitions:
                await asyncio.sleep(min(timeout, 0.1))
                return {}
        records = await super()._getmany(active_partitions, timeout)
        return await self._deliverable(records)

    async def _deliverable(self, records: RecordMap) -> RecordMap:
        """The records faust will hand to its streams; the rest are fetched again (fix 3). Faust keeps
        a fetched record only if the flow is on and its partition active (or buffered) when the fetch
        returns: its `getmany`, the code that runs next, without a pause between."""
        live = self._active_partitions
        if self.flow_active and (live is None or live.issuperset(records)):
            return records
        kept = {tp: batch for tp, batch in records.items() if self._deliverable_now(tp)}
        again = {tp: (batch[0].offset, batch[-1].offset) for tp, batch in records.items() if batch and tp not in kept}
        if again:
            await self._thread.fetch_again(again)
        return kept

    def _deliverable_now(self, tp: TP) -> bool:
        live = self._active_partitions
        return self.flow_active and (live is None or tp in live or tp in self._buffered_partitions)


class FetchAgainThread(AIOKafkaConsumerThread):
    """Faust's consumer thread, its fetch wait settable (faust fixes 1,500 ms), and able to move a
    partition back over records fetched and not delivered (fix 3)."""

    fetch_max_wait_ms = 1500  # faust's fixed value

    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = self.fetch_max_wait_ms  # read when the consumer starts its fetcher
        return consumer

    async def fetch_again(self, batches: Mapping[TP, tuple[int, int]]) -> None:
        """For each partition, its (first, last) offsets fetched and not delivered: fetched again."""
        await self.call_thread(rewind, self._ensure_consumer(), batches)


async def rewind(consumer: aiokafka.AIOKafkaConsumer, batches: Mapping[TP, tuple[int, int]]) -> None:
    """Seek each partition back to the first offset of its batch, if it is still assigned and nothing
    has moved it since the batch was fetched (a seek since, by recovery or a rebalance, stands)."""
    assigned = consumer.assignment()
    for tp, (first, last) in batches.items():
        if tp in assigned and await consumer.position(tp) == last + 1:
            consumer.seek(tp, first)
            log.info("records %d-%d of %s fetched and not delivered: fetched again", first, last, tp)


def consumer_class(fetch_max_wait_ms: int) -> type[SnapshotConsumer]:
    """SnapshotConsumer whose fetches wait at most `fetch_max_wait_ms` (settings.kafka.fetch_max_wait_ms)."""

    class TunedConsumer(SnapshotConsumer):
        def _new_consumer_thread(self) -> AIOKafkaConsumerThread:
            thread = FetchAgainThread(self, loop=self.loop, beacon=self.beacon)
            thread.fetch_max_wait_ms = fetch_max_wait_ms
            return thread

    return TunedConsumer
