"""One child's records applied one at a time, whatever partition or record key they came with.

The triage stage orders records by their Kafka key (streams/pipeline/keyed.py), and a producer is
meant to key placement events and incident commands by the child's reference. A record keyed
otherwise (a direct producer's mistake, or on purpose) would run beside that child's correctly keyed
records, and both would read the child's incident before either wrote it: two incidents opened, or
a command applied to a stale copy. The owner therefore also holds the child's lock, named by the
reference inside the record, while it reads and writes that child's state.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field


@dataclass
class _Held:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class ChildLocks:
    """A lock per child reference, kept only while someone holds or waits for it."""

    def __init__(self) -> None:
        self._held: dict[str, _Held] = {}

    def __len__(self) -> int:
        return len(self._held)

    def waiting(self, child: str) -> int:
        """How many wait for `child`'s lock (beside the one holding it)."""
        held = self._held.get(child)
        return max(held.users - 1, 0) if held else 0

    @contextlib.asynccontextmanager
    async def holding(self, child: str) -> AsyncIterator[None]:
        held = self._held.setdefault(child, _Held())
        held.users += 1
        try:
            async with held.lock:
                yield
        finally:
            held.users -= 1
            if held.users == 0:
                del self._held[child]
