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
from alerts.indicators import indicators_of
from alerts.intake import parse_profile
from alerts.matching import ProfileIndex
from streams.pipeline.follow import Follower
from streams.pipeline.metrics import PROFILE_INDICATORS_UNMAPPED, PROFILES
from streams.pipeline.stage import Record, Stage

log = logging.getLogger("crucial.profiles")


def apply_profile_record(index: ProfileIndex, key: bytes | None, value: bytes | None) -> str:
    """Apply one record (a tombstone deletes); returns the outcome label. A profile that is not valid
    raises RejectedInput, for the feed's guard to quarantine (its reasons name field paths only)."""
    if value is None:
        if key is not None:
            index.remove(key.decode("utf-8", "replace"))
        return "removed"
    index.upsert(parse_profile(value))
    return "upserted"


class ProfileFeed(Follower):
    def __init__(self, config: Config, index: ProfileIndex, guard: Stage) -> None:
        self.index = index
        self.indicators = indicators_of(config.indicators)
        # Once loaded, the index (up to a million profiles) is moved out of the garbage collector's
        # sight: full collections would otherwise walk it again and again for nothing.
        super().__init__(config, [config.settings.kafka.topics.profiles], self._apply, "profile index", guard, on_ready=gc.freeze)

    def _apply(self, record: ConsumerRecord[bytes, bytes]) -> None:
        outcome = apply_profile_record(self.index, record.key, record.value)
        PROFILES.labels(outcome).inc()
        if outcome == "upserted" and record.key is not None:
            self._report_unmapped(record.key.decode("utf-8", "replace"))

    def _report_unmapped(self, profile_id: str) -> None:
        """Indicators the vocabulary does not know count for neither grading nor routing: say so (no text)."""
        profile = self.index.get(profile_id)
        unmapped = len(self.indicators.of_profile(profile).unmapped) if profile is not None else 0
        if unmapped:
            PROFILE_INDICATORS_UNMAPPED.inc(unmapped)
            log.warning(
                "a profile has %d indicator(s) not in indicators.yaml: `crucial indicators --profiles` lists them", unmapped
            )


async def count_rejected(record: Record, exc: Exception) -> None:
    """The profile feed's failure step: the record is quarantined by the guard; count it as rejected."""
    PROFILES.labels("rejected").inc()
