"""The ingest API on the worker's web port: `POST /v1/events` and its OpenAPI description.

A report is answered 202 with its reference only once Kafka has acknowledged the write (the app's
producer runs with acks=all); whatever is refused is answered 4xx with field-level reasons, and is kept
with its reason on the rejected topic *before* the answer goes out. A request is checked in this order:

    size (413) -> credentials (401; 429 once one address has failed too often; a signature seen
    before by any worker is a replay) -> the credential's rate limit (429 + Retry-After) -> content
    type (415) -> JSON (400) and the contract (422) -> the placement is the provider's in the placement register, or in an area
    it is an authority for (403) -> the event id is new for this provider, or was sent with the same
    body (409 otherwise) -> produced and acknowledged (202; 503)

The reference is the server's: the event-id register (streams.identity) gives each (provider, event id)
one, so a retried event id gets the same one, and the same id with a different body is refused 409
with the reference it was given. The event is produced with the provider in the `crucial-provider`
header, which the triage agent uses to decide who may change which incident (alerts.authority).
Rate-limited (429) requests are not recorded: nothing was judged, and the client is told when to retry.

Logs carry the provider, event id, reference, status and the *field paths* of problems — never values.

`python -m streams.api` prints the OpenAPI document; docs/openapi.json is that output (a test checks).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from aiohttp import web
from faust.web import Request, Response, View
from prometheus_client import Counter, Histogram

from alerts.authority import PROVIDER_HEADER, conflict_reason, may_change, may_report_for
from alerts.config import IntakeLimits, Provider
from alerts.errors import RejectedInput
from alerts.intake import parse_event, rejection
from alerts.logsafe import loggable_fields
from alerts.model import PlacementEvent
from streams.auth import AuthError, Credential, ProviderAuthenticator, RateLimiter, check_secrets, load_hmac_secrets
from streams.identity import SharedReplayGuard
from streams.register import RegisterUnavailable

if TYPE_CHECKING:
    from streams.app import Worker

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


class Receipt(dict[str, Any]):
    """The 202's body: status, reference (None when there is no incident to quote), event_id[, note]."""


class Intake:
    """Produces reports and keeps rejections, each awaited until the broker acknowledges.

    Shared by the API and the report form: both hand over a validated event and get its reference.
    """

    def __init__(self, worker: Worker) -> None:
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
            receipt.update(self._target(provider_id, event))
        return receipt

    def _target(self, provider_id: str, event: PlacementEvent) -> dict[str, Any]:
        """For an update or a return: the reference of the incident it changes, or why it changes none."""
        view = self.worker.directory.open_for_child(event.child.reference)
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
        limit = self.settings.max_body_bytes
        length = request.content_length
        body = None if length is not None and length > limit else await read_limited(request, limit)
        if body is None:
            size = f"{length} bytes" if length is not None else "more bytes"
            reason = f"(request): body of {size} exceeds the limit of {limit} bytes"
            return await self._refuse(413, "too_large", "Report too large", [reason], b"", None)
        try:
            credential = self.auth.authenticate(request.headers, body, now, check_replay=self.replays is None)
            if self.replays is not None and credential.signature and not await self.replays.first_time(credential.signature):
                raise AuthError("replayed signature")
        except RegisterUnavailable:
            self.intake.requests.labels("api", "unavailable").inc()
            return problem(503, "Not checked: try again", ["(service): the replay guard did not confirm"], {"Retry-After": "5"})
        except AuthError as exc:
            wait = self.failures.take(request.remote or "unknown", now)
            if wait > 0:
                return self._throttled(wait, None)
            challenge = {"WWW-Authenticate": 'Bearer realm="crucial-hour", HMAC-SHA256 realm="crucial-hour"'}
            return await self._refuse(
                401, "unauthenticated", "Not authenticated", [f"(auth): {exc.reason}"], body, None, challenge
            )
        wait = self.limits[credential.provider_id].take(credential.limit_key, now)
        if wait > 0:
            return self._throttled(wait, credential)
        if request.content_type != "application/json":
            reason = f"(request): content type '{request.content_type}' is not application/json"
            return await self._refuse(415, "unsupported_media_type", "Unsupported media type", [reason], body, credential)
        try:
            event = parse_event(body, self.bounds, datetime.now(UTC))
        except RejectedInput as exc:
            if any(r.startswith(("(root): not JSON", "(root): not UTF-8")) for r in exc.reasons):
                return await self._refuse(400, "malformed", "Not a JSON document", exc.reasons, body, credential)
            return await self._refuse(422, "invalid", "Report does not follow the schema", exc.reasons, body, credential)
        if not self.intake.placements_ready.is_set():  # whose placement it is cannot be told yet
            self.intake.requests.labels("api", "unavailable").inc()
            return problem(503, "Not stored: try again", ["(service): the placement register is loading"], {"Retry-After": "5"})
        if not may_report_for(
            credential.provider_id, event.placement.id, event.type, self.intake.providers, self.intake.placements
        ):
            reason = f"placement.id: placement '{event.placement.id}' is not one of provider '{credential.provider_id}'"
            return await self._refuse(403, "forbidden", "Placement not yours", [reason], body, credential)
        try:
            receipt = await self.intake.submit(event, body, "api", started, credential.provider_id)
        except Conflict as conflict:
            self.intake.requests.labels("api", "conflict").inc()
            log.info(
                "api %s: event %s refused 409: its id was sent before with another body", credential.provider_id, event.event_id
            )
            reply = problem(409, "Event id already used for a different report", [conflict.reason])
            return _with_reference(reply, conflict.reference)
        except Unavailable:
            self.intake.requests.labels("api", "unavailable").inc()
            return problem(503, "Not stored: try again", ["(service): the event stream did not confirm"], {"Retry-After": "5"})
        self.intake.requests.labels("api", "accepted").inc()
        log.info("api %s: event %s accepted (%s)", credential.provider_id, event.event_id, receipt["reference"] or "no reference")
        return web.json_response(dict(receipt), status=202)

    def _throttled(self, wait: float, credential: Credential | None) -> web.Response:
        self.intake.requests.labels("api", "rate_limited").inc()
        who = credential.limit_key if credential else "an unauthenticated address"
        log.warning("api: rate limit reached for %s", who)
        retry = str(max(1, math.ceil(wait)))
        return problem(429, "Too many requests", [f"(request): retry after {retry} s"], {"Retry-After": retry})

    async def _refuse(
        self,
        status: int,
        outcome: str,
        title: str,
        reasons: list[str],
        body: bytes,
        credential: Credential | None,
        headers: Mapping[str, str] | None = None,
    ) -> web.Response:
        who = credential.provider_id if credential else "unauthenticated"
        try:
            await self.intake.reject(body, reasons, source=f"api:{who}")
        except Unavailable:
            self.intake.requests.labels("api", "unavailable").inc()
            return problem(503, "Not recorded: try again", ["(service): the event stream did not confirm"], {"Retry-After": "5"})
        self.intake.requests.labels("api", outcome).inc()
        log.info("api %s: refused %d %s [%s]", who, status, outcome, loggable_fields(reasons))
        return problem(status, title, reasons, headers)


