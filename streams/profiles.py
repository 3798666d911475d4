"""Keep the in-memory profile index current from the compacted profiles topic.

Every worker reads every partition (no consumer group): the index is global, not sharded. The
feed is `ready` once it has caught up with the end offsets seen at start, so no event is matched
against a half-loaded index.
"""

from __future__ import annotations

import gc
import logging

from aiokafka import ConsumerRecord

from alerts.config import Config
from alerts.errors import RejectedInput
from alerts.intake import parse_profile
from alerts.matching import ProfileIndex
from streams.follow import Follower
from streams.metrics import PROFILES

log = logging.getLogger("crucial.profiles")


def apply_profile_record(index: ProfileIndex, key: bytes | None, value: bytes | None) -> str:
    """Apply one record (a tombstone deletes); returns the outcome label."""
    if value is None:
        if key is not None:
            index.remove(key.decode("utf-8", "replace"))
        return "removed"
    try:
        profile = parse_profile(value)
    except RejectedInput as exc:
        log.error("profile record rejected (key %r): %s", key, exc)
        return "rejected"
    index.upsert(profile)
    return "upserted"


class ProfileFeed(Follower):
    def __init__(self, config: Config, index: ProfileIndex) -> None:
        self.index = index
        # Once loaded, the index (up to a million profiles) is moved out of the garbage collector's
        # sight: full collections would otherwise walk it again and again for nothing.
        super().__init__(config, [config.settings.kafka.topics.profiles], self._apply, "profile index", on_ready=gc.freeze)

    def _apply(self, record: ConsumerRecord[bytes, bytes]) -> None:
        PROFILES.labels(apply_profile_record(self.index, record.key, record.value)).inc()
