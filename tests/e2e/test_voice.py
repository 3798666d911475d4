"""The voice channel end to end: the worker subprocess on the real broker calls through the official
`twilio` client at the project's Twilio-compatible server, whose simulated phone answers and presses
a key (or does not answer); the Gather posts and call status callbacks come back signed.

The chain calls the NW BCU's on-call sergeant ("call if not acknowledged"), in seconds here:
(a) press 1 -> acknowledged by voice, the chain stops; (b) press 2 -> the next on call is rung;
(c) no answer -> the next on call is rung; and forged key presses are refused, nothing recorded.

The worker's incident directory fetches in batches held as long as the broker allows (1.5 s, not
the default 100 ms): a key press then nearly always comes before the directory has read the record
of the call's step, so each press is recognised only because a lookup that misses waits for the
directory to catch up (alerts/directory.py look)."""

from __future__ import annotations

import secrets
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from alerts.rota import on_call
from tests.e2e.channels import Stack, channel_stack
from tests.support import make_event, wait_for

pytestmark = pytest.mark.e2e

FLAGGED = [{"scheme": "home_office", "value": "HO-S1234567"}]  # prof-0001: high risk, Harrow
# Step 1 calls the on-call sergeant (the only voice tier); step 2 texts the duty officer, later.
CALL_THEN_TEXT = {
    "tick_seconds": 0.5,
    "chains": {
        "high": {
            "steps": [
                {"after_minutes": 0.05, "notify": ["met-nw-bcu"], "channels": ["voice"]},
                {"after_minutes": 0.4, "notify": ["met-duty-officer"], "channels": ["sms"]},
            ]
        }
    },
}


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base, lagging = tmp_path_factory.mktemp("voice"), {"directory_fetch_wait_ms": 1500}
    with channel_stack(base, kafka_bootstrap, escalation=CALL_THEN_TEXT, voice=True, kafka=lagging) as running:
        yield running


def sergeant(stack: Stack) -> str:
    """The number of the NW BCU's sergeant on call now: whom step 1 calls."""
    now = on_call(stack.worker.config.rota.rotas["met-nw-mispers"], datetime.now(UTC))
    assert now is not None and now.person.address("voice")
    return str(now.person.address("voice"))


def open_incident(stack: Stack) -> dict[str, Any]:
    event = make_event(child_reference=f"HAR-V-{uuid.uuid4().hex[:6]}", identifiers=FLAGGED)
    stack.worker.emit(event)
    records = stack.worker.read(
        stack.worker.topics.incidents, until=lambda rs: any(r["incident"]["event_id"] == event["event_id"] for r in rs)
    )
    return dict(next(r["incident"] for r in records if r["incident"]["event_id"] == event["event_id"]))


