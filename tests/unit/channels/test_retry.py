"""The retry policy: backoff with equal jitter, Retry-After honoured, a budget, no retry when permanent."""

from __future__ import annotations

import pytest

from alerts.channels.base import Accepted, DeliveryError
from alerts.channels.retry import DEFAULT_POLICY, Pacing, RetryHooks, RetryPolicy, policy_of, send_with_retry
from alerts.config import RetrySettings
from alerts.model import Notification
from tests.peers.notifications import make_notification


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class ScriptedSender:
    """Raises the scripted errors in order, then accepts."""

    name = "scripted"

    def __init__(self, *errors: DeliveryError, policy: RetryPolicy | None = None) -> None:
        self.errors = list(errors)
        self.calls = 0
        if policy is not None:
            self.retry_policy = policy

    async def send(self, notification: Notification) -> Accepted:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return Accepted(provider_id=f"id-{self.calls}")

    async def close(self) -> None:
        return None


def transient(retry_after_s: float | None = None) -> DeliveryError:
    return DeliveryError("provider_5xx", retryable=True, retry_after_s=retry_after_s)


POLICY = RetryPolicy(max_attempts=5, base_delay_s=1.0, max_delay_s=8.0, multiplier=2.0, budget_s=60.0)


async def run(sender: ScriptedSender, policy: RetryPolicy | None = POLICY, rand: float = 1.0) -> tuple[Accepted, FakeClock]:
    clock = FakeClock()
    accepted = await send_with_retry(sender, make_notification(), policy, pacing=Pacing(clock, clock.sleep, lambda: rand))
    return accepted, clock


def test_ceiling_doubles_up_to_the_cap() -> None:
    assert [POLICY.ceiling_s(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert POLICY.ceiling_s(10_000) == 8.0  # no overflow


def test_equal_jitter_spans_half_the_ceiling_to_the_ceiling() -> None:
    error = transient()
    assert POLICY.delay_s(3, error, rand=lambda: 0.0) == 2.0
    assert POLICY.delay_s(3, error, rand=lambda: 0.5) == 3.0
    assert POLICY.delay_s(3, error, rand=lambda: 1.0) == 4.0


def test_the_shipped_retries_ride_out_minutes_whatever_the_dice() -> None:
    from alerts.config import RetrySettings

    shipped = RetryPolicy.from_settings(RetrySettings())
    assert shipped.covers_s() >= 175  # 40 attempts: waits of at least 5 s once the cap is reached
    assert POLICY.covers_s() == 0.5 + 1 + 2 + 4  # 4 retries of a 5-attempt policy, each at its floor


def test_retry_after_is_a_floor() -> None:
    assert POLICY.delay_s(1, transient(retry_after_s=5.0), rand=lambda: 0.1) == 5.0
    assert POLICY.delay_s(1, transient(retry_after_s=0.1), rand=lambda: 0.0) == 0.5  # the jitter floor wins
    assert POLICY.delay_s(4, transient(retry_after_s=0.5), rand=lambda: 1.0) == 8.0


async def test_first_success_is_one_attempt() -> None:
    accepted, clock = await run(ScriptedSender())
    assert accepted == Accepted("id-1", attempts=1)
    assert clock.sleeps == []


async def test_transient_failures_are_retried_with_growing_pauses() -> None:
    sender = ScriptedSender(transient(), transient(), transient())
    accepted, clock = await run(sender)
    assert accepted == Accepted("id-4", attempts=4)
    assert clock.sleeps == [1.0, 2.0, 4.0]


async def test_retry_after_is_honoured() -> None:
    sender = ScriptedSender(DeliveryError("rate_limited", retryable=True, retry_after_s=7.0))
    accepted, clock = await run(sender, rand=0.0)
    assert accepted.attempts == 2
    assert clock.sleeps == [7.0]


async def test_a_permanent_failure_is_not_retried() -> None:
    sender = ScriptedSender(DeliveryError("unsubscribed", retryable=False))
    with pytest.raises(DeliveryError) as caught:
        await run(sender)
    assert caught.value.reason == "unsubscribed"
    assert caught.value.attempts == 1
    assert sender.calls == 1


async def test_gives_up_after_max_attempts_raising_the_last_error() -> None:
    errors = [DeliveryError("provider_5xx", retryable=True, detail=f"try {n}") for n in range(1, 10)]
    sender = ScriptedSender(*errors)
    with pytest.raises(DeliveryError) as caught:
        await run(sender)
    assert sender.calls == 5
    assert caught.value.detail == "try 5"
    assert caught.value.attempts == 5


async def test_never_starts_an_attempt_beyond_the_budget() -> None:
    policy = RetryPolicy(max_attempts=10, base_delay_s=4.0, max_delay_s=4.0, budget_s=10.0)
    sender = ScriptedSender(*[transient() for _ in range(10)])
    with pytest.raises(DeliveryError) as caught:
        await run(sender, policy)
    # attempts at t=0, 4, 8; a fourth at t=12 would be past the 10 s budget
    assert sender.calls == 3
    assert caught.value.attempts == 3


async def test_a_retry_after_beyond_the_budget_gives_up_at_once() -> None:
    sender = ScriptedSender(DeliveryError("rate_limited", retryable=True, retry_after_s=3600.0))
    with pytest.raises(DeliveryError) as caught:
        await run(sender)
    assert caught.value.reason == "rate_limited"
    assert sender.calls == 1


async def test_hooks_see_every_attempt_and_every_retry() -> None:
    sender = ScriptedSender(transient(), transient())
    seen: list[tuple[str, int, float]] = []

    async def on_attempt(n: int) -> None:
        seen.append(("attempt", n, 0.0))

    async def on_retry(n: int, error: DeliveryError, pause: float) -> None:
        assert error.reason == "provider_5xx"
        seen.append(("retry", n, pause))

    clock = FakeClock()
    await send_with_retry(
        sender,
        make_notification(),
        POLICY,
        pacing=Pacing(clock, clock.sleep, lambda: 1.0),
        hooks=RetryHooks(on_attempt, on_retry),
    )
    assert seen == [("attempt", 1, 0.0), ("retry", 1, 1.0), ("attempt", 2, 0.0), ("retry", 2, 2.0), ("attempt", 3, 0.0)]


async def test_the_senders_own_policy_is_used_by_default() -> None:
    own = RetryPolicy(max_attempts=2)
    sender = ScriptedSender(transient(), transient(), policy=own)
    assert policy_of(sender) is own
    with pytest.raises(DeliveryError):
        await run(sender, policy=None)
    assert sender.calls == 2
    assert policy_of(ScriptedSender()) is DEFAULT_POLICY


def test_policy_from_settings() -> None:
    policy = RetryPolicy.from_settings(RetrySettings(max_attempts=3, base_delay_s=0.2, max_delay_s=2, budget_s=30))
    assert (policy.max_attempts, policy.base_delay_s, policy.max_delay_s, policy.budget_s) == (3, 0.2, 2.0, 30.0)


@pytest.mark.parametrize(
    "kwargs",
    [{"max_attempts": 0}, {"base_delay_s": 0}, {"base_delay_s": 5, "max_delay_s": 1}, {"multiplier": 0.5}, {"budget_s": 0}],
)
def test_nonsense_policies_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
