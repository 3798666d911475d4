"""Voice calls through the real `twilio` client against the project's Twilio-compatible server: the
call placed as Twilio's Calls resource expects it, the callee's key posted to the Gather URL and the
call's progress to the status URL — both signed, both checked with alerts.channels.twilio_voice —
and every failure to place a call translated to a bounded reason."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from alerts.channels.base import DeliveryError
from alerts.channels.retry import RetryPolicy, send_with_retry
from alerts.channels.twilio_account import TwilioSettings
from alerts.channels.twilio_status import SIGNATURE_HEADER, BadCallback, BadSignature, signature_valid
from alerts.channels.twilio_voice import (
    CallReport,
    KeyPress,
    Speech,
    TwilioVoiceSender,
    VoiceWebhooks,
    call_twiml,
    reply_twiml,
)
from alerts.channels.voice_account import VoiceSettings
from tests.peers.notifications import PHONE, TwilioCredentials, make_notification
from tests.peers.twilio_server import TwilioPeer

pytest_plugins = ["tests.peers.fixtures"]

FROM = "+447700900001"
SPOKEN = "Crucial Hour. High risk missing child alert, reference C, H, T, E, S, T, 0, 1. Press 1 to acknowledge."


class VoiceApp:
    """What the worker's voice views do, minus Kafka: verify, keep, answer TwiML (403 when forged)."""

    def __init__(self, credentials: TwilioCredentials) -> None:
        self.credentials = credentials
        self.presses: list[KeyPress] = []
        self.reports: list[CallReport] = []
        self.refused: list[tuple[str, int]] = []
        self.fetched: list[dict[str, str]] = []
        self.base = ""
        self._runner: web.AppRunner | None = None
        self.hooks: VoiceWebhooks | None = None

    async def _verify(self, request: web.Request, which: str) -> Any:
        assert self.hooks is not None
        form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        verify = self.hooks.verify_gather if which == "gather" else self.hooks.verify_status
        try:
            return verify(form, request.headers.get(SIGNATURE_HEADER), request.rel_url.raw_query_string)
        except BadSignature:
            self.refused.append((which, 403))
            raise web.HTTPForbidden() from None
        except BadCallback:
            self.refused.append((which, 400))
            raise web.HTTPBadRequest() from None

    async def gather(self, request: web.Request) -> web.Response:
        press: KeyPress = await self._verify(request, "gather")
        self.presses.append(press)
        assert self.hooks is not None
        if press.digits in ("1", "2"):
            text = reply_twiml("Acknowledged. Thank you." if press.digits == "1" else "Passed on.", Speech())
        else:
            text = reply_twiml("That key does nothing.", Speech(), gather_again=self.hooks.again(press))
        return web.Response(text=text, content_type="application/xml")

    async def status(self, request: web.Request) -> web.Response:
        self.reports.append(await self._verify(request, "status"))
        return web.Response(status=204)

    async def twiml(self, request: web.Request) -> web.Response:
        """A TwiML fetch (a call placed with Url instead of inline Twiml): signed like the rest."""
        form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        url = f"{self.base}/twiml"
        if not signature_valid(self.credentials.auth_token, url, form, request.headers.get(SIGNATURE_HEADER)):
            self.refused.append(("twiml", 403))
            raise web.HTTPForbidden()
        assert self.hooks is not None
        self.fetched.append(form)
        action = f"{self.hooks.gather_url}?key={'ab' * 16}&ref=CH-TEST01&kind=alert"
        return web.Response(text=call_twiml(SPOKEN, Speech(), action), content_type="application/xml")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/twilio/voice/twiml", self.twiml)
        app.router.add_post("/twilio/voice/gather", self.gather)
        app.router.add_post("/twilio/voice/status", self.status)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.base = f"http://127.0.0.1:{self._runner.addresses[0][1]}/twilio/voice"
        self.hooks = VoiceWebhooks(
            auth_token=self.credentials.auth_token,
            account_sid=self.credentials.account_sid,
            gather_url=f"{self.base}/gather",
            status_url=f"{self.base}/status",
            speech=Speech(),
        )

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def voice_app(twilio_credentials: TwilioCredentials) -> AsyncIterator[VoiceApp]:
    app = VoiceApp(twilio_credentials)
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


