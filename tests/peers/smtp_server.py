"""An SMTP server on 127.0.0.1 (aiosmtpd) with STARTTLS or implicit TLS and AUTH, that records what
it receives and fails on demand: a reply code at MAIL, RCPT or DATA for the next messages or for one
recipient, or down altogether (`stop()`, then `start()` again on the same port).

In-process: `SmtpPeer(certs=make_certs(dir), users={"crucial": pw}).start()`; `peer.messages`.
Subprocess: python -m tests.peers.smtp_server --port 0 --mode starttls --user crucial
    --password-env VAR --cert-dir DIR [--record mail.jsonl] [--control-port 0]
prints one line "READY {json}" (port, ca_file, control_url). The control endpoint (aiohttp):
    GET  /messages              what was received (headers parsed, raw message in base64)
    POST /faults {"stage": "DATA", "code": 451, "times": 1} | {"recipient": "a@x.example", "code": 550}
    POST /down | /up | /reset
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import email
import json
import os
import signal
import socket
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.peers.certs import CertPaths, make_certs

# aiosmtpd 1.4 warns when AUTH does not require STARTTLS, which is right for implicit TLS (TLS throughout).
warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS", category=UserWarning)

Mode = Literal["starttls", "implicit", "none"]
Stage = Literal["MAIL", "RCPT", "DATA"]
REPLIES = {
    421: "421 4.3.2 Service shutting down, try again later",
    450: "450 4.2.1 Mailbox busy, try again later",
    451: "451 4.3.0 Temporary failure, try again later",
    452: "452 4.3.1 Insufficient system storage",
    550: "550 5.1.1 Mailbox unavailable",
    552: "552 5.3.4 Message too big",
    554: "554 5.7.1 Transaction failed",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ReceivedMail:
    received_at: float
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    login: str | None
    tls: bool
    client_port: int = 0  # tells the client's connections (sessions) apart

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=default_policy)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def as_json(self) -> dict[str, Any]:
        msg = self.message
        return {
            "received_at": self.received_at,
            "mail_from": self.mail_from,
            "rcpt_tos": self.rcpt_tos,
            "login": self.login,
            "tls": self.tls,
            "message_id": msg["Message-ID"],
            "subject": msg["Subject"],
            "to": msg["To"],
            "data_base64": base64.b64encode(self.data).decode(),
        }


@dataclass
class _Fault:
    stage: Stage
    code: int
    times: int | None  # None: for ever
    recipient: str | None = None


@dataclass
class _Handler:
    peer: SmtpPeer
    faults: list[_Fault] = field(default_factory=list)

    def _fault(self, stage: Stage, recipient: str | None = None) -> str | None:
        with self.peer.lock:
            for fault in self.faults:
                if fault.stage != stage or (fault.recipient is not None and fault.recipient.lower() != (recipient or "").lower()):
                    continue
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                return REPLIES.get(fault.code, f"{fault.code} {'4.0.0' if fault.code < 500 else '5.0.0'} Programmed failure")
        return None

    async def handle_QUIT(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self.peer.lock:
            self.peer.quits += 1
        return "221 Bye"

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope, address: str, mail_options: list[str]) -> str:
        if reply := self._fault("MAIL"):
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]) -> str:
        if reply := self._fault("RCPT", address):
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if reply := self._fault("DATA"):
            return reply
        content = envelope.original_content or b""
        login = session.auth_data if isinstance(session.auth_data, str) else None
        mail = ReceivedMail(
            received_at=time.time(),
            mail_from=envelope.mail_from or "",
            rcpt_tos=list(envelope.rcpt_tos),
            data=content,
            login=login,
            tls=session.ssl is not None or self.peer.mode == "implicit",
            client_port=session.peer[1] if isinstance(session.peer, tuple) else 0,
        )
        self.peer._received(mail)
        return "250 2.0.0 Message accepted for delivery"


class SmtpPeer:
    def __init__(
        self,
        *,
        certs: CertPaths | None,
        users: dict[str, str] | None = None,
        mode: Mode = "starttls",
        host: str = "127.0.0.1",
        port: int = 0,
        record: Path | None = None,
    ) -> None:
        if mode != "none" and certs is None:
            raise ValueError("TLS modes need certificates (tests.peers.certs.make_certs)")
        self.certs, self.users, self.mode = certs, dict(users or {}), mode
        self.host, self.port = host, port or free_port()
        self.record = record
        self.lock = threading.Lock()
        self.messages: list[ReceivedMail] = []
        self.auth_attempts: list[tuple[str, bool]] = []  # (login, accepted)
        self.quits = 0  # sessions the client ended politely
        self._handler = _Handler(self)
        self._controller: Controller | None = None

    # --- programming -----------------------------------------------------------------------------

    def fail_next(self, code: int, *, stage: Stage = "DATA", times: int | None = 1) -> None:
        """Reply `code` at `stage` for the next `times` messages (None: until reset)."""
        with self.lock:
            self._handler.faults.append(_Fault(stage, code, times))

    def fail_recipient(self, address: str, code: int = 550, *, times: int | None = None) -> None:
        """Reply `code` to RCPT TO:<address>."""
        with self.lock:
            self._handler.faults.append(_Fault("RCPT", code, times, recipient=address))

    def reset(self) -> None:
        with self.lock:
            self._handler.faults.clear()
            self.messages.clear()
            self.auth_attempts.clear()

    def _received(self, mail: ReceivedMail) -> None:
        with self.lock:
            self.messages.append(mail)
            if self.record is not None:
                with self.record.open("a", encoding="utf-8") as out:
                    out.write(json.dumps(mail.as_json()) + "\n")

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        ok = login in self.users and self.users[login] == password
        with self.lock:
            self.auth_attempts.append((login, ok))
        return AuthResult(success=ok, handled=False, auth_data=login if ok else None)

    # --- lifecycle -------------------------------------------------------------------------------

    @property
    def ca_file(self) -> Path | None:
        return self.certs.ca if self.certs else None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> SmtpPeer:
        """Listen (again) on self.port."""
        if self._controller is not None:
            return self
        kwargs: dict[str, Any] = {
            "hostname": self.host,
            "port": self.port,
            "server_hostname": "localhost",
            "ident": "Crucial Hour test SMTP",
        }
        if self.users:
            # aiosmtpd 1.4 only counts STARTTLS as TLS for auth_require_tls; implicit TLS is TLS throughout.
            require_tls = self.mode == "starttls"
            kwargs |= {"authenticator": self._authenticate, "auth_required": True, "auth_require_tls": require_tls}
        if self.mode == "starttls":
            assert self.certs is not None
            kwargs |= {"tls_context": self.certs.server_context(), "require_starttls": True}
        elif self.mode == "implicit":
            assert self.certs is not None
            kwargs["ssl_context"] = self.certs.server_context()
        controller = Controller(self._handler, **kwargs)
        controller.start()
        self._controller = controller
        return self

    def stop(self) -> None:
        """Stop listening: connections are refused until start()."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpPeer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def wait_for(self, count: int, timeout_s: float = 5.0) -> list[ReceivedMail]:
        deadline = time.monotonic() + timeout_s
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.messages)} of {count} messages received")
            time.sleep(0.01)
        return list(self.messages)


