"""The ingest API on the worker's web port: `POST /v1/events` and its OpenAPI description.

A report is answered 202 with its reference only once Kafka has acknowledged the write (the app's
producer runs with acks=all); whatever is refused is answered 4xx with field-level reasons, and is kept
with its reason on the rejected topic *before* the answer goes out. A request is checked in this order:

    size (413) -> credentials (401; 429 once one address has failed too often; a signature seen
    before by any worker is a replay) -> the credential's rate limit (429 + Retry-After) -> content
    type (415) -> JSON (400) and the contract (422) -> the placement is the provider's in the placement register, or in an area
    it is an authority for (403) -> the event id is new for this provider, or was sent with the same
    body (409 otherwise) -> produced and acknowledged (202; 503)

The reference is the server's: the event-id register (streams.pipeline.identity) gives each (provider, event id)
one, so a retried event id gets the same one, and the same id with a different body is refused 409
with the reference it was given. The event is produced with the provider in the `crucial-provider`
header, which the triage agent uses to decide who may change which incident (alerts.authority).
Rate-limited (429) requests are not recorded: nothing was judged, and the client is told when to retry.

Logs carry the provider, event id, reference, status and the *field paths* of problems — never values.

The OpenAPI description is streams.web.openapi's; the views are registered by streams.web.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import Counter, Histogram

from alerts.authority import PROVIDER_HEADER, conflict_reason, may_change, may_report_for
from alerts.config import IntakeLimits, Provider
from alerts.errors import RejectedInput
from alerts.intake import parse_event, rejection
from alerts.logsafe import loggable_fields
from alerts.model import PlacementEvent
from streams.pipeline.identity import SharedReplayGuard
from streams.pipeline.register import RegisterUnavailable
from streams.web.auth.providers import Credential, ProviderAuthenticator
from streams.web.auth.rate_limit import RateLimiter
from streams.web.auth.signing import AuthError

if TYPE_CHECKING:
    from streams.web.ports import WorkerPort

log = logging.getLogger("crucial.api")

EVENTS_PATH = "/v1/events"
OPENAPI_PATH = "/v1/openapi.json"
PROBLEM_JSON = "application/problem+json"
OUTCOMES = (
    "accepted",
    "malformed",
    "invalid",
    "unauthenticated",
    "forbidden",
    "too_large",
    "unsupported_media_type",
    "rate_limited",
    "unavailable",
    "conflict",
)
CLAIM_NOTE = "recorded as an unverified claim: the incident is not changed until its recipients confirm it"


class Unavailable(Exception):
    """Kafka did not acknowledge in time (or refused): the client should retry."""


class Conflict(Exception):
    """The event id was first sent with a different body; `reference` is what it was given."""

    def __init__(self, reference: str, reason: str) -> None:
        super().__init__(reason)
        self.reference, self.reason = reference, reason


class Refusal(Exception):
    """A request refused and kept with its reasons: status, outcome label, title, reasons, headers."""

    def __init__(
        self, status: int, outcome: str, title: str, reasons: list[str], headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(status, outcome)
        self.status, self.outcome, self.title, self.reasons, self.headers = status, outcome, title, reasons, headers


class Answer(Exception):
    """A reply to give at once, nothing kept (429, 503, 409 after its own bookkeeping)."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


class Receipt(dict[str, Any]):
    """The 202's body: status, reference (None when there is no incident to quote), event_id[, note]."""


