"""The placement register on its compacted topic: every worker follows it into memory
(`PlacementFeed`). Providers manage their placements over the API in streams.web.placements.
"""

from __future__ import annotations

import logging

from aiokafka import ConsumerRecord

from alerts.config import Config
from alerts.errors import RejectedInput
from alerts.placements import PlacementRegister, parse_placement
from streams.pipeline.follow import Follower
from streams.pipeline.metrics import PLACEMENTS
from streams.pipeline.stage import Record, Stage

log = logging.getLogger("crucial.placements")


def apply_placement_record(register: PlacementRegister, key: bytes | None, value: bytes | None) -> str:
    """Apply one record of the register's topic (a tombstone deletes); returns the outcome label.
    A record that does not validate raises RejectedInput (field paths, never values), for the feed's
    guard to quarantine on the dead-letter topic."""
    placement_id = key.decode("utf-8", "replace") if key is not None else None
    if value is None:
        if placement_id is not None:
            register.remove(placement_id)
        return "removed"
    placement = parse_placement(value)
    if placement.placement_id != placement_id:
        raise RejectedInput(["(key): is not the record's placement_id"])
    register.upsert(placement)
    return "upserted"


class PlacementFeed(Follower):
    """Keeps a worker's register current: one decode-and-apply per record (`apply_record`), run
    through the stage guard like every consumer."""

    def __init__(self, config: Config, register: PlacementRegister, guard: Stage) -> None:
        self.register = register
        super().__init__(config, [config.settings.kafka.topics.placements], self.apply_record, "placement register", guard)

    def apply_record(self, record: ConsumerRecord[bytes, bytes]) -> None:
        PLACEMENTS.labels(apply_placement_record(self.register, record.key, record.value)).inc()


async def count_rejected_placement(record: Record, exc: Exception) -> None:
    """The placement feed's failure step: the guard quarantines the record; count it as rejected."""
    PLACEMENTS.labels("rejected").inc()
