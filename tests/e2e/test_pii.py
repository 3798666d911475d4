"""PII hygiene end to end: reports about a synthetic child go through a worker subprocess by every
route (API key, HMAC signature, the report form; valid, invalid and follow-up reports), the alerts are
delivered — and neither the worker's log nor /metrics ever holds the child's names, date of birth or
phone numbers. References only."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import pytest

from tests.ingest_support import FLAGGED_CHILD, post_event, post_form, prepare_ingest_worker, sign_in, signed_headers
from tests.integration.worker import RunningWorker
from tests.support import make_event

pytestmark = pytest.mark.e2e

CHILD_PHONES = ["+447700900555", "+447700900666"]  # the profile's and the report's
# Every way the synthetic child's details could be written. Names match as words, case-sensitively,
# so "Tran" does not catch "Transaction".
PII = [
    r"\bMinh\b",
    r"\bTran\b",
    r"\bAnh Tran\b",
    r"\bTony\b",
    r"\bElira\b",
    r"\bHoxha\b",
    r"2010-01-01",
    r"01/01/2010",
    r"1 Jan(uary)? 2010",
    r"2009-06-01",
    r"2010-12-31",
    r"2009-03-14",
    *(re.escape(p) for p in CHILD_PHONES),
    *(rf"0?7700 ?900 ?{p[-3:]}\b" for p in CHILD_PHONES),
    *(rf"\b44 ?7700 ?900 ?{p[-3:]}\b" for p in CHILD_PHONES),
]


@pytest.fixture(scope="module")
def worker(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningWorker]:
    running = prepare_ingest_worker(tmp_path_factory.mktemp("pii"), kafka_bootstrap)
    running.start()
    try:
        yield running
    finally:
        running.close()


def leaks(text: str) -> list[str]:
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        for pattern in PII:
            if re.search(pattern, line):
                found.append(f"line {number} ({pattern}): {line[:300]}")
    return found


def test_no_child_pii_in_the_log_or_metrics(worker: RunningWorker) -> None:
    port = worker.port
    # 1. By API key: the flagged child, with phone numbers and an alias; then news and the return.
    left = make_event(child_reference=FLAGGED_CHILD, aliases=["Anh Tran", "Tony"])
    left["circumstances"]["phone_numbers"] = CHILD_PHONES
    assert post_event(port, left).status == 202
    reference = post_event(port, left).json()["reference"]  # a retry: the same, server-given reference
    # 2. Signed (HMAC): the other synthetic child's details.
    other = make_event(child_reference="BRE-2026-0077", given_names="Elira", family_name="Hoxha")
    other["child"]["date_of_birth"] = {"value": "2009-03-14"}
    body = json.dumps(other).encode()
    assert post_event(port, body, key=None, headers=signed_headers(body)).status == 202
    # 3. Invalid reports that carry the details: a date of birth in the future, a bad phone, an unknown field.
    bad = make_event(child_reference=FLAGGED_CHILD)
    bad["child"]["date_of_birth"] = {"value": "2099-01-01"}
    bad["circumstances"]["phone_numbers"] = ["+447700900555 ext Minh Tran"]
    bad["child"]["favourite"] = "Minh Anh Tran 2010-01-01"
    refused = post_event(port, bad)
    assert refused.status == 422
    # 4. Through the report form, signed in as care staff.
    cookies, csrf = sign_in(port)
    sent = post_form(
        port,
        "/report",
        {
            "csrf_token": csrf,
            "event_id": "form-larchwood-care-pii0001",
            "child": FLAGGED_CHILD,
            "last_seen_at": time.strftime("%Y-%m-%dT%H:%M", time.gmtime(time.time() - 3600)),
            "last_seen_place": "Front gate",
            "clothing": "Black puffer jacket",
            "notes": "Called Minh Anh's phone 07700 900555, no answer",
            "callback_phone": "07700 900401",
        },
        cookies,
    )
    assert sent.status == 303 and sent.headers["Location"].startswith("/report/sent/")
    # 5. News and the return, which stand the alert down.
    update = make_event(child_reference=FLAGGED_CHILD, type="update")
    returned = make_event(child_reference=FLAGGED_CHILD, type="returned")
    assert post_event(port, update).status == 202

    worker.read(worker.topics.incidents, lambda rs: any(r["incident"]["reference"] == reference for r in rs))
    worker.read(worker.topics.deliveries, lambda rs: sum(r["state"] == "accepted" for r in rs) >= 2, handled=worker.stage_topics)
    assert post_event(port, returned).status == 202
    worker.read(worker.topics.incidents, lambda rs: any(r["change"] == "resolved" for r in rs), handled=worker.stage_topics)

    # The alerts did carry the details (to the outbox, i.e. the recipients): the test saw real data flow.
    assert "Minh Anh" in worker.outbox.read_text()
    log = worker.log_path.read_text(errors="replace")
    assert reference in log or FLAGGED_CHILD in log  # references are logged
    metrics = worker.metrics()
    found = [f"worker log {leak}" for leak in leaks(log)] + [f"/metrics {leak}" for leak in leaks(metrics)]
    assert not found, "child PII leaked:\n" + "\n".join(found[:20])


def test_no_date_of_birth_in_the_log_when_an_event_produced_straight_to_kafka_is_rejected(worker: RunningWorker) -> None:
    bad = make_event(child_reference="HAR-PII-DIRECT")
    bad["child"]["date_of_birth"] = {"value": "1999-12-31"}
    worker.emit(bad)
    worker.read(
        worker.topics.rejected,
        lambda rs: any(json.loads(r["raw"] or "{}").get("event_id") == bad["event_id"] for r in rs if r["raw"].startswith("{")),
    )
    worker.handled_all([worker.topics.placement_events])  # its log line is written before it is acknowledged
    assert "1999-12-31" not in worker.log_path.read_text(errors="replace")


def test_no_child_pii_in_the_log_for_bad_input_and_poison_records(worker: RunningWorker) -> None:
    """The bad-input cases (impossible dates, deep JSON, duplicate keys, control characters) by API and
    Kafka, and poison records carrying the child's details on every consumed topic: all refused or
    quarantined, and the log still names no child."""
    port = worker.port
    year_one = make_event(child_reference=FLAGGED_CHILD, given_names="Minh", family_name="Tran")
    year_one["circumstances"]["last_seen_at"] = "0001-01-01T00:00:00+00:00"
    duplicate = json.dumps(make_event(child_reference=FLAGGED_CHILD, given_names="Minh")).replace(
        '"given_names": "Minh"', '"given_names": "Minh", "given_names": "Anh Tran"'
    )
    hidden = make_event(child_reference=FLAGGED_CHILD, given_names="Minh\x1b[2JTran")  # a terminal escape: refused
    bad_dob = make_event(child_reference=FLAGGED_CHILD, given_names="Elira", family_name="Hoxha")
    bad_dob["child"]["date_of_birth"] = {"value": "2010-12-31", "earliest": "2009-06-01", "latest": "2010-01-01"}
    bodies = [json.dumps(year_one).encode(), duplicate.encode(), json.dumps(hidden).encode(), json.dumps(bad_dob).encode()]
    bodies.append(b'{"given_names": "Minh Tran", "x": ' + b"[" * 1000 + b"]" * 1000 + b"}")
    for body in bodies:
        assert post_event(port, body).status in (400, 422)
        worker.emit(body, key=FLAGGED_CHILD)
    details = {"name": "Minh Anh Tran", "phone": CHILD_PHONES[0], "date_of_birth": "2010-01-01", "dob": "01/01/2010"}
    poison = json.dumps({"idempotency_key": details, "incident_id": "Tony", **details}).encode()
    profile = json.dumps({"profile_id": "p-x", "given_names": "Minh", "date_of_birth": {"value": "2010-01-01"}, "risk_level": 7})
    topics = worker.topics
    for topic in (topics.incident_commands, topics.notifications, topics.delivery_status, topics.incidents, topics.deliveries):
        worker.producer.send(topic, key=b"Minh Tran", value=poison)
    worker.producer.send(topics.profiles, key=b"p-x", value=profile.encode())
    worker.producer.flush()
    worker.read(topics.dead_letters, lambda rs: len({r["source_topic"] for r in rs}) >= 6, timeout_s=60)
    # The quarantine lines are written just after the dead letters are acknowledged: wait for all six.
    deadline = time.monotonic() + 30
    while worker.log_path.read_text(errors="replace").count("quarantined on") < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
    log = worker.log_path.read_text(errors="replace")
    assert log.count("quarantined on") >= 6  # the records did reach the stages
    found = [f"worker log {leak}" for leak in leaks(log)]
    assert not found, "child PII leaked:\n" + "\n".join(found[:20])
