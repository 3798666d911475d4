"""The ingest API on the worker's web port: `POST /v1/events` and its OpenAPI description.

A report is answered 202 with its reference only once Kafka has acknowledged the write (the app's
producer runs with acks=all); whatever is refused is answered 4xx with field-level reasons, and is kept
with its reason on the rejected topic *before* the answer goes out. A request is checked in this order:

    size (413) -> credentials (401; 429 once one address has failed too often) -> the credential's
    rate limit (429 + Retry-After) -> content type (415) -> JSON (400) and the contract (422) ->
    the placement is the authenticated provider's in the placement register (403) -> produced and acknowledged (202; 503)

The reference is `alerts.triage.incident_ids(event_id)[1]`: a retried event id gets the same one and the
triage agent treats a replayed event id idempotently, so a client may always retry. Rate-limited (429)
requests are not recorded: nothing was judged, and the client is told when to retry.

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

from alerts.config import IntakeLimits, Provider
from alerts.errors import RejectedInput
from alerts.intake import parse_event, rejection
from alerts.model import PlacementEvent
from alerts.triage import incident_ids
from streams.auth import AuthError, Credential, ProviderAuthenticator, RateLimiter, load_hmac_secrets

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
)


class Unavailable(Exception):
    """Kafka did not acknowledge in time (or refused): the client should retry."""


class Intake:
    """Produces reports and keeps rejections, each awaited until the broker acknowledges.

    Shared by the API and the report form: both hand over a validated event and get its reference.
    """

    def __init__(self, worker: Worker) -> None:
        config = worker.config
        self.settings = config.providers.ingest
        self.max_raw_bytes = config.settings.kafka.quarantine.max_raw_bytes
        self.providers: Mapping[str, Provider] = config.providers.providers
        self.placements, self.placements_ready = worker.placements, worker.placement_feed.ready
        names = config.settings.kafka.topics
        self._events = worker.app.topic(names.placement_events, key_serializer="raw", value_serializer="raw")
        self._rejected = worker.app.topic(names.rejected, key_serializer="raw", value_serializer="raw")
        self.requests = Counter(
            "crucial_ingest_requests_total",
            "Reports received over HTTP, by route (api, form) and outcome (accepted, malformed, invalid, "
            "unauthenticated, forbidden, too_large, unsupported_media_type, rate_limited, unavailable).",
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

    async def _produce(self, topic: Any, key: bytes | None, value: bytes) -> None:
        timeout = self.settings.produce_timeout_s
        try:
            pending = await asyncio.wait_for(topic.send(key=key, value=value), timeout)
            # shield: a timeout must not cancel the send; the message may still land, and a retry is safe.
            await asyncio.wait_for(asyncio.shield(pending), timeout)
        except Exception as exc:
            log.error("kafka did not acknowledge a write to %s: %s", topic.get_topic_name(), type(exc).__name__)
            raise Unavailable(type(exc).__name__) from None

    async def submit(self, event: PlacementEvent, raw: bytes, route: str, started: float) -> str:
        """Produce the event (keyed by child reference); return its reference once Kafka acknowledged it."""
        await self._produce(self._events, event.child.reference.encode(), raw)
        self.ack_seconds.labels(route).observe(time.monotonic() - started)
        return incident_ids(event.event_id)[1]

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

    def __init__(self, intake: Intake, authenticator: ProviderAuthenticator, limits: IntakeLimits | None = None) -> None:
        self.intake, self.auth = intake, authenticator
        self.bounds = limits  # the intake bounds every way in shares (None: the defaults)
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
            credential = self.auth.authenticate(request.headers, body, now)
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
        if self.intake.placements.owner(event.placement.id) != credential.provider_id:
            reason = f"placement.id: placement '{event.placement.id}' is not one of provider '{credential.provider_id}'"
            return await self._refuse(403, "forbidden", "Placement not yours", [reason], body, credential)
        try:
            reference = await self.intake.submit(event, body, "api", started)
        except Unavailable:
            self.intake.requests.labels("api", "unavailable").inc()
            return problem(503, "Not stored: try again", ["(service): the event stream did not confirm"], {"Retry-After": "5"})
        self.intake.requests.labels("api", "accepted").inc()
        log.info("api %s: event %s accepted as %s", credential.provider_id, event.event_id, reference)
        return web.json_response({"status": "accepted", "reference": reference, "event_id": event.event_id}, status=202)

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
        fields = sorted({r.partition(": ")[0] for r in reasons})
        log.info("api %s: refused %d %s [%s]", who, status, outcome, ", ".join(fields))
        return problem(status, title, reasons, headers)


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
            "reference": {"type": "string", "pattern": "^CH-[A-Z2-7]{6}$", "description": "quote this; same for a retry"},
            "event_id": {"type": "string"},
        },
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
                "(a retry gets the same reference). Refused reports are kept with their reasons."
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
                        "403": _problem_response("The placement is not the authenticated provider's"),
                        "413": _problem_response("Body larger than the limit"),
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

    config = worker.config.providers
    secrets, problems = load_hmac_secrets(config)
    for line in problems:
        log.warning("%s", line)
    from streams.placements import register_placement_views

    intake = Intake(worker)
    authenticator = ProviderAuthenticator(config, secrets, config.ingest.signature_window_s)
    api = IngestApi(intake, authenticator, worker.config.settings.intake)
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
