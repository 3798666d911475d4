"""SMS through the real `twilio` client against the project's Twilio-compatible server on 127.0.0.1:
success, every error path translated, Retry-After honoured, slow answers cut off, bounded
concurrency, and signed status callbacks validated (a tampered one refused)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from alerts.channels.base import DeliveryError
from alerts.channels.retry import RetryPolicy, send_with_retry
from alerts.channels.twilio_sms import TwilioSmsSender
from alerts.channels.twilio_status import SIGNATURE_HEADER, BadCallback, BadSignature, StatusCallbacks, StatusReport
from tests.peers.notifications import PHONE, TwilioCredentials, make_notification, twilio_sender
from tests.peers.remote import RemoteTwilioPeer
from tests.peers.smtp_server import free_port
from tests.peers.twilio_server import Fault, TwilioPeer

pytest_plugins = ["tests.peers.fixtures"]

FROM = "+447700900001"
FAST_RETRY = RetryPolicy(max_attempts=4, base_delay_s=0.01, max_delay_s=0.05, budget_s=10)


class CallbackReceiver:
    """What the lead's web view does: verify, then record; 403 on a bad signature."""

    def __init__(self, credentials: TwilioCredentials) -> None:
        self.credentials = credentials
        self.reports: list[StatusReport] = []
        self.refused: list[int] = []
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._callbacks: StatusCallbacks | None = None

    async def handle(self, request: web.Request) -> web.Response:
        assert self._callbacks is not None
        form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        try:
            report = self._callbacks.verify(form, request.headers.get(SIGNATURE_HEADER), request.rel_url.raw_query_string)
        except BadSignature:
            self.refused.append(403)
            return web.Response(status=403)
        except BadCallback:
            self.refused.append(400)
            return web.Response(status=400)
        self.reports.append(report)
        return web.Response(status=204)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/twilio/status", self.handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/twilio/status"
        self._callbacks = StatusCallbacks(
            auth_token=self.credentials.auth_token, account_sid=self.credentials.account_sid, public_url=self.url
        )

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def receiver(twilio_credentials: TwilioCredentials) -> AsyncIterator[CallbackReceiver]:
    receiver = CallbackReceiver(twilio_credentials)
    await receiver.start()
    try:
        yield receiver
    finally:
        await receiver.stop()


def make_sender(peer: TwilioPeer, creds: TwilioCredentials, **overrides: Any) -> TwilioSmsSender:
    options: dict[str, Any] = {
        "account_sid": creds.account_sid,
        "auth_token": creds.auth_token,
        "from_number": FROM,
        "base_url": peer.base_url,
        "timeout_s": 2.0,
        "retry_policy": FAST_RETRY,
    }
    options.update(overrides)
    return twilio_sender(**options)


@pytest.fixture
async def sender(twilio_peer: TwilioPeer, twilio_credentials: TwilioCredentials) -> AsyncIterator[TwilioSmsSender]:
    sender = make_sender(twilio_peer, twilio_credentials)
    try:
        yield sender
    finally:
        await sender.close()


async def test_an_sms_is_accepted_as_twilio_expects_it(twilio_peer: TwilioPeer, sender: TwilioSmsSender) -> None:
    note = make_notification(address="07700 900123")
    accepted = await sender.send(note)
    assert accepted.provider_id.startswith("SM") and len(accepted.provider_id) == 34
    [request] = twilio_peer.requests
    assert request.authorized and request.status == 201 and request.sid == accepted.provider_id
    assert request.path == f"/2010-04-01/Accounts/{sender.account_sid}/Messages.json"
    assert request.form["To"] == PHONE and request.form["From"] == FROM
    assert request.form["Body"] == note.message.text
    assert 2900 < int(request.form["ValidityPeriod"]) <= 3000
    assert "StatusCallback" not in request.form


async def test_one_kept_connection_carries_many_sms(twilio_peer: TwilioPeer, sender: TwilioSmsSender) -> None:
    for _ in range(5):
        await sender.send(make_notification())
    ports = [request.client_port for request in twilio_peer.requests]
    assert len(ports) == 5 and None not in ports
    assert len(set(ports)) == 1  # the twilio client's aiohttp session is kept open between messages


async def test_from_a_messaging_service(twilio_peer: TwilioPeer, twilio_credentials: TwilioCredentials) -> None:
    service = "MG" + "1" * 32
    sender = make_sender(twilio_peer, twilio_credentials, from_number=None, messaging_service_sid=service)
    try:
        accepted = await sender.send(make_notification())
    finally:
        await sender.close()
    assert twilio_peer.messages[accepted.provider_id]["status"] == "accepted"
    assert twilio_peer.requests[0].form["MessagingServiceSid"] == service
    assert "From" not in twilio_peer.requests[0].form