@pytest.fixture
async def sender(
    twilio_peer: TwilioPeer, twilio_credentials: TwilioCredentials, voice_app: VoiceApp
) -> AsyncIterator[TwilioVoiceSender]:
    sender = make_sender(twilio_peer, twilio_credentials, voice_app)
    try:
        yield sender
    finally:
        await sender.close()


def make_sender(
    peer: TwilioPeer, creds: TwilioCredentials, app: VoiceApp, kind: type[TwilioVoiceSender] = TwilioVoiceSender
) -> TwilioVoiceSender:
    return kind(
        TwilioSettings(account_sid=creds.account_sid, from_number=FROM, base_url=peer.base_url, timeout_s=2.0),
        VoiceSettings(gather_url=f"{app.base}/gather", status_callback_url=f"{app.base}/status"),
        creds.auth_token,
        retry_policy=RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.05, budget_s=10),
    )


def voice_note(**overrides: Any) -> Any:
    return make_notification(channel="voice", text=SPOKEN, **overrides)


async def test_a_call_is_placed_as_twilios_calls_resource_expects_it(
    twilio_peer: TwilioPeer, sender: TwilioVoiceSender, voice_app: VoiceApp
) -> None:
    note = voice_note(address="07700 900123")
    accepted = await sender.send(note)
    assert accepted.provider_id.startswith("CA") and len(accepted.provider_id) == 34
    [request] = twilio_peer.voice.requests
    form = request["form"]
    assert request["status"] == 201 and form["To"] == PHONE and form["From"] == FROM
    assert request["events"] == ["initiated", "ringing", "answered", "completed"]
    assert form["StatusCallback"] == f"{voice_app.base}/status?key={note.idempotency_key}"
    assert "<Gather" in form["Twiml"] and 'numDigits="1"' in form["Twiml"] and "Url" not in form
    assert int(form["Timeout"]) == 25 and int(form["TimeLimit"]) == 180


async def test_pressing_1_reaches_the_gather_url_signed_and_the_call_completes(
    twilio_peer: TwilioPeer, sender: TwilioVoiceSender, voice_app: VoiceApp
) -> None:
    twilio_peer.set_callee(PHONE, "answer", "1")
    note = voice_note()
    accepted = await sender.send(note)
    [call] = await twilio_peer.voice.wait_finished(1)
    assert call.sid == accepted.provider_id
    assert call.heard[0] == SPOKEN and "Acknowledged. Thank you." in call.heard
    [press] = voice_app.presses
    assert (press.digits, press.called, press.notification_key, press.reference, press.kind) == (
        "1",
        PHONE,
        note.idempotency_key,
        "CH-TEST01",
        "alert",
    )
    assert [r.status for r in voice_app.reports] == ["initiated", "ringing", "in-progress", "completed"]
    assert [r.outcome for r in voice_app.reports] == [None, None, None, "delivered"]
    assert {r.notification_key for r in voice_app.reports} == {note.idempotency_key}
    assert voice_app.refused == []


async def test_a_wrong_key_is_asked_again_and_no_key_hangs_up(
    twilio_peer: TwilioPeer, sender: TwilioVoiceSender, voice_app: VoiceApp
) -> None:
    twilio_peer.set_callee(PHONE, "answer", "92")
    await sender.send(voice_note())
    twilio_peer.set_callee("+447700900124", "answer", "")
    await sender.send(voice_note(address="+447700900124"))
    calls = {c.to: c for c in await twilio_peer.voice.wait_finished(2)}
    assert calls[PHONE].digits_posted() == ["9", "2"]
    assert [p.digits for p in voice_app.presses] == ["9", "2"]
    assert calls["+447700900124"].digits_posted() == []
    assert calls["+447700900124"].heard[-1].startswith("No key was pressed")
    assert calls["+447700900124"].statuses()[-1] == "completed"


