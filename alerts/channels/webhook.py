"""The outgoing webhook channel: a signed, versioned JSON document per incident event, POSTed to the
subscribers settings.yaml lists (police control rooms, case systems, chat tools). docs/webhooks.md
is the receiver's contract: the payload schema, an example, and how to verify the signature.

- Address: a subscriber id (`webhook: met-control-room` in a contact); check-config refuses an id
  that settings.webhooks.subscribers does not define.
- Data policy, per subscriber: `minimum` (the default) sends what a control room needs to act and
  no more — reference, kind, priority, decision, last seen when and where, the deadline and the
  acknowledgement link; `full` adds the child, the placement, the circumstances, the reporter and
  the reasons. The policy is applied when the message is rendered, so a minimum subscriber's
  notification never holds the detail, not even in the notifications topic.
- Signature: Standard Webhooks (`standardwebhooks`): webhook-id is the notification's idempotency
  key (the same on every retry, so receivers deduplicate), webhook-timestamp the moment of the
  attempt, webhook-signature v1 HMAC-SHA256 with the subscriber's own secret (whsec_…).
- Delivery: one aiohttp session for the sender's life, at most `max_concurrency` requests at once,
  each cut off after `timeout_s`, redirects not followed; retried by `send_with_retry` with the
  section's `retry` policy, as every channel. 2xx accepted; 408, 429 (Retry-After honoured), 5xx,
  timeouts and connection failures retryable; 3xx, 401/403 and other 4xx permanent. A response body
  is never read into an error (a receiver may echo what it was sent).

aiohttp and standardwebhooks are imported only when a sender is built, so the registry stays free
of provider libraries.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal
from urllib.parse import urlsplit

from pydantic import Field, StringConstraints, model_validator

from alerts.channels import reasons
from alerts.channels.base import Accepted, DeliveryError
from alerts.channels.plugin import AddressError, Channel, ChannelSettings, RetrySettings, Section, Templates
from alerts.model import RenderedMessage

if TYPE_CHECKING:
    import aiohttp
    import standardwebhooks

    from alerts.channels.retry import RetryPolicy
    from alerts.config import Config
    from alerts.errors import ConfigError
    from alerts.model import Notification
    from alerts.rendering import MessageFacts

NAME: Final = "webhook"
VERSION: Final = "1"  # of the payload (docs/webhooks.md); a change that breaks a receiver raises it
LOOPBACK = ("127.0.0.1", "::1", "localhost")
_ID = r"^[a-z0-9][a-z0-9-]{0,62}$"
SubscriberId = Annotated[str, StringConstraints(pattern=_ID)]
DataPolicy = Literal["minimum", "full"]


class Subscriber(ChannelSettings):
    """One receiver. Its secret (a Standard Webhooks secret, whsec_ + base64) comes from the
    environment (`secret_env`) or a secret file (`secret_file`), never from here."""

    url: str = Field(description="https://…; plain http only to this machine (127.0.0.1, ::1, localhost)")
    secret_env: str | None = None
    secret_file: Path | None = None
    data: DataPolicy = Field(default="minimum", description="minimum: no names or circumstances; full: the whole picture")

    @model_validator(mode="after")
    def _has_a_secret(self) -> Subscriber:
        if self.secret_env is None and self.secret_file is None:
            raise ValueError("no secret: set secret_env (an environment variable) or secret_file")
        return self


class WebhookSettings(ChannelSettings):
    subscribers: Annotated[dict[SubscriberId, Subscriber], Field(min_length=1)]
    timeout_s: Annotated[float, Field(gt=0, le=120)] = Field(default=10.0, description="per request")
    max_concurrency: Annotated[int, Field(ge=1, le=256)] = Field(default=16, description="requests in flight at once")
    retry: RetrySettings = RetrySettings()


WEBHOOKS = Section("webhooks", WebhookSettings)


def address(text: str) -> str:
    """A subscriber id as written in a contact (whether it is configured is a config check)."""
    value = text.strip()
    if re.fullmatch(_ID, value) is None:
        raise AddressError(
            "not a webhook subscriber id: give the id (lower-case letters, digits, hyphens) of one under "
            "settings.yaml webhooks.subscribers"
        )
    return value


# --- config checks ------------------------------------------------------------------------------


def check_urls(path: str, settings: object) -> Iterator[ConfigError]:
    from alerts.errors import ConfigError

    webhooks = WEBHOOKS.in_settings(settings)
    if webhooks is None:
        return
    for subscriber_id, subscriber in webhooks.subscribers.items():
        key = f"webhooks.subscribers.{subscriber_id}.url"
        try:
            parts = urlsplit(subscriber.url)
            host = parts.hostname
        except ValueError:
            parts, host = None, None
        if parts is None or parts.scheme not in ("http", "https") or not host:
            yield ConfigError(path, key, f"'{subscriber.url}' is not an http(s) URL", "give a URL such as https://host/path")
        elif parts.scheme == "http" and host not in LOOPBACK:
            yield ConfigError(path, key, "plain http would send alerts unencrypted", "use https (http only to 127.0.0.1)")
    if webhooks.retry.max_delay_s < webhooks.retry.base_delay_s:
        yield ConfigError(path, "webhooks.retry.max_delay_s", "is less than base_delay_s", "raise max_delay_s")


def check_subscribers_named(config: Config) -> Iterator[ConfigError]:
    """Every `webhook:` address in agencies.yaml and rota.yaml names a configured subscriber."""
    from alerts.errors import ConfigError

    webhooks = WEBHOOKS.of(config)
    known = set(webhooks.subscribers) if webhooks else set()
    fix = f"define it under settings.yaml webhooks.subscribers or use a known id ({', '.join(sorted(known)) or 'none defined'})"
    for agency_id, agency in config.agencies.items():
        for k, contact in enumerate(agency.contacts):
            if (named := contact.address(NAME)) is not None and named not in known:
                yield ConfigError(
                    str(config.directory / "agencies.yaml"),
                    f"agencies.{agency_id}.contacts[{k}].{NAME}",
                    f"unknown subscriber '{named}'",
                    fix,
                )
    for rota_id, rota in config.rota.rotas.items():
        for person_id, person in rota.people.items():
            if (named := person.address(NAME)) is not None and named not in known:
                yield ConfigError(
                    str(config.directory / "rota.yaml"),
                    f"rotas.{rota_id}.people.{person_id}.{NAME}",
                    f"unknown subscriber '{named}'",
                    fix,
                )


def subscriber_secrets(config: Config) -> dict[str, str]:
    """Each subscriber's signing secret; ConfigError when one is missing or not a Standard Webhooks secret."""
    from alerts.errors import ConfigError
    from alerts.secrets import read_secret

    webhooks = WEBHOOKS.of(config)
    found: dict[str, str] = {}
    for subscriber_id, subscriber in (webhooks.subscribers if webhooks else {}).items():
        setting = f"webhooks.subscribers.{subscriber_id}.secret"
        secret_file = config.path(subscriber.secret_file) if subscriber.secret_file else None
        secret = read_secret(setting=setting, env=subscriber.secret_env or "", file=secret_file)
        try:
            _signer(secret)
        except Exception:  # the library's errors (binascii, its own): all mean the same to the operator
            raise ConfigError(
                str(secret_file) if secret_file else "environment",
                f"{setting}_file" if secret_file else (subscriber.secret_env or setting),
                "not a Standard Webhooks secret",
                "give whsec_ followed by base64 of 24 to 64 random bytes (e.g. whsec_$(openssl rand -base64 32))",
            ) from None
        found[subscriber_id] = secret
    return found


