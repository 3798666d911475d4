"""Web views on the worker's port, beside Faust's /metrics: liveness, readiness and reload here, every
other page registered from its own module; and the two middlewares every response passes through:

- the client's address: X-Forwarded-For (and -Proto) are believed only from the reverse proxies in
  settings.yaml `web.trusted_proxies`, walking the chain from the right to the first address that is
  not a trusted proxy; from anyone else they are ignored. (aiohttp-remotes' XForwardedStrict refuses
  requests from untrusted peers outright, which would refuse Prometheus and health checks reaching
  the port directly; this is the relaxed rule with an explicit trust list.)
- security headers: no-store and the same headers on every response, pages' own CSP kept.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from aiohttp import web
from faust.web import Request, Response, View

from alerts.secrets import load_hmac_secrets
from streams.pipeline.checks import check_required_keys
from streams.web.api import EVENTS_PATH, OPENAPI_PATH, IngestApi, Intake
from streams.web.auth.providers import ProviderAuthenticator
from streams.web.board import register_board
from streams.web.form import register_form_views
from streams.web.openapi import openapi_text
from streams.web.placements import register_placement_views
from streams.web.voice_webhooks import register_voice_webhooks
from streams.web.webhooks import register_webhooks

if TYPE_CHECKING:
    from streams.web.ports import WorkerPort

log = logging.getLogger("crucial.web")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def client_address(peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[Network]) -> str | None:
    """The client's address: `peer` unless it is a trusted proxy, then the right-most address of the
    X-Forwarded-For chain that is not one (a malformed entry stops the walk: trust ends there)."""

    def is_trusted(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in trusted)

    if peer is None or not is_trusted(peer):
        return peer
    client = peer
    chain = [part.strip() for header in forwarded_for for part in header.split(",") if part.strip()]
    for address in reversed(chain):
        try:
            ipaddress.ip_address(address)
        except ValueError:
            break
        client = address
        if not is_trusted(address):
            break
    return client


def forwarded_middleware(trusted: Sequence[Network]) -> Any:
    @web.middleware
    async def forwarded(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not trusted or request.remote is None:
            return await handler(request)
        client = client_address(request.remote, request.headers.getall("X-Forwarded-For", []), trusted)
        if client == request.remote:
            return await handler(request)
        changes: dict[str, Any] = {"remote": client}
        proto = request.headers.get("X-Forwarded-Proto", "").split(",")[-1].strip().lower()
        if proto in ("http", "https"):
            changes["scheme"] = proto
        return await handler(request.clone(**changes))

    return forwarded


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _add_headers(exc.headers)
        raise
    _add_headers(response.headers)
    return response


def _add_headers(headers: Any) -> None:
    for name, value in SECURITY_HEADERS.items():
        headers.setdefault(name, value)


def register_views(worker: WorkerPort, ingest: bool = True) -> None:
    """Every page; `ingest` False (a deliver-only worker, streams/pipeline/roles.py): all but the report
    API, the form and /v1/placements, which answer from the profile index that worker does not hold."""
    app = worker.app
    web_app = app.web.web_app  # type: ignore[attr-defined]
    web_app.middlewares.append(forwarded_middleware(worker.config.settings.web.trusted_proxies))
    web_app.middlewares.append(security_headers)
    if ingest:
        register_ingest_views(worker)  # POST /v1/events, GET /v1/openapi.json, the /report form, /v1/placements
    register_webhooks(worker)  # POST /twilio/status, POST /twilio/inbound
    register_voice_webhooks(worker)  # POST /twilio/voice/gather, POST /twilio/voice/status
    register_board(worker)  # /board (situation board), /ack/<token> (acknowledgement links)

    @app.page("/live")
    class Live(View):
        """200 while the event loop is responsive (its heartbeat on time); 503 once it is not."""

        async def get(self, request: Request) -> Response:
            ok, body = worker.heartbeat.alive(worker.config.settings.health.loop_block_seconds)
            return self.json(body, status=200 if ok else 503)

    @app.page("/ready")
    class Ready(View):
        """200 once the feeds this worker's role follows (the profile index, the placement register, the
        registers, the incident directory) are loaded and it holds partitions, and while no agent is crash-looping and no held
        partition is stalled; 503 otherwise (the body says which)."""

        async def get(self, request: Request) -> Response:
            assigned = sorted(f"{tp.topic}:{tp.partition}" for tp in app.consumer.assignment()) if app.consumer else []
            crash_looping = worker.progress.crash_looping()
            loading = {f"{name}_loaded": ready.is_set() for name, ready in worker.loading.items()}
            body: dict[str, Any] = {
                "role": str(worker.role),
                "profiles": len(worker.index),
                **loading,
                "assigned": assigned,
                "crash_looping": crash_looping,
                "stalled": worker.progress.stuck,
            }
            loaded = all(loading.values())
            ready = loaded and bool(assigned) and not app.rebalancing
            ready = ready and not crash_looping and not worker.progress.stuck
            return self.json(body, status=200 if ready else 503)

    @app.page("/-/reload")
    class Reload(View):
        """Re-read the config (as SIGHUP does). Loopback only, and never through a proxy: whoever can
        reach it can make the worker re-read its files, so it is not published (docs/operations.md)."""

        async def post(self, request: Request) -> Response:
            if not _from_loopback(request):
                return self.json({"error": "reload is accepted from loopback only, not through a proxy"}, status=403)
            result = await worker.reloader.reload()
            body = {
                "reloaded": result.ok,
                "changed": result.changed,
                "needs_restart": result.needs_restart,
                "errors": result.errors,
            }
            return self.json(body, status=200 if result.ok else 400)


def _from_loopback(request: Request) -> bool:
    if any(h in request.headers for h in ("X-Forwarded-For", "Forwarded", "X-Real-IP")):
        return False  # arrived through a reverse proxy on this host
    try:
        return ipaddress.ip_address(getattr(request, "remote", None) or "").is_loopback  # aiohttp's Request
    except ValueError:
        return False


def register_ingest_views(worker: WorkerPort) -> Intake:
    """POST /v1/events, GET /v1/openapi.json, the report form and /v1/placements, on the worker's web port."""
    check_required_keys(worker.config)  # outside the demo, a missing key stops the worker here
    config = worker.config.providers
    secrets, problems = load_hmac_secrets(config)
    for line in problems:
        log.warning("%s", line)
    intake = Intake(worker)
    authenticator = ProviderAuthenticator(config, secrets, config.ingest.signature_window_s)
    api = IngestApi(intake, authenticator, worker.config.settings.intake, worker.registers.replays)
    document = openapi_text().encode()
    app = worker.app

    @app.page(EVENTS_PATH)
    class Events(View):
        """Placement reports (see streams.web.api)."""

        async def post(self, request: Request) -> Response:
            return cast(Response, await api.handle(cast(web.Request, request)))

    @app.page(OPENAPI_PATH)
    class OpenApi(View):
        """The OpenAPI description of the ingest API (streams.web.openapi)."""

        async def get(self, request: Request) -> Response:
            return cast(Response, web.Response(body=document, content_type="application/json"))

    register_form_views(worker, intake)
    register_placement_views(worker, intake, authenticator)  # PUT/DELETE /v1/placements/{id}, GET /v1/placements
    return intake