@pytest.mark.parametrize(
    ("preset", "reason"),
    [
        ("invalid_number", "invalid_number"),
        ("not_mobile", "invalid_number"),
        ("unsubscribed", "unsubscribed"),
        ("region_not_enabled", "region_not_enabled"),
        ("body_too_long", "body_too_long"),
        (Fault(400, 21612, "The 'To' phone number is not currently reachable"), "rejected_4xx"),
    ],
)
async def test_permanent_errors_are_not_retried(
    twilio_peer: TwilioPeer, sender: TwilioSmsSender, preset: str | Fault, reason: str
) -> None:
    twilio_peer.fail_number(PHONE, preset)
    with pytest.raises(DeliveryError) as caught:
        await send_with_retry(sender, make_notification())
    assert (caught.value.reason, caught.value.retryable, caught.value.attempts) == (reason, False, 1)
    assert len(twilio_peer.requests) == 1
    assert PHONE not in str(caught.value)


async def test_a_failure_for_one_number_leaves_the_others(twilio_peer: TwilioPeer, sender: TwilioSmsSender) -> None:
    twilio_peer.fail_number(PHONE, "unsubscribed")
    await sender.send(make_notification(address="+447700900999"))
    with pytest.raises(DeliveryError):
        await sender.send(make_notification())


async def test_a_wrong_auth_token_is_auth(twilio_peer: TwilioPeer, twilio_credentials: TwilioCredentials) -> None:
    sender = make_sender(twilio_peer, twilio_credentials, auth_token="0" * 32)
    try:
        with pytest.raises(DeliveryError) as caught:
            await sender.send(make_notification())
    finally:
        await sender.close()
    assert (caught.value.reason, caught.value.retryable) == ("auth", False)
    assert twilio_peer.requests[0].authorized is False


@pytest.mark.parametrize("fault", [Fault(500, 20500, "Internal Server Error"), Fault(503, 20503, "Service Unavailable")])
async def test_5xx_is_retried(twilio_peer: TwilioPeer, sender: TwilioSmsSender, fault: Fault) -> None:
    twilio_peer.fail_next(fault, times=2)
    with pytest.raises(DeliveryError) as caught:
        await sender.send(make_notification())
    assert (caught.value.reason, caught.value.retryable) == ("provider_5xx", True)
    accepted = await send_with_retry(sender, make_notification())
    assert accepted.attempts == 2
    assert [r.status for r in twilio_peer.requests] == [fault.status, fault.status, 201]


async def test_429_retry_after_is_honoured(twilio_peer: TwilioPeer, sender: TwilioSmsSender) -> None:
    twilio_peer.fail_next(Fault(429, 20429, "Too Many Requests", retry_after="1"))
    with pytest.raises(DeliveryError) as caught:
        await sender.send(make_notification())
    assert (caught.value.reason, caught.value.retryable, caught.value.retry_after_s) == ("rate_limited", True, 1.0)

    twilio_peer.fail_next(Fault(429, 20429, "Too Many Requests", retry_after="1"))
    accepted = await send_with_retry(sender, make_notification())
    assert accepted.attempts == 2
    first, second = twilio_peer.requests[-2:]
    assert second.received_monotonic - first.received_monotonic >= 1.0  # not the 10 ms backoff


async def test_a_slow_answer_times_out_and_is_retried(twilio_peer: TwilioPeer, twilio_credentials: TwilioCredentials) -> None:
    sender = make_sender(twilio_peer, twilio_credentials, timeout_s=0.3)
    try:
        twilio_peer.fail_next(Fault(delay_s=1.0))
        with pytest.raises(DeliveryError) as caught:
            await sender.send(make_notification())
        assert (caught.value.reason, caught.value.retryable) == ("timeout", True)

        twilio_peer.fail_next(Fault(delay_s=1.0))
        accepted = await send_with_retry(sender, make_notification())
        assert accepted.attempts == 2
    finally:
        await sender.close()
    # The honest part: Twilio may have taken a message whose answer we never saw (at-least-once). The
    # two slow answers finish at the peer after the client gave up: three requests were made, so three.
    for _ in range(100):
        if len(twilio_peer.created()) >= 3:
            break
        await asyncio.sleep(0.05)
    assert len(twilio_peer.created()) == 3


