"""The token bucket per credential."""

from __future__ import annotations

import pytest

from streams.web.auth.rate_limit import RateLimiter

NOW = 1_800_000_000.0


def test_a_burst_then_the_refill_rate() -> None:
    limiter = RateLimiter(per_minute=60, burst=3)
    assert [limiter.take("k", NOW) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("k", NOW) == pytest.approx(1.0)
    assert limiter.take("k", NOW + 0.5) == pytest.approx(0.5)
    assert limiter.take("k", NOW + 1.0) == 0.0
    assert limiter.take("other", NOW) == 0.0  # per key


def test_refused_requests_do_not_spend_tokens() -> None:
    limiter = RateLimiter(per_minute=6, burst=1)
    assert limiter.take("k", NOW) == 0.0
    for i in range(5):
        assert limiter.take("k", NOW + i) > 0
    assert limiter.take("k", NOW + 10) == 0.0


def test_the_limiter_forgets_keys_to_stay_bounded() -> None:
    limiter = RateLimiter(per_minute=60, burst=2, max_keys=100)
    for i in range(1000):
        limiter.take(f"k{i}", NOW + i / 1000)
    assert len(limiter._buckets) <= 100
