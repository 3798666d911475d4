"""Real fan-out end to end: the worker subprocess, the real broker, SMS at the Twilio-compatible
server through the official client, email at an SMTP server with STARTTLS and AUTH."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.e2e.channels import Stack, channel_stack
from tests.support import expected_notifications, make_event, wait_for

pytestmark = pytest.mark.e2e

FLAGGED = [{"scheme": "home_office", "value": "HO-S1234567"}]  # prof-0001: high risk, Harrow
# Escalate quickly (seconds, not minutes) so the test sees it; the logic itself is unit-tested.
# Step 1 names a tier not alerted at opening: escalation alerts only whom it adds (the hub already has it).
FAST_ESCALATION = {"tick_seconds": 0.5, "chains": {"high": {"steps": [{"after_minutes": 0.1, "notify": ["met-duty-officer"]}]}}}


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with channel_stack(tmp_path_factory.mktemp("fanout"), kafka_bootstrap, escalation=FAST_ESCALATION) as running:
        yield running


def handled(stack: Stack) -> None:
    """Until the worker has handled every report, command, notification and status written so far."""
    stack.worker.handled_all(stack.worker.stage_topics)


def open_incident(stack: Stack) -> tuple[dict[str, Any], dict[str, Any], set[tuple[str, str, str]]]:
    event = make_event(child_reference=f"HAR-E-{uuid.uuid4().hex[:6]}", identifiers=FLAGGED)
    expected = expected_notifications(event, stack.worker.config)
    stack.worker.emit(event)
    records = stack.worker.read(
        stack.worker.topics.incidents, until=lambda rs: any(r["incident"]["event_id"] == event["event_id"] for r in rs)
    )
    incident = next(r["incident"] for r in records if r["incident"]["event_id"] == event["event_id"])
    return event, incident, expected


def changes_of(stack: Stack, incident_id: str, until: Callable[[list[str]], bool]) -> list[dict[str, Any]]:
    def mine(rs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [r for r in rs if r["incident"]["incident_id"] == incident_id]

    return mine(stack.worker.read(stack.worker.topics.incidents, until=lambda rs: until([r["change"] for r in mine(rs)])))


def test_one_report_reaches_each_recipient_once_by_sms_and_email(stack: Stack) -> None:
    _, incident, expected = open_incident(stack)
    ref = incident["reference"]
    want_sms = sorted(addr for _, channel, addr in expected if channel == "sms")
    want_mail = sorted(addr for _, channel, addr in expected if channel == "email")
    assert want_sms and want_mail

    wait_for("every SMS", lambda: len(stack.sms_for(ref)) >= len(want_sms))
    wait_for("every email", lambda: len(stack.emails_for(ref)) >= len(want_mail))
    handled(stack)  # every record so far handled: a second send of any would have happened
    alerts = [r for r in stack.sms_for(ref) if "ESCALATION" not in r["form"]["Body"]]  # the escalation is due later
    assert sorted(r["form"]["To"] for r in alerts) == want_sms
    emails = [m for m in stack.emails_for(ref) if "ESCALATION" not in (m["subject"] or "")]
    assert sorted(rcpt for m in emails for rcpt in m["rcpt_tos"]) == want_mail
    assert all(m["tls"] and m["login"] == stack.smtp.user for m in emails)
    assert len({m["message_id"] for m in emails}) == len(emails)
    sms = stack.sms_for(ref)[0]["form"]
    assert sms["From"] == "+447700900999" and int(sms["ValidityPeriod"]) <= 3600
    assert sms["StatusCallback"].startswith(f"http://127.0.0.1:{stack.worker.port}/twilio/status?key=")

    # The peer's signed status callbacks come back: each SMS is recorded delivered.
    deliveries = stack.worker.read(
        stack.worker.topics.deliveries,
        until=lambda rs: (
            sum(r["state"] == "delivered" and r["incident_id"] == incident["incident_id"] for r in rs) >= len(want_sms)
        ),
    )
    assert {r["channel"] for r in deliveries if r["state"] == "delivered" and r["incident_id"] == incident["incident_id"]} == {
        "sms"
    }
    assert stack.worker.metric("crucial_notifications_total", channel="sms", outcome="delivered", reason="") >= len(want_sms)


def test_sms_reply_acknowledges_and_unknown_senders_are_refused(stack: Stack) -> None:
    _, incident, expected = open_incident(stack)
    officer = next(addr for agency, channel, addr in expected if channel == "sms" and agency == "met-police-mispers")
    status, body = stack.reply_sms("+447700900666", f"ACK {incident['reference']}")
    assert status == 200 and "reply ACK and the reference" in body, "a number that was not alerted cannot acknowledge"
    status, body = stack.reply_sms(officer, f"ack {incident['reference'].lower()} on my way")
    assert status == 200 and f"{incident['reference']} acknowledged" in body and "<Response><Message>" in body

    changes = changes_of(stack, incident["incident_id"], until=lambda cs: "acknowledged" in cs)
    acked = next(r["incident"] for r in changes if r["change"] == "acknowledged")
    assert acked["status"] == "acknowledged"
    assert [(a["by"]["address"], a["via"]) for a in acked["acknowledgements"]] == [(officer, "sms")]


def test_another_providers_return_is_confirmed_by_sms_reply_and_a_late_ack_says_nothing_was_recorded(stack: Stack) -> None:
    import json

    from kafka import KafkaProducer

    event, incident, expected = open_incident(stack)
    ref = incident["reference"]
    officer = next(addr for agency, channel, addr in expected if channel == "sms" and agency == "met-police-mispers")
    returned = make_event(type="returned", child_reference=event["child"]["reference"])
    producer = KafkaProducer(bootstrap_servers=stack.worker.config.settings.kafka.bootstrap, acks="all")
    producer.send(
        stack.worker.topics.placement_events,
        key=event["child"]["reference"].encode(),
        value=json.dumps(returned).encode(),
        headers=[("crucial-provider", b"brentside-homes")],  # a direct producer speaking for Brentside
    )
    producer.flush()
    producer.close()
    check = wait_for(
        "the CHECK SMS", lambda: [r for r in stack.sms_for(ref) if "CHECK" in r["form"]["Body"] and r["form"]["To"] == officer]
    )
    assert "NOT applied" in check[0]["form"]["Body"]
    assert "resolved" not in [r["change"] for r in changes_of(stack, incident["incident_id"], until=lambda cs: "updated" in cs)]

    status, body = stack.reply_sms(officer, f"CONFIRM {ref}")
    assert status == 200 and "confirmed" in body and "applied" in body  # answered once on the record
    changes = changes_of(stack, incident["incident_id"], until=lambda cs: "resolved" in cs)
    resolved = next(r["incident"] for r in changes if r["change"] == "resolved")
    assert resolved["claims"][0]["confirmed_by"]["address"] == officer
    wait_for("this worker's directory to see it closed", lambda: "closed" in stack.reply_sms(officer, f"ACK {ref}")[1])
    assert "NOT acknowledged" in stack.reply_sms(officer, f"ACK {ref}")[1]


def test_forged_webhooks_are_refused(stack: Stack) -> None:
    import urllib.error
    import urllib.parse
    import urllib.request

    for path in ("/twilio/inbound", "/twilio/status"):
        form = urllib.parse.urlencode({"From": "+447700900101", "Body": "ACK CH-AAAAAA", "MessageSid": "SM" + "0" * 32}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{stack.worker.port}{path}", form, {"X-Twilio-Signature": "forged"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 403


def test_missed_acknowledgement_escalates_then_returned_stands_everyone_down(stack: Stack) -> None:
    event, incident, _ = open_incident(stack)
    changes = changes_of(stack, incident["incident_id"], until=lambda cs: "escalated" in cs)
    escalated = next(r["incident"] for r in changes if r["change"] == "escalated")
    assert escalated["status"] == "escalated" and escalated["escalation_step"] == 1
    wait_for("escalation SMS", lambda: any("ESCALATION" in r["form"]["Body"] for r in stack.sms_for(incident["reference"])))

    returned = make_event(type="returned", child_reference=event["child"]["reference"])
    stack.worker.emit(returned)
    changes_of(stack, incident["incident_id"], until=lambda cs: "resolved" in cs)
    ref = incident["reference"]
    alerted_sms = {a["recipient"]["address"] for a in escalated["alerted"] if a["channel"] == "sms"}
    stand_downs = wait_for(
        "stand-down SMS to everyone alerted",
        lambda: (
            (found := {r["form"]["To"] for r in stack.sms_for(ref) if "STAND DOWN" in r["form"]["Body"]}) >= alerted_sms and found
        ),
    )
    assert stand_downs == alerted_sms
    escalations_before = sum("ESCALATION" in r["form"]["Body"] for r in stack.sms_for(ref))
    # The leader's timer ticks on after the stand-down: another incident, opened now, escalating when
    # due proves it did (its step is due after many ticks), and the resolved one got nothing more.
    _, later, _ = open_incident(stack)
    wait_for(
        "the later incident's escalation",
        lambda: any("ESCALATION" in r["form"]["Body"] for r in stack.sms_for(later["reference"])),
    )
    handled(stack)
    assert sum("ESCALATION" in r["form"]["Body"] for r in stack.sms_for(ref)) == escalations_before, "escalation stops"


def test_permanent_sms_failure_falls_back_to_the_next_person_on_call(stack: Stack) -> None:
    event = make_event(child_reference=f"HAR-E-{uuid.uuid4().hex[:6]}", identifiers=FLAGGED)
    expected = expected_notifications(event, stack.worker.config)
    # The NW BCU's on-call sergeant comes from a rota (config/rota.yaml): the fallback is the next on call.
    sergeant = next(addr for agency, channel, addr in expected if agency == "met-nw-bcu" and channel == "sms")
    stack.twilio.fail(to=sergeant, preset="invalid_number")
    try:
        stack.worker.emit(event)
        records = stack.worker.read(
            stack.worker.topics.incidents, until=lambda rs: any(r["incident"]["event_id"] == event["event_id"] for r in rs)
        )
        incident = next(r["incident"] for r in records if r["incident"]["event_id"] == event["event_id"])
        changes = changes_of(stack, incident["incident_id"], until=lambda cs: "updated" in cs)
        updated = next(r["incident"] for r in changes if r["change"] == "updated")
        [note] = [e["what"] for e in updated["timeline"] if "failed" in e["what"]]
        assert "sms" in note and "invalid_number" in note and "falling back to" in note
        alerted_before = {addr for _, channel, addr in expected if channel == "sms"}
        fallback = wait_for(
            "an SMS to the next person on call",
            lambda: [r["form"]["To"] for r in stack.sms_for(incident["reference"]) if r["form"]["To"] not in alerted_before],
        )
        assert len(fallback) == 1 and fallback[0] != sergeant
        assert stack.worker.metric("crucial_notification_fallbacks_total", channel="sms", reason="invalid_number") >= 1
    finally:
        stack.twilio.reset()


def test_sigkill_mid_burst_loses_nothing(stack: Stack) -> None:
    """Kill -9 the worker while a burst is being delivered, restart it: every SMS and email arrives;
    the ledger keeps re-sends to the few that were in flight at the kill (the duplicate window)."""
    burst = [make_event(child_reference=f"HAR-K-{uuid.uuid4().hex[:6]}", identifiers=FLAGGED) for _ in range(20)]
    expected = {e["event_id"]: expected_notifications(e, stack.worker.config) for e in burst}
    for event in burst:
        stack.worker.emit(event)
    opened = stack.worker.read(
        stack.worker.topics.incidents,
        until=lambda rs: len({r["incident"]["event_id"] for r in rs} & set(expected)) >= 3,
        timeout_s=60,
    )
    assert opened
    stack.worker.stop(kill=True)  # mid-burst: some incidents opened, most not yet delivered
    stack.worker.start()

    records = stack.worker.read(
        stack.worker.topics.incidents,
        until=lambda rs: {r["incident"]["event_id"] for r in rs} >= set(expected),
        timeout_s=120,
    )
    refs = {r["incident"]["event_id"]: r["incident"]["reference"] for r in records if r["incident"]["event_id"] in expected}
    want = sum(len(routes) for routes in expected.values())

    missing: list[tuple[str, str, str]] = []

    def tally() -> tuple[int, int]:
        requests, mails = stack.twilio.requests(), stack.smtp.messages()
        got = lost = 0
        missing.clear()
        for event_id, routes in expected.items():
            ref = refs[event_id]
            # Alerts only: this module's fast escalation also texts the duty officer about each incident.
            sms = [
                r["form"]["To"]
                for r in requests
                if r["status"] == 201 and ref in (body := r["form"].get("Body", "")) and "ESCALATION" not in body
            ]
            mail = [
                rcpt
                for m in mails
                if ref in (subject := m["subject"] or "") and "ESCALATION" not in subject
                for rcpt in m["rcpt_tos"]
            ]
            for _, channel, address in routes:
                count = (sms if channel == "sms" else mail).count(address)
                got += count
                lost += count == 0
                if count == 0:
                    missing.append((ref, channel, address))
        return got, lost

    try:
        wait_for("every notification of the burst", lambda: tally()[1] == 0, timeout_s=120)
    except AssertionError:
        raise AssertionError(f"lost after the kill: {missing}") from None
    handled(stack)  # every notification handled since the restart: any repeat has been sent
    got, lost = tally()
    duplicated = got - want
    print(f"\nSIGKILL mid-burst: expected {want}, delivered {got}, lost {lost}, duplicated {duplicated}")
    assert lost == 0
    assert duplicated <= stack.worker.config.settings.delivery_concurrency, "only what was in flight at the kill may repeat"
