"""The peers as subprocesses, with their control endpoints wrapped (synchronous: call from a test, a
benchmark or, via asyncio.to_thread, from async code). For end-to-end tests and benchmarks that run
the worker as a subprocess beside them.

    with RemoteTwilioPeer.spawn(credentials, record=tmp / "twilio.jsonl") as twilio: ...
        twilio.base_url; twilio.fail(to="+447700900123", preset="unsubscribed"); twilio.requests()
    with RemoteSmtpPeer.spawn(tmp / "smtp", password="…") as smtp: ...
        smtp.port, smtp.ca_file; smtp.fail(code=451); smtp.down(); smtp.up(); smtp.messages()
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.peers.notifications import SMTP_USER, TwilioCredentials
from tests.peers.process import PeerProcess, spawn_python_peer


def _call(url: str, body: dict[str, Any] | None = None, timeout_s: float = 10.0) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    method = "POST" if body is not None else "GET"
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"}, method=method)
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        return json.loads(response.read())


@dataclass
class RemoteTwilioPeer:
    process: PeerProcess
    credentials: TwilioCredentials

    @classmethod
    def spawn(
        cls, credentials: TwilioCredentials, *, port: int = 0, record: Path | None = None, callback_delay_s: float = 0.02
    ) -> RemoteTwilioPeer:
        args = ["--port", str(port), "--account-sid", credentials.account_sid, "--auth-token-env", "TWILIO_PEER_AUTH_TOKEN"]
        args += ["--callback-delay", str(callback_delay_s)]
        if record is not None:
            args += ["--record", str(record)]
        process = spawn_python_peer("tests.peers.twilio_server", args, env={"TWILIO_PEER_AUTH_TOKEN": credentials.auth_token})
        return cls(process, credentials)

    @property
    def base_url(self) -> str:
        return str(self.process.info["base_url"])

    def fail(self, *, to: str | None = None, times: int | None = None, **fault: Any) -> None:
        """A fault (preset= or status=/code=/retry_after=/delay_s=) for `to`, or for the next calls."""
        body: dict[str, Any] = {**fault}
        if to is not None:
            body["to"] = to
        if times is not None:
            body["times"] = times
        _call(f"{self.base_url}/_peer/faults", body)

    def outcome(self, to: str, status: str = "undelivered", error_code: int | None = 30003) -> None:
        _call(f"{self.base_url}/_peer/outcomes", {"to": to, "status": status, "error_code": error_code})

    def settings(self, **settings: Any) -> None:
        _call(f"{self.base_url}/_peer/settings", settings)

    def callee(self, to: str, answer: str = "answer", digits: str = "") -> None:
        """How calls to `to` go: answered, pressing `digits` (one per Gather), or no-answer | busy | failed."""
        _call(f"{self.base_url}/_peer/callees", {"to": to, "answer": answer, "digits": digits})

    def calls(self) -> list[dict[str, Any]]:
        """Every call placed: to, status, what the callee heard, and each signed request to the worker."""
        return list(_call(f"{self.base_url}/_peer/calls"))

    def requests(self) -> list[dict[str, Any]]:
        return list(_call(f"{self.base_url}/_peer/requests"))

    def callbacks(self) -> list[dict[str, Any]]:
        return list(_call(f"{self.base_url}/_peer/callbacks"))

    def reset(self) -> None:
        _call(f"{self.base_url}/_peer/reset", {})

    def stop(self) -> None:
        self.process.stop()

    def __enter__(self) -> RemoteTwilioPeer:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


@dataclass
class RemoteSmtpPeer:
    process: PeerProcess
    user: str
    password: str

    @classmethod
    def spawn(
        cls, cert_dir: Path, *, password: str, mode: str = "starttls", port: int = 0, record: Path | None = None
    ) -> RemoteSmtpPeer:
        args = ["--port", str(port), "--mode", mode, "--user", SMTP_USER, "--password-env", "SMTP_PEER_PASSWORD"]
        args += ["--cert-dir", str(cert_dir)]
        if record is not None:
            args += ["--record", str(record)]
        process = spawn_python_peer("tests.peers.smtp_server", args, env={"SMTP_PEER_PASSWORD": password})
        return cls(process, SMTP_USER, password)

    @property
    def port(self) -> int:
        return int(self.process.info["port"])

    @property
    def ca_file(self) -> Path | None:
        ca = self.process.info.get("ca_file")
        return Path(ca) if ca else None

    @property
    def control_url(self) -> str:
        return str(self.process.info["control_url"])

    def fail(self, *, code: int, stage: str = "DATA", times: int | None = 1, recipient: str | None = None) -> None:
        body: dict[str, Any] = {"code": code, "stage": stage, "times": times}
        if recipient is not None:
            body["recipient"] = recipient
        _call(f"{self.control_url}/faults", body)

    def down(self) -> None:
        _call(f"{self.control_url}/down", {})

    def up(self) -> None:
        _call(f"{self.control_url}/up", {})

    def messages(self) -> list[dict[str, Any]]:
        return list(_call(f"{self.control_url}/messages"))

    def reset(self) -> None:
        _call(f"{self.control_url}/reset", {})

    def stop(self) -> None:
        self.process.stop()

    def __enter__(self) -> RemoteSmtpPeer:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
