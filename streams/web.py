"""Web views on the worker's port, beside Faust's /metrics: readiness for orchestration and tests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from faust.web import Request, Response, View

from streams.board import register_board
from streams.webhooks import register_webhooks

if TYPE_CHECKING:
    from streams.app import Worker


def register_views(worker: Worker) -> None:
    app = worker.app
    from streams.api import register_ingest_views  # here: streams.api imports streams.app

    register_ingest_views(worker)  # POST /v1/events, GET /v1/openapi.json, the /report form
    register_webhooks(worker)  # POST /twilio/status, POST /twilio/inbound
    register_board(worker)  # /board (situation board), /ack/<token> (acknowledgement links)

    @app.page("/live")
    class Live(View):
        """200 while the event loop is responsive (its heartbeat on time); 503 once it is not."""

        async def get(self, request: Request) -> Response:
            ok, body = worker.heartbeat.alive(worker.config.settings.health.loop_block_seconds)
            return self.json(body, status=200 if ok else 503)

    @app.page("/ready")
    class Ready(View):
        """200 once the profile index and the placement register are loaded and this worker holds
        partitions, and while no agent is crash-looping and no held partition is stalled; 503 otherwise
        (the body says which)."""

        async def get(self, request: Request) -> Response:
            assigned = sorted(f"{tp.topic}:{tp.partition}" for tp in app.consumer.assignment()) if app.consumer else []
            crash_looping = worker.progress.crash_looping()
            body: dict[str, Any] = {
                "profiles": len(worker.index),
                "profiles_loaded": worker.feed.ready.is_set(),
                "placements_loaded": worker.placement_feed.ready.is_set(),
                "assigned": assigned,
                "crash_looping": crash_looping,
                "stalled": worker.progress.stuck,
            }
            loaded = worker.feed.ready.is_set() and worker.placement_feed.ready.is_set()
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
    import ipaddress

    if any(h in request.headers for h in ("X-Forwarded-For", "Forwarded", "X-Real-IP")):
        return False  # arrived through a reverse proxy on this host
    try:
        return ipaddress.ip_address(getattr(request, "remote", None) or "").is_loopback  # aiohttp's Request
    except ValueError:
        return False
