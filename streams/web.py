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

    @app.page("/ready")
    class Ready(View):
        """200 once the profile index and the placement register are loaded and this worker holds
        partitions; 503 before."""

        async def get(self, request: Request) -> Response:
            assigned = sorted(f"{tp.topic}:{tp.partition}" for tp in app.consumer.assignment()) if app.consumer else []
            body: dict[str, Any] = {
                "profiles": len(worker.index),
                "profiles_loaded": worker.feed.ready.is_set(),
                "placements_loaded": worker.placement_feed.ready.is_set(),
                "assigned": assigned,
            }
            loaded = worker.feed.ready.is_set() and worker.placement_feed.ready.is_set()
            ready = loaded and bool(assigned) and not app.rebalancing
            return self.json(body, status=200 if ready else 503)
