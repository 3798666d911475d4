"""Liveness, readiness and configuration reload of a running worker.

- `/live`: the event loop is responsive — a heartbeat task measures how late it wakes; 503 when the
  heartbeat has stopped or the loop was blocked longer than settings.health.loop_block_seconds.
- `/ready`: profiles loaded, partitions held, not rebalancing — and no agent crash-looping (more than
  health.crash_limit crashes within health.crash_window_seconds) and no held partition stalled (lag
  with no offset committed for health.stall_seconds). A stalled or crash-looping worker is taken
  out of rotation and its partitions can move on once the orchestrator restarts it.
- Reload (SIGHUP or POST /-/reload): the config directory validated by the same checks as start-up
  (streams.pipeline.checks); agencies, routing, rota, escalation and risk grading are swapped in at once; an
  invalid directory keeps the running config. Counted as crucial_config_reload_total{outcome} with
  the last success's time, as Alertmanager does. What reload cannot change (settings, providers,
  board, matching weights) is reported as needing a restart and left as it is.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from alerts.config import Config, HealthSettings
from alerts.errors import ConfigError, ConfigErrors
from streams.pipeline import metrics

log = logging.getLogger("crucial.health")

# What a reload swaps in; every other part of the config is read once at start.
RELOADABLE = ("agencies", "routing", "rota", "escalation", "risk.grading")
RESTART_ONLY = ("settings", "providers", "board", "risk.matching", "risk.links")


@dataclass
class Heartbeat:
    """A task that sleeps `every_s` and records how much later than asked it woke (the loop's lag)."""

    every_s: float = 1.0
    clock: Callable[[], float] = time.monotonic
    last_beat: float | None = None
    worst_lag_s: float = 0.0

    async def run(self) -> None:
        self.last_beat = self.clock()
        while True:
            asked = self.clock()
            await asyncio.sleep(self.every_s)
            now = self.clock()
            lag = max(0.0, now - asked - self.every_s)
            self.worst_lag_s = lag  # the latest lag: a blocked loop shows at the next wake
            self.last_beat = now

    def alive(self, block_s: float) -> tuple[bool, dict[str, Any]]:
        """Before the heartbeat starts (faust starts app tasks after recovery) answering at all is the proof:
        a liveness probe must not kill a worker that is still recovering its tables."""
        now = self.clock()
        since = None if self.last_beat is None else now - self.last_beat
        ok = since is None or (since < self.every_s + block_s and self.worst_lag_s < block_s)
        return ok, {"seconds_since_heartbeat": since, "loop_lag_seconds": round(self.worst_lag_s, 3)}


@dataclass
class Progress:
    """Per partition: the last committed offset seen, and since when it has not moved while lag was waiting."""

    settings: HealthSettings
    clock: Callable[[], float] = time.monotonic
    crashes: deque[float] = field(default_factory=deque)
    committed: dict[str, tuple[int | None, float]] = field(default_factory=dict)
    stuck: list[str] = field(default_factory=list)

    async def sample(self, partitions: Callable[[], Iterable[tuple[str, int | None, int | None]]]) -> None:
        """Every few seconds, whether or not anyone asks /ready: a stall is measured from the first sample
        that saw lag over an unmoved commit."""
        every = min(5.0, self.settings.stall_seconds / 4)
        while True:
            try:
                self.stuck = self.stalled(partitions())
            except Exception as exc:  # a consumer mid-rebalance; the next sample tells
                log.debug("progress sample skipped: %s", type(exc).__name__)
            await asyncio.sleep(every)

    def crashed(self, agent: str, exc: BaseException) -> None:
        self.crashes.append(self.clock())
        metrics.AGENT_CRASHES.labels(agent).inc()
        log.error("agent %s crashed: %s", agent, type(exc).__name__)

    def crash_looping(self) -> bool:
        horizon = self.clock() - self.settings.crash_window_seconds
        while self.crashes and self.crashes[0] < horizon:
            self.crashes.popleft()
        return len(self.crashes) > self.settings.crash_limit

    def stalled(self, partitions: Iterable[tuple[str, int | None, int | None]]) -> list[str]:
        """Partitions (name, committed offset, end offset) with lag whose commit has not moved for stall_seconds."""
        now, stuck = self.clock(), []
        for name, committed, end in partitions:
            before = self.committed.get(name)
            if before is None or before[0] != committed:
                self.committed[name] = (committed, now)
                continue
            lag = (end or 0) - (committed or 0)
            if lag > 0 and now - before[1] >= self.settings.stall_seconds:
                stuck.append(name)
            elif lag <= 0:
                self.committed[name] = (committed, now)  # caught up: the clock restarts
        return stuck


def consumer_partitions(app: Any, topics: set[str]) -> list[tuple[str, int | None, int | None]]:
    """(topic:partition, committed offset, end offset) of the held partitions of `topics`. Faust's consumer
    keeps the committed offsets in `_committed_offset` (0.15.3, pinned)."""
    consumer = app.consumer
    held = [tp for tp in consumer.assignment() if tp.topic in topics]
    return [(f"{tp.topic}:{tp.partition}", consumer._committed_offset.get(tp), consumer.highwater(tp)) for tp in held]


def install_sighup(reloader: Reloader) -> None:
    """SIGHUP reloads the config, as Prometheus and Alertmanager do (mode's worker leaves SIGHUP alone)."""
    import signal

    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(reloader.reload()))