def _with_reference(reply: web.Response, reference: str) -> web.Response:
    body = json.loads(reply.body) if isinstance(reply.body, bytes) else {}
    body["reference"] = reference
    return web.json_response(body, status=reply.status, content_type=PROBLEM_JSON)


# --- OpenAPI --------------------------------------------------------------------------------------


def _problem_response(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    if headers:
        response["headers"] = headers
    return response


def openapi_document() -> dict[str, Any]:
    """The API's OpenAPI 3.1 description, generated from the contract's pydantic models."""
    event = PlacementEvent.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = dict(sorted(event.pop("$defs", {}).items()))
    schemas["PlacementEvent"] = event
    schemas["Accepted"] = {
        "type": "object",
        "required": ["status", "reference", "event_id"],
        "properties": {
            "status": {"const": "accepted"},
            "reference": {
                "type": ["string", "null"],
                "pattern": "^CH-[A-Z2-7]{6}$",
                "description": "quote this; same for a retry. For an update or a return: the reference of the "
                "incident it changes; null when there is none, or when it is recorded as a claim (see note)",
            },
            "event_id": {"type": "string"},
            "note": {"type": "string", "description": "why an update or a return has no reference"},
        },
    }
    schemas["Conflict"] = {
        "allOf": [
            {"$ref": "#/components/schemas/Problem"},
            {
                "type": "object",
                "required": ["reference"],
                "properties": {"reference": {"type": "string", "description": "the reference the event id was given"}},
            },
        ]
    }
    schemas["Problem"] = {
        "type": "object",
        "required": ["title", "status", "reasons", "errors"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "reasons": {"type": "array", "items": {"type": "string"}, "description": "'field.path: message' each"},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["field", "message"],
                    "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                },
            },
        },
    }
    retry_after = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "string", "pattern": "^[0-9]+$"}}}
    from streams.placements import openapi_paths  # here: streams.placements imports this module

    placement_paths, placement_schemas = openapi_paths(_problem_response, retry_after)
    schemas |= {name: schema for name, schema in placement_schemas.items() if name not in schemas}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Crucial Hour ingest API",
            "version": "1",
            "description": (
                "Placement providers report a child missing from care, returned, or news of them. "
                "Authenticate with `Authorization: Bearer <API key>`, or sign each attempt: "
                "`X-Crucial-Key-Id`, `X-Crucial-Timestamp` (Unix seconds, within the replay window) and "
                '`X-Crucial-Signature: sha256=<hex HMAC-SHA256 over "<timestamp>." + body>`. '
                "A 202 means the report is stored; retry anything else but 4xx with the same event_id "
                "(a retry gets the same reference). Refused reports are kept with their reasons.\n\n"
                "Identity: references are the server's, one per (provider, event id). The same event id "
                "with a different body (leaving out reported_at) is refused 409 with the reference it was "
                "given; send a correction as an `update` with an event id of its own.\n\n"
                "Who may change an incident: `left_placement`, `update` and `returned` change a child's "
                "open incident only when they come from the provider whose placement opened it, or from "
                "a provider configured as an authority for the child (providers.yaml `authority_for`). "
                "Anything else is accepted (202, reference null, with a note) but only recorded on the "
                "incident's timeline as an unverified claim, and the incident's recipients are asked to "
                "confirm it (an SMS reply `CONFIRM <reference> <claim>`, or the situation board). The "
                "provider is the authenticated principal; records produced straight on Kafka name it in "
                "the `crucial-provider` header and are trusted per Kafka ACL."
            ),
        },
        "paths": {
            EVENTS_PATH: {
                "post": {
                    "operationId": "postPlacementEvent",
                    "summary": "Report a placement event",
                    "security": [{"apiKey": []}, {"hmacKeyId": [], "hmacTimestamp": [], "hmacSignature": []}],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PlacementEvent"}}},
                    },
                    "responses": {
                        "202": {
                            "description": "Stored (acknowledged by Kafka); the reference to quote",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Accepted"}}},
                        },
                        "400": _problem_response("Not UTF-8 JSON"),
                        "401": _problem_response("Missing, unknown, stale or replayed credentials"),
                        "403": _problem_response("The placement is neither the provider's nor in an area it is an authority for"),
                        "413": _problem_response("Body larger than the limit"),
                        "409": {
                            "description": "The event id was sent before with a different body; kept with its reason",
                            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Conflict"}}},
                        },
                        "415": _problem_response("Content-Type is not application/json"),
                        "422": _problem_response("The event breaks the contract; reasons name each field"),
                        "429": _problem_response("Too many requests for this key (or failed attempts)", retry_after),
                        "503": _problem_response("Kafka did not acknowledge: retry", retry_after),
                    },
                }
            },
            **placement_paths,
            OPENAPI_PATH: {
                "get": {
                    "operationId": "getOpenApi",
                    "summary": "This description",
                    "security": [],
                    "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {}}}}},
                }
            },
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer", "description": "a provider API key"},
                "hmacKeyId": {"type": "apiKey", "in": "header", "name": "X-Crucial-Key-Id"},
                "hmacTimestamp": {"type": "apiKey", "in": "header", "name": "X-Crucial-Timestamp"},
                "hmacSignature": {"type": "apiKey", "in": "header", "name": "X-Crucial-Signature"},
            },
        },
    }