class Intake:
    """Produces reports and keeps rejections, each awaited until the broker acknowledges.

    Shared by the API and the report form: both hand over a validated event and get its reference.
    """

    def __init__(self, worker: WorkerPort) -> None:
        config = worker.config
        self.settings = config.providers.ingest
        self.max_raw_bytes = config.settings.kafka.quarantine.max_raw_bytes
        self.config = config
        self.worker = worker
        self.providers: Mapping[str, Provider] = config.providers.providers
        self.placements, self.placements_ready = worker.placements, worker.placement_feed.ready
        names = config.settings.kafka.topics
        self._events = worker.app.topic(names.placement_events, key_serializer="raw", value_serializer="raw")
        self._rejected = worker.app.topic(names.rejected, key_serializer="raw", value_serializer="raw")
        self.requests = Counter(
            "crucial_ingest_requests_total",
            "Reports received over HTTP, by route (api, form) and outcome (accepted, malformed, invalid, "
            "unauthenticated, forbidden, too_large, unsupported_media_type, rate_limited, unavailable, conflict).",
            ["route", "outcome"],
            registry=worker.registry,
        )
        for route in ("api", "form"):
            for outcome in OUTCOMES:
                self.requests.labels(route, outcome)
        self.ack_seconds = Histogram(
            "crucial_ingest_ack_seconds",
            "From a report's arrival to Kafka's acknowledgement of it, by route.",
            ["route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
            registry=worker.registry,
        )

    async def _produce(self, topic: Any, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]] | None = None) -> None:
        timeout = self.settings.produce_timeout_s
        try:
            pending = await asyncio.wait_for(topic.send(key=key, value=value, headers=headers), timeout)
            # shield: a timeout must not cancel the send; the message may still land, and a retry is safe.
            await asyncio.wait_for(asyncio.shield(pending), timeout)
        except Exception as exc:
            log.error("kafka did not acknowledge a write to %s: %s", topic.get_topic_name(), type(exc).__name__)
            raise Unavailable(type(exc).__name__) from None

    async def submit(self, event: PlacementEvent, raw: bytes, route: str, started: float, provider_id: str) -> Receipt:
        """Check the event id in the register, produce the event (keyed by child reference, stamped with
        the provider), and return the receipt once Kafka acknowledged it. Raises Conflict (the refused
        body kept on the rejected topic first) or Unavailable."""
        try:
            identity = await self.worker.registers.event_ids.check(provider_id, event)
        except RegisterUnavailable as exc:
            raise Unavailable(str(exc)) from None
        if identity.conflict:
            reason = conflict_reason(event.event_id, identity.reference)
            await self.reject(raw, [reason], source=f"{route}:{provider_id}")
            raise Conflict(identity.reference, reason)
        headers = [(PROVIDER_HEADER, provider_id.encode())]
        await self._produce(self._events, event.child.reference.encode(), raw, headers)
        self.ack_seconds.labels(route).observe(time.monotonic() - started)
        receipt = Receipt(status="accepted", reference=identity.reference, event_id=event.event_id)
        if event.type != "left_placement":
            receipt.update(await self._target(provider_id, event))
        return receipt

    async def _target(self, provider_id: str, event: PlacementEvent) -> dict[str, Any]:
        """For an update or a return: the reference of the incident it changes, or why it changes none
        (an incident opened a moment ago may not be read here yet: a miss waits for the directory)."""
        directory = self.worker.directory
        view = await directory.look(lambda: directory.open_for_child(event.child.reference))
        if view is None:
            return {"reference": None, "note": "no open incident for this child"}
        profile = self.worker.index.get(view.incident.match.profile_id or "")
        if not may_change(provider_id, view.incident, profile, self.config.providers, self.placements):
            return {"reference": None, "note": CLAIM_NOTE}
        return {"reference": view.incident.reference}

    async def reject(self, raw: bytes, reasons: list[str], source: str) -> None:
        """Keep a refused payload with its reasons on the rejected topic, acknowledged."""
        record = rejection(raw, reasons, datetime.now(UTC), source, self.max_raw_bytes)
        await self._produce(self._rejected, source.encode(), record.model_dump_json().encode())


def problem(status: int, title: str, reasons: list[str], headers: Mapping[str, str] | None = None) -> web.Response:
    """An RFC 9457 problem document with the reasons, each also split into field and message."""
    errors = []
    for reason in reasons:
        field, _, message = reason.partition(": ")
        errors.append({"field": field, "message": message})
    body = {"type": "about:blank", "title": title, "status": status, "reasons": reasons, "errors": errors}
    return web.json_response(body, status=status, headers=headers, content_type=PROBLEM_JSON)


async def read_limited(request: web.Request, limit: int) -> bytes | None:
    """The body, or None as soon as it grows past `limit` bytes."""
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


