"""Providers' own systems manage their placements over an authenticated API on the worker's web port
(the register itself is followed into memory by streams.pipeline.placements.PlacementFeed).

    PUT    /v1/placements/{id}   body: the placement (provider_id may be left out: it is the caller's)
    DELETE /v1/placements/{id}   body: {"placement_id": "<id>"} (so that a signature covers what goes)
    GET    /v1/placements        the caller's placements: ids, names and how many children

Credentials are the ingest API's (streams.web.auth: bearer API key or HMAC signature). A provider may
create a placement nobody holds and change or delete only its own: another provider's placement is
403. Answers come once Kafka has acknowledged the write. Refusals (400, 401, 403, 404, 413, 415, 422)
are kept on the rejected topic with their reasons, as refused reports are; every answer is counted in
crucial_ingest_requests_total{route="placements"}. Logs carry provider, placement id, status and field
paths — never a child's details.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

from aiohttp import web
from faust.web import Request, Response, View

from alerts.errors import RejectedInput
from alerts.placements import Placement, parse_placement
from streams.web.api import Intake, Unavailable, problem, read_limited
from streams.web.auth.providers import Credential, ProviderAuthenticator
from streams.web.auth.rate_limit import RateLimiter
from streams.web.auth.signing import AuthError

if TYPE_CHECKING:
    from streams.web.ports import WorkerPort

log = logging.getLogger("crucial.placements")

PLACEMENTS_PATH = "/v1/placements"
# A placement with its children's part 1 is larger than a report: up to 200 children.
MAX_BODY_BYTES = 512 * 1024


class Refused(Exception):
    """A request refused with a problem document: status, title, reasons (field paths), headers."""

    def __init__(self, status: int, title: str, reasons: list[str], headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status, title)
        self.status, self.title, self.reasons, self.headers = status, title, reasons, headers


# A refusal -> the outcome label of crucial_ingest_requests_total{route="placements"}; those with a
# body worth keeping go to the rejected topic with their reasons, as refused reports do.
OUTCOME_OF = {
    400: "malformed",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
    503: "unavailable",
}
KEPT = {400, 401, 403, 404, 413, 415, 422}
Handler = Callable[[web.Request, bytes, Credential, str], Awaitable[web.Response]]


class PlacementApi:
    """The request handling behind /v1/placements (see the module docstring)."""

    def __init__(self, worker: WorkerPort, intake: Intake, authenticator: ProviderAuthenticator) -> None:
        config = worker.config
        self.intake, self.auth, self.register, self.feed = intake, authenticator, worker.placements, worker.placement_feed
        self.timeout_s = config.providers.ingest.produce_timeout_s
        self.limits = {
            pid: RateLimiter(p.rate_limit.per_minute, p.rate_limit.burst) for pid, p in config.providers.providers.items()
        }
        per_minute = config.providers.ingest.failed_auth_per_minute
        self.failures = RateLimiter(per_minute, per_minute)
        self._topic = worker.app.topic(config.settings.kafka.topics.placements, key_serializer="raw", value_serializer="raw")
        for outcome in ("accepted", *OUTCOME_OF.values()):
            intake.requests.labels("placements", outcome)

    async def put(self, request: web.Request, placement_id: str) -> web.Response:
        return await self._answer(request, placement_id, self._put)

    async def delete(self, request: web.Request, placement_id: str) -> web.Response:
        return await self._answer(request, placement_id, self._delete)

    async def list(self, request: web.Request) -> web.Response:
        return await self._answer(request, "", self._list)

    async def _answer(self, request: web.Request, placement_id: str, handle: Handler) -> web.Response:
        body, who = b"", "unauthenticated"
        try:
            body = await self._body(request)
            credential = await self._caller(request, body)
            who = credential.provider_id
            reply = await handle(request, body, credential, placement_id)
        except Refused as refused:
            return await self._refuse(refused, body, who)
        self.intake.requests.labels("placements", "accepted").inc()
        return reply

    async def _refuse(self, refused: Refused, body: bytes, who: str) -> web.Response:
        if refused.status in KEPT:
            try:
                await self.intake.reject(body, refused.reasons, source=f"placements-api:{who}")
            except Unavailable:
                refused = Refused(503, "Not recorded: try again", ["(service): the event stream did not confirm"], RETRY)
        self.intake.requests.labels("placements", OUTCOME_OF.get(refused.status, "invalid")).inc()
        fields = sorted({r.partition(": ")[0] for r in refused.reasons})
        log.info("placements %s: refused %d [%s]", who, refused.status, ", ".join(fields))
        return problem(refused.status, refused.title, refused.reasons, refused.headers)

    async def _caller(self, request: web.Request, body: bytes) -> Credential:
        now = time.time()
        try:
            credential = self.auth.authenticate(request.headers, body, now)
        except AuthError as exc:
            wait = self.failures.take(request.remote or "unknown", now)
            if wait > 0:
                raise _throttled(wait) from None
            challenge = {"WWW-Authenticate": 'Bearer realm="crucial-hour", HMAC-SHA256 realm="crucial-hour"'}
            raise Refused(401, "Not authenticated", [f"(auth): {exc.reason}"], challenge) from None
        wait = self.limits[credential.provider_id].take(credential.limit_key, now)
        if wait > 0:
            raise _throttled(wait)
        if not self.feed.ready.is_set():
            raise Refused(503, "Placement register loading: try again", ["(service): not caught up yet"], RETRY)
        return credential

    async def _body(self, request: web.Request) -> bytes:
        length = request.content_length
        body = None if length is not None and length > MAX_BODY_BYTES else await read_limited(request, MAX_BODY_BYTES)
        if body is None:
            raise Refused(413, "Too large", [f"(request): body exceeds the limit of {MAX_BODY_BYTES} bytes"])
        return body

    def _check_not_anothers(self, credential: Credential, placement_id: str) -> None:
        owner = self.register.owner(placement_id)
        if owner is not None and owner != credential.provider_id:
            reason = f"placement_id: placement '{placement_id}' is not one of provider '{credential.provider_id}'"
            raise Refused(403, "Placement not yours", [reason])

    async def _put(self, request: web.Request, body: bytes, credential: Credential, placement_id: str) -> web.Response:
        if request.content_type != "application/json":
            reason = f"(request): content type '{request.content_type}' is not application/json"
            raise Refused(415, "Unsupported media type", [reason])
        placement = _placement_of(body, placement_id, credential.provider_id)
        self._check_not_anothers(credential, placement_id)
        await self._produce(placement_id, placement.model_dump_json().encode())
        self.register.upsert(placement)  # this worker reads its own write at once; the feed applies it again
        children = len(placement.children)
        log.info("placements %s: placement %s stored (%d children)", credential.provider_id, placement_id, children)
        return web.json_response({"status": "stored", "placement_id": placement_id, "children": children})

    async def _delete(self, request: web.Request, body: bytes, credential: Credential, placement_id: str) -> web.Response:
        try:
            named = json.loads(body).get("placement_id")
        except (ValueError, AttributeError):
            named = None
        if named != placement_id:
            raise Refused(422, "Say which placement", ['placement_id: the body must be {"placement_id": "<the id in the path>"}'])
        self._check_not_anothers(credential, placement_id)
        if self.register.owner(placement_id) is None:
            raise Refused(404, "No such placement", [f"placement_id: placement '{placement_id}' is not registered"])
        await self._produce(placement_id, None)
        self.register.remove(placement_id)
        log.info("placements %s: placement %s deleted", credential.provider_id, placement_id)
        return web.json_response({"status": "deleted", "placement_id": placement_id})

    async def _list(self, request: web.Request, body: bytes, credential: Credential, placement_id: str) -> web.Response:
        own = self.register.of_provider(credential.provider_id)
        return web.json_response(
            {"placements": [{"placement_id": p.placement_id, "name": p.name, "children": len(p.children)} for p in own]}
        )

    async def _produce(self, placement_id: str, value: bytes | None) -> None:
        try:
            pending = await asyncio.wait_for(self._topic.send(key=placement_id.encode(), value=value), self.timeout_s)
            await asyncio.wait_for(asyncio.shield(pending), self.timeout_s)
        except Exception as exc:
            log.error("kafka did not acknowledge a placement write: %s", type(exc).__name__)
            raise Refused(503, "Not stored: try again", ["(service): the event stream did not confirm"], RETRY) from None


def _placement_of(body: bytes, placement_id: str, provider_id: str) -> Placement:
    """The body as a placement of the caller's, with the path's id; Refused (400/422) with field reasons if not."""
    try:
        doc: Any = json.loads(body)
    except ValueError as exc:
        raise Refused(400, "Not a JSON document", [f"(root): not JSON ({type(exc).__name__})"]) from None
    if not isinstance(doc, dict):
        raise Refused(422, "Placement does not follow the schema", ["(root): must be an object"])
    for key, wanted in (("placement_id", placement_id), ("provider_id", provider_id)):
        if doc.setdefault(key, wanted) != wanted:
            raise Refused(422, "Placement does not follow the schema", [f"{key}: must be '{wanted}' (or left out)"])
    try:
        return parse_placement(json.dumps(doc))
    except RejectedInput as exc:
        raise Refused(422, "Placement does not follow the schema", exc.reasons) from None


RETRY = {"Retry-After": "5"}


def _throttled(wait: float) -> Refused:
    retry = str(max(1, math.ceil(wait)))
    return Refused(429, "Too many requests", [f"(request): retry after {retry} s"], {"Retry-After": retry})


def register_placement_views(worker: WorkerPort, intake: Intake, authenticator: ProviderAuthenticator) -> None:
    api = PlacementApi(worker, intake, authenticator)
    app = worker.app

    @app.page(PLACEMENTS_PATH)
    class Placements(View):
        async def get(self, request: Request) -> Response:
            return cast(Response, await api.list(cast(web.Request, request)))

    @app.page(PLACEMENTS_PATH + "/{placement_id}")
    class OnePlacement(View):
        async def put(self, request: Request, placement_id: str) -> Response:
            return cast(Response, await api.put(cast(web.Request, request), placement_id))

        async def delete(self, request: Request, placement_id: str) -> Response:
            return cast(Response, await api.delete(cast(web.Request, request), placement_id))


def openapi_paths(
    problem_response: Callable[..., dict[str, Any]], retry_after: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The /v1/placements routes and their schemas, for streams.web.openapi's document."""
    return _paths(problem_response, retry_after), _schemas()


