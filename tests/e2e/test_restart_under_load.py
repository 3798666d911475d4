"""Reports keep arriving while the worker is SIGKILLed and restarted: every alert still goes out, once.

The restart that lost them (streams/pipeline/recovery.py): the old worker had committed offsets, so the new one
seeks on recovery, and reports were waiting. Faust resumed the agents' partitions before that seek and
cleared their queues after it, dropping what was fetched in between; the triage agent then waited for
records that would never come. The race is narrow (the benchmark's kill-worker run hit it about one run
in four; this test rarely does), so tests/unit/pipeline/test_recovery.py pins both fixes deterministically.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kafka import KafkaAdminClient

from tests.e2e.channels import Stack, channel_stack
from tests.support import expected_notifications, make_event, wait_for

pytestmark = pytest.mark.e2e

FLAGGED = [{"scheme": "home_office", "value": "HO-S1234567"}]  # prof-0001: high risk, Harrow
UNKNOWN: dict[str, Any] = {
    "given_names": "Sam",
    "family_name": "Quill",
    "date_of_birth": {"value": "2012-05-05", "estimated": False},
}


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with channel_stack(tmp_path_factory.mktemp("restart"), kafka_bootstrap) as running:
        yield running


def committed_report_offsets(stack: Stack) -> int:
    settings = stack.worker.config.settings.kafka
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap)
    try:
        offsets = admin.list_group_offsets(settings.app_id).get(settings.app_id, {})
    finally:
        admin.close()
    return sum(max(0, o.offset) for tp, o in offsets.items() if tp.topic == settings.topics.placement_events)


class Reports(threading.Thread):
    """Reports at a steady pace: children nobody flagged throughout, flagged ones while `flagged` is set."""

    def __init__(self, stack: Stack) -> None:
        super().__init__(daemon=True)
        self.stack, self.flagged, self.done = stack, threading.Event(), threading.Event()
        self.alerting: list[dict[str, Any]] = []

    def run(self) -> None:
        n = 0
        while not self.done.is_set():
            n += 1
            self.stack.worker.emit(make_event(child_reference=f"HAR-Q-{uuid.uuid4().hex[:6]}", **UNKNOWN))
            if self.flagged.is_set() and n % 2 == 0:
                event = make_event(child_reference=f"HAR-R-{uuid.uuid4().hex[:6]}", identifiers=FLAGGED)
                self.stack.worker.emit(event)
                self.alerting.append(event)
            time.sleep(0.2)


def test_reports_during_a_sigkill_and_restart_all_alert_exactly_once(stack: Stack) -> None:
    reports = Reports(stack)
    reports.start()
    try:
        # Offsets committed before the kill: the new worker must seek, the case that lost reports.
        wait_for("committed offsets of placement events", lambda: committed_report_offsets(stack) > 0, timeout_s=60)
        stack.worker.stop(kill=True)
        # Flagged reports from the kill on: none can be in flight at the kill, so each alert is owed exactly once.
        reports.flagged.set()
        stack.worker.start()  # rejoins once the dead member's session times out: reports pile up meanwhile
        time.sleep(3.0)  # and keep coming after the restart
    finally:
        reports.done.set()
        reports.join(timeout=10)
    alerting = reports.alerting
    assert len(alerting) >= 5

    expected = {e["event_id"]: expected_notifications(e, stack.worker.config) for e in alerting}
    records = stack.worker.read(
        stack.worker.topics.incidents,
        until=lambda rs: {r["incident"]["event_id"] for r in rs} >= set(expected),
        timeout_s=90,
    )
    refs = {r["incident"]["event_id"]: r["incident"]["reference"] for r in records if r["incident"]["event_id"] in expected}
    owed = {(refs[event_id], channel, address) for event_id, routes in expected.items() for _, channel, address in routes}

    def received() -> dict[tuple[str, str, str], int]:
        counts = dict.fromkeys(owed, 0)
        for r in stack.twilio.requests():
            for ref in refs.values():
                if r["status"] == 201 and ref in r["form"].get("Body", "") and (key := (ref, "sms", r["form"]["To"])) in counts:
                    counts[key] += 1
        for m in stack.smtp.messages():
            for ref in refs.values():
                if ref in (m["subject"] or ""):
                    for rcpt in m["rcpt_tos"]:
                        if (key := (ref, "email", rcpt)) in counts:
                            counts[key] += 1
        return counts

    try:
        wait_for("every alert of the reports sent across the restart", lambda: all(received().values()), timeout_s=90)
    except AssertionError:
        missing = sorted(key for key, n in received().items() if n == 0)
        raise AssertionError(f"{len(missing)} of {len(owed)} alerts never sent, e.g. {missing[:5]}") from None
    stack.worker.handled_all(stack.worker.stage_topics)  # every record so far handled: a repeat would have been sent
    repeated = {key: n for key, n in received().items() if n != 1}
    assert not repeated, f"sent more than once: {repeated}"
