"""What a long run leaves in a worker's memory: incidents opened, alerted, settled and resolved
through the directory and the deliverer's ledger, wired as the worker wires them
(streams/pipeline/app.py), with each step read back as the directory's follower would. Every
`--every` incidents it prints what each part holds and the memory they take (tracemalloc: the
Python objects made since the start, so the figure is the growth).

    .venv/bin/python -m ops.bench.long_run --incidents 20000 --notifications 10

No Kafka and no providers: the question is what stays behind, not how fast it goes.
"""

from __future__ import annotations

import argparse
import asyncio
import tracemalloc
from datetime import UTC, datetime, timedelta

from alerts.directory import IncidentDirectory
from alerts.model import (
    Decision,
    Incident,
    IncidentRecord,
    IncidentStatus,
    MatchResult,
    Notification,
    Priority,
    Recipient,
    RenderedMessage,
    TimelineEntry,
)
from streams.pipeline.deliverer import Ledger

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def incident(n: int, status: IncidentStatus) -> IncidentRecord:
    at = T0 + timedelta(minutes=n)
    opened = Incident(
        incident_id=f"inc-{n:08d}",
        reference=f"CH-{n:08d}",
        status=status,
        event_id=f"evt-{n}",
        child_reference=f"LA-{n}",
        placement_id="plc-1",
        local_authority="Harrow",
        match=MatchResult(decision=Decision.MATCH, profile_id="prof-1", score=0.99),
        priority=Priority.HIGH,
        last_seen_at=at,
        received_at=at,
        deadline=at + timedelta(hours=1),
        timeline=[TimelineEntry(at=at, what="opened")] * (1 if status == IncidentStatus.OPEN else 2),
    )
    return IncidentRecord(change="opened" if status == IncidentStatus.OPEN else "resolved", at=at, incident=opened)


def notification(n: int, k: int, channel: str) -> Notification:
    at = T0 + timedelta(minutes=n)
    return Notification(
        idempotency_key=f"{n:08d}-{k:03d}",
        incident_id=f"inc-{n:08d}",
        incident_reference=f"CH-{n:08d}",
        child_reference=f"LA-{n}",
        kind="alert",
        channel=channel,
        recipient=Recipient(agency_id=f"agency-{k}", name="Duty officer", address="+447700900123"),
        message=RenderedMessage(text="x" * 300),
        priority=Priority.HIGH,
        created_at=at,
        received_at=at,
        deadline=at + timedelta(hours=1),
    )


class _Nowhere:
    """The deliveries topic: what is written is read back by `Run.step` itself."""

    async def emit(self, topic: str, key: str | None, value: bytes, headers: object = ()) -> None:
        return None


class Run:
    """One worker's directory and ledger, and a clock that moves a second a step."""

    def __init__(self) -> None:
        self.directory = IncidentDirectory()
        self.now = T0

        self.ledger = Ledger(self.directory, {}, _Nowhere(), "deliveries", lambda: self.now)
        self.directory.on_delivery.append(self.ledger.read_back)

    async def step(self, note: Notification, state: str) -> None:
        self.now += timedelta(seconds=1)
        await self.ledger.record(note, state, 1)  # type: ignore[arg-type]
        self.directory.apply_delivery(self.ledger.entries[note.idempotency_key])  # read back

    async def incident(self, n: int, notifications: int) -> None:
        self.directory.apply_incident(incident(n, IncidentStatus.OPEN))
        for k in range(notifications):
            note = notification(n, k, "sms" if k % 2 == 0 else "email")
            await self.step(note, "intent")
            if note.channel == "sms":
                self.ledger.sent[note.idempotency_key] = note.model_dump_json()
            await self.step(note, "accepted")
            if note.channel == "sms":  # its final status
                await self.step(note, "delivered")
                self.ledger.settled(note.idempotency_key)
        self.directory.apply_incident(incident(n, IncidentStatus.RESOLVED))


async def main_async(args: argparse.Namespace) -> None:
    tracemalloc.start()
    run = Run()
    print(f"{args.incidents:,} incidents, {args.notifications} notifications each (half SMS, settled; half email)\n")
    print("| incidents | directory: incidents / steps / forgotten steps | ledger entries | kept for status | traced MiB |")
    print("|---|---|---|---|---|")
    for n in range(args.incidents):
        await run.incident(n, args.notifications)
        if (n + 1) % args.every == 0:
            sizes = run.directory.sizes()
            traced = tracemalloc.get_traced_memory()[0] / 2**20
            held = f"{sizes['incidents']:,} / {sizes['delivery steps']:,} / {sizes['forgotten steps']:,}"
            print(f"| {n + 1:,} | {held} | {len(run.ledger.entries):,} | {len(run.ledger.sent):,} | {traced:.1f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.bench.long_run", description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=20_000)
    parser.add_argument("--notifications", type=int, default=10, help="per incident, alternately SMS and email")
    parser.add_argument("--every", type=int, default=5_000, help="print a row every this many incidents")
    asyncio.run(main_async(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
