"""The incident owner (streams/pipeline/owner.py) through the triage agent: commands of every kind, old and new
layouts, and the commands it cannot carry out."""

from __future__ import annotations

import json
from typing import Any

from alerts.model import ConfirmClaim, Recipient
from streams.pipeline.app import Worker
from tests.agents.conftest import NOW, RecordingOutputs, put_on
from tests.support import make_event

CHILD = "HAR-2026-0192"
OFFICER = Recipient(agency_id="met-police-mispers", name="MISPER on-call officer", address="+447700900101")


async def opened(worker: Worker, outputs: RecordingOutputs) -> dict[str, Any]:
    async with worker.triage_agent.test_context() as agent:
        await agent.put(json.dumps(make_event(now=NOW, child_reference=CHILD)).encode(), key=CHILD.encode())
    [(_, record)] = outputs.sent[worker.config.settings.kafka.topics.incidents]
    assert record["change"] == "opened"
    return record["incident"]  # type: ignore[no-any-return]


def old_layout(command: str, incident: dict[str, Any], **fields: Any) -> bytes:
    """A command as written before the kinds were split: every kind's field present, the unused null."""
    every = dict.fromkeys(("by", "via", "step", "channel", "kind", "reason", "claim_id"))
    base = {"incident_id": incident["incident_id"], "child_reference": CHILD, "at": NOW.isoformat()}
    return json.dumps({"command": command, **base, **every, **fields}).encode()


async def test_an_acknowledgement_in_the_old_layout_is_still_applied(worker: Worker, outputs: RecordingOutputs) -> None:
    topics = worker.config.settings.kafka.topics
    incident = await opened(worker, outputs)
    raw = old_layout("acknowledge", incident, by=OFFICER.model_dump(), via="sms")
    async with worker.triage_agent.test_context() as agent:
        await put_on(agent, topics.incident_commands, raw, CHILD.encode())
    changes = [r["change"] for _, r in outputs.sent[topics.incidents]]
    assert changes == ["opened", "acknowledged"]
    assert outputs.sent[topics.dead_letters] == []


async def test_an_escalation_in_the_old_layout_reaches_the_next_tier(worker: Worker, outputs: RecordingOutputs) -> None:
    topics = worker.config.settings.kafka.topics
    incident = await opened(worker, outputs)
    before = len(outputs.sent[topics.notifications])
    async with worker.triage_agent.test_context() as agent:
        await put_on(agent, topics.incident_commands, old_layout("escalate", incident, step=1), CHILD.encode())
    [(_, escalated)] = [(k, r) for k, r in outputs.sent[topics.incidents] if r["change"] == "escalated"]
    assert escalated["incident"]["escalation_step"] == 1
    assert {n["kind"] for _, n in outputs.sent[topics.notifications][before:]} == {"escalation"}


async def test_a_command_lacking_its_own_fields_is_dead_lettered_not_dropped(worker: Worker, outputs: RecordingOutputs) -> None:
    topics = worker.config.settings.kafka.topics
    incident = await opened(worker, outputs)
    no_via = old_layout("acknowledge", incident, by=OFFICER.model_dump())  # once silently ignored
    async with worker.triage_agent.test_context() as agent:
        await put_on(agent, topics.incident_commands, no_via, CHILD.encode())
    [(_, letter)] = outputs.sent[topics.dead_letters]
    assert (letter["stage"], letter["source_topic"], letter["reason_class"]) == ("triage", topics.incident_commands, "schema")
    assert any(reason.startswith("acknowledge.via") for reason in letter["reasons"]), letter["reasons"]
    assert [r["change"] for _, r in outputs.sent[topics.incidents]] == ["opened"]
    assert outputs.sent[topics.notifications], "a command, not a report: no manual check is sent for it"
    assert {n["kind"] for _, n in outputs.sent[topics.notifications]} <= {"alert", "possible_match"}


async def test_a_command_the_owner_cannot_carry_out_is_noted_on_the_timeline(worker: Worker, outputs: RecordingOutputs) -> None:
    topics = worker.config.settings.kafka.topics
    incident = await opened(worker, outputs)
    unknown = ConfirmClaim(incident_id=incident["incident_id"], child_reference=CHILD, at=NOW, claim_id="c0ffee00", by=OFFICER)
    async with worker.triage_agent.test_context() as agent:
        await put_on(agent, topics.incident_commands, unknown.model_dump_json().encode(), CHILD.encode())
    [_, (_, noted)] = outputs.sent[topics.incidents]
    assert noted["change"] == "updated"
    assert noted["incident"]["timeline"][-1]["what"] == "confirm_claim not applied: no claim c0ffee00 is held for this incident"


async def test_an_acknowledgement_by_no_known_route_is_not_applied(worker: Worker, outputs: RecordingOutputs) -> None:
    topics = worker.config.settings.kafka.topics
    incident = await opened(worker, outputs)
    via_fax = old_layout("acknowledge", incident, by=OFFICER.model_dump(), via="fax")  # no channel acknowledges by reply so
    async with worker.triage_agent.test_context() as agent:
        await put_on(agent, topics.incident_commands, via_fax, CHILD.encode())
    [_, (_, noted)] = outputs.sent[topics.incidents]
    assert noted["change"] == "updated" and not noted["incident"]["acknowledgements"]
    what = noted["incident"]["timeline"][-1]["what"]
    assert what.startswith("acknowledge not applied: 'fax' is not a way to acknowledge (one of: board, link, sms, voice")


async def test_a_command_for_an_incident_no_longer_open_changes_nothing(worker: Worker, outputs: RecordingOutputs) -> None:
    topics = worker.config.settings.kafka.topics
    incident = await opened(worker, outputs)
    stale = old_layout("breach", {**incident, "incident_id": "some-closed-incident"})
    async with worker.triage_agent.test_context() as agent:
        await put_on(agent, topics.incident_commands, stale, CHILD.encode())
    assert [r["change"] for _, r in outputs.sent[topics.incidents]] == ["opened"]
    assert outputs.sent[topics.dead_letters] == []
