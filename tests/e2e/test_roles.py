"""Triage and delivery as separate processes (`crucial worker --role triage|deliver`,
streams/pipeline/roles.py) on the real broker, with the Twilio-compatible and SMTP peers: a deployment
that ran `--role all` switches to the split roles, and every message of the reports before and after
the switch is sent once; an acknowledgement by SMS reply, taken by the deliver process's webhook,
reaches the incident's owner in the triage process.

"Nothing sent twice" is checked after every worker has stopped, so nothing can still arrive."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import yaml

from alerts.config import load_config
from tests.e2e.channels import Stack, channel_stack
from tests.e2e.test_poison import BAD
from tests.integration.worker import RunningWorker
from tests.support import REPO, expected_notifications, free_port, make_event, wait_for

pytestmark = pytest.mark.e2e

FLAGGED = [{"scheme": "home_office", "value": "HO-S1234567"}]  # prof-0001: high risk, Harrow


@pytest.fixture
def stack(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Stack]:
    with channel_stack(tmp_path / "roles", kafka_bootstrap, start=False) as running:
        yield running


def deliver_worker(triage: RunningWorker) -> RunningWorker:
    """The same deployment (config, topics, app id) on a web port of its own, as the deliver role."""
    config_dir = triage.config_dir.parent / "config-deliver"
    shutil.copytree(triage.config_dir, config_dir)
    settings = yaml.safe_load((config_dir / "settings.yaml").read_text())
    settings["web"]["port"] = free_port()
    (config_dir / "settings.yaml").write_text(yaml.safe_dump(settings))
    log = triage.log_path.parent / "worker-deliver.log"
    return replace(triage, config_dir=config_dir, config=load_config(config_dir), log_path=log, process=None, role="deliver")


@contextmanager
def split_roles(stack: Stack) -> Iterator[tuple[RunningWorker, RunningWorker]]:
    """The stack's deployment as a triage process and a deliver process, both started; both stopped after."""
    triage = stack.worker
    triage.role = "triage"
    deliver = deliver_worker(triage)
    try:
        triage.start()
        deliver.start()
        yield triage, deliver
    finally:
        deliver.close()
        triage.stop()


def report(stack: Stack) -> tuple[str, set[tuple[str, str, str]]]:
    """One flagged report, sent; its incident's reference and the notifications it must produce."""
    event = make_event(child_reference=f"HAR-R-{uuid.uuid4().hex[:6]}", identifiers=FLAGGED)
    stack.worker.emit(event)
    records = stack.worker.read(
        stack.worker.topics.incidents, until=lambda rs: any(r["incident"]["event_id"] == event["event_id"] for r in rs)
    )
    incident = next(r["incident"] for r in records if r["incident"]["event_id"] == event["event_id"])
    return incident["reference"], expected_notifications(event, stack.worker.config)


def wait_for_alerts(stack: Stack, reference: str, expected: set[tuple[str, str, str]]) -> None:
    sms = {address for _, channel, address in expected if channel == "sms"}
    mail = {address for _, channel, address in expected if channel == "email"}
    assert sms and mail
    wait_for(f"{reference}'s SMS", lambda: sms <= {r["form"]["To"] for r in stack.sms_for(reference)})
    wait_for(f"{reference}'s email", lambda: mail <= {rcpt for m in stack.emails_for(reference) for rcpt in m["rcpt_tos"]})


def sms_keys(stack: Stack) -> Counter[str]:
    """Accepted SMS by idempotency key (the status callback URL names it)."""
    return Counter(
        parse_qs(urlparse(r["form"]["StatusCallback"]).query)["key"][0] for r in stack.twilio.requests() if r["status"] == 201
    )


