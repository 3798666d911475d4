"""Retrying a send: exponential backoff with equal jitter, within a time budget, honouring Retry-After.

The delivery agent calls `send_with_retry(sender, notification)`; the policy comes from the sender
(`sender.retry_policy`, built from config) unless one is passed. Clock, sleep and randomness are
injectable so the policy is tested without waiting.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from alerts.channels.base import Accepted, DeliveryError, Sender
from alerts.channels.plugin import RetrySettings
from alerts.model import Notification

OnAttempt = Callable[[int], Awaitable[None]]
OnRetry = Callable[[int, DeliveryError, float], Awaitable[None]]


@dataclass(frozen=True)
class RetryPolicy:
    """At most `max_attempts` sends; before retry n (n = 1 after the first failure) wait a random time
    in [c/2, c] with c = min(max_delay_s, base_delay_s * multiplier**(n-1)) ("equal jitter"), but never
    less than the provider's Retry-After; give up rather than start an attempt more than `budget_s`
    after the first.

    Equal, not full, jitter: with full jitter the waits can all come out near zero, and a fault-run
    SMS used up 20 attempts inside a 60 s Twilio outage. Half the ceiling as a floor makes the time the
    attempts cover a guarantee (the shipped 40 attempts: at least ~3 minutes, 178 s), still spread out."""

    max_attempts: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    multiplier: float = 2.0
    budget_s: float = 120.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay_s <= 0 or self.max_delay_s < self.base_delay_s or self.multiplier < 1 or self.budget_s <= 0:
            raise ValueError("need 0 < base_delay_s <= max_delay_s, multiplier >= 1, budget_s > 0")

    @classmethod
    def from_settings(cls, settings: RetrySettings) -> RetryPolicy:
        return cls(
            max_attempts=settings.max_attempts,
            base_delay_s=settings.base_delay_s,
            max_delay_s=settings.max_delay_s,
            budget_s=settings.budget_s,
        )

    def ceiling_s(self, retry: int) -> float:
        """The longest backoff before retry number `retry` (1-based)."""
        exponent = min(retry - 1, 64)  # beyond this the cap applies anyway; avoids overflow
        return min(self.max_delay_s, self.base_delay_s * self.multiplier**exponent)

    def delay_s(self, retry: int, error: DeliveryError, rand: Callable[[], float] = random.random) -> float:
        """How long to wait before retry number `retry` after `error`."""
        ceiling = self.ceiling_s(retry)
        pause = ceiling / 2 + ceiling / 2 * rand()
        if error.retry_after_s is not None:
            pause = max(pause, error.retry_after_s)
        return pause

    def covers_s(self) -> float:
        """The least time all retries take (every wait at its floor): how long an outage is ridden out."""
        return sum(self.ceiling_s(n) / 2 for n in range(1, self.max_attempts))

    def within(self, budget_s: float) -> RetryPolicy:
        """This policy with its budget cut to `budget_s` (e.g. the time left before a deadline)."""
        return replace(self, budget_s=max(min(self.budget_s, budget_s), 1e-9))


DEFAULT_POLICY = RetryPolicy()


def policy_of(sender: Sender) -> RetryPolicy:
    """The sender's own policy (`retry_policy` attribute, set from config), else the default."""
    policy = getattr(sender, "retry_policy", None)
    return policy if isinstance(policy, RetryPolicy) else DEFAULT_POLICY


async def send_with_retry(
    sender: Sender,
    notification: Notification,
    policy: RetryPolicy | None = None,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    rand: Callable[[], float] = random.random,
    on_attempt: OnAttempt | None = None,
    on_retry: OnRetry | None = None,
) -> Accepted:
    """Send, retrying transient failures. Returns Accepted with `attempts` set; raises the last
    DeliveryError (with `attempts` set) when it is permanent, attempts are used up, or the next
    attempt (after Retry-After or backoff) would start beyond the budget.

    `on_attempt(n)` is awaited before each send (record the ledger intent there);
    `on_retry(n, error, pause_s)` after failure n when another attempt will follow (metrics, logs).
    """
    policy = policy or policy_of(sender)
    give_up_at = clock() + policy.budget_s
    attempt = 0
    while True:
        attempt += 1
        if on_attempt is not None:
            await on_attempt(attempt)
        try:
            accepted = await sender.send(notification)
        except DeliveryError as exc:
            error = exc
        else:
            return replace(accepted, attempts=attempt)
        error.attempts = attempt
        if not error.retryable or attempt >= policy.max_attempts:
            raise error
        pause = policy.delay_s(attempt, error, rand)
        if clock() + pause > give_up_at:
            raise error
        if on_retry is not None:
            await on_retry(attempt, error, pause)
        await sleep(pause)