class IngestApi:
    """The request handling behind POST /v1/events (see the module docstring for the order of checks)."""

    def __init__(
        self,
        intake: Intake,
        authenticator: ProviderAuthenticator,
        limits: IntakeLimits | None = None,
        replays: SharedReplayGuard | None = None,
    ) -> None:
        """`limits`: the intake bounds every way in shares (None: the defaults); `replays`: the replay
        guard every worker shares (default: the authenticator's own, in memory)."""
        self.intake, self.auth, self.replays = intake, authenticator, replays
        self.bounds = limits
        self.settings = intake.settings
        self.limits = {pid: RateLimiter(p.rate_limit.per_minute, p.rate_limit.burst) for pid, p in intake.providers.items()}
        per_minute = self.settings.failed_auth_per_minute
        self.failures = RateLimiter(per_minute, per_minute)

    async def handle(self, request: web.Request) -> web.Response:
        started, now = time.monotonic(), time.time()
        body, credential = b"", None
        try:
            body = await self._body(request)
            credential = await self._authenticate(request, body, now)
            self._within_rate(credential, now)
            event = self._event(request, body)
            self._may_report(credential, event)
            receipt = await self._submit(event, body, started, credential)
        except Refusal as refusal:
            return await self._refuse(refusal, body, credential)
        except Answer as answer:
            return answer.response
        self.intake.requests.labels("api", "accepted").inc()
        log.info("api %s: event %s accepted (%s)", credential.provider_id, event.event_id, receipt["reference"] or "no reference")
        return web.json_response(dict(receipt), status=202)

    async def _body(self, request: web.Request) -> bytes:
        limit = self.settings.max_body_bytes
        length = request.content_length
        body = None if length is not None and length > limit else await read_limited(request, limit)
        if body is None:
            size = f"{length} bytes" if length is not None else "more bytes"
            raise Refusal(413, "too_large", "Report too large", [f"(request): body of {size} exceeds the limit of {limit} bytes"])
        return body

    async def _authenticate(self, request: web.Request, body: bytes, now: float) -> Credential:
        try:
            credential = self.auth.authenticate(request.headers, body, now, check_replay=self.replays is None)
            if self.replays is not None and credential.signature and not await self.replays.first_time(credential.signature):
                raise AuthError("replayed signature")
        except RegisterUnavailable:
            raise self._unavailable("Not checked: try again", "the replay guard did not confirm") from None
        except AuthError as exc:
            wait = self.failures.take(request.remote or "unknown", now)
            if wait > 0:
                raise Answer(self._throttled(wait, None)) from None
            challenge = {"WWW-Authenticate": 'Bearer realm="crucial-hour", HMAC-SHA256 realm="crucial-hour"'}
            raise Refusal(401, "unauthenticated", "Not authenticated", [f"(auth): {exc.reason}"], challenge) from None
        return credential

    def _within_rate(self, credential: Credential, now: float) -> None:
        wait = self.limits[credential.provider_id].take(credential.limit_key, now)
        if wait > 0:
            raise Answer(self._throttled(wait, credential))

    def _event(self, request: web.Request, body: bytes) -> PlacementEvent:
        if request.content_type != "application/json":
            reason = f"(request): content type '{request.content_type}' is not application/json"
            raise Refusal(415, "unsupported_media_type", "Unsupported media type", [reason])
        try:
            return parse_event(body, self.bounds, datetime.now(UTC))
        except RejectedInput as exc:
            if any(r.startswith(("(root): not JSON", "(root): not UTF-8")) for r in exc.reasons):
                raise Refusal(400, "malformed", "Not a JSON document", exc.reasons) from None
            raise Refusal(422, "invalid", "Report does not follow the schema", exc.reasons) from None

    def _may_report(self, credential: Credential, event: PlacementEvent) -> None:
        if not self.intake.placements_ready.is_set():  # whose placement it is cannot be told yet
            raise self._unavailable("Not stored: try again", "the placement register is loading")
        if not may_report_for(
            credential.provider_id, event.placement.id, event.type, self.intake.providers, self.intake.placements
        ):
            reason = f"placement.id: placement '{event.placement.id}' is not one of provider '{credential.provider_id}'"
            raise Refusal(403, "forbidden", "Placement not yours", [reason])

    async def _submit(self, event: PlacementEvent, body: bytes, started: float, credential: Credential) -> Receipt:
        try:
            return await self.intake.submit(event, body, "api", started, credential.provider_id)
        except Conflict as conflict:
            self.intake.requests.labels("api", "conflict").inc()
            log.info(
                "api %s: event %s refused 409: its id was sent before with another body", credential.provider_id, event.event_id
            )
            reply = problem(409, "Event id already used for a different report", [conflict.reason])
            raise Answer(_with_reference(reply, conflict.reference)) from None
        except Unavailable:
            raise self._unavailable("Not stored: try again", "the event stream did not confirm") from None

    def _unavailable(self, title: str, why: str) -> Answer:
        self.intake.requests.labels("api", "unavailable").inc()
        return Answer(problem(503, title, [f"(service): {why}"], {"Retry-After": "5"}))

    def _throttled(self, wait: float, credential: Credential | None) -> web.Response:
        self.intake.requests.labels("api", "rate_limited").inc()
        who = credential.limit_key if credential else "an unauthenticated address"
        log.warning("api: rate limit reached for %s", who)
        retry = str(max(1, math.ceil(wait)))
        return problem(429, "Too many requests", [f"(request): retry after {retry} s"], {"Retry-After": retry})

    async def _refuse(self, refusal: Refusal, body: bytes, credential: Credential | None) -> web.Response:
        """Keep the refused body with its reasons (rejected topic), then answer with the problem."""
        who = credential.provider_id if credential else "unauthenticated"
        try:
            await self.intake.reject(body, refusal.reasons, source=f"api:{who}")
        except Unavailable:
            self.intake.requests.labels("api", "unavailable").inc()
            return problem(503, "Not recorded: try again", ["(service): the event stream did not confirm"], {"Retry-After": "5"})
        self.intake.requests.labels("api", refusal.outcome).inc()
        log.info("api %s: refused %d %s [%s]", who, refusal.status, refusal.outcome, loggable_fields(refusal.reasons))
        return problem(refusal.status, refusal.title, refusal.reasons, refusal.headers)


def _with_reference(reply: web.Response, reference: str) -> web.Response:
    body = json.loads(reply.body) if isinstance(reply.body, bytes) else {}
    body["reference"] = reference
    return web.json_response(body, status=reply.status, content_type=PROBLEM_JSON)
