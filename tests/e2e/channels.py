"""A worker subprocess wired to real peers: the Twilio-compatible server and an SMTP server."""

from __future__ import annotations

import secrets
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from twilio.request_validator import RequestValidator

from alerts.config import load_config
from streams.web.auth import new_secret
from tests.integration.worker import RunningWorker, prepare_worker
from tests.peers.notifications import TwilioCredentials
from tests.peers.remote import RemoteSmtpPeer, RemoteTwilioPeer

FROM_NUMBER = "+447700900999"


@dataclass
class Stack:
    worker: RunningWorker
    twilio: RemoteTwilioPeer
    smtp: RemoteSmtpPeer
    credentials: TwilioCredentials

    def sms_for(self, reference: str) -> list[dict[str, Any]]:
        """SMS the Twilio peer accepted whose text names `reference`."""
        return [r for r in self.twilio.requests() if r["status"] == 201 and reference in r["form"].get("Body", "")]

    def emails_for(self, reference: str) -> list[dict[str, Any]]:
        return [m for m in self.smtp.messages() if reference in (m["subject"] or "")]

    def calls_for(self, reference: str, to: str | None = None) -> list[dict[str, Any]]:
        """Calls the Twilio peer placed about `reference` (its Gather URL names it), to `to` if given."""
        return [
            c
            for c in self.twilio.calls()
            if f"ref={reference}&" in (c["twiml"] or "").replace("&amp;", "&") and (to is None or c["to"] == to)
        ]

    def post_signed(self, path: str, form: dict[str, str], *, token: str | None = None) -> tuple[int, str]:
        """A webhook as Twilio posts it to the worker (`path` with its query), signed with `token`
        (default: the account's auth token); token="" sends no signature at all."""
        url = f"http://127.0.0.1:{self.worker.port}{path}"
        key = self.credentials.auth_token if token is None else token
        headers = {"X-Twilio-Signature": RequestValidator(key).compute_signature(url, form)} if key else {}
        request = urllib.request.Request(url, urllib.parse.urlencode(form).encode(), headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:
                return reply.status, reply.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def reply_sms(self, sender: str, body: str, port: int | None = None) -> tuple[int, str]:
        """An SMS reply as Twilio posts it to the inbound webhook, signed with the account's token for the
        configured (public) URL; `port`: delivered to another process behind that URL."""
        url = f"http://127.0.0.1:{self.worker.port}/twilio/inbound"
        form = {
            "AccountSid": self.credentials.account_sid,
            "From": sender,
            "To": FROM_NUMBER,
            "Body": body,
            "MessageSid": "SM" + secrets.token_hex(16),
        }
        signature = RequestValidator(self.credentials.auth_token).compute_signature(url, form)
        request = urllib.request.Request(
            url.replace(f":{self.worker.port}/", f":{port or self.worker.port}/"),
            urllib.parse.urlencode(form).encode(),
            {"X-Twilio-Signature": signature},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:
                return reply.status, reply.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()


def _with_voice_numbers(config_dir: Path) -> None:
    """Every rota person may be called on their SMS number (rota.yaml `voice:`)."""
    path = config_dir / "rota.yaml"
    rota = yaml.safe_load(path.read_text())
    for each in rota["rotas"].values():
        for person in each["people"].values():
            if person.get("sms"):
                person["voice"] = person["sms"]
    path.write_text(yaml.safe_dump(rota))


@contextmanager
def channel_stack(
    base: Path,
    bootstrap: str,
    escalation: dict[str, Any] | None = None,
    *,
    voice: bool = False,
    kafka: dict[str, Any] | None = None,
    start: bool = True,
    smtp_budget_s: float = 10,
) -> Iterator[Stack]:
    """`voice`: the voice channel configured (webhooks on the worker's port) and rota people callable;
    `kafka`: settings.yaml kafka keys to set; `start` False: the worker is configured, not started (the
    test starts it, in the role it wants); `smtp_budget_s`: how long an email is retried."""
    credentials = TwilioCredentials.fresh()
    smtp_password = secrets.token_urlsafe(12)
    with (
        RemoteTwilioPeer.spawn(credentials, record=base / "twilio.jsonl") as twilio,
        RemoteSmtpPeer.spawn(base / "smtp-certs", password=smtp_password) as smtp,
    ):
        from tests.support import free_port

        port = free_port()
        calls = {
            "gather_url": f"http://127.0.0.1:{port}/twilio/voice/gather",
            "status_callback_url": f"http://127.0.0.1:{port}/twilio/voice/status",
        }
        worker = prepare_worker(
            base,
            bootstrap,
            web={"port": port},
            **({"voice": calls} if voice else {}),
            **({"kafka": kafka} if kafka else {}),
            twilio={
                "account_sid": credentials.account_sid,
                "from_number": FROM_NUMBER,
                "base_url": twilio.base_url,
                "status_callback_url": f"http://127.0.0.1:{port}/twilio/status",
                "inbound_url": f"http://127.0.0.1:{port}/twilio/inbound",
                "retry": {"base_delay_s": 0.05, "max_delay_s": 0.5, "budget_s": 10},
            },
            smtp={
                "host": "127.0.0.1",
                "port": smtp.port,
                "tls": "starttls",
                "username": smtp.user,
                "sender": "alerts@crucial-hour.example",
                "ca_file": str(smtp.ca_file),
                "retry": {"base_delay_s": 0.05, "max_delay_s": 0.5, "budget_s": smtp_budget_s},
            },
        )
        if escalation is not None:
            (worker.config_dir / "escalation.yaml").write_text(yaml.safe_dump(escalation))
        if voice:
            _with_voice_numbers(worker.config_dir)
            worker.config = load_config(worker.config_dir)
        worker.env |= {
            "TWILIO_AUTH_TOKEN": credentials.auth_token,
            "SMTP_PASSWORD": smtp_password,
            "CRUCIAL_LINK_SECRET": new_secret(),
            # Outside the demo every configured secret is required (streams.pipeline.checks.required_key_problems).
            "CRUCIAL_SESSION_SECRET": new_secret(),
            "CRUCIAL_HMAC_LARCHWOOD": new_secret(),
        }
        if start:
            worker.start()
        try:
            yield Stack(worker, twilio, smtp, credentials)
        finally:
            worker.close()