def watch_agents(agents: Iterable[Any], progress: Progress) -> None:
    """Count each agent's crashes (faust restarts a crashed actor; a loop of them is not readiness).

    Faust takes the handler only as the private `_on_error` of an Agent (0.15.3, pinned in pyproject);
    an existing handler still runs."""
    for agent in agents:
        previous = getattr(agent, "_on_error", None)

        async def on_error(failed: Any, exc: BaseException, previous: Any = previous, name: str = agent.name) -> None:
            progress.crashed(name.rsplit(".", 1)[-1], exc)
            if previous is not None:
                await previous(failed, exc)

        agent._on_error = on_error


@dataclass(frozen=True)
class ReloadResult:
    ok: bool
    changed: list[str]
    needs_restart: list[str]
    errors: list[str]


def merged(running: Config, new: Config) -> tuple[Config, list[str], list[str]]:
    """`running` with the reloadable parts of `new`; (config, parts changed, parts needing a restart)."""
    risk = running.risk.model_copy(update={"grading": new.risk.grading})
    result = running.model_copy(
        update={"agencies": new.agencies, "routing": new.routing, "rota": new.rota, "escalation": new.escalation, "risk": risk}
    )
    changed = [part for part in RELOADABLE if _part(running, part) != _part(new, part)]
    restart = [part for part in RESTART_ONLY if _part(running, part) != _part(new, part)]
    return result, changed, restart


def _part(config: Config, dotted: str) -> Any:
    value: Any = config
    for name in dotted.split("."):
        value = getattr(value, name)
    if dotted == "settings":  # the environment's KAFKA_BOOTSTRAP is applied on each load alike
        return value.model_copy(update={"kafka": value.kafka.model_copy(update={"bootstrap": ""})})
    return value


class Reloader:
    """Re-reads the config directory and swaps the reloadable parts into `holder.config`."""

    def __init__(self, holder: Any, validate: Callable[[Any], Any], clock: Callable[[], float] = time.time) -> None:
        self.holder, self.validate, self.clock = holder, validate, clock
        self.lock = asyncio.Lock()
        metrics.CONFIG_RELOAD_SUCCESS.set(1)
        metrics.CONFIG_RELOAD_LAST_SUCCESS.set(clock())  # the start-up load counts as the first success

    async def reload(self) -> ReloadResult:
        async with self.lock:
            running: Config = self.holder.config
            try:
                # Reading and rendering every template is a few ms of blocking work; a thread keeps the loop free.
                checked = await asyncio.to_thread(self.validate, running.directory)
            except ConfigError as exc:
                errors = [str(e) for e in ConfigErrors.flatten([exc])]
                metrics.CONFIG_RELOADS.labels("failure").inc()
                metrics.CONFIG_RELOAD_SUCCESS.set(0)
                log.error("config reload failed, the running config is kept: %d problem(s): %s", len(errors), "; ".join(errors))
                return ReloadResult(False, [], [], errors)
            config, changed, restart = merged(running, checked.config)
            self.holder.config = config
            metrics.CONFIG_RELOADS.labels("success").inc()
            metrics.CONFIG_RELOAD_SUCCESS.set(1)
            metrics.CONFIG_RELOAD_LAST_SUCCESS.set(self.clock())
            log.info(
                "config reloaded: changed %s%s",
                ", ".join(changed) or "nothing",
                f"; needs a restart to apply: {', '.join(restart)}" if restart else "",
            )
            return ReloadResult(True, changed, restart, [])
