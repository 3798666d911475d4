"""How far behind triage is, so that delivery can give it the event loop.

Under overload the worker has less CPU than the work needs. Email and routine sends can wait; a
report not yet triaged cannot (its first alert does not exist until triage has run). So while the
report triage is handling was written more than `behind_s` ago, the deliverer's lanes hold back
email and routine work (streams/pipeline/deliverer.py) and send only first alerts, escalations by
SMS or voice and status reports; once triage is current again, email is sent, in lane order.

A worker that runs triage (role `all`) observes triage in-process. A deliver-only worker
(streams/pipeline/roles.py) cannot: triage stamps each notification with the Kafka time of the report
it came from (the REPORT_AT header, `ReportStamp`), and the deliverer reads, from each notification, how
long after that report triage wrote it — the same lag, measured where the notification arrives.
"""

from __future__ import annotations

import contextvars
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from streams.pipeline.stage import Emit, Headers

# A report older than this when triage takes it means triage is behind.
BEHIND_S = 0.5
# A lag older than this says nothing (triage has had no record since): taken as caught up.
STALE_S = 1.0
# The notification's header: the report's Kafka timestamp (epoch seconds, decimal text).
REPORT_AT = "crucial-report-at"
_report_at: contextvars.ContextVar[float | None] = contextvars.ContextVar("report_at", default=None)


@dataclass
class TriageLag:
    """The age of the last record triage took, and when it took it."""

    behind_s: float = BEHIND_S
    clock: Callable[[], float] = time.time
    lag_s: float = 0.0
    seen_at: float = 0.0

    def observe(self, written_at_s: float) -> None:
        """Triage takes a record written (Kafka's timestamp) at `written_at_s` (epoch seconds)."""
        now = self.clock()
        self.lag_s, self.seen_at = max(now - written_at_s, 0.0), now

    def behind(self) -> bool:
        return self.lag_s > self.behind_s and self.clock() - self.seen_at < STALE_S

    def observe_stamp(self, headers: Sequence[tuple[str, bytes]] | None, written_at_s: float | None) -> None:
        """A notification, written (Kafka's timestamp) at `written_at_s`, carrying its report's time
        (REPORT_AT): triage took that report about this long after it was written. Unstamped or garbled:
        nothing is learnt."""
        reported = next((value for name, value in headers or () if name == REPORT_AT), None)
        if reported is None or written_at_s is None:
            return
        try:
            reported_s = float(reported)
        except ValueError:
            return
        if not math.isfinite(reported_s):
            return
        self.lag_s, self.seen_at = max(written_at_s - reported_s, 0.0), self.clock()


class ReportStamp:
    """Outputs that add REPORT_AT to every notification written while a report is handled (`during`)."""

    def __init__(self, outputs: Emit, notifications_topic: str) -> None:
        self.outputs, self.topic = outputs, notifications_topic

    @staticmethod
    def during(written_at_s: float | None) -> None:
        """The report being handled in this task (and the tasks it starts) was written then."""
        _report_at.set(written_at_s)

    async def emit(self, topic: str, key: str | None, value: bytes, headers: Headers = ()) -> None:
        reported = _report_at.get()
        if topic == self.topic and reported is not None:
            headers = (*headers, (REPORT_AT, f"{reported:.3f}".encode()))
        await self.outputs.emit(topic, key, value, headers)
