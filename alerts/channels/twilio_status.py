"""Twilio's message status callbacks: the signature check and the parsing, pure (no I/O).

The web view that receives Twilio's POST calls `StatusCallbacks.verify(form, signature, query_string)`
and answers 403 on BadSignature, 400 on BadCallback, else records the report. The sender appends
`key=<idempotency key>` to the StatusCallback URL, so a report names its notification directly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from twilio.request_validator import RequestValidator

from alerts.channels import reasons
from alerts.channels.secrets import twilio_auth_token
from alerts.channels.twilio_account import TWILIO
from alerts.errors import CrucialHourError

if TYPE_CHECKING:
    from alerts.config import Config

SIGNATURE_HEADER = "X-Twilio-Signature"
KEY_PARAM = "key"

STATUSES = frozenset(
    {
        "accepted",
        "scheduled",
        "canceled",
        "queued",
        "sending",
        "sent",
        "failed",
        "delivered",
        "undelivered",
        "receiving",
        "received",
        "read",
        "partially_delivered",
    }
)
DELIVERED = frozenset({"delivered", "read"})
NOT_DELIVERED = frozenset({"undelivered", "failed", "canceled"})

ERROR_REASONS: dict[int, str] = {
    30001: reasons.QUEUE_OVERFLOW,
    30002: reasons.ACCOUNT_SUSPENDED,
    30003: reasons.UNREACHABLE,
    30004: reasons.BLOCKED,
    30005: reasons.UNKNOWN_DESTINATION,
    30006: reasons.LANDLINE,
    30007: reasons.CARRIER_FILTERED,
    30008: reasons.CARRIER_ERROR,
    30036: reasons.EXPIRED,
}
_SID = re.compile(r"^(SM|MM)[0-9a-fA-F]{32}$")
_KEY = re.compile(r"^[0-9a-f]{8,64}$")


class BadCallback(CrucialHourError):
    """The callback is not a message status report we can read (answer 400)."""


class BadSignature(BadCallback):
    """X-Twilio-Signature is missing or wrong, or the report is for another account (answer 403)."""


@dataclass(frozen=True)
class StatusReport:
    """One status callback: which message, what happened, and Twilio's error code if any."""

    provider_id: str  # MessageSid, as returned in Accepted.provider_id
    status: str  # queued | sending | sent | delivered | undelivered | failed | …
    error_code: int | None
    account_sid: str | None
    notification_key: str | None  # the idempotency key carried in the callback URL

    @property
    def outcome(self) -> Literal["delivered", "failed"] | None:
        """The ledger's final state this report establishes, or None for an intermediate status."""
        if self.status in DELIVERED:
            return "delivered"
        if self.status in NOT_DELIVERED:
            return "failed"
        return None

    @property
    def reason(self) -> str | None:
        """A bounded reason (metric label) for a failed outcome; None otherwise."""
        if self.outcome != "failed":
            return None
        if self.error_code is not None and self.error_code in ERROR_REASONS:
            return ERROR_REASONS[self.error_code]
        return reasons.FAILED if self.status == "failed" else reasons.UNDELIVERED


def with_key(url: str, key: str) -> str:
    """The StatusCallback URL for one notification: `url` with key=<idempotency key> appended."""
    parts = urlsplit(url)
    query = f"{parts.query}&{urlencode({KEY_PARAM: key})}" if parts.query else urlencode({KEY_PARAM: key})
    return urlunsplit(parts._replace(query=query))


def signature_valid(auth_token: str, url: str, form: Mapping[str, str], signature: str | None) -> bool:
    """Whether `signature` (the X-Twilio-Signature header) is Twilio's HMAC-SHA1 of `url` (the full
    URL Twilio requested, query string included) and the POSTed `form`, under `auth_token`."""
    if not signature:
        return False
    return bool(RequestValidator(auth_token).validate(url, dict(form), signature))


def parse_status_callback(form: Mapping[str, str], url: str | None = None) -> StatusReport:
    """Read a status callback's form (and the key from its URL). Raises BadCallback."""
    sid = form.get("MessageSid") or form.get("SmsSid") or ""
    status = (form.get("MessageStatus") or form.get("SmsStatus") or "").lower()
    if not _SID.fullmatch(sid):
        raise BadCallback("MessageSid missing or malformed")
    if status not in STATUSES:
        raise BadCallback("MessageStatus missing or unknown")
    raw_code = (form.get("ErrorCode") or "").strip()
    if raw_code and not raw_code.isdigit():
        raise BadCallback("ErrorCode is not a number")
    key = None
    if url is not None:
        found = parse_qs(urlsplit(url).query).get(KEY_PARAM, [])
        key = found[-1] if found and _KEY.fullmatch(found[-1]) else None
    return StatusReport(
        provider_id=sid,
        status=status,
        error_code=int(raw_code) if raw_code else None,
        account_sid=form.get("AccountSid") or None,
        notification_key=key,
    )


def verify_status_callback(
    auth_token: str, url: str, form: Mapping[str, str], signature: str | None, *, account_sid: str | None = None
) -> StatusReport:
    """Check the signature, then parse. Raises BadSignature (403) or BadCallback (400)."""
    if not signature_valid(auth_token, url, form, signature):
        raise BadSignature("X-Twilio-Signature does not match")
    report = parse_status_callback(form, url)
    if account_sid is not None and report.account_sid not in (None, account_sid):
        raise BadSignature("report for another account")
    return report


class StatusCallbacks:
    """What the web view needs: the auth token, our account and the public callback URL."""

    def __init__(self, *, auth_token: str, account_sid: str, public_url: str) -> None:
        self._auth_token = auth_token
        self.account_sid = account_sid
        self.public_url = public_url

    def url_as_requested(self, query_string: str) -> str:
        """The URL Twilio requested: the configured public URL (scheme, host and path as Twilio saw
        them, whatever proxies sit between) with the query string as received."""
        parts = urlsplit(self.public_url)
        return urlunsplit(parts._replace(query=query_string))

    def verify(self, form: Mapping[str, str], signature: str | None, query_string: str = "") -> StatusReport:
        """Raises BadSignature (answer 403) or BadCallback (answer 400); else the report."""
        url = self.url_as_requested(query_string)
        return verify_status_callback(self._auth_token, url, form, signature, account_sid=self.account_sid)


def status_callbacks_from_config(config: Config) -> StatusCallbacks | None:
    """None unless Twilio and its status_callback_url are configured."""
    settings = TWILIO.of(config)
    if settings is None or not settings.status_callback_url:
        return None
    return StatusCallbacks(
        auth_token=twilio_auth_token(config, settings),
        account_sid=settings.account_sid,
        public_url=settings.status_callback_url,
    )