def check_secrets(config: Config) -> None:
    subscriber_secrets(config)


def _signer(secret: str) -> standardwebhooks.Webhook:
    import standardwebhooks

    return standardwebhooks.Webhook(secret)


# --- the payload --------------------------------------------------------------------------------


def payload(facts: MessageFacts, ctx: Mapping[str, Any], policy: DataPolicy) -> dict[str, Any]:
    """The JSON document for one incident event (docs/webhooks.md), with the detail `policy` allows."""
    incident, event = facts.incident, facts.event
    circumstances = event.circumstances
    data: dict[str, Any] = {
        "reference": incident.reference,
        "incident_id": incident.incident_id,
        "kind": facts.kind,
        "priority": incident.priority.value,
        "decision": incident.match.decision.value,
        "status": incident.status.value,
        "last_seen": {
            "at": _utc(circumstances.last_seen_at if circumstances else incident.last_seen_at),
            "place": ctx["place"],
        },
        "deadline": _utc(incident.deadline),
        "ack_url": ctx["ack_url"],
        "data_policy": policy,
    }
    if policy == "full":
        data["detail"] = _detail(facts, ctx)
    occurred = incident.timeline[-1].at if incident.timeline else incident.received_at
    return {"type": f"incident.{facts.kind}", "version": VERSION, "timestamp": _utc(occurred), "data": data}


