"""A webhook subscriber for tests: an aiohttp server on 127.0.0.1 that verifies every delivery's
Standard Webhooks signature with the `standardwebhooks` library (as a real receiver would) and can
fail on demand.

Each request is recorded: the path (the subscriber), the headers, the body, whether the signature
verified, the status answered and the client's address (keep-alive shows as one address). A
delivery whose signature does not verify is answered 401; `fail(path, status, times)` answers the
next `times` requests to `path` with `status` (after verifying them); `hold(path)` keeps answers to
`path` waiting until `release()`.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import standardwebhooks
from aiohttp import web


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: str
    verified: bool
    status: int
    peer: str

    @property
    def document(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """`secrets`: subscriber path (e.g. "/hooks/met") -> the secret it verifies with (whsec_…)."""

    secrets: dict[str, str]
    received: list[Received] = field(default_factory=list)
    _failures: dict[str, list[int]] = field(default_factory=dict)
    _held: dict[str, asyncio.Event] = field(default_factory=dict)
    _runner: web.AppRunner | None = None
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def fail(self, path: str, status: int, times: int = 1) -> None:
        self._failures.setdefault(path, []).extend([status] * times)

    def hold(self, path: str) -> None:
        self._held[path] = asyncio.Event()

    def release(self) -> None:
        for event in self._held.values():
            event.set()
        self._held.clear()

    def verified(self, path: str | None = None) -> list[Received]:
        """The deliveries that verified and were answered 2xx (to `path`, or to any subscriber)."""
        return [r for r in self.received if r.verified and 200 <= r.status < 300 and (path is None or r.path == path)]

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def stop(self) -> None:
        self.release()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        body = (await request.read()).decode("utf-8")
        headers = {k.lower(): v for k, v in request.headers.items()}
        secret = self.secrets.get(request.path)
        verified = False
        if secret is not None:
            try:
                standardwebhooks.Webhook(secret).verify(body, headers)
                verified = True
            except (standardwebhooks.WebhookVerificationError, ValueError):
                verified = False
        peer = request.transport.get_extra_info("peername") if request.transport else None
        status = 401 if not verified else 204
        if verified and (pending := self._failures.get(request.path)):
            status = pending.pop(0)
        if verified and (held := self._held.get(request.path)) is not None:
            await held.wait()
        self.received.append(Received(request.path, headers, body, verified, status, f"{peer[0]}:{peer[1]}" if peer else ""))
        headers_out = {"Retry-After": "0"} if status == 429 else {}
        return web.Response(status=status, headers=headers_out)


@contextmanager
def receiver_in_thread(secrets: dict[str, str]) -> Iterator[WebhookReceiver]:
    """The receiver on its own event loop in a thread, for tests that drive a worker subprocess."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="webhook-receiver", daemon=True)
    thread.start()
    receiver = WebhookReceiver(secrets)
    asyncio.run_coroutine_threadsafe(receiver.start(), loop).result(timeout=30)
    try:
        yield receiver
    finally:
        asyncio.run_coroutine_threadsafe(receiver.stop(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()
