"""How far behind triage is, so that delivery can give it the event loop.

Under overload the worker has less CPU than the work needs. Email and routine sends can wait; a
report not yet triaged cannot (its first alert does not exist until triage has run). So while the
report triage is handling was written more than `behind_s` ago, the deliverer's lanes hold back
email and routine work (streams/pipeline/deliverer.py) and send only first alerts, escalations by
SMS or voice and status reports; once triage is current again, email is sent, in lane order.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

# A report older than this when triage takes it means triage is behind.
BEHIND_S = 0.5
# A lag older than this says nothing (triage has had no record since): taken as caught up.
STALE_S = 1.0


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
