"""The Twilio boundary's pure parts: numbers, ValidityPeriod, Retry-After, error translation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts.channels import reasons
from alerts.channels.base import DeliveryError
from alerts.channels.twilio_sms import TwilioSmsSender, parse_retry_after, to_e164, translate_rest_error, validity_period_s
from tests.peers.notifications import TwilioCredentials, make_notification, twilio_sender

NOW = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "written",
    ["+447700900123", "+44 7700 900123", "07700 900123", "07700-900-123", "(07700) 900123", "00447700900123"],
)
def test_numbers_are_sent_in_e164(written: str) -> None:
    assert to_e164(written) == "+447700900123"


@pytest.mark.parametrize("written", ["12", "not a number", "+44 77", ""])
def test_a_non_number_is_a_permanent_invalid_number(written: str) -> None:
    for _ in range(2):  # refused every time: a failure is never cached as an answer
        with pytest.raises(DeliveryError) as caught:
            to_e164(written)
        assert (caught.value.reason, caught.value.retryable) == ("invalid_number", False)
        assert written not in str(caught.value) or not written


def test_a_number_seen_before_is_not_parsed_again() -> None:
    to_e164("07700 900124")
    hits = to_e164.cache_info().hits
    assert to_e164("07700 900124") == "+447700900124"
    assert to_e164.cache_info().hits == hits + 1


@pytest.mark.parametrize(
    ("left", "floor", "expected"),
    [
        (timedelta(minutes=50), 300, 3000),  # the time left in the window
        (timedelta(minutes=50, seconds=0.9), 300, 3000),  # rounded down: never beyond the deadline
        (timedelta(seconds=299), 300, 300),  # the floor near the end
        (timedelta(seconds=-10), 300, 300),  # the window has passed: still sent, short-lived
        (timedelta(hours=24), 300, 36000),  # Twilio's maximum
        (timedelta(seconds=3), 1, 3),  # floor 1: strictly the time left
        (timedelta(seconds=-3), 1, 1),  # …and Twilio's minimum once passed
    ],
)
def test_validity_period(left: timedelta, floor: int, expected: int) -> None:
    assert validity_period_s(NOW + left, NOW, floor) == expected


def test_retry_after_as_seconds_or_an_http_date() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 120 ") == 120.0
    assert parse_retry_after("Sun, 29 Mar 2026 00:30:30 GMT", now=NOW) == 30.0
    assert parse_retry_after("Sun, 29 Mar 2026 00:29:00 GMT", now=NOW) == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None


TRANSLATIONS = [
    (400, 21211, "invalid_number", False),
    (400, 21614, "invalid_number", False),
    (400, 21610, "unsubscribed", False),
    (400, 21408, "region_not_enabled", False),
    (400, 21617, "body_too_long", False),
    (400, 21602, "rejected_4xx", False),
    (422, 422, "rejected_4xx", False),
    (404, 20404, "rejected_4xx", False),
    (401, 20003, "auth", False),
    (403, None, "auth", False),
    (429, 20429, "rate_limited", True),
    (400, 20429, "rate_limited", True),
    (408, None, "timeout", True),
    (500, 20500, "provider_5xx", True),
    (503, None, "provider_5xx", True),
]


@pytest.mark.parametrize(("status", "code", "reason", "retryable"), TRANSLATIONS)
def test_rest_errors_are_translated(status: int, code: int | None, reason: str, retryable: bool) -> None:
    error = translate_rest_error(status, code, retry_after_s=2.0)
    assert (error.reason, error.retryable) == (reason, retryable)
    assert error.reason in reasons.ALL
    assert error.retry_after_s == (2.0 if retryable else None)
    assert f"HTTP {status}" in error.detail


def sender(**overrides: object) -> TwilioSmsSender:
    creds = TwilioCredentials.fresh()
    options: dict[str, object] = {
        "account_sid": creds.account_sid,
        "auth_token": creds.auth_token,
        "from_number": "07700 900001",
        "status_callback_url": "https://crucial.example/twilio/status",
        "clock": lambda: NOW,
    }
    options.update(overrides)
    return twilio_sender(**options)  # type: ignore[arg-type]


def test_request_params_from_a_number() -> None:
    note = make_notification(now=NOW, deadline_in=timedelta(minutes=42), address="07700 900123")
    params = sender().request_params(note)
    assert params == {
        "to": "+447700900123",
        "body": note.message.text,
        "validity_period": 42 * 60,
        "from_": "+447700900001",
        "status_callback": f"https://crucial.example/twilio/status?key={note.idempotency_key}",
    }


def test_request_params_from_a_messaging_service() -> None:
    service = "MG" + "0" * 32
    params = sender(from_number=None, messaging_service_sid=service, status_callback_url=None).request_params(
        make_notification(now=NOW)
    )
    assert params["messaging_service_sid"] == service
    assert "from_" not in params and "status_callback" not in params


def test_exactly_one_sender_identity() -> None:
    with pytest.raises(ValueError):
        sender(messaging_service_sid="MG" + "0" * 32)
    with pytest.raises(ValueError):
        sender(from_number=None)
