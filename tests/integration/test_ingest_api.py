"""POST /v1/events on a real worker and broker: 202 only once Kafka holds the report; every refusal
answered with the right status and field-level reasons, and kept on the rejected topic."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from alerts.triage import incident_ids
from streams.web.openapi import openapi_document
from tests.ingest_support import (
    API_KEY,
    FLAGGED_CHILD,
    OTHER_API_KEY,
    post_event,
    prepare_ingest_worker,
    request,
    signed_headers,
)
from tests.integration.worker import RunningWorker
from tests.support import REPO, make_event

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def api(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningWorker]:
    running = prepare_ingest_worker(tmp_path_factory.mktemp("ingest"), kafka_bootstrap, max_body_bytes=4096)
    running.start()
    try:
        yield running
    finally:
        running.close()


def rejected(api: RunningWorker, reason: str) -> dict[str, Any]:
    """The rejected-topic record whose reasons include `reason` (waits for it)."""
    records = api.read(api.topics.rejected, lambda rs: any(reason in r["reasons"] for r in rs))
    return next(r for r in records if reason in r["reasons"])


def test_a_report_is_acknowledged_with_its_reference_and_reaches_the_incidents(api: RunningWorker) -> None:
    event = make_event(child_reference=FLAGGED_CHILD)
    reply = post_event(api.port, event)
    assert reply.status == 202, reply.body
    reference = incident_ids(event["event_id"], "larchwood-care")[1]  # per (provider, event id)
    assert reply.json() == {"status": "accepted", "reference": reference, "event_id": event["event_id"]}
    # Acknowledged means already on the topic.
    stored = api.read(api.topics.placement_events, lambda rs: any(r["event_id"] == event["event_id"] for r in rs), timeout_s=5)
    assert any(r["event_id"] == event["event_id"] for r in stored)
    opened = api.read(api.topics.incidents, lambda rs: any(r["incident"]["reference"] == reference for r in rs))
    assert any(r["change"] == "opened" and r["incident"]["event_id"] == event["event_id"] for r in opened)

    retry = post_event(api.port, event)
    assert retry.status == 202 and retry.json()["reference"] == reference


def test_an_hmac_signed_report_is_accepted_once(api: RunningWorker) -> None:
    body = json.dumps(make_event(child_reference="HAR-HMAC-0001")).encode()
    headers = signed_headers(body)
    assert post_event(api.port, body, key=None, headers=headers).status == 202
    again = post_event(api.port, body, key=None, headers=headers)
    assert again.status == 401 and again.json()["reasons"] == ["(auth): replayed signature"]
    rejected(api, "(auth): replayed signature")


def test_a_stale_or_wrong_signature_is_refused(api: RunningWorker) -> None:
    body = json.dumps(make_event(child_reference="HAR-HMAC-0002")).encode()
    stale = post_event(api.port, body, key=None, headers=signed_headers(body, timestamp=int(time.time()) - 3600))
    assert stale.status == 401 and stale.json()["reasons"] == ["(auth): timestamp outside the replay window"]
    forged = post_event(api.port, body, key=None, headers=signed_headers(body, secret="x" * 43))
    assert forged.status == 401 and forged.json()["reasons"] == ["(auth): signature does not match"]
    tampered = post_event(api.port, body.replace(b"HMAC-0002", b"HMAC-0003"), key=None, headers=signed_headers(body))
    assert tampered.status == 401


def test_unauthenticated_requests_are_refused_and_recorded(api: RunningWorker) -> None:
    event = make_event(child_reference="HAR-NOAUTH-01")
    reply = post_event(api.port, event, key=None)
    assert reply.status == 401 and reply.json()["reasons"] == ["(auth): no credentials"]
    assert "Bearer" in reply.headers["WWW-Authenticate"]
    assert post_event(api.port, event, key="chk_not-a-real-key").json()["reasons"] == ["(auth): unknown API key"]
    record = rejected(api, "(auth): no credentials")
    assert record["source"] == "api:unauthenticated"
    assert json.loads(record["raw"])["event_id"] == event["event_id"]  # kept whole, nothing dropped


def test_an_invalid_report_gets_field_level_reasons_and_is_kept(api: RunningWorker) -> None:
    event = make_event(child_reference="HAR-INVALID-01")
    del event["child"]["given_names"]
    event["circumstances"]["phone_numbers"] = ["not a phone"]
    reply = post_event(api.port, event)
    assert reply.status == 422
    assert reply.headers["Content-Type"].startswith("application/problem+json")
    problem = reply.json()
    assert "child.given_names: Field required" in problem["reasons"]
    assert {"field": "child.given_names", "message": "Field required"} in problem["errors"]
    assert any(e["field"] == "circumstances.phone_numbers[0]" for e in problem["errors"])
    record = rejected(api, "child.given_names: Field required")
    assert record["source"] == "api:larchwood-care" and json.loads(record["raw"]) == event


def test_malformed_json_and_wrong_content_type(api: RunningWorker) -> None:
    broken = post_event(api.port, b'{"event_id": ')
    assert broken.status == 400 and broken.json()["reasons"][0].startswith("(root): not JSON")
    not_utf8 = post_event(api.port, b'{"event_id": "\xff"}')
    assert not_utf8.status == 400 and not_utf8.json()["reasons"][0].startswith("(root): not UTF-8")
    record = rejected(api, not_utf8.json()["reasons"][0])
    assert record["raw_base64"]  # the undecodable bytes are kept exactly
    text = post_event(api.port, json.dumps(make_event()).encode(), headers={"Content-Type": "text/plain"})
    assert text.status == 415


def test_an_oversized_request_is_refused_unread(api: RunningWorker) -> None:
    event = make_event(child_reference="HAR-BIG-01")
    event["circumstances"]["notes"] = "x" * 5000
    reply = post_event(api.port, event)
    assert reply.status == 413
    rejected(api, reply.json()["reasons"][0])


def test_a_placement_of_another_provider_is_forbidden(api: RunningWorker) -> None:
    event = make_event(child_reference="HAR-OTHER-01")  # plc-harrow-07 is Larchwood's
    reply = post_event(api.port, event, key=OTHER_API_KEY)
    assert reply.status == 403
    assert reply.json()["errors"][0]["field"] == "placement.id"
    record = rejected(api, reply.json()["reasons"][0])
    assert record["source"] == "api:brentside-homes"


def test_the_per_key_rate_limit_answers_429_with_retry_after(api: RunningWorker) -> None:
    event = make_event(child_reference="BRE-RATE-01")
    event["placement"] = {"id": "plc-brent-03", "name": "Brentside house", "local_authority": "Brent", "postcode": "NW10 9ZZ"}
    statuses = [post_event(api.port, event, key=OTHER_API_KEY) for _ in range(8)]
    assert [r.status for r in statuses[:2]] == [202, 202]
    limited = [r for r in statuses if r.status == 429]
    assert limited and int(limited[0].headers["Retry-After"]) >= 1
    # Another key is not affected.
    assert post_event(api.port, make_event(child_reference="HAR-RATE-02"), key=API_KEY).status == 202


def test_the_openapi_description_is_served_and_matches_the_committed_one(api: RunningWorker) -> None:
    served = request(api.port, "GET", "/v1/openapi.json")
    assert served.status == 200
    assert served.json() == openapi_document() == json.loads((REPO / "docs" / "openapi.json").read_text())


def test_outcomes_are_counted_with_bounded_labels(api: RunningWorker) -> None:
    assert api.metric("crucial_ingest_requests_total", route="api", outcome="accepted") >= 1
    assert api.metric("crucial_ingest_requests_total", route="api", outcome="unauthenticated") >= 1
