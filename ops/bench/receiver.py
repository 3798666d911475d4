"""A minimal HTTP receiver on 127.0.0.1 that records when each POST arrived: the far end of the
floor's "one HTTP POST on loopback" and Alertmanager's webhook receiver in the benchmark.

    python -m ops.bench.receiver --port 0 --record requests.jsonl
    prints one line "READY {json}" (port, pid); every POST is answered 200 at once and appended to the
    record as {"at": time.time() on arrival, "path": ..., "body": the JSON body or null}.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

from aiohttp import web


async def _serve(port: int, record: Path) -> None:
    out = record.open("a", encoding="utf-8")

    async def post(request: web.Request) -> web.Response:
        at = time.time()
        raw = await request.read()
        body: Any = None
        with contextlib.suppress(ValueError):
            body = json.loads(raw) if raw else None
        out.write(json.dumps({"at": at, "path": request.path, "body": body}) + "\n")
        out.flush()
        return web.Response(text="ok")

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application(client_max_size=16 * 2**20)
    app.router.add_get("/_health", health)
    app.router.add_post("/{tail:.*}", post)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    bound = int(runner.addresses[0][1])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("READY " + json.dumps({"port": bound, "pid": os.getpid(), "url": f"http://127.0.0.1:{bound}"}), flush=True)
    await stop.wait()
    await runner.cleanup()
    out.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ops.bench.receiver", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--record", required=True)
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.port, Path(args.record)))


if __name__ == "__main__":
    main()
