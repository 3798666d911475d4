"""The placement register on its compacted topic: every worker follows it into memory, and providers'
own systems manage their placements over an authenticated API on the worker's web port.

    PUT    /v1/placements/{id}   body: the placement (provider_id may be left out: it is the caller's)
    DELETE /v1/placements/{id}   body: {"placement_id": "<id>"} (so that a signature covers what goes)
    GET    /v1/placements        the caller's placements: ids, names and how many children

Credentials are the ingest API's (streams/auth.py: bearer API key or HMAC signature). A provider may
create a placement nobody holds and change or delete only its own: another provider's placement is
403. Answers come once Kafka has acknowledged the write. Logs carry provider, placement id, status and
field paths — never a child's details.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from typing import TYPE_CHECKING, Any, cast

from aiohttp import web
from aiokafka import ConsumerRecord
from faust.web import Request, Response, View

from alerts.config import Config
from alerts.errors import RejectedInput
from alerts.placements import Placement, PlacementRegister, parse_placement
from streams.api import problem, read_limited
from streams.auth import AuthError, Credential, ProviderAuthenticator, RateLimiter
from streams.follow import Follower
from streams.metrics import PLACEMENTS

if TYPE_CHECKING:
    from streams.app import Worker

log = logging.getLogger("crucial.placements")

PLACEMENTS_PATH = "/v1/placements"
# A placement with its children's part 1 is larger than a report: up to 200 children.
MAX_BODY_BYTES = 512 * 1024


def apply_placement_record(register: PlacementRegister, key: bytes | None, value: bytes | None) -> str:
    """Apply one record of the register's topic (a tombstone deletes); returns the outcome label.
    A record that does not validate is refused as a whole, its field paths logged (never values)."""
    placement_id = key.decode("utf-8", "replace") if key is not None else None
    if value is None:
        if placement_id is not None:
            register.remove(placement_id)
        return "removed"
    try:
        placement = parse_placement(value)
    except RejectedInput as exc:
        fields = sorted({reason.partition(": ")[0] for reason in exc.reasons})
        log.error("placement record %s refused: invalid %s", placement_id, ", ".join(fields))
        return "rejected"
    if placement.placement_id != placement_id:
        log.error("placement record %s refused: its key is not its placement_id", placement_id)
        return "rejected"
    register.upsert(placement)
    return "upserted"


class PlacementFeed(Follower):
    """Keeps a worker's register current: one decode-and-apply per record (`apply_record`)."""

    def __init__(self, config: Config, register: PlacementRegister) -> None:
        self.register = register
        super().__init__(config, [config.settings.kafka.topics.placements], self.apply_record, "placement register")

    def apply_record(self, record: ConsumerRecord[bytes, bytes]) -> None:
        PLACEMENTS.labels(apply_placement_record(self.register, record.key, record.value)).inc()


