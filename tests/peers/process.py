"""Run a peer as a subprocess (its own process group), wait for its "READY {json}" line, stop it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


@dataclass
class PeerProcess:
    """A running peer: `info` is its READY line; `log` its stdout and stderr after that."""

    process: subprocess.Popen[str]
    info: dict[str, Any]
    log: list[str] = field(default_factory=list)

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM to the peer's process group, SIGKILL after `timeout_s`."""
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout_s)
        except ProcessLookupError:
            pass


def spawn_python_peer(
    module: str, args: Sequence[str], *, env: Mapping[str, str] | None = None, timeout_s: float = 30.0
) -> PeerProcess:
    """`python -m module args…` from the repository root, in a new session; waits for READY."""
    return spawn([sys.executable, "-m", module, *args], env=env, timeout_s=timeout_s, ready_prefix="READY ")


def spawn(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout_s: float = 30.0,
    ready_prefix: str = "READY ",
    ready_json: bool = True,
) -> PeerProcess:
    """Start `argv` and wait for a stdout line starting with `ready_prefix` (JSON after it)."""
    full_env = {**os.environ, **(env or {})}
    full_env.setdefault("PYTHONPATH", str(REPO))
    process = subprocess.Popen(
        list(argv),
        cwd=REPO,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    seen: list[str] = []
    ready: list[str] = []

    def watch() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            line = line.rstrip("\n")
            seen.append(line)
            if not ready and ready_prefix in line:
                ready.append(line)

    threading.Thread(target=watch, daemon=True).start()
    deadline = time.monotonic() + timeout_s
    while not ready:
        if process.poll() is not None or time.monotonic() > deadline:
            peer = PeerProcess(process, {}, seen)
            peer.stop(2)
            tail = "\n".join(seen[-30:])
            raise RuntimeError(f"{' '.join(argv[:4])}… did not become ready within {timeout_s:g} s:\n{tail}")
        time.sleep(0.05)
    line = ready[0]
    info = json.loads(line.split(ready_prefix, 1)[1]) if ready_json else {"line": line}
    return PeerProcess(process, info, seen)
