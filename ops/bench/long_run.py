"""What a long run leaves in a worker's memory: incidents opened, alerted, settled and resolved
through the directory and the deliverer's ledger, wired as the worker wires them
(streams/pipeline/app.py), with each step read back as the directory's follower would. Every
`--every` incidents it prints what each part holds and the memory they take (tracemalloc: the
Python objects made since the start, so the figure is the growth).

    .venv/bin/python -m ops.bench.long_run --incidents 20000 --notifications 10 [--replay]

No Kafka and no providers: the question is what stays behind, not how fast it goes. With `--replay`
it keeps every record written (as the incidents and deliveries topics would) and then times what a
restarted worker's directory spends decoding and applying them (its start-up read without a snapshot,
the fetch not counted), and what writing and reading the snapshot of that directory costs instead.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import tracemalloc
from datetime import UTC, datetime, timedelta

from alerts.directory import IncidentDirectory
from alerts.matching.snapshot import Coverage
from alerts.model import (
    Decision,
    DeliveryRecord,
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
from streams.pipeline import feed_snapshot
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


class _Topics:
    """The deliveries topic (read back by `Run.step` itself); with `keep`, every record as written."""

    def __init__(self, keep: bool) -> None:
        self.keep, self.written = keep, list[tuple[str, bytes]]()
        self.keys = list[bytes]()  # each written record's key, as the worker keys it

    async def emit(self, topic: str, key: str | None, value: bytes, headers: object = ()) -> None:
        if self.keep:
            self.written.append((topic, value))
            self.keys.append((key or "").encode())

    def incident(self, record: IncidentRecord) -> IncidentRecord:
        if self.keep:
            self.written.append(("incidents", record.model_dump_json().encode()))
            self.keys.append(record.incident.incident_id.encode())
        return record


def history(incidents: int, notifications: int = 10) -> list[tuple[str, bytes, bytes]]:
    """The (topic, key, value) records `incidents` incidents leave on the incidents and deliveries
    topics, in the order written: what a worker's directory reads at a start without a snapshot."""
    run = Run(keep=True)

    async def write() -> None:
        for n in range(incidents):
            await run.incident(n, notifications)

    asyncio.run(write())
    return [(topic, key, value) for (topic, value), key in zip(run.topics.written, run.topics.keys, strict=True)]


class Run:
    """One worker's directory and ledger, and a clock that moves a second a step."""

    def __init__(self, keep: bool = False) -> None:
        self.directory = IncidentDirectory()
        self.now = T0
        self.topics = _Topics(keep)
        self.ledger = Ledger(self.directory, {}, self.topics, "deliveries", lambda: self.now)
        self.directory.on_delivery.append(self.ledger.read_back)

    async def step(self, note: Notification, state: str) -> None:
        self.now += timedelta(seconds=1)
        await self.ledger.record(note, state, 1)  # type: ignore[arg-type]
        self.directory.apply_delivery(self.ledger.entries[note.idempotency_key])  # read back

    async def incident(self, n: int, notifications: int) -> None:
        self.directory.apply_incident(self.topics.incident(incident(n, IncidentStatus.OPEN)))
        for k in range(notifications):
            note = notification(n, k, "sms" if k % 2 == 0 else "email")
            await self.step(note, "intent")
            if note.channel == "sms":
                self.ledger.sent[note.idempotency_key] = note.model_dump_json()
            await self.step(note, "accepted")
            if note.channel == "sms":  # its final status
                await self.step(note, "delivered")
                self.ledger.settled(note.idempotency_key)
        self.directory.apply_incident(self.topics.incident(incident(n, IncidentStatus.RESOLVED)))


def replay(written: list[tuple[str, bytes]]) -> tuple[IncidentDirectory, float]:
    """A fresh directory fed `written`, and the CPU seconds it spent decoding and applying them, as at
    a worker's start without a snapshot."""
    directory = IncidentDirectory()
    started = time.process_time()
    for topic, value in written:
        if topic == "incidents":
            directory.apply_incident(IncidentRecord.model_validate_json(value))
        else:
            directory.apply_delivery(DeliveryRecord.model_validate_json(value))
    return directory, time.process_time() - started


def snapshot_round_trip(directory: IncidentDirectory) -> tuple[int, float, float]:
    """The directory's snapshot as a worker writes it (streams/pipeline/feed_snapshot.py) and as the
    next start reads it back: (bytes, CPU seconds to write, CPU seconds to read and restore)."""
    coverages = [Coverage("incidents", {0: 1}, {0: "0" * 64}), Coverage("deliveries", {0: 1}, {0: "0" * 64})]
    started = time.process_time()
    data = feed_snapshot.encode("incident directory", coverages, directory.state(), "fp", T0)
    written = time.process_time()
    _, state = feed_snapshot.decode(data, "incident directory", "fp")
    restored = IncidentDirectory()
    restored.restore(state)
    read = time.process_time()
    if restored.sizes() != directory.sizes():
        raise SystemExit("the restored directory does not hold what was written")
    return len(data), written - started, read - written


async def main_async(args: argparse.Namespace) -> None:
    tracemalloc.start()
    run = Run(keep=args.replay)
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
    if args.replay:
        tracemalloc.stop()
        records = len(run.topics.written)
        directory, seconds = replay(run.topics.written)
        print(
            f"\nreplay: {records:,} records decoded and applied in {seconds:.2f} s of CPU, {1e6 * seconds / records:.1f} µs a record"
        )
        size, write_s, read_s = snapshot_round_trip(directory)
        print(
            f"snapshot of that directory: {size / 2**20:.1f} MiB, written in {write_s:.2f} s of CPU, "
            f"read back and restored in {read_s:.2f} s of CPU"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.bench.long_run", description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=20_000)
    parser.add_argument("--notifications", type=int, default=10, help="per incident, alternately SMS and email")
    parser.add_argument("--every", type=int, default=5_000, help="print a row every this many incidents")
    parser.add_argument("--replay", action="store_true", help="then time a restarted directory's read of every record")
    asyncio.run(main_async(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
