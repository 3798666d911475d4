"""Fail open, end to end: an accepted report whose processing fails (here: its alert template is broken)
still reaches the placement's duty team and the force's missing-person desk, goes on the board, is
counted, and is kept on the dead-letter topic; the child's return then stands those people down."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from alerts.config import PACKAGE_TEMPLATES
from alerts.manual_check import NOTE
from alerts.triage import incident_ids
from tests.integration.worker import RunningWorker, prepare_worker
from tests.support import make_event, wait_for, written_lines

pytestmark = pytest.mark.e2e

FLAGGED = [{"scheme": "home_office", "value": "HO-S1234567"}]  # prof-0001: high risk, Harrow
FAULTY_PLACE = "Bus shelter, Fail Open Lane"


@pytest.fixture(scope="module")
def worker(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningWorker]:
    base = tmp_path_factory.mktemp("fail-open")
    templates = base / "templates"
    shutil.copytree(PACKAGE_TEMPLATES, templates)
    # A fault in rendering that only some reports meet (the worker's start-up check renders every
    # template and would refuse a template broken for all): the alert's SMS template refers to
    # something that does not exist when the child was last seen at one place.
    alert = templates / "sms" / "alert.txt.j2"
    alert.write_text(f'{{% if place == "{FAULTY_PLACE}" %}}{{{{ no_such_fact.anywhere }}}}{{% endif %}}' + alert.read_text())
    running = prepare_worker(base, kafka_bootstrap, templates_dir=str(templates))
    running.start()
    try:
        yield running
    finally:
        running.close()


def outbox(worker: RunningWorker) -> list[dict[str, Any]]:
    return written_lines(worker.outbox)


def test_an_accepted_report_that_cannot_be_processed_reaches_people_by_hand(worker: RunningWorker) -> None:
    event = make_event(child_reference="HAR-FO-0001", identifiers=FLAGGED)
    event["circumstances"]["last_seen_place"] = FAULTY_PLACE
    incident_id, reference = incident_ids(event["event_id"], "larchwood-care")  # per (provider, event id)
    worker.emit(event)

    def checks() -> list[dict[str, Any]]:
        notes = [n for n in outbox(worker) if n["incident_reference"] == reference and n["kind"] == "manual_check"]
        return notes if len({(n["recipient"]["agency_id"], n["channel"]) for n in notes}) >= 4 else []

    notes = wait_for("the manual-check notifications", checks, every_s=0.05)
    assert {(n["recipient"]["agency_id"], n["channel"]) for n in notes} == {
        ("harrow-edt", "sms"),
        ("harrow-edt", "email"),
        ("met-police-mispers", "sms"),
        ("met-police-mispers", "email"),
    }
    sms = next(n for n in notes if n["channel"] == "sms")["message"]["text"]
    assert "CHECK NOW" in sms and reference in sms and "Minh" not in sms
    assert not [n for n in outbox(worker) if n["incident_reference"] == reference and n["kind"] == "alert"]

    # On the board: the incidents topic (which the board's directory follows) has it open, high priority.
    incidents = worker.read(worker.topics.incidents, lambda rs: any(r["incident"]["incident_id"] == incident_id for r in rs))
    opened = next(r for r in incidents if r["incident"]["incident_id"] == incident_id)
    assert opened["change"] == "opened" and opened["incident"]["priority"] == "high" and NOTE in opened["incident"]["reasons"]
    # Durable: sent through the ledger like any notification.
    worker.read(
        worker.topics.deliveries,
        lambda rs: sum(r["incident_id"] == incident_id and r["state"] == "accepted" for r in rs) >= 4,
    )
    # Kept, with where the fault arose and no values.
    letters = worker.read(
        worker.topics.dead_letters, lambda rs: any(r["source_topic"] == worker.topics.placement_events for r in rs)
    )
    letter = next(r for r in letters if r["source_topic"] == worker.topics.placement_events)
    assert letter["stage"] == "triage" and letter["reason_class"] == "processing" and letter["exception"] == "UndefinedError"
    assert worker.metric("crucial_manual_checks_total") == 1
    assert worker.metric("crucial_dead_letters_total", stage="triage", reason="processing") == 1

    # The child returns: the people told by hand are stood down (stand-down's own template works).
    worker.emit(make_event(child_reference="HAR-FO-0001", type="returned"))
    down = wait_for(
        "the stand-down",
        lambda: [n for n in outbox(worker) if n["incident_reference"] == reference and n["kind"] == "stand_down"],
        every_s=0.05,
    )
    assert {n["recipient"]["agency_id"] for n in down} <= {"harrow-edt", "met-police-mispers"}
    assert worker.process is not None and worker.process.poll() is None
