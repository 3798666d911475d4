"""How a worker's start went, in its log: when each feed /ready waits for was loaded and when the
worker first held partitions, each as seconds since the process began and the process's CPU by then.

The last line of a start is the sum of it ("start-up: ready after 4.6 s, CPU 3.5 s; profiles 3.1 s,
directory 2.0 s, ..."), so an operator can tell which part of a slow start to look at without a
profiler, and ops/bench/startup.py prints the same parts beside its own figures.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


def process_age_s() -> float:
    """Seconds since this process began (Linux: from /proc; elsewhere since this module was imported)."""
    try:
        with open("/proc/self/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        started_ticks = int(fields[19])  # field 22, starttime, counted after the ")" that ends field 2
        with open("/proc/uptime", "rb") as uptime:
            up_s = float(uptime.read().split()[0])
        return up_s - started_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.monotonic() - _IMPORTED_AT


_IMPORTED_AT = time.monotonic()


@dataclass(frozen=True)
class Milestone:
    name: str
    after_s: float  # since the process began
    cpu_s: float  # the process's CPU by then, every thread


@dataclass
class StartupRecord:
    """The milestones of one start, logged as they come and summed up once all are in."""

    age: Callable[[], float] = process_age_s
    cpu: Callable[[], float] = time.process_time
    reached: list[Milestone] = field(default_factory=list)

    def mark(self, name: str) -> Milestone:
        milestone = Milestone(name, self.age(), self.cpu())
        self.reached.append(milestone)
        log.info("start-up: %s after %.1f s, CPU %.1f s", name, milestone.after_s, milestone.cpu_s)
        return milestone

    def summary(self) -> str:
        last = max(self.reached, key=lambda m: m.after_s)
        parts = ", ".join(f"{m.name} {m.after_s:.1f} s" for m in sorted(self.reached, key=lambda m: m.after_s))
        return f"ready after {last.after_s:.1f} s, CPU {last.cpu_s:.1f} s; {parts}"

    async def watch(self, loading: Mapping[str, asyncio.Event], assigned: asyncio.Event) -> str:
        """Mark each feed as it is loaded and the first assignment, then log and return the summary."""

        async def reach(name: str, event: asyncio.Event) -> None:
            await event.wait()
            self.mark(name)

        parts = {f"{name} loaded": event for name, event in loading.items()} | {"partitions assigned": assigned}
        await asyncio.gather(*(reach(name, event) for name, event in parts.items()))
        summary = self.summary()
        log.info("start-up: %s", summary)
        return summary
