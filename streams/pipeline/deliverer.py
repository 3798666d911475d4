"""The deliverer: sends each notification once through its channel and keeps its ledger entry.

Notifications and the providers' status reports share a key (the idempotency key), so one agent
hands both to the deliverer. Before every provider call it records the intent, after it the
provider's id (accepted) or the failure, on the deliveries topic (awaited; the ledger keeps this
worker's steps in memory until the directory has read them back, and reads the rest from the
directory); a crash between the two may send twice, never lose. A notification whose provider reports
status is kept (the notifications-sent table) until its final status arrives. A send that failed for good, or a status report
that says the message never arrived, asks the incident's owner to fall back (a FallBack command).

Priority lanes (alerts/lanes.py): the agent's reader decodes each record and puts it on bounded
priority queues (`DeliveryLanes`); the send workers take the most urgent first, so the first alert of
a high-priority incident is never sent after the emails and updates waiting with it, and while
triage is behind no email or routine work is sent at all (streams/pipeline/pressure.py). A record is
acknowledged — its offset may be committed — only once it has been handled (its outcome on the
ledger) or quarantined; faust commits an offset only when every record before it is acknowledged,
so out-of-order sends keep at-least-once.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import weakref
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from faust import streams as faust_streams
from faust.types import EventT

from alerts.channels import CHANNELS, DeliveryError, Sender, send_with_retry
from alerts.channels.retry import RetryHooks
from alerts.directory import IncidentDirectory, IncidentView
from alerts.lanes import STATUS_RANK, Lane, Rank, lane_of, rank_of
from alerts.model import DeliveryRecord, DeliveryState, DeliveryStatus, FallBack, IncidentCommand, Notification
from streams.pipeline import metrics
from streams.pipeline.stage import Backoff, Emit, Record, Stage, doubling, until_done

log = logging.getLogger("crucial.stream")
Clock = Callable[[], datetime]
SendCommand = Callable[[IncidentCommand], Awaitable[None]]
Finished = Callable[[], Awaitable[None]]  # acknowledges the record, in its partition's order (acks.py)
# Records read ahead of the send workers: the backlog within which lanes reorder (docs/operations.md).
LANE_QUEUE_MAX = 20_000
# How often a send worker holding back email looks again at whether triage has caught up.
HOLD_CHECK_S = 0.05


@dataclass(order=True)
class _Waiting:
    rank: tuple[int, int, float, int]
    work: Callable[[], Awaitable[None]] = field(compare=False)


class DeliveryLanes:
    """Bounded priority queues between the deliver agent's reader and its send workers: one for what
    reaches a person at once (first alerts, SMS and voice escalations, status reports), one for email
    and routine work. A worker takes the most urgent waiting record; email and routine work waits
    while `hold_back()` says so (triage is behind: streams/pipeline/pressure.py), so under overload the
    event loop goes to triage and first alerts. When a queue is full the reader waits (and faust stops
    fetching the partitions behind it)."""

    def __init__(
        self, maxsize: int = LANE_QUEUE_MAX, hold_back: Callable[[], bool] = lambda: False, backoff: Backoff = doubling
    ) -> None:
        self.urgent: asyncio.PriorityQueue[_Waiting] = asyncio.PriorityQueue(maxsize)
        self.later: asyncio.PriorityQueue[_Waiting] = asyncio.PriorityQueue(maxsize)
        self.hold_back, self.backoff = hold_back, backoff
        self._arrival = itertools.count()
        self._arrived = asyncio.Condition()

    async def put(self, rank: Rank, work: Callable[[], Awaitable[None]]) -> None:
        queue = self.later if rank[0] >= Lane.ALERT_BY_EMAIL else self.urgent
        await queue.put(_Waiting((*rank, next(self._arrival)), work))
        async with self._arrived:
            self._arrived.notify(1)

    async def serve(self) -> None:
        """One send worker: forever, the most urgent waiting record it may take; one whose work fails
        outside its guard is tried again in its place (streams/pipeline/stage.py `until_done`)."""
        while True:
            queue, waiting = await self._next()
            try:
                await until_done("deliver", waiting.work, self.backoff)
            finally:
                queue.task_done()

    async def _next(self) -> tuple[asyncio.PriorityQueue[_Waiting], _Waiting]:
        while True:
            if not self.urgent.empty():
                return self.urgent, self.urgent.get_nowait()
            held = not self.later.empty() and self.hold_back()
            if not self.later.empty() and not held:
                return self.later, self.later.get_nowait()
            # While email is held back, look again every HOLD_CHECK_S: triage may have caught up.
            # (asyncio.timeout, not wait_for: in 3.11 wait_for can swallow the agent's cancellation.)
            async with self._arrived:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(HOLD_CHECK_S if held else None):
                        await self._arrived.wait()

    def waiting(self) -> int:
        return self.urgent.qsize() + self.later.qsize()

    async def drained(self) -> None:
        """Until every record put so far has been handled."""
        await self.urgent.join()
        await self.later.join()


def reports_status(channel: str) -> bool:
    """Whether the channel's provider reports on a message after accepting it (status callbacks: the
    registry's `delivered_callback`), so the notification must be kept for those reports. An unknown
    channel is kept, the safe side."""
    plugin = CHANNELS.get(channel)
    return plugin is None or plugin.delivered_callback


def within(event: EventT[Any]) -> None:
    """Table writes take their changelog partition from the event being processed, a context variable
    faust sets only in the stream's own task: a send worker sets it to the record it handles."""
    faust_streams._current_event.set(weakref.ref(event))