# --- subprocess --------------------------------------------------------------------------------


async def _control(peer: SmtpPeer, port: int) -> tuple[Any, int]:
    from aiohttp import web

    async def messages(_: web.Request) -> web.Response:
        with peer.lock:
            return web.json_response([m.as_json() for m in peer.messages])

    async def faults(request: web.Request) -> web.Response:
        spec = await request.json()
        if spec.get("recipient"):
            peer.fail_recipient(spec["recipient"], int(spec.get("code", 550)), times=spec.get("times"))
        else:
            peer.fail_next(int(spec["code"]), stage=spec.get("stage", "DATA"), times=spec.get("times", 1))
        return web.json_response({"ok": True})

    async def down(_: web.Request) -> web.Response:
        await asyncio.to_thread(peer.stop)
        return web.json_response({"ok": True})

    async def up(_: web.Request) -> web.Response:
        await asyncio.to_thread(peer.start)
        return web.json_response({"ok": True})

    async def reset(_: web.Request) -> web.Response:
        peer.reset()
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/messages", messages)
    app.router.add_post("/faults", faults)
    app.router.add_post("/down", down)
    app.router.add_post("/up", up)
    app.router.add_post("/reset", reset)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, int(runner.addresses[0][1])


async def _serve(args: argparse.Namespace) -> None:
    users = {}
    if args.user:
        password = os.environ.get(args.password_env, "")
        if not password:
            print(f"--user needs the password in ${args.password_env}", file=sys.stderr)
            raise SystemExit(2)
        users[args.user] = password
    certs = make_certs(Path(args.cert_dir)) if args.mode != "none" else None
    peer = SmtpPeer(certs=certs, users=users, mode=args.mode, port=args.port, record=Path(args.record) if args.record else None)
    await asyncio.to_thread(peer.start)
    runner, control_port = await _control(peer, args.control_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    ready = {
        "port": peer.port,
        "ca_file": str(certs.ca) if certs else None,
        "control_url": f"http://127.0.0.1:{control_port}",
        "pid": os.getpid(),
    }
    print("READY " + json.dumps(ready), flush=True)
    await stop.wait()
    with contextlib.suppress(Exception):
        await runner.cleanup()
    await asyncio.to_thread(peer.stop)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.peers.smtp_server", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--mode", choices=["starttls", "implicit", "none"], default="starttls")
    parser.add_argument("--user", help="require AUTH as this user")
    parser.add_argument("--password-env", default="SMTP_PEER_PASSWORD")
    parser.add_argument("--cert-dir", default="var/smtp-peer-certs")
    parser.add_argument("--record", help="append each received message to this JSONL file")
    parser.add_argument("--control-port", type=int, default=0)
    asyncio.run(_serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
