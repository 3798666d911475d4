"""The worker, on the real broker, finds a flagged child by identity: a transliterated alias and a
disputed date of birth, with a new placement reference and no shared identifier."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kafka import KafkaProducer

from tests.integration.worker import RunningWorker, prepare_worker
from tests.support import make_event

pytestmark = pytest.mark.integration

# Synthetic: a Sudanese boy recorded as Mohammed Ali Osman, alias "Mohamed A.", age-assessed with a
# disputed range; placed by Harrow.
PROFILE: dict[str, Any] = {
    "profile_id": "prof-id-sd-7",
    "identifiers": [{"scheme": "home_office", "value": "HO-K7000001"}],
    "given_names": "Mohammed Ali",
    "family_name": "Osman",
    "aliases": ["Mohamed A."],
    "date_of_birth": {"value": "2009-06-01", "estimated": True, "earliest": "2008-09-01", "latest": "2010-03-31"},
    "sex": "male",
    "nationality": "Sudanese",
    "risk_level": "high",
    "indicators": ["debt bondage"],
    "responsible_local_authority": "Harrow",
    "police_force": "Metropolitan Police Service",
    "social_worker": {"name": "Social Worker SD7", "email": "sw.sd7@harrow.gov.example", "phone": "+447700900307"},
}


@pytest.fixture(scope="module")
def worker(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningWorker]:
    running = prepare_worker(tmp_path_factory.mktemp("identity"), kafka_bootstrap)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    producer.send(running.topics.profiles, key=PROFILE["profile_id"].encode(), value=json.dumps(PROFILE).encode())
    producer.flush()
    producer.close()
    running.start()  # ready only once the profile index has caught up with the topic
    try:
        yield running
    finally:
        running.close()


def _report(**child: Any) -> dict[str, Any]:
    event = make_event(child_reference=f"HAR-ID-{uuid.uuid4().hex[:6]}", **child)
    event["circumstances"]["vehicles"] = []
    event["circumstances"]["accompanied_by"] = []
    return event


def _opened(worker: RunningWorker, event: dict[str, Any]) -> dict[str, Any]:
    records = worker.read(
        worker.topics.incidents, until=lambda rs: any(r["incident"]["event_id"] == event["event_id"] for r in rs)
    )
    [record] = [r for r in records if r["incident"]["event_id"] == event["event_id"]]
    assert record["change"] == "opened"
    incident: dict[str, Any] = record["incident"]
    return incident


def test_a_transliterated_alias_with_a_disputed_date_of_birth_opens_a_possible_match(worker: RunningWorker) -> None:
    event = _report(
        given_names="Muhamed A.",
        family_name=None,
        aliases=[],
        date_of_birth={"value": "2009-01-01", "estimated": True},
        sex="male",
        nationality="Sudanese",
    )
    worker.emit(event)
    incident = _opened(worker, event)
    match = incident["match"]
    assert (match["decision"], match["profile_id"]) == ("possible_match", "prof-id-sd-7")
    assert "on alias 'Mohamed A.' (reported as 'Muhamed A.')" in match["explanation"][0]
    assert "date of birth 2009 (estimated), consistent with the profile's 2009-06-01 (disputed" in match["explanation"][0]
    assert incident["priority"] == "high"
    assert "trafficking-risk profile graded high" in incident["reasons"]

    mine = [
        n
        for n in worker.read(
            worker.topics.notifications,
            until=lambda rs: any(n["incident_id"] == incident["incident_id"] for n in rs),
            handled=[worker.topics.placement_events],
        )
        if n["incident_id"] == incident["incident_id"]
    ]
    assert mine and {n["kind"] for n in mine} == {"possible_match"}
    email = next(n for n in mine if n["channel"] == "email")
    assert "Mohamed A." in email["message"]["text"], "the email carries the explanation"


def test_the_full_name_transliterated_with_an_estimated_date_of_birth_is_a_match(worker: RunningWorker) -> None:
    # An estimate of the year the profile's own estimate names (the report's "2010" would overlap the
    # profile's disputed range only until its end in March: weaker evidence, a possible match; unit-tested
    # in tests/unit/test_matching_dates.py).
    event = _report(
        given_names="Muhammad Aly",
        family_name="Usman",
        aliases=[],
        date_of_birth={"value": "2009-01-01", "estimated": True},
        sex="male",
        nationality="Sudan",
    )
    worker.emit(event)
    incident = _opened(worker, event)
    assert (incident["match"]["decision"], incident["match"]["profile_id"]) == ("match", "prof-id-sd-7")
    assert incident["match"]["explanation"][0].startswith("matched profile prof-id-sd-7")
    assert any("'muhammad' ~ 'mohammed'" in line for line in incident["match"]["explanation"])