@pytest.mark.parametrize(("answer", "reason"), [("no-answer", "no_answer"), ("busy", "busy"), ("failed", "call_failed")])
async def test_a_call_not_answered_reports_why(
    twilio_peer: TwilioPeer, sender: TwilioVoiceSender, voice_app: VoiceApp, answer: str, reason: str
) -> None:
    twilio_peer.set_callee(PHONE, answer)
    await sender.send(voice_note())
    [call] = await twilio_peer.voice.wait_finished(1)
    assert call.heard == [] and call.digits_posted() == []
    final = voice_app.reports[-1]
    assert (final.status, final.outcome, final.reason) == (answer, "failed", reason)


async def test_forged_voice_webhooks_are_refused(twilio_peer: TwilioPeer, sender: TwilioVoiceSender, voice_app: VoiceApp) -> None:
    twilio_peer.tamper_callbacks = True
    twilio_peer.set_callee(PHONE, "answer", "1")
    await sender.send(voice_note())
    await twilio_peer.voice.wait_finished(1)
    assert voice_app.presses == [] and voice_app.reports == []
    assert ("gather", 403) in voice_app.refused and ("status", 403) in voice_app.refused


@pytest.mark.parametrize(
    ("preset", "reason", "retryable"),
    [
        ("invalid_number", "invalid_number", False),
        ("call_not_authorized", "region_not_enabled", False),
        ("server_error", "provider_5xx", True),
        ("rate_limited", "rate_limited", True),
    ],
)
async def test_failures_to_place_a_call_are_translated(
    twilio_peer: TwilioPeer, sender: TwilioVoiceSender, preset: str, reason: str, retryable: bool
) -> None:
    twilio_peer.fail_number(PHONE, preset)
    with pytest.raises(DeliveryError) as caught:
        await sender.send(voice_note())
    assert (caught.value.reason, caught.value.retryable) == (reason, retryable)
    assert "+44" not in str(caught.value)


async def test_a_transient_failure_is_retried_to_one_call(twilio_peer: TwilioPeer, sender: TwilioVoiceSender) -> None:
    twilio_peer.fail_next("unavailable", times=1)
    accepted = await send_with_retry(sender, voice_note())
    assert accepted.attempts == 2
    assert [r["status"] for r in twilio_peer.voice.requests] == [503, 201]
    assert list(twilio_peer.calls) == [accepted.provider_id]


class FetchingVoiceSender(TwilioVoiceSender):
    """A call whose TwiML Twilio fetches from a URL (the peer supports both ways)."""

    twiml_url = ""

    def request_params(self, notification: Any) -> dict[str, Any]:
        params = super().request_params(notification)
        del params["twiml"]
        return params | {"url": self.twiml_url}


def fetching(peer: TwilioPeer, creds: TwilioCredentials, app: VoiceApp) -> FetchingVoiceSender:
    sender = make_sender(peer, creds, app, FetchingVoiceSender)
    assert isinstance(sender, FetchingVoiceSender)
    sender.twiml_url = f"{app.base}/twiml"
    return sender


async def test_the_peer_fetches_twiml_from_a_url_signed_like_twilio(
    twilio_peer: TwilioPeer, twilio_credentials: TwilioCredentials, voice_app: VoiceApp
) -> None:
    sender = fetching(twilio_peer, twilio_credentials, voice_app)
    twilio_peer.set_callee(PHONE, "answer", "1")
    try:
        await sender.send(voice_note())
    finally:
        await sender.close()
    [call] = await twilio_peer.voice.wait_finished(1)
    [fetch] = voice_app.fetched
    assert (fetch["CallSid"], fetch["To"], fetch["CallStatus"]) == (call.sid, PHONE, "in-progress")
    assert call.heard[0] == SPOKEN and [p.digits for p in voice_app.presses] == ["1"]
    twilio_peer.tamper_callbacks = True
    twilio_peer.set_callee(PHONE, "answer", "1")
    sender = fetching(twilio_peer, twilio_credentials, voice_app)
    try:
        await sender.send(voice_note())
    finally:
        await sender.close()
    await twilio_peer.voice.wait_finished(2)
    assert ("twiml", 403) in voice_app.refused and len(voice_app.fetched) == 1
