"""The webhook channel against a real receiver (tests/peers/webhook_receiver.py: aiohttp on 127.0.0.1,
verifying every signature with the standardwebhooks library), through send_with_retry as the
worker sends: accepted, retried on 5xx, permanent on 4xx, refused with the wrong secret, one
connection reused."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from alerts.channels import reasons
from alerts.channels.base import DeliveryError
from alerts.channels.retry import send_with_retry
from alerts.channels.webhook import WebhookSender, WebhookSettings
from alerts.model import Notification
from tests.peers.notifications import make_notification
from tests.peers.webhook_receiver import WebhookReceiver
from tests.support import free_port

MET = "whsec_" + base64.b64encode(b"met-control-room-secret-0123456789").decode()
CASE = "whsec_" + base64.b64encode(b"case-system-secret-abcdefghijklmnop").decode()
FAST = {"max_attempts": 4, "base_delay_s": 0.01, "max_delay_s": 0.05, "budget_s": 30}


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    peer = WebhookReceiver({"/hooks/met": MET, "/hooks/case": CASE})
    await peer.start()
    try:
        yield peer
    finally:
        await peer.stop()


def make_sender(receiver: WebhookReceiver, secrets: dict[str, str] | None = None, **settings: Any) -> WebhookSender:
    subscribers = {
        "met": {"url": receiver.url("/hooks/met"), "secret_env": "UNUSED"},
        "case-system": {"url": receiver.url("/hooks/case"), "secret_env": "UNUSED", "data": "full"},
    }
    made = WebhookSettings.model_validate({"subscribers": subscribers, "retry": FAST, "timeout_s": 5, **settings})
    return WebhookSender(made, secrets or {"met": MET, "case-system": CASE})


def note(address: str = "met", kind: str = "alert") -> Notification:
    document = {"type": f"incident.{kind}", "version": "1", "data": {"reference": "CH-TEST01", "kind": kind}}
    return make_notification(channel="webhook", address=address, kind=kind, text=json.dumps(document))


async def test_a_delivery_arrives_signed_and_verified(receiver: WebhookReceiver) -> None:
    sender = make_sender(receiver)
    notification = note()
    try:
        accepted = await send_with_retry(sender, notification)
    finally:
        await sender.close()
    [got] = receiver.verified("/hooks/met")
    assert got.body == notification.message.text and got.document["data"]["reference"] == "CH-TEST01"
    assert got.headers["webhook-id"] == notification.idempotency_key
    assert got.headers["content-type"] == "application/json"
    assert accepted.attempts == 1 and notification.idempotency_key in accepted.provider_id


async def test_5xx_is_retried_with_the_same_id_until_it_is_taken(receiver: WebhookReceiver) -> None:
    receiver.fail("/hooks/met", 503, times=2)
    sender = make_sender(receiver)
    notification = note()
    try:
        accepted = await send_with_retry(sender, notification)
    finally:
        await sender.close()
    attempts = [r for r in receiver.received if r.path == "/hooks/met"]
    assert [r.status for r in attempts] == [503, 503, 204]
    assert all(r.verified for r in attempts)  # every attempt signed afresh, and verifiable
    assert {r.headers["webhook-id"] for r in attempts} == {notification.idempotency_key}
    assert accepted.attempts == 3


async def test_429_is_retried(receiver: WebhookReceiver) -> None:
    receiver.fail("/hooks/met", 429, times=1)
    sender = make_sender(receiver)
    try:
        accepted = await send_with_retry(sender, note())
    finally:
        await sender.close()
    assert accepted.attempts == 2 and len(receiver.verified("/hooks/met")) == 1


async def test_4xx_is_permanent_and_not_retried(receiver: WebhookReceiver) -> None:
    receiver.fail("/hooks/met", 422, times=5)
    sender = make_sender(receiver)
    try:
        with pytest.raises(DeliveryError) as caught:
            await send_with_retry(sender, note())
    finally:
        await sender.close()
    assert (caught.value.reason, caught.value.retryable, caught.value.attempts) == (reasons.REJECTED_4XX, False, 1)
    assert [r.status for r in receiver.received] == [422]


async def test_5xx_for_ever_gives_up_after_the_policys_attempts(receiver: WebhookReceiver) -> None:
    receiver.fail("/hooks/met", 500, times=10)
    sender = make_sender(receiver)
    try:
        with pytest.raises(DeliveryError) as caught:
            await send_with_retry(sender, note())
    finally:
        await sender.close()
    assert (caught.value.reason, caught.value.retryable, caught.value.attempts) == (
        reasons.PROVIDER_5XX,
        True,
        FAST["max_attempts"],
    )


async def test_the_wrong_secret_is_refused_by_the_receiver_and_is_permanent(receiver: WebhookReceiver) -> None:
    sender = make_sender(receiver, secrets={"met": CASE, "case-system": CASE})  # the Met verifies with its own
    try:
        with pytest.raises(DeliveryError) as caught:
            await send_with_retry(sender, note())
    finally:
        await sender.close()
    assert (caught.value.reason, caught.value.retryable) == (reasons.AUTH, False)
    assert [(r.verified, r.status) for r in receiver.received] == [(False, 401)]


async def test_each_subscriber_is_signed_with_its_own_secret(receiver: WebhookReceiver) -> None:
    sender = make_sender(receiver)
    try:
        await send_with_retry(sender, note("met"))
        await send_with_retry(sender, note("case-system"))
    finally:
        await sender.close()
    assert len(receiver.verified("/hooks/met")) == 1 and len(receiver.verified("/hooks/case")) == 1


async def test_one_connection_is_kept_for_many_deliveries(receiver: WebhookReceiver) -> None:
    sender = make_sender(receiver)
    try:
        for kind in ("alert", "update", "escalation", "stand_down"):
            await send_with_retry(sender, note(kind=kind))
    finally:
        await sender.close()
    assert len(receiver.verified("/hooks/met")) == 4
    assert len({r.peer for r in receiver.received}) == 1  # the same client port: the session is reused


async def test_a_receiver_that_is_not_there_is_a_retryable_connection_failure() -> None:
    absent = WebhookReceiver({})
    absent.port = free_port()
    sender = make_sender(absent, retry={"max_attempts": 1})
    try:
        with pytest.raises(DeliveryError) as caught:
            await send_with_retry(sender, note())
    finally:
        await sender.close()
    assert (caught.value.reason, caught.value.retryable) == (reasons.CONNECTION, True)


async def test_a_receiver_that_does_not_answer_in_time_is_a_retryable_timeout(receiver: WebhookReceiver) -> None:
    receiver.hold("/hooks/met")
    sender = make_sender(receiver, timeout_s=0.3, retry={"max_attempts": 1})
    try:
        with pytest.raises(DeliveryError) as caught:
            await send_with_retry(sender, note())
    finally:
        receiver.release()
        await sender.close()
    assert (caught.value.reason, caught.value.retryable) == (reasons.TIMEOUT, True)
