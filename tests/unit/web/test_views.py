"""streams.web.views's middlewares on aiohttp's test server: the client address from trusted proxies only,
and the security headers on every response."""

from __future__ import annotations

import ipaddress

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from streams.web.views import SECURITY_HEADERS, client_address, forwarded_middleware, security_headers

PROXY = [ipaddress.ip_network("10.0.0.0/24")]


def test_forwarded_for_is_believed_from_trusted_proxies_only() -> None:
    assert client_address("10.0.0.5", ["198.51.100.7"], PROXY) == "198.51.100.7"
    assert client_address("203.0.113.9", ["198.51.100.7"], PROXY) == "203.0.113.9"  # not a proxy: ignored
    # The right-most untrusted address: what a client wrote itself to the left is not believed.
    assert client_address("10.0.0.5", ["1.2.3.4, 198.51.100.7, 10.0.0.6"], PROXY) == "198.51.100.7"
    assert client_address("10.0.0.5", ["1.2.3.4", "198.51.100.7"], PROXY) == "198.51.100.7"
    assert client_address("10.0.0.5", ["not-an-address, 198.51.100.7"], PROXY) == "198.51.100.7"
    assert client_address("10.0.0.5", ["198.51.100.7\n, garbage"], PROXY) == "10.0.0.5"
    assert client_address("10.0.0.5", [], PROXY) == "10.0.0.5"
    assert client_address("10.0.0.5", ["198.51.100.7"], []) == "10.0.0.5"


async def test_every_response_carries_the_security_headers_and_the_client_address() -> None:
    async def remote(request: web.Request) -> web.Response:
        return web.Response(text=f"{request.remote} {request.scheme}")

    async def own_policy(request: web.Request) -> web.Response:
        return web.Response(text="x", headers={"Content-Security-Policy": "default-src 'self'"})

    async def missing(request: web.Request) -> web.Response:
        raise web.HTTPNotFound()

    trusted = [ipaddress.ip_network("127.0.0.1/32")]
    app = web.Application(middlewares=[forwarded_middleware(trusted), security_headers])
    app.router.add_get("/remote", remote)
    app.router.add_get("/own", own_policy)
    app.router.add_get("/missing", missing)
    async with TestClient(TestServer(app)) as client:
        reply = await client.get("/remote", headers={"X-Forwarded-For": "198.51.100.7", "X-Forwarded-Proto": "https"})
        assert await reply.text() == "198.51.100.7 https"
        for name, value in SECURITY_HEADERS.items():
            assert reply.headers[name] == value
        own = await client.get("/own")
        assert own.headers["Content-Security-Policy"] == "default-src 'self'" and own.headers["Cache-Control"] == "no-store"
        gone = await client.get("/missing")
        assert gone.status == 404 and gone.headers["X-Frame-Options"] == "DENY"
