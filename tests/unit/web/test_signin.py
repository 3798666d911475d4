"""streams.web.signin: backoff per (username, client), a ceiling that alerts and never locks out,
the dummy hash for unknown users, and the rehash of an older scrypt hash."""

from __future__ import annotations

import pytest

from alerts.config import SessionSettings
from streams.pipeline import metrics
from streams.pipeline.register import loopback
from streams.web.auth import hash_password_scrypt
from streams.web.sessions import AuthState
from streams.web.signin import SignIn

PASSWORD = "correct horse battery"


@pytest.fixture
def signin() -> SignIn:
    state = AuthState(loopback("auth", lambda record: state.apply(record)), 5)
    return SignIn("report", SessionSettings(logins_per_minute=3, user_failures_alert_per_hour=4), state)


async def test_wrong_passwords_from_one_client_slow_that_client_only(signin: SignIn) -> None:
    stored = hash_password_scrypt(PASSWORD, log2_n=10)
    for _ in range(3):
        assert not (await signin.check("night.worker", "203.0.113.1", stored, "guess")).ok
    throttled = await signin.check("night.worker", "203.0.113.1", stored, PASSWORD)
    assert not throttled.ok and throttled.wait_s > 0  # not even checked
    assert (await signin.check("night.worker", "198.51.100.2", stored, PASSWORD)).ok  # the person, elsewhere


async def test_the_ceiling_alerts_without_locking_anyone_out(signin: SignIn) -> None:
    stored = hash_password_scrypt(PASSWORD, log2_n=10)
    before = metrics.SIGNIN_CEILING.labels("report")._value.get()
    for client in ("192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5"):
        assert not (await signin.check("night.worker", client, stored, "guess")).ok
    assert metrics.SIGNIN_CEILING.labels("report")._value.get() == before + 1
    assert (await signin.check("night.worker", "198.51.100.9", stored, PASSWORD)).ok


async def test_an_unknown_user_is_checked_against_the_dummy_hash_and_refused(signin: SignIn) -> None:
    verdict = await signin.check("nobody", "192.0.2.1", None, PASSWORD)
    assert not verdict.ok and verdict.wait_s == 0


async def test_a_good_password_under_scrypt_is_rehashed_and_the_rehash_used(signin: SignIn) -> None:
    stored = hash_password_scrypt(PASSWORD, log2_n=10)
    first = await signin.check("night.worker", "192.0.2.1", stored, PASSWORD)
    assert first.ok
    upgraded = signin.state.password_hash("report", "night.worker", stored)
    assert upgraded.startswith("$argon2id$")
    assert (await signin.check("night.worker", "192.0.2.1", stored, PASSWORD)).ok
    assert not (await signin.check("night.worker", "192.0.2.1", stored, "wrong")).ok
