"""The Calls resource of the Twilio-compatible server (tests/peers/twilio_server.py): an outbound
call, its TwiML, the callee's key presses and the call's status callbacks, as Twilio does them.

    POST /2010-04-01/Accounts/{AccountSid}/Calls.json   To, From, Url | Twiml, StatusCallback,
                                                        StatusCallbackEvent (repeated), Timeout, …
    GET  /2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json

The callee is simulated per destination number (`CallSimulator.set_callee`): it answers and presses
the programmed keys (one per <Gather>), or lets it ring out (no-answer), is busy, or the call fails.
Then, as Twilio would:

- status callbacks for the requested StatusCallbackEvent values (initiated, ringing, answered), and
  always the final one (CallStatus completed | no-answer | busy | failed);
- the TwiML: the inline Twiml, or fetched by POST from Url;
- each <Gather>: the next programmed key posted as Digits to its action URL, whose answer is the next
  TwiML document; without a key the Gather times out and the document goes on; <Redirect> is
  followed; <Hangup> or the end of a document ends the call.

Every request to the application (TwiML fetch, Gather post, status callback) carries
X-Twilio-Signature computed like Twilio's (or with a wrong key when `tamper` is set). What the
callee heard (<Say> text) and every step are kept on the Call for tests to read.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any
from urllib.parse import urljoin, urlsplit

from aiohttp import ClientSession, web

API = "/2010-04-01"
E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
MAX_TWIML_CHARS = 4000  # Twilio's documented limit for the Twiml parameter
MAX_DOCUMENTS = 8  # TwiML documents one call follows before the peer hangs up (a redirect loop)
EVENTS = ("initiated", "ringing", "answered", "completed")
ANSWERS = ("answer", "no-answer", "busy", "failed")

Signer = Callable[[str, Mapping[str, str]], str]


@dataclass(frozen=True)
class Callee:
    """How the called phone behaves: `answer` one of ANSWERS; `digits` the keys pressed, one per Gather."""

    answer: str = "answer"
    digits: str = ""


@dataclass
class Call:
    sid: str
    account_sid: str
    to: str
    from_: str
    url: str | None
    twiml: str | None
    status_callback: str | None
    events: list[str]
    status: str = "queued"
    heard: list[str] = field(default_factory=list)  # every <Say> text the callee heard, in order
    steps: list[dict[str, Any]] = field(default_factory=list)  # requests to the application, in order
    finished: bool = False

    def resource(self) -> dict[str, Any]:
        now = formatdate(usegmt=True)
        return {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "date_created": now,
            "date_updated": now,
            "direction": "outbound-api",
            "from": self.from_,
            "sid": self.sid,
            "status": self.status,
            "to": self.to,
            "uri": f"{API}/Accounts/{self.account_sid}/Calls/{self.sid}.json",
        }

    def digits_posted(self) -> list[str]:
        return [s["form"]["Digits"] for s in self.steps if s["kind"] == "gather"]

    def statuses(self) -> list[str]:
        return [s["form"]["CallStatus"] for s in self.steps if s["kind"] == "status"]


def _invalid_request(form: Mapping[str, str], events: list[str]) -> tuple[int | None, str] | None:
    """(Twilio error code, message) for a request Twilio would refuse; None when it is acceptable."""
    to, from_ = form.get("To", ""), form.get("From", "")
    if not to:
        return 21201, "No 'To' number is specified"
    if not E164.fullmatch(to):
        return 21217, "Phone number does not appear to be valid"
    if not from_:
        return 21213, "No 'From' number is specified"
    if not form.get("Url") and not form.get("Twiml") and not form.get("ApplicationSid"):
        return 21205, "Url parameter is required (or Twiml, or ApplicationSid)"
    if len(form.get("Twiml", "")) > MAX_TWIML_CHARS:
        return None, f"Twiml exceeds {MAX_TWIML_CHARS} characters (peer's check)"
    for key in ("Url", "StatusCallback"):
        if form.get(key) and urlsplit(form[key]).scheme not in ("http", "https"):
            return 21205, f"{key} is not a valid URL"
    if any(e not in EVENTS for e in events):
        return None, "StatusCallbackEvent must be initiated, ringing, answered or completed (peer's check)"
    timeout = form.get("Timeout")
    if timeout is not None and not (timeout.isdigit() and 5 <= int(timeout) <= 600):
        return None, "Timeout must be an integer from 5 to 600 (peer's check)"
    return None


class CallSimulator:
    """The Calls resource and the simulated callee; the server passes in auth, faults and signing."""

    def __init__(self, account_sid: str, session: Callable[[], ClientSession], sign: Signer, delay_s: float) -> None:
        self.account_sid = account_sid
        self._session = session
        self._sign = sign
        self.delay_s = delay_s
        self.calls: dict[str, Call] = {}
        self.requests: list[dict[str, Any]] = []  # every Calls.json request: form, status answered
        self._callees: dict[str, Callee] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def set_callee(self, to: str, answer: str = "answer", digits: str = "") -> None:
        if answer not in ANSWERS:
            raise ValueError(f"answer must be one of {ANSWERS}")
        self._callees[to] = Callee(answer, digits)

    def reset(self) -> None:
        self.calls.clear()
        self.requests.clear()
        self._callees.clear()

    def calls_to(self, to: str) -> list[Call]:
        return [c for c in self.calls.values() if c.to == to]

    async def wait_finished(self, count: int, timeout_s: float = 10.0) -> list[Call]:
        """Wait until at least `count` calls have ended (their last callback answered)."""
        deadline = time.monotonic() + timeout_s
        while sum(c.finished for c in self.calls.values()) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{sum(c.finished for c in self.calls.values())} of {count} calls finished")
            await asyncio.sleep(0.01)
        return [c for c in self.calls.values() if c.finished]

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- the API -----------------------------------------------------------------------------------

    async def create(
        self, request: web.Request, user: str, fault: Callable[[str], Awaitable[web.Response | None]]
    ) -> web.Response:
        posted = await request.post()
        form = {k: v for k, v in posted.items() if isinstance(v, str)}
        events = [v for v in posted.getall("StatusCallbackEvent", []) if isinstance(v, str)]
        entry: dict[str, Any] = {"received_at": time.time(), "form": form, "events": events, "status": 0, "sid": None}
        self.requests.append(entry)
        refused = await fault(form.get("To", ""))
        if refused is None and (problem := _invalid_request(form, events)) is not None:
            refused = _error(400, *problem)
        if refused is not None:
            entry["status"] = refused.status
            return refused
        call = Call(
            sid="CA" + secrets.token_hex(16),
            account_sid=user,
            to=form["To"],
            from_=form["From"],
            url=form.get("Url"),
            twiml=form.get("Twiml"),
            status_callback=form.get("StatusCallback"),
            events=events,
        )
        self.calls[call.sid] = call
        entry["status"], entry["sid"] = 201, call.sid
        task = asyncio.create_task(self._run(call, self._callees.get(call.to, Callee())))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return web.json_response(call.resource(), status=201)

    def fetch(self, sid: str) -> web.Response:
        call = self.calls.get(sid)
        if call is None:
            return _error(404, 20404, "The requested resource was not found")
        return web.json_response(call.resource())

    # --- the call ----------------------------------------------------------------------------------

    def _params(self, call: Call, status: str) -> dict[str, str]:
        return {
            "AccountSid": call.account_sid,
            "ApiVersion": "2010-04-01",
            "CallSid": call.sid,
            "CallStatus": status,
            "Called": call.to,
            "Caller": call.from_,
            "Direction": "outbound-api",
            "From": call.from_,
            "To": call.to,
        }

    async def _post(self, call: Call, kind: str, url: str, form: dict[str, str]) -> tuple[int | None, str]:
        """POST `form` to the application at `url`, signed; (status or None, body)."""
        headers = {"X-Twilio-Signature": self._sign(url, form)}
        status: int | None = None
        body = ""
        try:
            async with self._session().post(url, data=form, headers=headers) as response:
                status, body = response.status, await response.text()
        except Exception:  # the application may be gone; Twilio would log and move on
            status = None
        call.steps.append({"kind": kind, "url": url, "form": form, "status": status, "body": body, "at": time.time()})
        return status, body

    async def _status(self, call: Call, event: str, status: str, sequence: list[int], **extra: str) -> None:
        call.status = status
        if call.status_callback and (event in call.events or event == "completed"):
            form = self._params(call, status) | {
                "CallbackSource": "call-progress-events",
                "SequenceNumber": str(len(sequence)),
                "Timestamp": formatdate(usegmt=True),
            }
            sequence.append(1)
            await self._post(call, "status", call.status_callback, form | extra)

    async def _run(self, call: Call, callee: Callee) -> None:
        sequence: list[int] = []
        try:
            for event, status in (("initiated", "initiated"), ("ringing", "ringing")):
                await asyncio.sleep(self.delay_s)
                await self._status(call, event, status, sequence)
            await asyncio.sleep(self.delay_s)
            if callee.answer != "answer":
                await self._status(call, "completed", callee.answer, sequence, CallDuration="0")
                return
            began = time.monotonic()
            await self._status(call, "answered", "in-progress", sequence)
            await self._converse(call, list(callee.digits))
            duration = str(max(1, round(time.monotonic() - began)))
            await self._status(call, "completed", "completed", sequence, CallDuration=duration, Duration=duration)
        finally:
            call.finished = True

    async def _first_document(self, call: Call) -> tuple[str | None, str | None]:
        if call.twiml is not None:
            return call.twiml, None
        assert call.url is not None
        status, body = await self._post(call, "twiml", call.url, self._params(call, "in-progress"))
        return (body, call.url) if status == 200 else (None, None)

    async def _converse(self, call: Call, keys: list[str]) -> None:
        """Follow the TwiML: say, gather (a key from `keys`), redirect, hang up."""
        document, base = await self._first_document(call)
        for _ in range(MAX_DOCUMENTS):
            if document is None:
                call.heard.append("(an application error has occurred)")
                return
            try:
                verbs = list(ElementTree.fromstring(document.encode()))
            except ElementTree.ParseError:
                call.heard.append("(an application error has occurred)")
                return
            document, base = await self._perform(call, verbs, keys, base)
            if document == "":
                return

    async def _perform(
        self, call: Call, verbs: list[ElementTree.Element], keys: list[str], base: str | None
    ) -> tuple[str | None, str | None]:
        """Run one document's verbs; the next document and its URL, or "" when the call ends."""
        for verb in verbs:
            if verb.tag == "Say":
                call.heard.extend([verb.text or ""] * max(1, int(verb.get("loop", "1") or 1)))
            elif verb.tag == "Gather":
                call.heard.extend(child.text or "" for child in verb if child.tag == "Say")
                if not keys:
                    continue  # no key within the timeout: the document goes on
                action = urljoin(base or "", verb.get("action") or base or "")
                form = self._params(call, "in-progress") | {"Digits": keys.pop(0), "FinishedOnKey": "", "msg": "Gather End"}
                status, body = await self._post(call, "gather", action, form)
                return (body if status == 200 else None), action
            elif verb.tag == "Redirect":
                url = urljoin(base or "", (verb.text or "").strip())
                status, body = await self._post(call, "redirect", url, self._params(call, "in-progress"))
                return (body if status == 200 else None), url
            elif verb.tag == "Hangup":
                return "", base
        return "", base


def _error(status: int, code: int | None, message: str) -> web.Response:
    body: dict[str, Any] = {"message": message, "status": status}
    if code is not None:
        body |= {"code": code, "more_info": f"https://www.twilio.com/docs/errors/{code}"}
    return web.json_response(body, status=status)
