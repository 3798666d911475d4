"""How far behind triage is (streams/pipeline/pressure.py)."""

from __future__ import annotations

import asyncio

import pytest

from streams.pipeline.pressure import BEHIND_S, REPORT_AT, STALE_S, ReportStamp, TriageLag
from streams.pipeline.stage import Headers


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_triage_is_behind_while_the_record_it_takes_is_older_than_the_bound() -> None:
    clock = Clock(1_000.0)
    lag = TriageLag(clock=clock)
    assert not lag.behind(), "nothing seen yet"
    lag.observe(clock.now - BEHIND_S * 4)
    assert lag.behind()
    lag.observe(clock.now - BEHIND_S / 4)
    assert not lag.behind(), "a fresh record: caught up"


def test_a_lag_seen_long_ago_says_nothing_triage_has_had_no_record_since() -> None:
    clock = Clock(1_000.0)
    lag = TriageLag(clock=clock)
    lag.observe(clock.now - BEHIND_S * 4)
    clock.now += STALE_S * 2
    assert not lag.behind()


def test_a_record_stamped_in_the_future_counts_as_current() -> None:
    clock = Clock(1_000.0)
    lag = TriageLag(clock=clock)
    lag.observe(clock.now + 3_600)
    assert lag.lag_s == 0.0 and not lag.behind()


def test_a_deliver_only_worker_reads_triages_lag_from_the_notifications_report_stamp() -> None:
    clock = Clock(1_000.0)
    lag = TriageLag(clock=clock)
    written = 990.0  # when triage wrote the notification
    lag.observe_stamp([(REPORT_AT, f"{written - BEHIND_S * 4:.3f}".encode())], written)
    assert lag.lag_s == pytest.approx(BEHIND_S * 4) and lag.behind()
    lag.observe_stamp([(REPORT_AT, f"{written - BEHIND_S / 4:.3f}".encode())], written)
    assert not lag.behind(), "triage took that report at once"


@pytest.mark.parametrize("headers", [[], [("other", b"1")], [(REPORT_AT, b"soon")], [(REPORT_AT, b"nan")], None])
def test_an_unstamped_or_garbled_notification_teaches_nothing(headers: list[tuple[str, bytes]] | None) -> None:
    clock = Clock(1_000.0)
    lag = TriageLag(clock=clock)
    lag.observe(clock.now - BEHIND_S * 4)
    lag.observe_stamp(headers, clock.now)
    assert lag.lag_s == pytest.approx(BEHIND_S * 4)


class Recording:
    def __init__(self) -> None:
        self.written: list[tuple[str, list[tuple[str, bytes]]]] = []

    async def emit(self, topic: str, key: str | None, value: bytes, headers: Headers = ()) -> None:
        self.written.append((topic, list(headers)))


async def test_notifications_written_while_a_report_is_handled_carry_its_time_and_nothing_else_does() -> None:
    recording = Recording()
    stamped = ReportStamp(recording, "notifications")

    async def handle(report_at: float | None) -> None:
        ReportStamp.during(report_at)
        # As the owner writes an outcome: gathered, in tasks of their own.
        await asyncio.gather(stamped.emit("notifications", "k", b"{}", [("x", b"1")]), stamped.emit("incidents", "i", b"{}"))

    await asyncio.create_task(handle(1234.5))
    await stamped.emit("notifications", "k", b"{}")  # outside any report's handling
    assert recording.written == [
        ("notifications", [("x", b"1"), (REPORT_AT, b"1234.500")]),
        ("incidents", []),
        ("notifications", []),
    ]