def _utc(moment: datetime) -> str:
    """RFC 3339 in UTC with Z, as pydantic writes the detail's times."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _detail(facts: MessageFacts, ctx: Mapping[str, Any]) -> dict[str, Any]:
    event, child = facts.event, facts.event.child
    return {
        "child": {
            "reference": child.reference,
            "given_names": child.given_names,
            "family_name": child.family_name,
            "aliases": list(child.aliases),
            "age": ctx["age"],
            "sex": child.sex,
            "nationality": child.nationality,
            "description": child.description,
        },
        "placement": event.placement.model_dump(mode="json"),
        "circumstances": event.circumstances.model_dump(mode="json") if event.circumstances else None,
        "reporter": event.reporter.model_dump(mode="json"),
        "reasons": list(facts.incident.reasons),
    }


def _document(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class WebhookRenderer:
    """One JSON document per event; per recipient when subscribers' data policies differ."""

    def __init__(self, templates: Templates, policies: Mapping[str, DataPolicy]) -> None:
        self.templates = templates
        self.policies = dict(policies)
        self.per_recipient = len(set(self.policies.values())) > 1

    def policy_for(self, subscriber: str | None) -> DataPolicy:
        if subscriber is not None and subscriber in self.policies:
            return self.policies[subscriber]
        shared = set(self.policies.values())
        return shared.pop() if len(shared) == 1 else "minimum"

    def render(self, facts: MessageFacts) -> RenderedMessage:
        policy = self.policy_for(facts.recipient.address if facts.recipient else None)
        document = payload(facts, self.templates.context(facts), policy)
        return RenderedMessage(subject=f"{document['type']} {facts.incident.reference}", text=_document(document))


def renderer(templates: Templates, config: Config | None, options: dict[str, Any]) -> WebhookRenderer:
    webhooks = WEBHOOKS.of(config) if config is not None else None
    policies: dict[str, DataPolicy] = {k: s.data for k, s in webhooks.subscribers.items()} if webhooks else {}
    policies.update(options.get("policies", {}))
    return WebhookRenderer(templates, policies)


def plain(subject: str, text: str) -> RenderedMessage:
    """The fail-open manual check as a webhook document: no incident facts but its reference and text."""
    document = {"type": "incident.manual_check", "version": VERSION, "data": {"summary": subject, "text": " ".join(text.split())}}
    return RenderedMessage(subject=subject, text=_document(document))


# --- the sender ---------------------------------------------------------------------------------


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date: the backoff applies


