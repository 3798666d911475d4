"""Prism (stoplight) serving Twilio's published OpenAPI contract, so requests the `twilio` client
sends are checked against Twilio's own spec. Prism answers 201 with Twilio's example body when the
request is valid, 401 without Basic auth and 422 listing the violations otherwise.

The contract lives outside the repository (../shared/contracts/twilio/, or $CRUCIAL_TWILIO_CONTRACT);
`unavailable_reason()` says why Prism cannot run here, so tests skip with that reason.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from pathlib import Path

from tests.peers.process import REPO, PeerProcess, spawn

PRISM = "@stoplight/prism-cli@5"
CONTRACT = REPO.parent / "shared" / "contracts" / "twilio" / "twilio_api_v2010.json"
START_TIMEOUT_S = 300.0  # the first run downloads Prism from the npm registry


def contract_path() -> Path:
    return Path(os.environ.get("CRUCIAL_TWILIO_CONTRACT", CONTRACT))


def unavailable_reason() -> str | None:
    """None when Prism can run; else why not (for pytest.skip)."""
    if os.environ.get("CRUCIAL_SKIP_PRISM"):
        return "CRUCIAL_SKIP_PRISM is set (e.g. no access to the npm registry for Prism's first download)"
    contract = contract_path()
    if not contract.is_file():
        return f"Twilio's OpenAPI contract is not at {contract} (set CRUCIAL_TWILIO_CONTRACT, see ../shared/contracts/twilio)"
    if shutil.which("npx") is None:
        return "npx (Node.js) is not installed, so Prism cannot run"
    return None


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def start_prism(port: int, contract: Path | None = None, timeout_s: float = START_TIMEOUT_S) -> PeerProcess:
    """`npx --yes @stoplight/prism-cli@5 mock -h 127.0.0.1 -p PORT CONTRACT`, ready when listening."""
    contract = contract or contract_path()
    argv = ["npx", "--yes", PRISM, "mock", "-h", "127.0.0.1", "-p", str(port), str(contract)]
    peer = spawn(argv, timeout_s=timeout_s, ready_prefix="Prism is listening", ready_json=False)
    deadline = time.monotonic() + 10
    while not _port_open(port):
        if time.monotonic() > deadline:
            peer.stop()
            raise RuntimeError("Prism said it was listening but the port is closed")
        time.sleep(0.05)
    peer.info = {"base_url": f"http://127.0.0.1:{port}", "port": port}
    return peer