def openapi_text() -> str:
    """docs/openapi.json's exact text."""
    return json.dumps(openapi_document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# --- registration ---------------------------------------------------------------------------------


def register_ingest_views(worker: Worker) -> Intake:
    """POST /v1/events, GET /v1/openapi.json and the report form, on the worker's web port."""
    from streams.form import register_form_views

    check_secrets(worker.config)  # outside the demo, a missing key stops the worker here
    config = worker.config.providers
    secrets, problems = load_hmac_secrets(config)
    for line in problems:
        log.warning("%s", line)
    from streams.placements import register_placement_views

    intake = Intake(worker)
    authenticator = ProviderAuthenticator(config, secrets, config.ingest.signature_window_s)
    api = IngestApi(intake, authenticator, worker.config.settings.intake, worker.registers.replays)
    document = openapi_text().encode()
    app = worker.app

    @app.page(EVENTS_PATH)
    class Events(View):
        """Placement reports (see streams.api)."""

        async def post(self, request: Request) -> Response:
            return cast(Response, await api.handle(cast(web.Request, request)))

    @app.page(OPENAPI_PATH)
    class OpenApi(View):
        """The OpenAPI description of the ingest API."""

        async def get(self, request: Request) -> Response:
            return cast(Response, web.Response(body=document, content_type="application/json"))

    register_form_views(worker, intake)
    register_placement_views(worker, intake, authenticator)  # PUT/DELETE /v1/placements/{id}, GET /v1/placements
    return intake


if __name__ == "__main__":
    print(openapi_text(), end="")
