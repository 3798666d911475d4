"""First-writer-wins registers shared by every worker and surviving restarts, kept on Kafka topics.

A claim is a record produced to the register's topic; for each key the *first* record in the log wins.
Every worker follows the topic whole (streams.pipeline.follow), so after producing a claim a worker waits until
its own follower has read up to that offset and then knows — as every other worker will — whose claim
came first. Kafka orders a key's records on one partition, so two workers racing agree on the winner,
and a restarted worker reads the same order back. The topics are not compacted (compaction keeps the
*last* record of a key); entries older than the register's horizon are forgotten in memory and left
to the topic's time retention.

Two registers use this: event ids per sender (streams.pipeline.identity: the same id with another body is a
409), and HMAC request signatures (the replay guard: a signature accepted once, anywhere, is a replay).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import ConsumerRecord

# Produce one record; return (partition, offset) once the broker has acknowledged it.
Produce = Callable[[str, bytes], Awaitable[tuple[int, int]]]


def loopback(topic: str, apply: Callable[[ConsumerRecord[bytes, bytes]], None]) -> Produce:
    """A Produce that hands each record straight to `apply`, as one partition: for a worker without a
    broker (create_app(in_memory=True), the agents' tests)."""
    offsets = [0]

    async def produce(key: str, value: bytes) -> tuple[int, int]:
        offset = offsets[0]
        offsets[0] += 1
        apply(ConsumerRecord(topic, 0, offset, 0, 0, key.encode(), value, None, len(key), len(value), ()))
        return 0, offset

    return produce


class RegisterUnavailable(Exception):
    """The claim was not written, or not read back, in time: the caller should answer 503 / retry."""


@dataclass(frozen=True)
class Entry:
    value: dict[str, Any]
    nonce: str
    at: float


class ReadBack:
    """Knows how far its follower has read each partition, so a writer can wait to see its own record."""

    def __init__(self) -> None:
        self._read_to: dict[int, int] = {}  # partition -> next offset to read
        self._progress = asyncio.Event()

    def mark(self, record: ConsumerRecord[bytes, bytes]) -> None:
        self._read_to[record.partition] = record.offset + 1
        self._progress.set()

    async def read_past(self, partition: int, offset: int) -> None:
        while self._read_to.get(partition, 0) <= offset:
            self._progress.clear()
            if self._read_to.get(partition, 0) > offset:
                return
            await self._progress.wait()

    async def write(self, produce: Produce, key: str, body: bytes, timeout_s: float) -> None:
        """Produce, then wait until this worker's follower has read the record."""
        try:
            partition, offset = await asyncio.wait_for(produce(key, body), timeout_s)
            await asyncio.wait_for(self.read_past(partition, offset), timeout_s)
        except TimeoutError as exc:
            raise RegisterUnavailable(type(exc).__name__) from None


class FirstWins(ReadBack):
    """key -> the first claim's value. `apply` is the Follower's callback; `claim` writes and waits."""

    def __init__(self, produce: Produce, *, horizon_s: float | None = None, max_entries: int = 1_000_000) -> None:
        super().__init__()
        self._produce, self.horizon_s, self.max_entries = produce, horizon_s, max_entries
        self._first: dict[str, Entry] = {}

    def __len__(self) -> int:
        return len(self._first)

    def get(self, key: str, now: float | None = None) -> dict[str, Any] | None:
        entry = self._first.get(key)
        if entry is None or self._expired(entry, time.time() if now is None else now):
            return None
        return entry.value

    def apply(self, record: ConsumerRecord[bytes, bytes]) -> None:
        self.mark(record)
        if record.key is None or record.value is None:
            return
        key = record.key.decode("utf-8", "replace")
        data = json.loads(record.value)
        entry = Entry(value=data["value"], nonce=str(data["nonce"]), at=float(data["at"]))
        known = self._first.get(key)
        if known is None or self._expired(known, entry.at):
            if len(self._first) >= self.max_entries:
                self._forget(entry.at)
            self._first[key] = entry

    async def claim(self, key: str, value: dict[str, Any], timeout_s: float) -> tuple[dict[str, Any], bool]:
        """(the winning value, whether it is this claim) once this worker has read its claim back."""
        known = self.get(key)
        if known is not None:
            return known, False
        nonce = secrets.token_hex(8)
        body = json.dumps({"value": value, "nonce": nonce, "at": time.time()}).encode()
        await self.write(self._produce, key, body, timeout_s)
        entry = self._first[key]
        return entry.value, entry.nonce == nonce

    def state(self) -> dict[str, Any]:
        """Every claim held, the first of each key, as JSON values (a feed snapshot's part)."""
        return {"first": [[key, e.value, e.nonce, e.at] for key, e in self._first.items()]}

    def restore(self, state: dict[str, Any]) -> None:
        """Hold the claims of `state()` instead; those past the horizon are let go."""
        now = time.time()
        first = {str(key): Entry(dict(value), str(nonce), float(at)) for key, value, nonce, at in state["first"]}
        self._first = {key: entry for key, entry in first.items() if not self._expired(entry, now)}

    def _expired(self, entry: Entry, now: float) -> bool:
        return self.horizon_s is not None and now - entry.at > self.horizon_s

    def _forget(self, now: float) -> None:
        self._first = {k: e for k, e in self._first.items() if not self._expired(e, now)}
        if len(self._first) >= self.max_entries:  # still full: drop the oldest half
            keep = sorted(self._first.items(), key=lambda item: item[1].at)[self.max_entries // 2 :]
            self._first = dict(keep)
