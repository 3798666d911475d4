"""A token bucket per credential, for the ingest API."""

from __future__ import annotations


class RateLimiter:
    """A token bucket per key: `burst` requests at once, refilled at `per_minute`.

    `take(key, now)` spends one token and returns 0.0, or returns the seconds until one is available
    (for Retry-After) and spends nothing. Memory is bounded: full buckets are forgotten first.
    """

    def __init__(self, per_minute: float, burst: int, max_keys: int = 10_000) -> None:
        self.rate, self.burst, self.max_keys = per_minute / 60.0, float(burst), max_keys
        self._buckets: dict[str, tuple[float, float]] = {}

    def _level(self, key: str, now: float) -> float:
        tokens, at = self._buckets.get(key, (self.burst, now))
        return min(self.burst, tokens + max(0.0, now - at) * self.rate)

    def take(self, key: str, now: float) -> float:
        level = self._level(key, now)
        if level < 1.0:
            self._buckets[key] = (level, now)
            return (1.0 - level) / self.rate
        if key not in self._buckets and len(self._buckets) >= self.max_keys:
            self._forget(now)
        self._buckets[key] = (level - 1.0, now)
        return 0.0

    def _forget(self, now: float) -> None:
        self._buckets = {k: v for k, v in self._buckets.items() if self._level(k, now) < self.burst}
        if len(self._buckets) >= self.max_keys:  # all busy: drop the least recently used half
            keep = sorted(self._buckets.items(), key=lambda item: item[1][1])[self.max_keys // 2 :]
            self._buckets = dict(keep)