class PlacementApi:
    """The request handling behind /v1/placements (see the module docstring)."""

    def __init__(self, worker: Worker, authenticator: ProviderAuthenticator) -> None:
        config = worker.config
        self.auth, self.register, self.feed = authenticator, worker.placements, worker.placement_feed
        self.timeout_s = config.providers.ingest.produce_timeout_s
        self.limits = {
            pid: RateLimiter(p.rate_limit.per_minute, p.rate_limit.burst) for pid, p in config.providers.providers.items()
        }
        per_minute = config.providers.ingest.failed_auth_per_minute
        self.failures = RateLimiter(per_minute, per_minute)
        self._topic = worker.app.topic(config.settings.kafka.topics.placements, key_serializer="raw", value_serializer="raw")

    async def _caller(self, request: web.Request, body: bytes) -> Credential | web.Response:
        now = time.time()
        try:
            credential = self.auth.authenticate(request.headers, body, now)
        except AuthError as exc:
            wait = self.failures.take(request.remote or "unknown", now)
            if wait > 0:
                return _throttled(wait)
            challenge = {"WWW-Authenticate": 'Bearer realm="crucial-hour", HMAC-SHA256 realm="crucial-hour"'}
            return problem(401, "Not authenticated", [f"(auth): {exc.reason}"], challenge)
        wait = self.limits[credential.provider_id].take(credential.limit_key, now)
        if wait > 0:
            return _throttled(wait)
        if not self.feed.ready.is_set():
            return problem(503, "Placement register loading: try again", ["(service): not caught up yet"], {"Retry-After": "5"})
        return credential

    async def _body(self, request: web.Request) -> bytes | web.Response:
        length = request.content_length
        body = None if length is not None and length > MAX_BODY_BYTES else await read_limited(request, MAX_BODY_BYTES)
        if body is None:
            return problem(413, "Too large", [f"(request): body exceeds the limit of {MAX_BODY_BYTES} bytes"])
        return body

    def _not_yours(self, credential: Credential, placement_id: str) -> web.Response | None:
        owner = self.register.owner(placement_id)
        if owner is not None and owner != credential.provider_id:
            log.warning("placements %s: refused 403 for placement %s", credential.provider_id, placement_id)
            reason = f"placement_id: placement '{placement_id}' is not one of provider '{credential.provider_id}'"
            return problem(403, "Placement not yours", [reason])
        return None

    async def put(self, request: web.Request, placement_id: str) -> web.Response:
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        credential = await self._caller(request, body)
        if isinstance(credential, web.Response):
            return credential
        if request.content_type != "application/json":
            return problem(
                415, "Unsupported media type", [f"(request): content type '{request.content_type}' is not application/json"]
            )
        placement = _placement_of(body, placement_id, credential.provider_id)
        if isinstance(placement, web.Response):
            return placement
        if (refused := self._not_yours(credential, placement_id)) is not None:
            return refused
        if (failed := await self._produce(placement_id, placement.model_dump_json().encode())) is not None:
            return failed
        self.register.upsert(placement)  # this worker reads its own write at once; the feed applies it again
        log.info(
            "placements %s: placement %s stored (%d children)", credential.provider_id, placement_id, len(placement.children)
        )
        return web.json_response({"status": "stored", "placement_id": placement_id, "children": len(placement.children)})

    async def delete(self, request: web.Request, placement_id: str) -> web.Response:
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        credential = await self._caller(request, body)
        if isinstance(credential, web.Response):
            return credential
        try:
            named = json.loads(body).get("placement_id")
        except (ValueError, AttributeError):
            named = None
        if named != placement_id:
            return problem(
                422, "Say which placement", ['placement_id: the body must be {"placement_id": "<the id in the path>"}']
            )
        if (refused := self._not_yours(credential, placement_id)) is not None:
            return refused
        if self.register.owner(placement_id) is None:
            return problem(404, "No such placement", [f"placement_id: placement '{placement_id}' is not registered"])
        if (failed := await self._produce(placement_id, None)) is not None:
            return failed
        self.register.remove(placement_id)
        log.info("placements %s: placement %s deleted", credential.provider_id, placement_id)
        return web.json_response({"status": "deleted", "placement_id": placement_id})

    async def list(self, request: web.Request) -> web.Response:
        credential = await self._caller(request, b"")
        if isinstance(credential, web.Response):
            return credential
        own = self.register.of_provider(credential.provider_id)
        return web.json_response(
            {"placements": [{"placement_id": p.placement_id, "name": p.name, "children": len(p.children)} for p in own]}
        )

    async def _produce(self, placement_id: str, value: bytes | None) -> web.Response | None:
        try:
            pending = await asyncio.wait_for(self._topic.send(key=placement_id.encode(), value=value), self.timeout_s)
            await asyncio.wait_for(asyncio.shield(pending), self.timeout_s)
        except Exception as exc:
            log.error("kafka did not acknowledge a placement write: %s", type(exc).__name__)
            return problem(503, "Not stored: try again", ["(service): the event stream did not confirm"], {"Retry-After": "5"})
        return None


def _placement_of(body: bytes, placement_id: str, provider_id: str) -> Placement | web.Response:
    """The body as a placement of the caller's, with the path's id; 400/422 with field reasons if not."""
    try:
        doc: Any = json.loads(body)
    except ValueError as exc:
        return problem(400, "Not a JSON document", [f"(root): not JSON ({type(exc).__name__})"])
    if not isinstance(doc, dict):
        return problem(422, "Placement does not follow the schema", ["(root): must be an object"])
    for key, wanted in (("placement_id", placement_id), ("provider_id", provider_id)):
        if doc.setdefault(key, wanted) != wanted:
            return problem(422, "Placement does not follow the schema", [f"{key}: must be '{wanted}' (or left out)"])
    try:
        return parse_placement(json.dumps(doc))
    except RejectedInput as exc:
        return problem(422, "Placement does not follow the schema", exc.reasons)


def _throttled(wait: float) -> web.Response:
    retry = str(max(1, math.ceil(wait)))
    return problem(429, "Too many requests", [f"(request): retry after {retry} s"], {"Retry-After": retry})


def register_placement_views(worker: Worker, authenticator: ProviderAuthenticator) -> None:
    api = PlacementApi(worker, authenticator)
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
