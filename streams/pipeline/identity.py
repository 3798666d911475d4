"""The server's word on a report's identity, shared by every worker: the event-id register and the
HMAC replay guard, both first-writer-wins registers on Kafka (streams.pipeline.register).

`EventIds.check(sender, event)` answers, for (sender, event id): the reference this event has (new
or already given), or a conflict — the id was first sent with a different body — with the reference
it was given. The API and the form check before producing (so they can answer 409); the triage agent
checks again before it changes anything (so records produced straight on Kafka obey the same rule).
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from typing import Any, Protocol

import faust
from aiokafka import ConsumerRecord

from alerts.authority import body_digest, free_incident_ids, register_key
from alerts.config import Config
from alerts.directory import IncidentDirectory
from alerts.model import PlacementEvent
from streams.pipeline.feed_snapshot import KeptOnDisk, SnapshottedFollower, code_fingerprint
from streams.pipeline.profile_snapshot import SnapshotFile, safe_name
from streams.pipeline.register import FirstWins, Produce, RegisterUnavailable, loopback
from streams.pipeline.stage import Stage

__all__ = ["EventIds", "Identity", "RegisterUnavailable", "Registers", "SharedReplayGuard"]


@dataclass(frozen=True)
class Identity:
    """What the register says of one (sender, event id)."""

    incident_id: str
    reference: str
    conflict: bool = False


def kafka_produce(app: faust.App, topic_name: str) -> Produce:
    topic = app.topic(topic_name, key_serializer="raw", value_serializer="raw")

    async def produce(key: str, value: bytes) -> tuple[int, int]:
        pending = await topic.send(key=key.encode(), value=value)
        metadata = await pending
        return int(metadata.partition), int(metadata.offset)

    return produce


class EventIds:
    def __init__(self, register: FirstWins, directory: IncidentDirectory, ready: asyncio.Event, timeout_s: float) -> None:
        self.register, self.directory, self.ready, self.timeout_s = register, directory, ready, timeout_s

    def _taken(self, reference: str, incident_id: str) -> bool:
        # No wait on a miss (alerts/directory.py look): free is the usual answer, and a reference's incident
        # is written only after triage, so the directory's lag is the least of the window a clash needs.
        view = self.directory.by_reference(reference)
        return view is not None and view.incident.incident_id != incident_id

    def known(self, sender: str, event: PlacementEvent) -> Identity | None:
        """The register's answer without waiting (None: not seen yet, here)."""
        entry = self.register.get(register_key(sender, event.event_id))
        return None if entry is None else self._identity(entry, body_digest(event))

    async def check(self, sender: str, event: PlacementEvent, timeout_s: float | None = None) -> Identity:
        """Claim (sender, event id) for this body, or learn who had it first. RegisterUnavailable when
        Kafka did not confirm within `timeout_s` (default: the ingest produce timeout)."""
        timeout = self.timeout_s if timeout_s is None else timeout_s
        try:
            await asyncio.wait_for(self.ready.wait(), timeout)
        except TimeoutError:
            raise RegisterUnavailable("register not loaded") from None
        incident_id, reference = free_incident_ids(event.event_id, sender, self._taken)
        digest = body_digest(event)
        value = {"digest": digest, "incident_id": incident_id, "reference": reference}
        entry, _ = await self.register.claim(register_key(sender, event.event_id), value, timeout)
        return self._identity(entry, digest)

    @staticmethod
    def _identity(entry: dict[str, Any], digest: str) -> Identity:
        return Identity(str(entry["incident_id"]), str(entry["reference"]), conflict=entry["digest"] != digest)


class SharedReplayGuard:
    """A signature accepted once — by any worker, before or after a restart — is a replay (within the
    signature window; older timestamps are refused by the window itself)."""

    def __init__(self, register: FirstWins, ready: asyncio.Event, timeout_s: float) -> None:
        self.register, self.ready, self.timeout_s = register, ready, timeout_s

    async def first_time(self, signature: str) -> bool:
        """RegisterUnavailable when the guard could not be loaded or Kafka did not confirm in time."""
        try:
            await asyncio.wait_for(self.ready.wait(), self.timeout_s)
        except TimeoutError:
            raise RegisterUnavailable("replay guard not loaded") from None
        _, mine = await self.register.claim(signature, {}, self.timeout_s)
        return mine


class Kept(Protocol):
    """A register fed from its topic: each record applied, and all it holds as JSON values and back."""

    def apply(self, record: ConsumerRecord[bytes, bytes]) -> None: ...

    def state(self) -> dict[str, Any]: ...

    def restore(self, state: dict[str, Any]) -> None: ...


class Registers:
    """The event-id register and the replay guard, and the one follower that feeds both (and `extra`'s
    registers): from its snapshot on, so a start does not read the event ids' whole history again."""

    def __init__(
        self,
        config: Config,
        directory: IncidentDirectory,
        extra: dict[str, Kept],
        guard: Stage,
        kafka: faust.App | None,
    ) -> None:
        """`kafka` the app the registers produce through; None: in memory, each write applied at once."""
        names, ingest = config.settings.kafka.topics, config.providers.ingest
        self.event_register = FirstWins(self._produce(kafka, names.event_ids))
        self.signature_register = FirstWins(
            self._produce(kafka, names.request_signatures), horizon_s=2.0 * ingest.signature_window_s
        )
        self.kept: dict[str, Kept] = {
            names.event_ids: self.event_register,
            names.request_signatures: self.signature_register,
            **extra,
        }

        def apply(record: ConsumerRecord[bytes, bytes]) -> None:
            self.kept[record.topic].apply(record)

        on_disk = KeptOnDisk("shared registers", self, registers_snapshots(config, list(self.kept.values())))
        self.feed = SnapshottedFollower(config, list(self.kept), apply, guard, on_disk)
        if kafka is None:
            self.feed.ready.set()
        timeout = ingest.produce_timeout_s
        self.event_ids = EventIds(self.event_register, directory, self.feed.ready, timeout)
        self.replays = SharedReplayGuard(self.signature_register, self.feed.ready, timeout)

    def state(self) -> dict[str, Any]:
        return {topic: register.state() for topic, register in self.kept.items()}

    def restore(self, state: dict[str, Any]) -> None:
        """Every register's part, or none: on an error each is put back as it was."""
        before = self.state()
        try:
            for topic, register in self.kept.items():
                register.restore(state[topic])
        except (KeyError, TypeError, ValueError):
            for topic, register in self.kept.items():
                register.restore(before[topic])
            raise

    def _produce(self, kafka: faust.App | None, topic: str) -> Produce:
        if kafka is not None:
            return kafka_produce(kafka, topic)
        return loopback(topic, lambda record: self.kept[topic].apply(record))


def registers_snapshots(config: Config, kept: list[Kept]) -> SnapshotFile:
    """The registers' snapshot file, in the worker's data directory, named after the event-id topic;
    its fingerprint is of the code of each register kept (their classes' modules) and of this module."""
    modules = {sys.modules[type(register).__module__] for register in kept} | {sys.modules[__name__]}
    name = f"registers.{safe_name(config.settings.kafka.topics.event_ids)}.snapshot"
    return SnapshotFile(
        config.path(config.settings.data_dir) / name, lambda: code_fingerprint(sorted(modules, key=lambda m: m.__name__))
    )
