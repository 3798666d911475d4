"""SMS through Twilio's Messages API, with the official `twilio` client on its asyncio HTTP client.

The event loop is never blocked: requests go through twilio's AsyncTwilioHttpClient (aiohttp), at
most `max_concurrency` at once, each cut off after `timeout_s`. Every failure leaves this module as a
DeliveryError with a bounded reason (alerts.channels.reasons); Twilio's own messages, which quote
phone numbers, are dropped (`from None`) so they never reach a log.

ValidityPeriod: the seconds left until `notification.deadline`, clamped to Twilio's range 1..36000
and never below `min_validity_s` (default 300). Once the window has passed (or nearly), the
alert is still sent — the child is still missing, and escalations and stand-downs come after the
hour by design — with ValidityPeriod = `min_validity_s`, so a message stuck in Twilio's queue is
dropped by Twilio rather than arriving long after it could help.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import math
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import aiohttp
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from alerts import phone
from alerts.channels import reasons
from alerts.channels.base import Accepted, DeliveryError
from alerts.channels.retry import RetryPolicy
from alerts.channels.secrets import twilio_auth_token
from alerts.channels.twilio_account import TWILIO, TwilioSettings
from alerts.channels.twilio_status import with_key
from alerts.errors import ConfigError
from alerts.model import Notification

if TYPE_CHECKING:
    from alerts.config import Config

log = logging.getLogger("crucial.channels.twilio")

MIN_VALIDITY_S = 1
MAX_VALIDITY_S = 36000  # Twilio's documented range for ValidityPeriod

# Twilio error codes that mean "this recipient cannot be texted this way": no retry.
PERMANENT_CODES: dict[int, str] = {
    21211: reasons.INVALID_NUMBER,  # invalid 'To' phone number
    21614: reasons.INVALID_NUMBER,  # 'To' number is not a valid mobile number
    21610: reasons.UNSUBSCRIBED,  # attempt to send to unsubscribed recipient (replied STOP)
    21408: reasons.REGION_NOT_ENABLED,  # permission to send to this region is not enabled
    21617: reasons.BODY_TOO_LONG,  # concatenated message body exceeds 1600 characters
    20003: reasons.AUTH,  # authentication failed
}
RATE_LIMIT_CODE = 20429


@functools.lru_cache(maxsize=4096)  # the rota's numbers recur: phonenumbers' parse is ~5 % of an SMS's CPU
def to_e164(address: str, default_region: str = "GB") -> str:
    """A phone number in E.164 (+447700900123) however it was written (alerts.phone); a number that
    cannot be one is a permanent failure for this channel (not cached: raised each time)."""
    try:
        return phone.to_e164(address, default_region)
    except ValueError:
        raise DeliveryError(reasons.INVALID_NUMBER, retryable=False, detail="not a phone number") from None


def validity_period_s(deadline: datetime, now: datetime, floor_s: int = 300) -> int:
    """Seconds the message may wait in Twilio's queue: the time left in the window, clamped to
    [max(floor_s, 1), 36000]; `floor_s` itself once the window has passed."""
    left = math.floor((deadline - now).total_seconds())
    floor_s = min(max(floor_s, MIN_VALIDITY_S), MAX_VALIDITY_S)
    return min(max(left, floor_s), MAX_VALIDITY_S)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds to wait: delta-seconds or an HTTP date; None when absent or unreadable."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def translate_rest_error(status: int, code: int | None, retry_after_s: float | None = None) -> DeliveryError:
    """An HTTP error answer from Twilio as a DeliveryError: their fault (retry) or ours (don't)."""
    detail = f"HTTP {status}" + (f" code {code}" if code is not None and code != status else "")
    if status == 429 or code == RATE_LIMIT_CODE:
        return DeliveryError(reasons.RATE_LIMITED, retryable=True, detail=detail, retry_after_s=retry_after_s)
    if status >= 500:
        return DeliveryError(reasons.PROVIDER_5XX, retryable=True, detail=detail, retry_after_s=retry_after_s)
    if status == 408:
        return DeliveryError(reasons.TIMEOUT, retryable=True, detail=detail, retry_after_s=retry_after_s)
    if code is not None and code in PERMANENT_CODES:
        return DeliveryError(PERMANENT_CODES[code], retryable=False, detail=detail)
    if status in (401, 403):
        return DeliveryError(reasons.AUTH, retryable=False, detail=detail)
    return DeliveryError(reasons.REJECTED_4XX, retryable=False, detail=detail)


def _as_code(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# The responses seen by the request in progress, so Retry-After can be read after twilio raises
# (its exceptions keep status and code but not headers). Set per send; twilio awaits the HTTP call
# in the same task, so the HTTP client below sees the caller's list.
_RESPONSES: contextvars.ContextVar[list[Response]] = contextvars.ContextVar("twilio_responses")


class _HttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]  # twilio ships no type information
    async def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        response = await super().request(method, url, *args, **kwargs)
        seen = _RESPONSES.get(None)
        if seen is not None:
            seen.append(response)
        return response


def _null_logger() -> logging.Logger:
    # twilio's HTTP client logs every request and response at INFO; none of it is needed here.
    quiet = logging.getLogger("crucial.channels.twilio.http")
    quiet.setLevel(logging.WARNING)
    return quiet


class TwilioSmsSender:
    """Sender for the "sms" channel through Twilio."""

    name = "twilio"

    def __init__(
        self,
        settings: TwilioSettings,
        auth_token: str,
        *,
        retry_policy: RetryPolicy | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """`settings` as in settings.yaml; `auth_token` read from the secret they name;
        `retry_policy` defaults to settings.retry."""
        if (settings.from_number is None) == (settings.messaging_service_sid is None):
            raise ValueError("give exactly one of from_number and messaging_service_sid")
        self.account_sid = settings.account_sid
        self._auth_token = auth_token
        self.default_region = settings.default_region
        self.from_number = to_e164(settings.from_number, self.default_region) if settings.from_number else None
        self.messaging_service_sid = settings.messaging_service_sid
        self.status_callback_url = settings.status_callback_url
        self.base_url = settings.base_url.rstrip("/") if settings.base_url else None
        self.region, self.edge = settings.region, settings.edge
        self.timeout_s = settings.timeout_s
        self.min_validity_s = settings.min_validity_s
        self.retry_policy = retry_policy or RetryPolicy.from_settings(settings.retry)
        self._clock = clock
        self._slots = asyncio.Semaphore(settings.max_concurrency)
        self._client: Any = None
        self._http: _HttpClient | None = None

    def _twilio(self) -> Any:
        """The twilio Client, made on first use: its aiohttp session must be made inside the loop."""
        if self._client is None:
            self._http = _HttpClient(timeout=self.timeout_s, logger=_null_logger())
            client = Client(
                username=self.account_sid,
                password=self._auth_token,
                account_sid=self.account_sid,
                region=self.region,
                edge=self.edge,
                http_client=self._http,
                environment={},  # configuration only from settings: no TWILIO_EDGE/REGION surprises
            )
            if self.base_url:
                client.api.base_url = self.base_url
            self._client = client
        return self._client

    def request_params(self, notification: Notification) -> dict[str, Any]:
        """The Messages.create arguments for one notification (pure; no I/O)."""
        params: dict[str, Any] = {
            "to": to_e164(notification.recipient.address, self.default_region),
            "body": notification.message.text,
            "validity_period": validity_period_s(notification.deadline, self._clock(), self.min_validity_s),
        }
        if self.messaging_service_sid:
            params["messaging_service_sid"] = self.messaging_service_sid
        else:
            params["from_"] = self.from_number
        if self.status_callback_url:
            params["status_callback"] = with_key(self.status_callback_url, notification.idempotency_key)
        return params

    async def send(self, notification: Notification) -> Accepted:
        message = await self._create(lambda account: account.messages, self.request_params(notification))
        sid = getattr(message, "sid", None)
        if not isinstance(sid, str) or not sid:
            raise DeliveryError(reasons.PROVIDER_ERROR, retryable=True, detail="answer without a message sid")
        log.debug("sms %s accepted by twilio as %s", notification.idempotency_key[:8], sid)
        return Accepted(provider_id=sid)

    async def _create(self, resource: Callable[[Any], Any], params: dict[str, Any]) -> Any:
        """`resource(account).create_async(**params)` within the concurrency limit and the timeout, every
        failure translated to a DeliveryError (shared with the voice channel, alerts.channels.twilio_voice)."""
        async with self._slots:
            created = resource(self._twilio().api.v2010.accounts(self.account_sid))
            seen: list[Response] = []
            token = _RESPONSES.set(seen)
            try:
                async with asyncio.timeout(self.timeout_s):
                    return await created.create_async(**params)
            except (TwilioRestException, TwilioServiceException) as exc:
                status = _as_code(getattr(exc, "status", None)) or 0
                code = _as_code(getattr(exc, "code", None))
                headers = seen[-1].headers if seen and seen[-1].headers is not None else {}
                raise self.translate(status, code, parse_retry_after(headers.get("Retry-After"))) from None
            except TimeoutError:
                raise DeliveryError(reasons.TIMEOUT, retryable=True, detail=f"no answer within {self.timeout_s:g} s") from None
            except (aiohttp.ClientError, OSError) as exc:
                raise DeliveryError(reasons.CONNECTION, retryable=True, detail=type(exc).__name__) from None
            except TwilioException as exc:
                raise DeliveryError(reasons.PROVIDER_ERROR, retryable=True, detail=type(exc).__name__) from None
            finally:
                _RESPONSES.reset(token)

    @staticmethod
    def translate(status: int, code: int | None, retry_after_s: float | None) -> DeliveryError:
        return translate_rest_error(status, code, retry_after_s)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
        self._client = self._http = None


def from_config(config: Config) -> TwilioSmsSender | None:
    """The sender described by settings.twilio, or None when Twilio is not configured."""
    settings: TwilioSettings | None = TWILIO.of(config)
    if settings is None:
        return None
    if settings.from_number is not None:
        try:
            to_e164(settings.from_number, settings.default_region)
        except DeliveryError:
            raise ConfigError(
                str(config.directory / "settings.yaml"), "twilio.from_number", "not a phone number", "write it as +447700900123"
            ) from None
    return TwilioSmsSender(settings, twilio_auth_token(config, settings))
