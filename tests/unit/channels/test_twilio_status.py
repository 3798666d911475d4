"""Status callbacks: X-Twilio-Signature checked (against an independent implementation of Twilio's
algorithm, the test peer's), forms parsed into provider id, status and error code."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import pytest

from alerts.channels import reasons
from alerts.channels.twilio_status import (
    BadCallback,
    BadSignature,
    StatusCallbacks,
    parse_status_callback,
    signature_valid,
    verify_status_callback,
    with_key,
)
from tests.peers.notifications import TwilioCredentials
from tests.peers.twilio_server import twilio_signature

CREDS = TwilioCredentials.fresh()
SID = "SM" + secrets.token_hex(16)
KEY = secrets.token_hex(16)
URL = f"https://crucial.example/twilio/status?key={KEY}"


def form(status: str = "delivered", **extra: str) -> dict[str, str]:
    return {
        "AccountSid": CREDS.account_sid,
        "ApiVersion": "2010-04-01",
        "MessageSid": SID,
        "MessageStatus": status,
        "SmsSid": SID,
        "SmsStatus": status,
        "To": "+447700900123",
        "From": "+447700900001",
        **extra,
    }


Tamper = Callable[[dict[str, str], str, str], tuple[dict[str, str], str, str]]


def signed(fields: dict[str, str], url: str = URL) -> str:
    return twilio_signature(CREDS.auth_token, url, fields)


def test_a_signature_made_like_twilios_is_valid() -> None:
    fields = form()
    assert signature_valid(CREDS.auth_token, URL, fields, signed(fields))


def test_the_url_with_or_without_the_default_port_is_accepted() -> None:
    fields = form()
    assert signature_valid(CREDS.auth_token, "https://crucial.example:443/twilio/status?key=" + KEY, fields, signed(fields))


@pytest.mark.parametrize(
    "tamper",
    [
        lambda f, u, s: ({**f, "MessageStatus": "failed"}, u, s),  # a field changed
        lambda f, u, s: ({**f, "Extra": "1"}, u, s),  # a field added
        lambda f, u, s: (f, u.replace(KEY, "0" * 32), s),  # the URL (and so the key) changed
        lambda f, u, s: (f, u, s[:-2] + "AA"),  # the signature changed
        lambda f, u, s: (f, u, ""),  # no signature
        lambda f, u, s: (f, u, twilio_signature("another-token", u, f)),  # signed with another token
    ],
)
def test_anything_tampered_is_rejected(tamper: Tamper) -> None:
    fields = form()
    fields, url, signature = tamper(fields, URL, signed(fields))
    assert not signature_valid(CREDS.auth_token, url, fields, signature)
    with pytest.raises(BadSignature):
        verify_status_callback(CREDS.auth_token, url, fields, signature)


def test_delivered() -> None:
    fields = form("delivered")
    report = verify_status_callback(CREDS.auth_token, URL, fields, signed(fields), account_sid=CREDS.account_sid)
    assert (report.provider_id, report.status, report.error_code) == (SID, "delivered", None)
    assert (report.outcome, report.reason, report.notification_key) == ("delivered", None, KEY)


@pytest.mark.parametrize(
    ("status", "code", "reason"),
    [
        ("undelivered", "30003", reasons.UNREACHABLE),
        ("undelivered", "30005", reasons.UNKNOWN_DESTINATION),
        ("undelivered", "30036", reasons.EXPIRED),
        ("undelivered", "39999", reasons.UNDELIVERED),
        ("failed", "30008", reasons.CARRIER_ERROR),
        ("failed", "", reasons.FAILED),
    ],
)
def test_not_delivered_carries_a_bounded_reason(status: str, code: str, reason: str) -> None:
    fields = form(status, ErrorCode=code) if code else form(status)
    report = parse_status_callback(fields, URL)
    assert report.outcome == "failed"
    assert report.error_code == (int(code) if code else None)
    assert report.reason == reason
    assert report.reason in reasons.ALL


@pytest.mark.parametrize("status", ["queued", "sending", "sent", "accepted"])
def test_intermediate_statuses_settle_nothing(status: str) -> None:
    report = parse_status_callback(form(status))
    assert (report.outcome, report.reason, report.notification_key) == (None, None, None)


@pytest.mark.parametrize(
    "fields",
    [
        {**form(), "MessageSid": "", "SmsSid": ""},
        {**form(), "MessageSid": "SMnothex", "SmsSid": ""},
        {**form(), "MessageStatus": "exploded", "SmsStatus": ""},
        {**form("undelivered"), "ErrorCode": "thirty"},
    ],
)
def test_unreadable_forms_are_bad_callbacks(fields: dict[str, str]) -> None:
    with pytest.raises(BadCallback) as caught:
        parse_status_callback(fields)
    assert not isinstance(caught.value, BadSignature)


def test_a_report_for_another_account_is_refused() -> None:
    fields = form(AccountSid="AC" + secrets.token_hex(16))
    with pytest.raises(BadSignature):
        verify_status_callback(CREDS.auth_token, URL, fields, signed(fields), account_sid=CREDS.account_sid)


def test_a_malformed_key_in_the_url_is_ignored() -> None:
    assert parse_status_callback(form(), "https://crucial.example/s?key=../../etc").notification_key is None


def test_with_key_keeps_an_existing_query() -> None:
    assert with_key("https://h.example/cb", "ab12") == "https://h.example/cb?key=ab12"
    assert with_key("https://h.example/cb?tenant=x", "ab12") == "https://h.example/cb?tenant=x&key=ab12"


def test_status_callbacks_rebuild_the_public_url_from_the_query_string() -> None:
    callbacks = StatusCallbacks(
        auth_token=CREDS.auth_token, account_sid=CREDS.account_sid, public_url="https://crucial.example/twilio/status"
    )
    fields = form("undelivered", ErrorCode="30003")
    report = callbacks.verify(fields, signed(fields), query_string=f"key={KEY}")
    assert (report.outcome, report.reason, report.notification_key) == ("failed", "unreachable", KEY)
    with pytest.raises(BadSignature):
        callbacks.verify(fields, signed(fields), query_string="key=" + "f" * 32)