def test_a_switch_from_all_to_split_roles_sends_everything_once_and_an_ack_reaches_the_owner(stack: Stack) -> None:
    # Before the switch: one worker, both stages.
    stack.worker.start()
    before, expected_before = report(stack)
    wait_for_alerts(stack, before, expected_before)
    stack.worker.stop()

    # After: triage in the deployment's group, delivery in a new one that reads the notifications from
    # the start; its ledger (the deliveries topic) says the first report's were sent.
    with split_roles(stack) as (triage, deliver):
        after, expected_after = report(stack)
        wait_for_alerts(stack, after, expected_after)
        alerted = sorted(r["form"]["To"] for r in stack.sms_for(after))[0]
        status, body = stack.reply_sms(alerted, f"ACK {after}", port=deliver.port)
        assert status == 200 and f"{after} acknowledged" in body, body
        changes = triage.read(
            triage.topics.incidents,
            until=lambda rs: any(r["incident"]["reference"] == after and r["change"] == "acknowledged" for r in rs),
        )
        acked = next(r["incident"] for r in changes if r["incident"]["reference"] == after and r["change"] == "acknowledged")
        assert acked["status"] == "acknowledged"
        # The new group read the first report's notifications again and its ledger skipped every one.
        skipped = sum(
            deliver.metric("crucial_notifications_total", channel=c, outcome="duplicate", reason="already_accepted")
            for c in ("sms", "email")
        )
        assert skipped >= len(expected_before)
        assert deliver.metric("crucial_worker_role_info", role="deliver") == 1
        assert triage.metric("crucial_worker_role_info", role="triage") == 1

    # Every process has stopped: what the peers hold now is all there will be.
    for reference, expected in ((before, expected_before), (after, expected_after)):
        want_sms = sorted(address for _, channel, address in expected if channel == "sms")
        want_mail = sorted(address for _, channel, address in expected if channel == "email")
        alerts = [r for r in stack.sms_for(reference) if "acknowledged" not in r["form"]["Body"].lower()]
        assert sorted(r["form"]["To"] for r in alerts) == want_sms, reference
        emails = [m for m in stack.emails_for(reference) if "acknowledged" not in (m["subject"] or "").lower()]
        assert sorted(rcpt for m in emails for rcpt in m["rcpt_tos"]) == want_mail, reference
    assert max(sms_keys(stack).values()) == 1, "an SMS sent twice"
    message_ids = Counter(m["message_id"] for m in stack.smtp.messages())
    assert max(message_ids.values()) == 1, "an email sent twice"


def test_a_deliver_only_process_keeps_bad_records_on_its_topics_and_sends_the_next_report(stack: Stack) -> None:
    """The poison run of tests/e2e/test_poison.py, against the split roles: each bad record on the
    notifications and delivery-status topics is a dead letter of the deliver process, which stays up
    and sends the next report's alerts."""
    with split_roles(stack) as (triage, deliver):
        pids = {w.role: w.process.pid for w in (triage, deliver) if w.process}
        topics = [triage.topics.notifications, triage.topics.delivery_status]
        for topic in topics:
            for value in BAD.values():
                triage.producer.send(topic, key=b"poison", value=value)
        triage.producer.flush()
        reference, expected = report(stack)
        wait_for_alerts(stack, reference, expected)

        want = {(topic, hashlib.sha256(value).hexdigest()) for topic in topics for value in BAD.values()}
        letters = triage.read(
            triage.topics.dead_letters, lambda rs: want <= {(r["source_topic"], r["raw_sha256"]) for r in rs}, timeout_s=60
        )
        assert {r["stage"] for r in letters if (r["source_topic"], r["raw_sha256"]) in want} == {"deliver"}
        assert deliver.metric("crucial_dead_letters_total", stage="deliver", reason="too_large") == 2
        assert {w.role: w.process.pid for w in (triage, deliver) if w.process and w.process.poll() is None} == pids


def test_an_all_worker_refuses_to_start_beside_a_running_deliver_worker(stack: Stack) -> None:
    """Two ledgers would race and every notification go twice: the switch is stop-then-start, and the
    start refuses while the other role still runs (after waiting out a killed one's session)."""
    deliver = deliver_worker(stack.worker)
    try:
        deliver.start()
        started = subprocess.run(
            [sys.executable, "-m", "streams.cli.main", "worker", "--config", str(stack.worker.config_dir), "--role", "all"],
            capture_output=True,
            text=True,
            cwd=REPO,
            env=stack.worker.env,
            timeout=120,
            check=False,
        )
        assert started.returncode == 1, started.stdout[-2000:] + started.stderr[-2000:]
        assert "refusing to start: a deliver worker is running" in started.stderr
        assert deliver.process is not None and deliver.process.poll() is None
    finally:
        deliver.close()
