"""The webhook channel end to end: a report into the real broker, the worker subprocess routes it by
config alone (a contact `webhook: met-control-room`) and POSTs the signed document to a receiver
that verifies it with standardwebhooks — through two 503s, retried by the worker's retry policy."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from alerts.config import load_config
from streams.web.auth import new_secret
from tests.integration.worker import RunningWorker, prepare_worker
from tests.peers.webhook_receiver import WebhookReceiver, receiver_in_thread
from tests.support import expected_notifications, make_event, wait_for

pytestmark = pytest.mark.e2e

SECRET = "whsec_" + base64.b64encode(b"e2e-met-control-room-secret-0123").decode()
FLAGGED = [{"scheme": "home_office", "value": "HO-S1234567"}]  # prof-0001: high risk, Harrow
PATH = "/hooks/met-control-room"


def with_webhook_contact(config_dir: Path, agency_id: str) -> None:
    path = config_dir / "agencies.yaml"
    data = yaml.safe_load(path.read_text())
    data["agencies"][agency_id]["contacts"].append({"name": "Control room", "webhook": "met-control-room"})
    path.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.fixture(scope="module")
def running(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningWorker, WebhookReceiver]]:
    base = tmp_path_factory.mktemp("webhook")
    with receiver_in_thread({PATH: SECRET}) as receiver:
        worker = prepare_worker(
            base,
            kafka_bootstrap,
            webhooks={
                "subscribers": {"met-control-room": {"url": receiver.url(PATH), "secret_env": "CRUCIAL_WEBHOOK_MET"}},
                "retry": {"base_delay_s": 0.05, "max_delay_s": 0.5, "budget_s": 20},
            },
        )
        with_webhook_contact(worker.config_dir, "met-police-mispers")
        worker.config = load_config(worker.config_dir)
        worker.env |= {
            "CRUCIAL_WEBHOOK_MET": SECRET,
            # A provider is configured: outside the demo every shared secret is required.
            "CRUCIAL_LINK_SECRET": new_secret(),
            "CRUCIAL_SESSION_SECRET": new_secret(),
            "CRUCIAL_HMAC_LARCHWOOD": new_secret(),
        }
        worker.start()
        try:
            yield worker, receiver
        finally:
            worker.close()


def test_a_report_reaches_the_subscriber_signed_with_minimum_data_through_retries(
    running: tuple[RunningWorker, WebhookReceiver],
) -> None:
    worker, receiver = running
    event = make_event(child_reference=f"HAR-W-{uuid.uuid4().hex[:6]}", identifiers=FLAGGED)
    expected = expected_notifications(event, worker.config)
    assert ("met-police-mispers", "webhook", "met-control-room") in expected  # routed by config alone
    receiver.fail(PATH, 503, times=2)
    worker.emit(event)
    records = worker.read(
        worker.topics.incidents, until=lambda rs: any(r["incident"]["event_id"] == event["event_id"] for r in rs)
    )
    reference = next(r["incident"]["reference"] for r in records if r["incident"]["event_id"] == event["event_id"])

    def delivered() -> list[Any]:
        return [r for r in receiver.verified(PATH) if r.document["data"]["reference"] == reference]

    [got] = wait_for("the webhook delivery", delivered)
    attempts = [r for r in receiver.received if r.headers.get("webhook-id") == got.headers["webhook-id"]]
    assert [r.status for r in attempts] == [503, 503, 204] and all(r.verified for r in attempts)
    data = got.document["data"]
    assert got.document["type"] == "incident.alert" and data["kind"] == "alert" and data["priority"] == "high"
    assert data["data_policy"] == "minimum" and "detail" not in data
    assert data["ack_url"] and data["ack_url"].startswith(f"http://127.0.0.1:{worker.port}/ack/")
    for personal in (event["child"]["given_names"], event["child"].get("family_name"), event["reporter"]["callback_phone"]):
        assert not personal or personal not in got.body
