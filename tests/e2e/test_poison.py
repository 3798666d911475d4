"""No record's content stops the worker (a `crucial worker` subprocess on the real broker).

For every consumed topic: undecodable bytes, valid JSON of the wrong shape and an oversized record.
The worker stays up, each record is kept (dead-letter topic, or the rejected topic for reports) and
the next valid report is alerted. Then the impossible-date, deep-JSON and duplicate-key reports by API
and straight onto Kafka, and a bounded fuzz run onto every internal topic while valid reports flow.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import time
from collections.abc import Iterator
from typing import Any

import pytest

from alerts.triage import incident_ids
from tests.ingest_support import FLAGGED_CHILD, post_event, prepare_ingest_worker
from tests.integration.worker import RunningWorker
from tests.support import make_event, wait_for, written_lines

pytestmark = pytest.mark.e2e

FLAGGED = [{"scheme": "home_office", "value": "HO-S1234567"}]  # prof-0001: high risk, Harrow
CONSUMED = ("placement_events", "incident_commands", "notifications", "delivery_status", "profiles", "incidents", "deliveries")
BAD = {
    "undecodable": b"\xff\xfe\xfd not UTF-8 \xc3\x28 {",
    "wrong_shape": json.dumps({"unexpected": [1, 2, {"deep": True}], "at": "9999-12-31T23:59:59Z"}).encode(),
    "oversized": b"\xff" * 1_000_000,  # under the broker's 1 MB limit, over the worker's 256 KiB bound
}


@pytest.fixture(scope="module")
def worker(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningWorker]:
    running = prepare_ingest_worker(tmp_path_factory.mktemp("poison"), kafka_bootstrap)
    running.start()
    try:
        yield running
    finally:
        running.close()


def produce(worker: RunningWorker, topic: str, value: bytes, key: bytes | None = None) -> None:
    worker.producer.send(topic, key=key, value=value)
    worker.producer.flush()


def outbox(worker: RunningWorker) -> list[dict[str, Any]]:
    return written_lines(worker.outbox)


def alerted(worker: RunningWorker, reference: str, timeout_s: float = 60.0) -> list[dict[str, Any]]:
    """The alerts sent for `reference`, once its placement's duty team and the force's desk have theirs."""

    def sent() -> list[dict[str, Any]]:
        notes = [n for n in outbox(worker) if n["incident_reference"] == reference and n["kind"] == "alert"]
        return notes if {"harrow-edt", "met-police-mispers"} <= {n["recipient"]["agency_id"] for n in notes} else []

    return wait_for(f"an alert for {reference}", sent, timeout_s, every_s=0.05)  # type: ignore[no-any-return]


INCIDENT_OF: dict[str, str] = {}  # reference -> incident id, for the reports these tests send


def flagged_report() -> tuple[dict[str, Any], str]:
    event = make_event(child_reference=f"HAR-P-{random.randrange(16**6):06x}", identifiers=FLAGGED)
    incident_id, reference = incident_ids(event["event_id"], "larchwood-care")  # per (provider, event id)
    INCIDENT_OF[reference] = incident_id
    return event, reference


def letters_for(worker: RunningWorker, want: set[tuple[str, str]]) -> list[dict[str, Any]]:
    """Dead letters once every (source topic, raw SHA-256) in `want` is among them."""
    return worker.read(
        worker.topics.dead_letters, lambda rs: want <= {(r["source_topic"], r["raw_sha256"]) for r in rs}, timeout_s=60
    )


def test_bad_records_on_every_consumed_topic_are_kept_and_the_next_report_is_alerted(worker: RunningWorker) -> None:
    pid = worker.process.pid if worker.process else None
    tried: dict[str, int] = {}
    for attr in CONSUMED:
        topic = getattr(worker.topics, attr)
        for value in BAD.values():
            produce(worker, topic, value, key=b"poison")
            tried[topic] = tried.get(topic, 0) + 1
    poisoned_at = time.monotonic()
    event, reference = flagged_report()
    worker.emit(event)
    notes = alerted(worker, reference)
    took = time.monotonic() - poisoned_at
    assert {"harrow-edt", "met-police-mispers"} <= {n["recipient"]["agency_id"] for n in notes}

    events_topic = worker.topics.placement_events
    digest = {kind: hashlib.sha256(value).hexdigest() for kind, value in BAD.items()}
    want = {(getattr(worker.topics, a), d) for a in CONSUMED if a != "placement_events" for d in digest.values()}
    want.add((events_topic, digest["oversized"]))
    letters = letters_for(worker, want)
    for letter in letters:
        assert len(json.dumps(letter)) < 64 * 1024  # bounded whatever the record held
        assert letter["reason_class"] in ("too_large", "not_utf8", "not_json", "schema", "processing")
        kept = base64.b64decode(letter["raw_base64"])
        assert letter["truncated"] == (len(kept) < letter["raw_length"])
    oversized = [x for x in letters if x["raw_sha256"] == digest["oversized"]]
    assert {x["reason_class"] for x in oversized} == {"too_large"} and all(x["raw_length"] == 1_000_000 for x in oversized)
    stages = {x["source_topic"]: x["stage"] for x in letters}
    assert stages[worker.topics.notifications] == stages[worker.topics.delivery_status] == "deliver"
    assert stages[worker.topics.incident_commands] == stages[events_topic] == "triage"
    assert stages[worker.topics.profiles] == "profiles" and stages[worker.topics.incidents] == "directory"
    # The undecodable and wrong-shaped reports are refused onto the rejected topic, as ever.
    rejected = worker.read(worker.topics.rejected, lambda rs: sum(r["source"] == events_topic for r in rs) >= 2)
    reasons = [r["reasons"] for r in rejected if r["source"] == events_topic]
    assert any(rs[0].startswith("(root): not UTF-8") for rs in reasons)
    assert any("unexpected: Extra inputs are not permitted" in rs for rs in reasons)

    assert worker.process is not None and worker.process.poll() is None and worker.process.pid == pid
    assert worker.metric("crucial_dead_letters_total", stage="deliver", reason="too_large") == 2
    print(f"\nbad records tried per topic: {tried}; time to the next alert after the poison: {took:.2f} s")


def test_a_steady_trickle_of_bad_commands_stalls_no_report(worker: RunningWorker) -> None:
    commands = worker.topics.incident_commands
    references = []
    for _report in range(5):
        for _ in range(3):
            produce(worker, commands, b'{"command": "acknowledge", "incident_id": 1}', key=b"x")
        event, reference = flagged_report()
        worker.emit(event)
        references.append(reference)
    for reference in references:
        alerted(worker, reference)
    assert worker.process is not None and worker.process.poll() is None


IMPOSSIBLE = {
    "year 1": lambda e: e["circumstances"].update(last_seen_at="0001-01-01T00:00:00+00:00"),
    "year 9999": lambda e: e.update(reported_at="9999-12-31T23:59:59+00:00", occurred_at="9999-12-31T23:00:00+00:00"),
    "a year ago": lambda e: e["circumstances"].update(last_seen_at="2025-11-01T00:00:00+00:00"),
}


def duplicate_type(event: dict[str, Any]) -> bytes:
    text = json.dumps({**event, "type": "left_placement"})
    return text.replace('"type": "left_placement"', '"type": "left_placement", "type": "returned"').encode()


def deep(levels: int = 1000) -> bytes:
    return b"[" * levels + b"]" * levels


@pytest.mark.parametrize("case", list(IMPOSSIBLE))
def test_impossible_dates_are_refused_by_the_api_and_on_kafka(worker: RunningWorker, case: str) -> None:
    event = make_event(child_reference=FLAGGED_CHILD)
    IMPOSSIBLE[case](event)
    reply = post_event(worker.port, event)
    assert reply.status == 422, reply.body
    assert any(r.startswith(("circumstances.last_seen_at", "reported_at", "occurred_at")) for r in reply.json()["reasons"])
    direct = make_event(child_reference=f"HAR-D-{random.randrange(16**6):06x}", identifiers=FLAGGED)
    IMPOSSIBLE[case](direct)
    worker.emit(direct)
    worker.read(worker.topics.rejected, lambda rs: any(direct["event_id"] in r["raw"] for r in rs))
    after, reference = flagged_report()
    worker.emit(after)
    alerted(worker, reference)


def test_deep_json_and_duplicate_keys_are_refused_by_the_api_and_on_kafka(worker: RunningWorker) -> None:
    too_deep = post_event(worker.port, deep())
    assert too_deep.status == 422 and too_deep.json()["reasons"] == ["(root): nested 1000 levels deep; the limit is 16"]
    dup = post_event(worker.port, duplicate_type(make_event(child_reference=FLAGGED_CHILD)))
    assert dup.status == 422 and dup.json()["reasons"] == ["type: key given more than once"]
    event = make_event(child_reference=f"HAR-K-{random.randrange(16**6):06x}", identifiers=FLAGGED)
    produce(worker, worker.topics.placement_events, deep(), key=b"deep")
    produce(worker, worker.topics.placement_events, duplicate_type(event), key=event["child"]["reference"].encode())
    rejected = worker.read(
        worker.topics.rejected,
        lambda rs: (
            {"(root): nested 1000 levels deep; the limit is 16", "type: key given more than once"}
            <= {r["reasons"][0] for r in rs}
        ),
    )
    assert rejected
    after, reference = flagged_report()
    worker.emit(after)
    alerted(worker, reference)
    # The duplicate-key report was never applied: no incident for its event.
    incidents = worker.read(
        worker.topics.incidents,
        lambda rs: any(r.get("incident", {}).get("reference") == reference for r in rs),
        skip_undecodable=True,
    )
    assert not any(r.get("incident", {}).get("event_id") == event["event_id"] for r in incidents)


def random_record(rng: random.Random) -> bytes:
    choice = rng.randrange(5)
    if choice == 0:
        return rng.randbytes(rng.randrange(0, 2000))
    if choice == 1:
        return json.dumps({rng.choice(["incident_id", "command", "idempotency_key", "state", "x"]): rng.random()}).encode()
    if choice == 2:
        return b"[" * rng.randrange(1, 3000)
    if choice == 3:
        return json.dumps({"command": "acknowledge", "incident_id": "inc-nope", "child_reference": "HAR-X", "at": "bad"}).encode()
    return json.dumps(rng.choice([None, 1, "s", [], {}])).encode()


def test_fuzz_every_internal_topic_while_reports_flow_each_alerted_exactly_once(worker: RunningWorker) -> None:
    rng = random.Random(11)  # seeded: a failure is reproducible
    topics = [getattr(worker.topics, a) for a in CONSUMED]
    references = []
    deadline = time.monotonic() + 60  # bounded in time as well as in count
    fuzzed = 0
    for _ in range(10):
        for _ in range(20):
            # Always a key: the broker refuses a keyless record on the compacted profiles topic.
            sent = worker.producer.send(rng.choice(topics), key=rng.choice([b"k", rng.randbytes(8)]), value=random_record(rng))
            sent.get(timeout=30)  # on the broker, or the test fails here
            fuzzed += 1
        event, reference = flagged_report()
        worker.emit(event)
        references.append(reference)
        if time.monotonic() > deadline:
            break
    worker.producer.flush()
    for reference in references:
        alerted(worker, reference)
    deliveries = worker.read(
        worker.topics.deliveries,
        lambda rs: all(
            any(r.get("state") == "accepted" and r.get("incident_id") == INCIDENT_OF[ref] for r in rs) for ref in references
        ),
        handled=[worker.topics.placement_events, worker.topics.incident_commands, worker.topics.notifications],
        skip_undecodable=True,
    )
    sent = [n for n in outbox(worker) if n["incident_reference"] in references and n["kind"] == "alert"]
    keys = [n["idempotency_key"] for n in sent]
    assert len(keys) == len(set(keys)), "an alert was sent twice"
    for reference in references:
        mine = [n for n in sent if n["incident_reference"] == reference]
        accepted = {
            d["idempotency_key"]
            for d in deliveries
            if d.get("incident_id") == INCIDENT_OF[reference] and d.get("state") == "accepted"
        }
        assert {n["idempotency_key"] for n in mine} == accepted
    assert worker.process is not None and worker.process.poll() is None
    print(f"\nfuzz: {fuzzed} random records onto {len(topics)} topics; {len(references)} reports, each alerted once")
