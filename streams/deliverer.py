"""The deliverer: sends each notification once through its channel and keeps its ledger entry.

Notifications and the providers' status reports share a key (the idempotency key), so one agent
hands both to the deliverer. Before every provider call it records the intent, after it the
provider's id (accepted) or the failure, on the ledger table and the deliveries topic (awaited); a
crash between the two may send twice, never lose. A send that failed for good, or a status report
that says the message never arrived, asks the incident's owner to fall back (a FallBack command).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from alerts.channels import DeliveryError, Sender, send_with_retry
from alerts.channels.retry import RetryHooks
from alerts.directory import IncidentDirectory
from alerts.model import DeliveryRecord, DeliveryState, DeliveryStatus, FallBack, IncidentCommand, Notification
from streams import metrics
from streams.stage import Emit, Record

log = logging.getLogger("crucial.stream")
Clock = Callable[[], datetime]
SendCommand = Callable[[IncidentCommand], Awaitable[None]]


@dataclass
class Ledger:
    """Each notification's latest delivery step (the ledger table), the notification itself once sent
    (for its status reports), and the deliveries topic every step is written to."""

    entries: MutableMapping[str, Any]
    sent: MutableMapping[str, Any]
    outputs: Emit
    topic: str
    clock: Clock

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
        self.entries[note.idempotency_key] = entry.model_dump_json()
        await self.outputs.emit(self.topic, note.idempotency_key, entry.model_dump_json().encode())

    def entry(self, key: str) -> DeliveryRecord | None:
        stored = self.entries.get(key)
        return DeliveryRecord.model_validate_json(stored) if stored else None

    def notification(self, key: str) -> Notification | None:
        stored = self.sent.get(key)
        return Notification.model_validate_json(stored) if stored else None


@dataclass
class Deliverer:
    """Notifications and status reports for this worker's partitions (see the module docstring)."""

    ledger: Ledger
    senders: Mapping[str, Sender]
    directory: IncidentDirectory
    directory_ready: asyncio.Event  # the deliveries topic read to its end (after a restart)
    command: SendCommand
    clock: Clock
    in_flight: set[str] = field(default_factory=set)
    window_observed: set[str] = field(default_factory=set)

    async def notification(self, record: Record) -> None:
        """Send one notification unless its ledger says it was accepted, is being sent, or failed for good."""
        note = Notification.model_validate_json(record.value or b"")
        await self.directory_ready.wait()
        previous = self.latest(note)
        if self._already_done(note, previous):
            return
        key = note.idempotency_key
        self.in_flight.add(key)
        self.ledger.sent[key] = note.model_dump_json()
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
        previous = self.ledger.entry(note.idempotency_key)
        if previous is None or previous.state == "intent":
            # The ledger's changelog is written in the background and a SIGKILL can cut its last
            # records; the deliveries topic's were awaited, so it knows every send that was accepted.
            known = self.directory.delivery(note.incident_id, note.idempotency_key)
            if known is not None and known.state != "intent":
                return known
        return previous

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
        metrics.DISPATCH_LATENCY.labels(note.channel, note.priority.value).observe((now - note.received_at).total_seconds())
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
        previous, note = self.ledger.entry(key), self.ledger.notification(key)
        if previous is None or note is None:
            log.warning("status for an unknown notification %s ignored", key[:8])
            return
        if previous.state in ("delivered", "failed") and previous.provider_id == status.provider_id:
            return  # a repeated callback
        if status.outcome == "delivered":
            await self.ledger.record(note, "delivered", previous.attempts, provider_id=status.provider_id)
            metrics.NOTIFICATIONS.labels(note.channel, "delivered", "").inc()
            latency = (status.at - note.received_at).total_seconds()
            metrics.DELIVERY_LATENCY.labels(note.channel, note.priority.value).observe(latency)
            return
        reason = status.reason or "undelivered"
        await self.ledger.record(
            note, "failed", previous.attempts, provider_id=status.provider_id, reason=reason, retryable=False
        )
        metrics.NOTIFICATIONS.labels(note.channel, "failed", reason).inc()
        await self.fall_back_from(note, reason)
