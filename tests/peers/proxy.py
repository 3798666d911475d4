"""A round-robin reverse proxy on 127.0.0.1 in front of several workers: one address for all of them,
as a load balancer gives. Each request goes to the next worker; the proxy sets X-Forwarded-For and
X-Forwarded-Proto as a real one does. Every test client is on loopback, so the client address the
proxy reports is taken from the test's `X-Test-Client` header (standing for different machines)."""

from __future__ import annotations

import http.client
import itertools
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection", "host"}


class RoundRobinProxy:
    def __init__(self, backends: list[int]) -> None:
        self.backends = itertools.cycle(backends)
        self.lock = threading.Lock()
        self.served: dict[int, int] = dict.fromkeys(backends, 0)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            def _forward(self) -> None:
                with proxy.lock:
                    port = next(proxy.backends)
                    proxy.served[port] += 1
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                client = headers.pop("X-Test-Client", self.client_address[0])
                headers["X-Forwarded-For"] = client
                headers["X-Forwarded-Proto"] = "http"
                headers["Host"] = self.headers.get("Host", f"127.0.0.1:{proxy.port}")
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                try:
                    try:
                        connection.request(self.command, self.path, body=body, headers=headers)
                        reply = connection.getresponse()
                        data = reply.read()
                    except OSError as exc:  # as a real proxy: 502, and say which worker
                        self.send_error(502, f"worker on port {port}: {type(exc).__name__}")
                        return
                    self.send_response(reply.status)
                    for name, value in reply.getheaders():
                        if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                            self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                finally:
                    connection.close()

            do_GET = do_POST = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> RoundRobinProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