def translate_status(status: int, retry_after: str | None = None) -> DeliveryError | None:
    """None for 2xx; else the DeliveryError the response means (see the module notes)."""
    detail = f"HTTP {status}"
    if 200 <= status < 300:
        return None
    if status == 429:
        return DeliveryError(reasons.RATE_LIMITED, retryable=True, detail=detail, retry_after_s=_retry_after(retry_after))
    if status == 408:
        return DeliveryError(reasons.TIMEOUT, retryable=True, detail=detail)
    if status >= 500:
        return DeliveryError(reasons.PROVIDER_5XX, retryable=True, detail=detail)
    if status in (401, 403):
        return DeliveryError(reasons.AUTH, retryable=False, detail=detail)
    if 300 <= status < 400:
        return DeliveryError(reasons.REDIRECTED, retryable=False, detail=detail)
    return DeliveryError(reasons.REJECTED_4XX, retryable=False, detail=detail)


class WebhookSender:
    """Sender for the webhook channel: POSTs each notification's document, signed for its subscriber."""

    name = "webhook"

    def __init__(
        self, settings: WebhookSettings, secrets: Mapping[str, str], *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        from alerts.channels.retry import RetryPolicy

        self.settings = settings
        self._signers = {subscriber_id: _signer(secret) for subscriber_id, secret in secrets.items()}
        self.retry_policy: RetryPolicy = RetryPolicy.from_settings(settings.retry)
        self._clock = clock
        self._slots = asyncio.Semaphore(settings.max_concurrency)
        self._session: aiohttp.ClientSession | None = None

    def headers(self, notification: Notification) -> dict[str, str]:
        """The Standard Webhooks headers for this notification, signed now for its subscriber."""
        subscriber_id = notification.recipient.address
        signer = self._signers.get(subscriber_id)
        if signer is None or subscriber_id not in self.settings.subscribers:
            raise DeliveryError(reasons.INVALID_ADDRESS, retryable=False, detail="no such subscriber")
        now = self._clock().astimezone(UTC)
        message_id = notification.idempotency_key
        return {
            "content-type": "application/json",
            "user-agent": f"crucial-hour-webhook/{VERSION}",
            "webhook-id": message_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signer.sign(message_id, now, notification.message.text),
        }

    async def send(self, notification: Notification) -> Accepted:
        import aiohttp

        headers = self.headers(notification)
        url = self.settings.subscribers[notification.recipient.address].url
        body = notification.message.text.encode("utf-8")
        async with self._slots:
            try:
                async with self._http().post(url, data=body, headers=headers, allow_redirects=False) as response:
                    error = translate_status(response.status, response.headers.get("retry-after"))
            except TimeoutError:
                raise DeliveryError(
                    reasons.TIMEOUT, retryable=True, detail=f"no answer in {self.settings.timeout_s:g} s"
                ) from None
            except aiohttp.ClientConnectionError as exc:
                raise DeliveryError(reasons.CONNECTION, retryable=True, detail=type(exc).__name__) from None
            except aiohttp.ClientError as exc:
                raise DeliveryError(reasons.PROVIDER_ERROR, retryable=True, detail=type(exc).__name__) from None
        if error is not None:
            raise error
        return Accepted(provider_id=f"webhook-{headers['webhook-id']}")

    def _http(self) -> aiohttp.ClientSession:
        """The one session, made on first use (inside the event loop), reused for every request."""
        import aiohttp

        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.settings.timeout_s))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        self._session = None


def sender(config: Config) -> WebhookSender | None:
    """The sender for settings.webhooks, or None when no subscriber is configured (the outbox serves)."""
    webhooks = WEBHOOKS.of(config)
    if webhooks is None:
        return None
    return WebhookSender(webhooks, subscriber_secrets(config))


CHANNEL = Channel(
    name=NAME,
    address=address,
    renderer=renderer,
    sender=sender,
    sections=(WEBHOOKS,),
    plain=plain,
    link_per_recipient=True,
    settings_checks=(check_urls,),
    config_checks=(check_subscribers_named,),
    secrets_check=check_secrets,
)