def _schemas() -> dict[str, Any]:
    placement = Placement.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = dict(placement.pop("$defs", {}))
    schemas["RegisteredPlacement"] = placement  # "Placement" is the report's placement object
    schemas["PlacementStored"] = {
        "type": "object",
        "required": ["status", "placement_id"],
        "properties": {
            "status": {"enum": ["stored", "deleted"]},
            "placement_id": {"type": "string"},
            "children": {"type": "integer"},
        },
    }
    schemas["PlacementList"] = {
        "type": "object",
        "required": ["placements"],
        "properties": {
            "placements": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["placement_id", "name", "children"],
                    "properties": {
                        "placement_id": {"type": "string"},
                        "name": {"type": "string"},
                        "children": {"type": "integer"},
                    },
                },
            }
        },
    }
    return schemas


def _ok(description: str, schema: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def _paths(problem_response: Callable[..., dict[str, Any]], retry_after: dict[str, Any]) -> dict[str, Any]:
    security: list[dict[str, list[str]]] = [{"apiKey": []}, {"hmacKeyId": [], "hmacTimestamp": [], "hmacSignature": []}]
    refusals = {
        "401": problem_response("Missing, unknown, stale or replayed credentials"),
        "413": problem_response("Body larger than the limit"),
        "422": problem_response("The body breaks the contract; reasons name each field"),
        "429": problem_response("Too many requests for this key (or failed attempts)", retry_after),
        "503": problem_response("The register is loading, or Kafka did not acknowledge: retry", retry_after),
    }

    # A placement id with "/" (the contract allows it) cannot be one path segment: such placements are
    # managed with `crucial placements`.
    id_pattern = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,79}$"
    path_id = [{"name": "placement_id", "in": "path", "required": True, "schema": {"type": "string", "pattern": id_pattern}}]
    delete_body = {
        "type": "object",
        "required": ["placement_id"],
        "properties": {"placement_id": {"type": "string", "description": "the id in the path again"}},
    }
    paths = {
        PLACEMENTS_PATH: {
            "get": {
                "operationId": "listPlacements",
                "summary": "The caller's placements in the register",
                "security": security,
                "responses": {"200": _ok("Ids, names and how many children", "PlacementList"), **refusals},
            }
        },
        PLACEMENTS_PATH + "/{placement_id}": {
            "put": {
                "operationId": "putPlacement",
                "summary": "Create or replace one of the caller's placements and its children (Philomena part 1)",
                "security": security,
                "parameters": path_id,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RegisteredPlacement"}}},
                },
                "responses": {
                    "200": _ok("Stored (acknowledged by Kafka)", "PlacementStored"),
                    "400": problem_response("Not JSON"),
                    "403": problem_response("Another provider's placement"),
                    "415": problem_response("Content-Type is not application/json"),
                    **refusals,
                },
            },
            "delete": {
                "operationId": "deletePlacement",
                "summary": "Remove one of the caller's placements (a tombstone on the register's topic)",
                "security": security,
                "parameters": path_id,
                "requestBody": {"required": True, "content": {"application/json": {"schema": delete_body}}},
                "responses": {
                    "200": _ok("Deleted (acknowledged by Kafka)", "PlacementStored"),
                    "403": problem_response("Another provider's placement"),
                    "404": problem_response("No such placement"),
                    **refusals,
                },
            },
        },
    }
    return paths
