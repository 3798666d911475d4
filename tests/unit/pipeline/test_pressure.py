"""How far behind triage is (streams/pipeline/pressure.py)."""

from __future__ import annotations

from streams.pipeline.pressure import BEHIND_S, STALE_S, TriageLag


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
