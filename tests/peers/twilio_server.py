"""A Twilio-compatible Messages API on 127.0.0.1, for driving the official `twilio` client.

    POST /2010-04-01/Accounts/{AccountSid}/Messages.json   Basic auth (AccountSid, auth token)
    GET  /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json
    POST /2010-04-01/Accounts/{AccountSid}/Calls.json      (tests/peers/twilio_calls.py: the callee,
    GET  /2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json  TwiML, Gather posts, call status callbacks)

It answers like Twilio (201 with a Message resource, status queued; Twilio-shaped errors), fails on
demand — per destination number or for the next calls — with 400 + Twilio error codes (21211,
21610, 21408), 429 + Retry-After (20429), 5xx, or slow answers, records every request with its
receive time, and sends status callbacks signed like Twilio's (X-Twilio-Signature: base64
HMAC-SHA1 of the URL and the sorted form, keyed with the auth token) to the StatusCallback URL:
"sent", then "delivered" — or "undelivered"/"failed" with ErrorCode when programmed.

The signature is computed here independently of the twilio library, so the project's validator is
checked against a second implementation of Twilio's documented algorithm.

Control, in-process: `peer.fail_number(...)`, `peer.fail_next(...)`, `peer.set_outcome(...)`,
`peer.requests`, `peer.callbacks`. Over HTTP (for a subprocess; no auth, loopback only):

    GET  /_peer/health | /_peer/requests | /_peer/callbacks | /_peer/messages | /_peer/calls
    POST /_peer/callees   {"to": "+447700900123", "answer": "answer" | "no-answer" | "busy" | "failed", "digits": "1"}
    POST /_peer/faults    {"to": "+447700900123"?, "preset": "unsubscribed" | "status": 400, "code": 21610,
                           "retry_after": "2", "delay_s": 1.5, "times": 1}   (no "to": the next calls)
    POST /_peer/outcomes  {"to": "+447700900123", "status": "undelivered", "error_code": 30003}
    POST /_peer/reset
    POST /_peer/settings  {"send_callbacks": false, "tamper_callbacks": true, "callback_delay_s": 0.5}

Subprocess: python -m tests.peers.twilio_server --port 0 --account-sid AC… --auth-token-env VAR
    [--record requests.jsonl] [--callback-delay 0.05]; prints one line "READY {json}" with base_url.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import signal
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from email.utils import formatdate
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import ClientSession, ClientTimeout, web

from tests.peers.twilio_calls import Call, CallSimulator

API = "/2010-04-01"
E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")


@dataclass(frozen=True)
class Fault:
    """How to answer instead of success. status None: succeed, only after `delay_s`."""

    status: int | None = None
    code: int | None = None
    message: str = ""
    retry_after: str | None = None
    delay_s: float = 0.0


PRESETS: dict[str, Fault] = {
    "invalid_number": Fault(400, 21211, "The 'To' number is not a valid phone number."),
    "not_mobile": Fault(400, 21614, "'To' number is not a valid mobile number"),
    "unsubscribed": Fault(400, 21610, "Attempt to send to unsubscribed recipient"),
    "region_not_enabled": Fault(
        400, 21408, "Permission to send an SMS has not been enabled for the region indicated by the 'To' number"
    ),
    "body_too_long": Fault(400, 21617, "The concatenated message body exceeds the 1600 character limit."),
    "rate_limited": Fault(429, 20429, "Too Many Requests", retry_after="1"),
    "server_error": Fault(500, 20500, "Internal Server Error"),
    "unavailable": Fault(503, 20503, "Service Unavailable", retry_after="1"),
    "slow": Fault(None, delay_s=5.0),
    "call_not_authorized": Fault(400, 21215, "Account not authorized to call this number"),
}


def fault_from(spec: Mapping[str, Any]) -> Fault:
    """A Fault from a preset name and/or explicit fields (explicit fields override the preset)."""
    base = PRESETS[spec["preset"]] if spec.get("preset") else Fault()
    fields = {k: spec[k] for k in ("status", "code", "message", "retry_after", "delay_s") if k in spec}
    if "retry_after" in fields and fields["retry_after"] is not None:
        fields["retry_after"] = str(fields["retry_after"])
    return replace(base, **fields)


@dataclass
class _Rule:
    fault: Fault
    times: int | None  # None: for ever


@dataclass(frozen=True)
class Outcome:
    status: str = "delivered"  # delivered | undelivered | failed
    error_code: int | None = None


@dataclass
class ReceivedRequest:
    received_at: float  # time.time() when the request arrived
    received_monotonic: float
    method: str
    path: str
    account_sid: str | None
    authorized: bool
    form: dict[str, str]
    status: int = 0  # the status answered
    sid: str | None = None
    answered_at: float | None = None
    client_port: int | None = None  # the client's end of the TCP connection: one port, one kept connection


@dataclass
class SentCallback:
    sent_at: float
    url: str
    form: dict[str, str]
    signature: str
    response_status: int | None  # None: could not connect


def twilio_signature(auth_token: str, url: str, form: Mapping[str, str]) -> str:
    """Twilio's documented webhook signature: base64(HMAC-SHA1(token, url + k1 + v1 + k2 + v2 …)),
    keys sorted."""
    payload = url + "".join(key + form[key] for key in sorted(form))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class TwilioPeer:
    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        host: str = "127.0.0.1",
        port: int = 0,
        callback_delay_s: float = 0.02,
        record: Path | None = None,
    ) -> None:
        self.account_sid, self.auth_token = account_sid, auth_token
        self.host, self.port = host, port
        self.callback_delay_s = callback_delay_s
        self.record = record
        self.requests: list[ReceivedRequest] = []
        self.callbacks: list[SentCallback] = []
        self.messages: dict[str, dict[str, Any]] = {}
        self.send_callbacks = True
        self.tamper_callbacks = False  # sign callbacks with a wrong key (the receiver must refuse them)
        self._by_number: dict[str, _Rule] = {}
        self._next: list[_Rule] = []
        self._outcomes: dict[str, Outcome] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self._session: ClientSession | None = None
        self.voice = CallSimulator(account_sid, self._client_session, self._sign, callback_delay_s)

    # --- programming -----------------------------------------------------------------------------

    def fail_number(self, to: str, fault: Fault | str, *, times: int | None = None) -> None:
        """Answer requests to `to` with `fault` (a Fault or a preset name), `times` times or for ever."""
        self._by_number[to] = _Rule(PRESETS[fault] if isinstance(fault, str) else fault, times)

    def fail_next(self, fault: Fault | str, *, times: int = 1) -> None:
        """Answer the next `times` requests, whatever their number, with `fault`."""
        self._next.append(_Rule(PRESETS[fault] if isinstance(fault, str) else fault, times))

    def set_outcome(self, to: str, status: str = "undelivered", error_code: int | None = 30003) -> None:
        """The final status callback for messages to `to` (default: delivered)."""
        self._outcomes[to] = Outcome(status, error_code)

    def reset(self) -> None:
        self.requests.clear()
        self.callbacks.clear()
        self.messages.clear()
        self._by_number.clear()
        self._next.clear()
        self._outcomes.clear()
        self.voice.reset()
        self.send_callbacks, self.tamper_callbacks = True, False

    def set_callee(self, to: str, answer: str = "answer", digits: str = "") -> None:
        """How calls to `to` go: answered with `digits` pressed (one per Gather), or no-answer | busy | failed."""
        self.voice.set_callee(to, answer, digits)

    @property
    def calls(self) -> dict[str, Call]:
        return self.voice.calls

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def created(self) -> list[ReceivedRequest]:
        """The requests that created a message (answered 201)."""
        return [r for r in self.requests if r.status == 201]

    # --- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> TwilioPeer:
        app = web.Application()
        app.router.add_post(API + "/Accounts/{account}/Messages.json", self._create)
        app.router.add_get(API + "/Accounts/{account}/Messages/{sid}.json", self._fetch)
        app.router.add_post(API + "/Accounts/{account}/Calls.json", self._create_call)
        app.router.add_get(API + "/Accounts/{account}/Calls/{sid}.json", self._fetch_call)
        app.router.add_get("/_peer/calls", self._list_calls)
        app.router.add_post("/_peer/callees", self._add_callee)
        app.router.add_get("/_peer/health", self._health)
        app.router.add_get("/_peer/requests", self._list_requests)
        app.router.add_get("/_peer/callbacks", self._list_callbacks)
        app.router.add_get("/_peer/messages", self._list_messages)
        app.router.add_post("/_peer/faults", self._add_fault)
        app.router.add_post("/_peer/outcomes", self._add_outcome)
        app.router.add_post("/_peer/reset", self._reset)
        app.router.add_post("/_peer/settings", self._settings)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self._session = ClientSession(timeout=ClientTimeout(total=5))
        return self

    async def stop(self) -> None:
        await self.voice.stop()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> TwilioPeer:
        return await self.start()

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    async def wait_for_callbacks(self, count: int, timeout_s: float = 5.0) -> list[SentCallback]:
        """Wait until at least `count` callbacks were sent (and answered or refused)."""
        deadline = time.monotonic() + timeout_s
        while len(self.callbacks) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.callbacks)} of {count} callbacks sent")
            await asyncio.sleep(0.01)
        return list(self.callbacks)

    # --- the API ---------------------------------------------------------------------------------

    def _authorized(self, request: web.Request) -> str | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        ok = hmac.compare_digest(user, self.account_sid) and hmac.compare_digest(password, self.auth_token)
        return user if ok else None

    @staticmethod
    def _error(status: int, code: int | None, message: str, headers: Mapping[str, str] | None = None) -> web.Response:
        body: dict[str, Any] = {"message": message, "status": status}
        if code is not None:
            body |= {"code": code, "more_info": f"https://www.twilio.com/docs/errors/{code}"}
        return web.json_response(body, status=status, headers=headers)

    def _rule_for(self, to: str) -> Fault | None:
        """The programmed fault for this request, if any: the next-calls queue first, then the number."""
        if self._next:
            first = self._next[0]
            first.times = (first.times or 1) - 1
            if first.times <= 0:
                self._next.pop(0)
            return first.fault
        rule = self._by_number.get(to)
        if rule is None:
            return None
        if rule.times is not None:
            rule.times -= 1
            if rule.times <= 0:
                del self._by_number[to]
        return rule.fault

    def _log(self, entry: ReceivedRequest | SentCallback, kind: str) -> None:
        if self.record is not None:
            with self.record.open("a", encoding="utf-8") as out:
                out.write(json.dumps({"kind": kind, **asdict(entry)}) + "\n")

    async def _create(self, request: web.Request) -> web.Response:
        entry = ReceivedRequest(time.time(), time.monotonic(), request.method, request.path, None, False, {})
        peer = request.transport.get_extra_info("peername") if request.transport else None
        entry.client_port = peer[1] if peer else None
        self.requests.append(entry)
        try:
            response = await self._answer_create(request, entry)
        finally:
            entry.answered_at = time.time()
        entry.status = response.status
        self._log(entry, "request")
        return response

    async def _answer_create(self, request: web.Request, entry: ReceivedRequest) -> web.Response:
        user = self._authorized(request)
        entry.account_sid, entry.authorized = user, user is not None
        form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        entry.form = form
        if user is None:
            return self._error(401, 20003, "Authenticate", {"WWW-Authenticate": 'Basic realm="Twilio API"'})
        if request.match_info["account"] != user:
            return self._error(404, 20404, "The requested resource was not found")
        to = form.get("To", "")
        fault = self._rule_for(to)
        if fault is not None and fault.delay_s:
            await asyncio.sleep(fault.delay_s)
        if fault is not None and fault.status is not None:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
            return self._error(fault.status, fault.code, fault.message, headers)
        if not to:
            return self._error(400, 21604, "A 'To' phone number is required.")
        if not E164.fullmatch(to):
            return self._error(400, 21211, "The 'To' number is not a valid phone number.")
        service = form.get("MessagingServiceSid")
        if not form.get("From") and not service:
            return self._error(400, 21603, "A 'From' phone number or a MessagingServiceSid is required.")
        if not form.get("Body") and not form.get("MediaUrl") and not form.get("ContentSid"):
            return self._error(400, 21602, "Message body is required.")
        validity = form.get("ValidityPeriod")
        if validity is not None and not (validity.isdigit() and 1 <= int(validity) <= 36000):
            return self._error(400, None, "ValidityPeriod must be an integer from 1 to 36000 (peer's check)")
        callback = form.get("StatusCallback")
        if callback is not None and urlsplit(callback).scheme not in ("http", "https"):
            return self._error(400, None, "StatusCallback must be an http(s) URL (peer's check)")
        sid = "SM" + secrets.token_hex(16)
        now = formatdate(usegmt=True)
        message = {
            "account_sid": user,
            "api_version": "2010-04-01",
            "body": form.get("Body", ""),
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form.get("From"),
            "messaging_service_sid": service,
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "accepted" if service and not form.get("From") else "queued",
            "subresource_uris": {"media": f"{API}/Accounts/{user}/Messages/{sid}/Media.json"},
            "to": to,
            "uri": f"{API}/Accounts/{user}/Messages/{sid}.json",
        }
        self.messages[sid] = message
        entry.sid = sid
        if callback and self.send_callbacks:
            task = asyncio.create_task(self._callbacks(callback, message, form))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return web.json_response(message, status=201)

    def _client_session(self) -> ClientSession:
        assert self._session is not None
        return self._session

    def _sign(self, url: str, form: Mapping[str, str]) -> str:
        """X-Twilio-Signature for a request to the application (with a wrong key when tampering)."""
        return twilio_signature(self.auth_token + "x" if self.tamper_callbacks else self.auth_token, url, form)

    async def _create_call(self, request: web.Request) -> web.Response:
        user = self._authorized(request)
        if user is None:
            return self._error(401, 20003, "Authenticate", {"WWW-Authenticate": 'Basic realm="Twilio API"'})
        if request.match_info["account"] != user:
            return self._error(404, 20404, "The requested resource was not found")

        async def fault(to: str) -> web.Response | None:
            rule = self._rule_for(to)
            if rule is not None and rule.delay_s:
                await asyncio.sleep(rule.delay_s)
            if rule is None or rule.status is None:
                return None
            headers = {"Retry-After": rule.retry_after} if rule.retry_after else None
            return self._error(rule.status, rule.code, rule.message, headers)

        return await self.voice.create(request, user, fault)

    async def _fetch_call(self, request: web.Request) -> web.Response:
        if self._authorized(request) is None:
            return self._error(401, 20003, "Authenticate")
        return self.voice.fetch(request.match_info["sid"])

    async def _list_calls(self, _: web.Request) -> web.Response:
        return web.json_response([asdict(c) for c in self.voice.calls.values()])

    async def _add_callee(self, request: web.Request) -> web.Response:
        spec = await request.json()
        try:
            self.set_callee(spec["to"], spec.get("answer", "answer"), str(spec.get("digits", "")))
        except (KeyError, ValueError) as exc:
            return web.json_response({"error": f"bad callee: {exc}"}, status=400)
        return web.json_response({"ok": True})

    async def _fetch(self, request: web.Request) -> web.Response:
        if self._authorized(request) is None:
            return self._error(401, 20003, "Authenticate")
        message = self.messages.get(request.match_info["sid"])
        if message is None:
            return self._error(404, 20404, "The requested resource was not found")
        return web.json_response(message)

    async def _callbacks(self, url: str, message: dict[str, Any], form: Mapping[str, str]) -> None:
        outcome = self._outcomes.get(message["to"], Outcome())
        for status in ("sent", outcome.status):
            await asyncio.sleep(self.callback_delay_s)
            message["status"] = status
            fields = {
                "AccountSid": message["account_sid"],
                "ApiVersion": "2010-04-01",
                "MessageSid": message["sid"],
                "MessageStatus": status,
                "SmsSid": message["sid"],
                "SmsStatus": status,
                "To": message["to"],
            }
            if message.get("from"):
                fields["From"] = message["from"]
            if message.get("messaging_service_sid"):
                fields["MessagingServiceSid"] = message["messaging_service_sid"]
            if status in ("undelivered", "failed") and outcome.error_code is not None:
                fields["ErrorCode"] = str(outcome.error_code)
                message["error_code"] = outcome.error_code
            key = self.auth_token + "x" if self.tamper_callbacks else self.auth_token
            signature = twilio_signature(key, url, fields)
            answer: int | None = None
            assert self._session is not None
            try:
                async with self._session.post(url, data=fields, headers={"X-Twilio-Signature": signature}) as response:
                    answer = response.status
            except Exception:  # the receiver may be gone; Twilio would log and move on
                answer = None
            sent = SentCallback(time.time(), url, fields, signature, answer)
            self.callbacks.append(sent)
            self._log(sent, "callback")

    # --- control over HTTP -----------------------------------------------------------------------

    async def _health(self, _: web.Request) -> web.Response:
        return web.json_response({"ok": True, "base_url": self.base_url})

    async def _list_requests(self, _: web.Request) -> web.Response:
        return web.json_response([asdict(r) for r in self.requests])

    async def _list_callbacks(self, _: web.Request) -> web.Response:
        return web.json_response([asdict(c) for c in self.callbacks])

    async def _list_messages(self, _: web.Request) -> web.Response:
        return web.json_response(list(self.messages.values()))

    async def _add_fault(self, request: web.Request) -> web.Response:
        spec = await request.json()
        try:
            fault = fault_from(spec)
        except (KeyError, TypeError) as exc:
            return web.json_response({"error": f"bad fault: {exc}"}, status=400)
        if spec.get("to"):
            self.fail_number(spec["to"], fault, times=spec.get("times"))
        else:
            self.fail_next(fault, times=int(spec.get("times", 1)))
        return web.json_response({"ok": True})

    async def _add_outcome(self, request: web.Request) -> web.Response:
        spec = await request.json()
        self.set_outcome(spec["to"], spec.get("status", "undelivered"), spec.get("error_code"))
        return web.json_response({"ok": True})

    async def _reset(self, _: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"ok": True})

    async def _settings(self, request: web.Request) -> web.Response:
        spec = await request.json()
        self.send_callbacks = bool(spec.get("send_callbacks", self.send_callbacks))
        self.tamper_callbacks = bool(spec.get("tamper_callbacks", self.tamper_callbacks))
        self.callback_delay_s = float(spec.get("callback_delay_s", self.callback_delay_s))
        return web.json_response({"ok": True})


async def _serve(args: argparse.Namespace) -> None:
    token = os.environ.get(args.auth_token_env, "")
    if not token or not args.account_sid:
        print(f"need --account-sid and the auth token in ${args.auth_token_env}", file=sys.stderr)
        raise SystemExit(2)
    peer = TwilioPeer(
        account_sid=args.account_sid,
        auth_token=token,
        host=args.host,
        port=args.port,
        callback_delay_s=args.callback_delay,
        record=Path(args.record) if args.record else None,
    )
    await peer.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("READY " + json.dumps({"base_url": peer.base_url, "port": peer.port, "pid": os.getpid()}), flush=True)
    await stop.wait()
    with contextlib.suppress(Exception):
        await peer.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.peers.twilio_server", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--account-sid", required=True)
    parser.add_argument("--auth-token-env", default="TWILIO_PEER_AUTH_TOKEN")
    parser.add_argument("--record", help="append every request and callback to this JSONL file")
    parser.add_argument("--callback-delay", type=float, default=0.02, help="seconds before each status callback")
    asyncio.run(_serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