@dataclass
class Ledger:
    """Each notification's latest delivery step, and the notification itself once sent (for its status
    reports). A step is written once, to the deliveries topic (awaited): this worker keeps the steps it
    wrote in memory, and the directory, which reads the deliveries topic whole, knows every other (those
    written before a restart, or by the worker that held the partition before)."""

    directory: IncidentDirectory
    sent: MutableMapping[str, Any]
    outputs: Emit
    topic: str
    clock: Clock
    entries: dict[str, DeliveryRecord] = field(default_factory=dict)

    async def record(self, note: Notification, state: DeliveryState, attempts: int, **detail: Any) -> None:
        entry = DeliveryRecord(
            idempotency_key=note.idempotency_key,
            incident_id=note.incident_id,
            channel=note.channel,
            kind=note.kind,
            agency_id=note.recipient.agency_id,
            recipient_tag=note.recipient.tag,
            state=state,
            at=self.clock(),
            attempts=attempts,
            **detail,
        )
        self.entries[note.idempotency_key] = entry
        await self.outputs.emit(self.topic, note.idempotency_key, entry.model_dump_json().encode())

    def entry(self, incident_id: str, key: str) -> DeliveryRecord | None:
        """The newer of this worker's own step and the deliveries topic's (the directory may not have
        read this worker's last writes back yet; another worker may have written after them)."""
        own, known = self.entries.get(key), self.directory.delivery(incident_id, key)
        if own is None or (known is not None and known.at > own.at):
            return known
        return own

    def notification(self, key: str) -> Notification | None:
        stored = self.sent.get(key)
        return Notification.model_validate_json(stored) if stored else None

    def read_back(self, record: DeliveryRecord) -> None:
        """The directory has applied `record` (IncidentDirectory.on_delivery): once it is this worker's own
        latest step, or a later one, the directory answers for it, so `entries` holds only the steps not yet
        read back. An older step read back (its intent, at the same instant or before) leaves it in place."""
        own = self.entries.get(record.idempotency_key)
        if own is not None and (record == own or record.at > own.at):
            del self.entries[record.idempotency_key]

    def settled(self, key: str) -> None:
        """The provider's last word on `key` is in: the notification is no longer kept for its status
        reports (inside the status record's event, so the table's delete goes to its partition)."""
        self.sent.pop(key, None)