def changes(stack: Stack, incident_id: str, until: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
    def mine(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [r for r in records if r["incident"]["incident_id"] == incident_id]

    return mine(stack.worker.read(stack.worker.topics.incidents, until=lambda rs: until(mine(rs))))


def finished_call(stack: Stack, ref: str, to: str) -> dict[str, Any]:
    return dict(
        wait_for(f"the call to {to} about {ref} to end", lambda: [c for c in stack.calls_for(ref, to) if c["finished"]])[0]
    )


def requests_of(call: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [s for s in call["steps"] if s["kind"] == kind]


def test_press_1_acknowledges_by_voice_and_the_chain_stops(stack: Stack) -> None:
    officer = sergeant(stack)
    stack.twilio.callee(officer, "answer", "1")
    incident = open_incident(stack)
    ref = incident["reference"]
    call = finished_call(stack, ref, officer)

    assert call["from_"] == "+447700900999"
    assert [g["form"]["Digits"] for g in requests_of(call, "gather")] == ["1"]
    assert all(s["status"] in (200, 204) for s in call["steps"]), "every signed webhook was accepted"
    assert any(h.startswith("Acknowledged by") for h in call["heard"]), call["heard"]
    assert call["heard"][0].startswith("Crucial Hour escalation. High risk missing child, not yet acknowledged, reference ")
    assert "Tran" not in " ".join(call["heard"]), "a call never says the child's name"

    acked = next(
        r["incident"]
        for r in changes(stack, incident["incident_id"], lambda rs: any(r["change"] == "acknowledged" for r in rs))
        if r["change"] == "acknowledged"
    )
    assert acked["status"] == "acknowledged"
    assert [(a["by"]["address"], a["via"]) for a in acked["acknowledgements"]] == [(officer, "voice")]
    assert any(e["what"].endswith("via voice") and "acknowledged by" in e["what"] for e in acked["timeline"])
    assert stack.worker.metric("crucial_acknowledgements_total", channel="voice", outcome="accepted") >= 1
    deliveries = stack.worker.read(
        stack.worker.topics.deliveries,
        until=lambda rs: any(
            r["incident_id"] == incident["incident_id"] and r["channel"] == "voice" and r["state"] == "delivered" for r in rs
        ),
    )
    assert any(r["provider_id"] == call["sid"] for r in deliveries if r["state"] == "delivered")

    # The chain stops: a control incident opened after this one, not acknowledged (answered, no key),
    # reaches step 2; by then the leader's timer has passed this one's step 2, which never came. This
    # one's return, sent only then, closes its record: reading to "resolved" reads everything before it.
    stack.twilio.callee(officer, "answer", "")
    control = open_incident(stack)
    changes(stack, control["incident_id"], lambda rs: any(r["incident"]["escalation_step"] == 2 for r in rs))
    stack.worker.emit(make_event(type="returned", child_reference=incident["child_reference"]))
    mine = changes(stack, incident["incident_id"], lambda rs: any(r["change"] == "resolved" for r in rs))
    assert max(r["incident"]["escalation_step"] for r in mine) == 1
    assert [r["change"] for r in mine].count("escalated") == 1

    # Forged key presses on the control's call: refused, and nothing reaches the incident's owner
    # (the view answers only after it has written what it records, so the topic is complete now).
    [real] = stack.calls_for(control["reference"], officer)
    query = urllib.parse.urlsplit(real["twiml"].split('action="')[1].split('"')[0].replace("&amp;", "&")).query
    form = {
        "AccountSid": stack.credentials.account_sid,
        "CallSid": real["sid"],
        "To": officer,
        "From": "+447700900999",
        "Digits": "1",
    }
    assert stack.post_signed(f"/twilio/voice/gather?{query}", form, token=secrets.token_hex(16))[0] == 403
    assert stack.post_signed(f"/twilio/voice/gather?{query}", form, token="")[0] == 403
    assert stack.post_signed(f"/twilio/voice/status?{query}", {**form, "CallStatus": "no-answer"}, token="")[0] == 403
    status, body = stack.post_signed(f"/twilio/voice/gather?{query}", {**form, "To": "+447700900666"})
    assert status == 200 and "does not match an open alert" in body, "a number that was not called cannot acknowledge"
    # Then the real officer's signed press: its command follows any the forged ones could have caused on
    # the control's partition, so reading up to it reads them all — and it is the only one.
    status, body = stack.post_signed(f"/twilio/voice/gather?{query}", form)
    assert status == 200 and "Acknowledged by" in body
    commands = stack.worker.read(
        stack.worker.topics.incident_commands,
        until=lambda rs: any(c["incident_id"] == control["incident_id"] and c["command"] == "acknowledge" for c in rs),
    )
    changed = [c for c in commands if c["incident_id"] == control["incident_id"] and c["command"] in ("acknowledge", "fall_back")]
    assert [(c["command"], c["via"], c["by"]["address"]) for c in changed] == [("acknowledge", "voice", officer)]


def test_press_2_rings_the_next_on_call(stack: Stack) -> None:
    officer = sergeant(stack)
    stack.twilio.callee(officer, "answer", "2")
    incident = open_incident(stack)
    ref = incident["reference"]
    call = finished_call(stack, ref, officer)
    assert [g["form"]["Digits"] for g in requests_of(call, "gather")] == ["2"]
    assert "Passing this alert to the next person on call. Goodbye." in call["heard"]

    next_call = wait_for("a call to the next on call", lambda: [c for c in stack.calls_for(ref) if c["to"] != officer])
    assert len({c["to"] for c in next_call}) == 1
    updated = changes(
        stack, incident["incident_id"], lambda rs: any("passed the" in e["what"] for r in rs for e in r["incident"]["timeline"])
    )
    [note] = {e["what"] for r in updated for e in r["incident"]["timeline"] if "passed the" in e["what"]}
    assert "(met-nw-bcu) passed the escalation by voice on to the next on call; falling back to" in note
    assert stack.worker.metric("crucial_notification_fallbacks_total", channel="voice", reason="passed_on") >= 1
    assert not [a for a in updated[-1]["incident"]["acknowledgements"]], "passing it on acknowledges nothing"


def test_no_answer_rings_the_next_on_call(stack: Stack) -> None:
    officer = sergeant(stack)
    stack.twilio.callee(officer, "no-answer")
    try:
        incident = open_incident(stack)
        ref = incident["reference"]
        call = finished_call(stack, ref, officer)
        assert call["heard"] == [] and call["status"] == "no-answer"
        next_call = wait_for("a call to the next on call", lambda: [c for c in stack.calls_for(ref) if c["to"] != officer])
        assert len({c["to"] for c in next_call}) == 1
        updated = changes(
            stack,
            incident["incident_id"],
            lambda rs: any("no_answer" in e["what"] for r in rs for e in r["incident"]["timeline"]),
        )
        [note] = {e["what"] for r in updated for e in r["incident"]["timeline"] if "no_answer" in e["what"]}
        assert "escalation by voice to" in note and "failed: no_answer; falling back to" in note
        failed = stack.worker.read(
            stack.worker.topics.deliveries,
            until=lambda rs: any(r["incident_id"] == incident["incident_id"] and r["state"] == "failed" for r in rs),
        )
        assert {
            (r["channel"], r["reason"]) for r in failed if r["incident_id"] == incident["incident_id"] and r["state"] == "failed"
        } == {("voice", "no_answer")}
        assert stack.worker.metric("crucial_notification_fallbacks_total", channel="voice", reason="no_answer") >= 1
    finally:
        stack.twilio.callee(officer, "answer", "")
