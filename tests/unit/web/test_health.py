"""/live and /ready's judgements and the reload merge, on a clock the test moves."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alerts.config import HealthSettings, load_config
from streams.web.health import Heartbeat, Progress, merged, watch_agents
from tests.support import REPO, edit_config, write_config


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_partition_with_lag_and_no_commit_for_stall_seconds_is_stalled() -> None:
    clock = Clock()
    progress = Progress(HealthSettings(stall_seconds=60), clock)
    assert progress.stalled([("t:0", 10, 15), ("t:1", 5, 5)]) == []
    clock.now += 59
    assert progress.stalled([("t:0", 10, 20), ("t:1", 5, 5)]) == []
    clock.now += 1
    assert progress.stalled([("t:0", 10, 20), ("t:1", 5, 5)]) == ["t:0"]  # t:1 has no lag: idle, not stalled
    assert progress.stalled([("t:0", 11, 20), ("t:1", 5, 5)]) == []  # a commit moved: progress again


def test_an_idle_partition_that_gets_new_records_is_timed_from_then() -> None:
    clock = Clock()
    progress = Progress(HealthSettings(stall_seconds=60), clock)
    progress.stalled([("t:0", 7, 7)])
    clock.now += 600  # idle for ten minutes
    progress.stalled([("t:0", 7, 7)])
    clock.now += 5
    assert progress.stalled([("t:0", 7, 9)]) == []  # new records 5 s ago, not a 10-minute stall


def test_more_crashes_than_the_limit_within_the_window_is_crash_looping() -> None:
    clock = Clock()
    progress = Progress(HealthSettings(crash_limit=2, crash_window_seconds=300), clock)
    for _ in range(3):
        progress.crashed("triage", RuntimeError("boom"))
        assert progress.crash_looping() is (len(progress.crashes) > 2)
    assert progress.crash_looping()
    clock.now += 301
    assert not progress.crash_looping()


def test_watch_agents_counts_crashes_and_keeps_an_existing_handler() -> None:
    seen: list[str] = []

    async def existing(agent: Any, exc: BaseException) -> None:
        seen.append(type(exc).__name__)

    class Agent:
        name = "streams.pipeline.app.create_app.<locals>.triage"
        _on_error = staticmethod(existing)

    progress = Progress(HealthSettings(), Clock())
    agent = Agent()
    watch_agents([agent], progress)
    asyncio.run(agent._on_error(agent, ValueError("x")))
    assert len(progress.crashes) == 1 and seen == ["ValueError"]


def test_the_heartbeat_judges_the_loop() -> None:
    clock = Clock()
    beat = Heartbeat(every_s=1.0, clock=clock)
    assert beat.alive(5.0)[0]  # not started yet: answering is enough
    beat.last_beat = clock.now
    clock.now += 3
    assert beat.alive(5.0)[0]
    clock.now += 4  # 7 s without a beat: the loop is blocked or the task died
    ok, body = beat.alive(5.0)
    assert not ok and body["seconds_since_heartbeat"] == 7.0
    beat.last_beat, beat.worst_lag_s = clock.now, 6.0  # woke 6 s late: it was blocked
    assert not beat.alive(5.0)[0]


def test_reload_takes_routing_and_grading_and_leaves_settings_to_a_restart(tmp_path: Path) -> None:
    running = load_config(REPO / "config")
    directory = write_config(tmp_path / "config")
    edit_config(directory, "routing.yaml", lambda d: d.update(rules=d["rules"][:1]))
    edit_config(directory, "risk.yaml", lambda d: d["grading"]["levels"].update(high=7))
    edit_config(directory, "settings.yaml", lambda d: d.update(window_minutes=45))
    new = load_config(directory)
    config, changed, restart = merged(running, new)
    assert changed == ["routing", "risk.grading"] and restart == ["settings"]
    assert config.routing == new.routing and config.risk.grading.levels.high == 7
    assert config.settings == running.settings and config.directory == running.directory