@dataclass
class Deliverer:
    """Notifications and status reports for this worker's partitions (see the module docstring)."""

    ledger: Ledger
    senders: Mapping[str, Sender]
    directory: IncidentDirectory
    directory_ready: asyncio.Event  # the deliveries topic read to its end (after a restart)
    command: SendCommand
    clock: Clock
    status_topic: str
    lanes: DeliveryLanes = field(default_factory=DeliveryLanes)
    in_flight: set[str] = field(default_factory=set)
    window_observed: set[str] = field(default_factory=set)
    # Partitions that moved here may carry steps their previous owner wrote just before giving them up,
    # which the directory (fetching in batches) may not have read yet: the sends after a rebalance
    # first wait, once, for the directory to catch up with what was written before it.
    _moved: int = field(default=0, init=False)  # rebalances seen
    _caught_up_to: int = field(default=0, init=False)  # the last rebalance the directory caught up after
    _catching_up: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)

    def partitions_moved(self) -> None:
        """A rebalance assigned this worker its partitions (faust's on_partitions_assigned)."""
        self._moved += 1

    async def _after_rebalance(self) -> None:
        if self._caught_up_to == self._moved:
            return
        async with self._catching_up:  # one catch-up for every send worker waiting on it
            moved = self._moved
            if self._caught_up_to < moved:
                try:
                    caught = await self.directory.catch_up()
                except Exception as exc:  # the wait must never stop a send: it only narrows a repeat
                    log.warning("the directory's catch-up after a rebalance failed (%s)", type(exc).__name__)
                    caught = False
                if not caught:  # send anyway: a repeat rather than a loss
                    log.warning("the directory did not catch up after a rebalance: a send may repeat")
                self._caught_up_to = moved

    async def admit(self, event: EventT[Any], guard: Stage, finished: Finished) -> None:
        """Read one record: decoded inside the guard, then queued in its lane to be handled and only
        then `finished`; one that cannot be decoded is quarantined and finished at once."""
        record = Record.of(event.message)
        handle: Callable[[Record], Awaitable[None]] = self.status
        rank = STATUS_RANK
        if record.topic != self.status_topic:
            decoded: list[Notification] = []
            if not await guard.handle(record, lambda r: decoded.append(Notification.model_validate_json(r.value or b""))):
                await finished()
                return
            note = decoded[0]
            rank = rank_of(note)
            metrics.LANE_WAITING.labels(lane_of(note).name.lower()).inc()

            async def handle(r: Record) -> None:
                metrics.LANE_WAITING.labels(lane_of(note).name.lower()).dec()
                await self.notification(note, (r.value or b"").decode())

        async def work() -> None:
            within(event)
            await guard.handle(record, handle)
            await finished()

        await self.lanes.put(rank, work)

    async def notification(self, note: Notification, encoded: str | None = None) -> None:
        """Send one notification unless its ledger says it was accepted, is being sent, or failed for good.
        `encoded`: the record it was decoded from, kept as it came (not encoded again)."""
        await self.directory_ready.wait()
        await self._after_rebalance()
        previous = self.latest(note)
        if self._already_done(note, previous):
            return
        key = note.idempotency_key
        self.in_flight.add(key)
        if reports_status(note.channel):  # kept for its status reports; email has none
            self.ledger.sent[key] = encoded or note.model_dump_json()
        try:
            await self.send(note, previous)
        finally:
            self.in_flight.discard(key)

    def _already_done(self, note: Notification, previous: DeliveryRecord | None) -> bool:
        if note.idempotency_key in self.in_flight or (previous is not None and previous.state in ("accepted", "delivered")):
            metrics.NOTIFICATIONS.labels(note.channel, "duplicate", "already_accepted").inc()
            return True
        if previous is not None and previous.state == "failed" and not previous.retryable:
            metrics.NOTIFICATIONS.labels(note.channel, "duplicate", "already_failed").inc()
            return True
        return False

    def latest(self, note: Notification) -> DeliveryRecord | None:
        return self.ledger.entry(note.incident_id, note.idempotency_key)

    async def send(self, note: Notification, previous: DeliveryRecord | None) -> None:
        before = previous.attempts if previous else 0
        try:
            accepted = await send_with_retry(self.senders[note.channel], note, hooks=self._hooks(note, before))
        except DeliveryError as exc:
            await self.ledger.record(note, "failed", before + exc.attempts, reason=exc.reason, retryable=exc.retryable)
            metrics.NOTIFICATIONS.labels(note.channel, "failed", exc.reason).inc()
            log.error("%s %s to %s failed: %s", note.incident_reference, note.channel, note.recipient.agency_id, exc)
            await self.fall_back_from(note, exc.reason)
            return
        await self.ledger.record(note, "accepted", before + accepted.attempts, provider_id=accepted.provider_id)
        self._observe_accepted(note)

    def _hooks(self, note: Notification, attempts_before: int) -> RetryHooks:
        retry_reason: list[str] = []  # why the previous attempt failed: the audit record says why it retried

        async def on_attempt(attempt: int) -> None:
            reason = {"reason": retry_reason[-1], "retryable": True} if retry_reason else {}
            await self.ledger.record(note, "intent", attempts_before + attempt, **reason)  # before every provider call

        async def on_retry(attempt: int, error: DeliveryError, pause_s: float) -> None:
            retry_reason.append(error.reason)
            metrics.RETRIES.labels(note.channel, error.reason).inc()
            log.warning(
                "%s %s to %s: %s; retry in %.1f s",
                note.incident_reference,
                note.channel,
                note.recipient.agency_id,
                error,
                pause_s,
            )

        return RetryHooks(on_attempt, on_retry)

    def _observe_accepted(self, note: Notification) -> None:
        now = self.clock()
        metrics.NOTIFICATIONS.labels(note.channel, "accepted", "").inc()
        waited = (now - note.received_at).total_seconds()
        metrics.DISPATCH_LATENCY.labels(note.channel, note.priority.value).observe(waited)
        metrics.LANE_DISPATCH_LATENCY.labels(lane_of(note).name.lower()).observe(waited)
        view = self.directory.get(note.incident_id)
        if note.kind in ("alert", "possible_match") and note.incident_id not in self.window_observed and view is not None:
            self.window_observed.add(note.incident_id)
            metrics.WINDOW_LATENCY.labels(note.priority.value).observe((now - view.incident.last_seen_at).total_seconds())

    async def fall_back_from(self, note: Notification, reason: str) -> None:
        """Ask the incident's owner to reach someone else (it holds the report to render from)."""
        metrics.FALLBACKS.labels(note.channel, reason).inc()
        await self.command(
            FallBack(
                incident_id=note.incident_id,
                child_reference=note.child_reference,
                at=self.clock(),
                by=note.recipient,
                channel=note.channel,
                kind=note.kind,
                reason=reason,
            )
        )

    async def status(self, record: Record) -> None:
        """A provider's later word on a message it accepted: delivered, or failed (then fall back)."""
        status = DeliveryStatus.model_validate_json(record.value or b"")
        key = status.idempotency_key
        note = self.ledger.notification(key)
        # Sent by the worker that held this key before: its steps may not be read here yet (a miss waits).
        previous = await self.directory.look(lambda: self.ledger.entry(note.incident_id, key)) if note is not None else None
        if previous is None or note is None:
            log.warning("status for notification %s ignored: not sent from here, or already settled", key[:8])
            return
        if previous.state in ("delivered", "failed") and previous.provider_id == status.provider_id:
            return  # a repeated callback
        if status.outcome == "delivered":
            await self.ledger.record(note, "delivered", previous.attempts, provider_id=status.provider_id)
            metrics.NOTIFICATIONS.labels(note.channel, "delivered", "").inc()
            latency = (status.at - note.received_at).total_seconds()
            metrics.DELIVERY_LATENCY.labels(note.channel, note.priority.value).observe(latency)
        else:
            reason = status.reason or "undelivered"
            await self.ledger.record(
                note, "failed", previous.attempts, provider_id=status.provider_id, reason=reason, retryable=False
            )
            metrics.NOTIFICATIONS.labels(note.channel, "failed", reason).inc()
            await self.fall_back_from(note, reason)
        self.ledger.settled(key)  # both outcomes are final: a repeated callback finds nothing to do

    def forget(self, view: IncidentView) -> None:
        """The directory forgot a resolved incident (IncidentDirectory.on_forget): so does the deliverer."""
        self.window_observed.discard(view.incident.incident_id)