async def test_connection_refused_is_retryable(twilio_credentials: TwilioCredentials, no_twilio_env: None) -> None:
    sender = twilio_sender(
        account_sid=twilio_credentials.account_sid,
        auth_token=twilio_credentials.auth_token,
        from_number=FROM,
        base_url=f"http://127.0.0.1:{free_port()}",
        timeout_s=2,
    )
    try:
        with pytest.raises(DeliveryError) as caught:
            await sender.send(make_notification())
    finally:
        await sender.close()
    assert (caught.value.reason, caught.value.retryable) == ("connection", True)


async def test_concurrency_is_bounded(twilio_peer: TwilioPeer, twilio_credentials: TwilioCredentials) -> None:
    sender = make_sender(twilio_peer, twilio_credentials, max_concurrency=2)
    twilio_peer.fail_next(Fault(delay_s=0.3), times=6)
    try:
        notes = [make_notification(address=f"+4477009001{n:02d}") for n in range(6)]
        await asyncio.gather(*(sender.send(n) for n in notes))
    finally:
        await sender.close()
    spans = [(r.received_at, r.answered_at or r.received_at) for r in twilio_peer.requests]
    most = max(sum(1 for start, end in spans if start <= at < end) for at, _ in spans)
    assert most <= 2
    assert len(twilio_peer.created()) == 6


async def test_signed_callbacks_reach_the_receiver(
    twilio_peer: TwilioPeer, twilio_credentials: TwilioCredentials, receiver: CallbackReceiver
) -> None:
    sender = make_sender(twilio_peer, twilio_credentials, status_callback_url=receiver.url)
    note = make_notification()
    try:
        accepted = await sender.send(note)
    finally:
        await sender.close()
    callbacks = await twilio_peer.wait_for_callbacks(2)
    assert [c.response_status for c in callbacks] == [204, 204]
    assert [(r.provider_id, r.status, r.outcome) for r in receiver.reports] == [
        (accepted.provider_id, "sent", None),
        (accepted.provider_id, "delivered", "delivered"),
    ]
    assert {r.notification_key for r in receiver.reports} == {note.idempotency_key}


async def test_an_undelivered_callback_carries_the_error(
    twilio_peer: TwilioPeer, twilio_credentials: TwilioCredentials, receiver: CallbackReceiver
) -> None:
    twilio_peer.set_outcome(PHONE, "undelivered", 30003)
    sender = make_sender(twilio_peer, twilio_credentials, status_callback_url=receiver.url)
    try:
        await sender.send(make_notification())
    finally:
        await sender.close()
    await twilio_peer.wait_for_callbacks(2)
    final = receiver.reports[-1]
    assert (final.status, final.error_code, final.outcome, final.reason) == ("undelivered", 30003, "failed", "unreachable")


async def test_a_tampered_callback_is_refused(
    twilio_peer: TwilioPeer, twilio_credentials: TwilioCredentials, receiver: CallbackReceiver
) -> None:
    twilio_peer.tamper_callbacks = True
    sender = make_sender(twilio_peer, twilio_credentials, status_callback_url=receiver.url)
    try:
        await sender.send(make_notification())
    finally:
        await sender.close()
    callbacks = await twilio_peer.wait_for_callbacks(2)
    assert [c.response_status for c in callbacks] == [403, 403]
    assert receiver.reports == []


async def test_the_server_as_a_subprocess(tmp_path: Path, twilio_credentials: TwilioCredentials, no_twilio_env: None) -> None:
    record = tmp_path / "twilio.jsonl"
    peer = await asyncio.to_thread(RemoteTwilioPeer.spawn, twilio_credentials, record=record)
    sender = twilio_sender(
        account_sid=twilio_credentials.account_sid,
        auth_token=twilio_credentials.auth_token,
        from_number=FROM,
        base_url=peer.base_url,
        timeout_s=5,
    )
    try:
        await asyncio.to_thread(peer.fail, to=PHONE, preset="unsubscribed")
        with pytest.raises(DeliveryError) as caught:
            await sender.send(make_notification())
        assert caught.value.reason == "unsubscribed"
        accepted = await sender.send(make_notification(address="+447700900555"))
        requests = await asyncio.to_thread(peer.requests)
    finally:
        await sender.close()
        await asyncio.to_thread(peer.stop)
    assert [r["status"] for r in requests] == [400, 201]
    assert requests[1]["sid"] == accepted.provider_id
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    assert [(line["kind"], line["status"]) for line in lines] == [("request", 400), ("request", 201)]
    assert all(line["received_at"] <= line["answered_at"] for line in lines)
