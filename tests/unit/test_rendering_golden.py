"""Golden files for every notification kind and channel (see tests/golden/README.md to regenerate)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alerts.channels.sms import SmsRenderer
from alerts.config import PACKAGE_TEMPLATES
from alerts.intake import parse_event, parse_profile
from alerts.model import (
    Claim,
    Decision,
    Incident,
    IncidentStatus,
    MatchResult,
    NotificationKind,
    PlacementEvent,
    Priority,
    TimelineEntry,
)
from alerts.rendering import MessageFacts, Renderer
from alerts.sms import SmsCost, sms_cost
from tests.golden.golden import GOLDEN, check_golden

KINDS: list[NotificationKind] = ["alert", "possible_match", "escalation", "update", "stand_down"]
RECEIVED = datetime(2026, 7, 14, 20, 51, tzinfo=UTC)


def golden_event(**changes: object) -> PlacementEvent:
    data = json.loads((GOLDEN / "input" / "event.json").read_text())
    data.update(changes)
    return parse_event(json.dumps(data))


def golden_incident(event: PlacementEvent, kind: NotificationKind) -> Incident:
    assert event.circumstances is not None
    last_seen = event.circumstances.last_seen_at
    decision = Decision.POSSIBLE_MATCH if kind == "possible_match" else Decision.MATCH
    timeline = [
        TimelineEntry(at=last_seen, what=f"last seen at {event.circumstances.last_seen_place}"),
        TimelineEntry(at=event.reported_at, what=f"reported missing by {event.placement.name}"),
        TimelineEntry(at=RECEIVED, what=f"matched ({decision.value}); alerting 9 recipient(s)"),
    ]
    if kind == "escalation":
        timeline.append(TimelineEntry(at=RECEIVED + timedelta(minutes=10), what="not acknowledged: escalation step 1"))
    if kind == "update":
        timeline.append(TimelineEntry(at=RECEIVED + timedelta(minutes=14), what="update evt-golden-0002 from the placement"))
    if kind == "stand_down":
        timeline.append(TimelineEntry(at=RECEIVED + timedelta(minutes=30), what="child returned to placement: stand down"))
    return Incident(
        incident_id="inc-0f3c9a1e5b7d2c4a6e8f",
        reference="CH-GOLDEN",
        status=IncidentStatus.RESOLVED if kind == "stand_down" else IncidentStatus.OPEN,
        event_id=event.event_id,
        child_reference=event.child.reference,
        placement_id=event.placement.id,
        local_authority=event.placement.local_authority,
        match=MatchResult(
            decision=decision,
            profile_id="prof-golden-01",
            score=1.0 if decision == Decision.MATCH else 0.72,
            explanation=["matched on identifier home_office HO-S7654321"]
            if decision == Decision.MATCH
            else ["same given names and date of birth", "family name differs"],
        ),
        priority=Priority.HIGH,
        reasons=["profile risk level is high", "near a coach station"],
        last_seen_at=last_seen,
        received_at=RECEIVED,
        deadline=last_seen + timedelta(hours=1),
        timeline=timeline,
    )


def golden_facts(kind: NotificationKind) -> MessageFacts:
    opening = golden_event()
    incident = golden_incident(opening, kind)
    event = opening
    if kind == "update":
        event = golden_event(
            event_id="evt-golden-0002", type="update", reported_at="2026-07-14T21:05:00Z", occurred_at="2026-07-14T21:04:00Z"
        )
    if kind == "stand_down":
        event = golden_event(
            event_id="evt-golden-0003",
            type="returned",
            reported_at="2026-07-14T21:21:00Z",
            occurred_at="2026-07-14T21:20:00Z",
            circumstances=None,
        )
    profile = parse_profile((GOLDEN / "input" / "profiles.jsonl").read_text().splitlines()[0])
    return MessageFacts(kind=kind, incident=incident, event=event, profile=profile)


def renderer(ack_url: str | None = None, **sms: Any) -> Renderer:
    """The package's templates; `sms` overrides the SMS channel's settings (max_segments, include_full_name)."""
    return Renderer(PACKAGE_TEMPLATES, "Europe/London", ack=ack_url, channel_options={"sms": sms})


def sms_of(r: Renderer) -> SmsRenderer:
    sms = r.channel("sms")
    assert isinstance(sms, SmsRenderer)
    return sms


def fit_sms(r: Renderer, facts: MessageFacts) -> tuple[str, SmsCost]:
    return sms_of(r).fit(facts)


@pytest.mark.parametrize("kind", KINDS)
def test_sms_golden(kind: NotificationKind) -> None:
    message = renderer().render(golden_facts(kind), "sms")
    check_golden(f"messages/{kind}.sms.txt", f"{message.text}\n")
    assert sms_cost(message.text).segments <= 3


@pytest.mark.parametrize("kind", KINDS)
def test_email_golden(kind: NotificationKind) -> None:
    message = renderer(ack_url="https://crucial.example/ack/{reference}").render(golden_facts(kind), "email")
    assert message.html is not None
    check_golden(f"messages/{kind}.email.txt", f"Subject: {message.subject}\n\n{message.text}")
    check_golden(f"messages/{kind}.email.html", message.html if message.html.endswith("\n") else message.html + "\n")


def test_sms_golden_ucs2_place_that_would_overflow() -> None:
    place = "Bến xe khách Mỹ Đình, cổng phía Nam, gần quầy bán vé số 3, đường Phạm Hùng, quận Nam Từ Liêm"
    data = json.loads((GOLDEN / "input" / "event.json").read_text())
    data["circumstances"]["last_seen_place"] = place
    event = parse_event(json.dumps(data))
    facts = golden_facts("alert")
    facts = MessageFacts(kind="alert", incident=facts.incident, event=event, profile=facts.profile)
    text, cost = fit_sms(renderer(), facts)
    check_golden("messages/alert.sms.ucs2-place.txt", f"{text}\n")
    assert (cost.encoding, cost.segments) == ("GSM-7", 3)
    text, cost = fit_sms(renderer(max_segments=1, include_full_name=True), facts)
    check_golden("messages/alert.sms.one-segment.txt", f"{text}\n")
    assert cost.segments == 1


def test_escalation_of_a_possible_match_golden_says_possible_on_every_channel() -> None:
    facts = golden_facts("escalation")
    possible = facts.incident.match.model_copy(update={"decision": Decision.POSSIBLE_MATCH, "score": 0.72})
    facts = MessageFacts(
        kind="escalation",
        incident=facts.incident.model_copy(update={"match": possible}),
        event=facts.event,
        profile=facts.profile,
    )
    sms = renderer().render(facts, "sms")
    check_golden("messages/escalation.possible_match.sms.txt", f"{sms.text}\n")
    email = renderer(ack_url="https://crucial.example/ack/{reference}").render(facts, "email")
    assert email.html is not None
    check_golden("messages/escalation.possible_match.email.txt", f"Subject: {email.subject}\n\n{email.text}")
    check_golden("messages/escalation.possible_match.email.html", email.html if email.html.endswith("\n") else email.html + "\n")
    for text in (sms.text, email.subject, email.text, email.html):
        assert "POSSIBLE" in text.upper()
    assert "matches a trafficking-risk profile" not in sms.text and "NOT YET CONFIRMED" in sms.text


def claim_facts() -> MessageFacts:
    """An open incident holding an unverified claim: another provider says the child has returned."""
    facts = golden_facts("update")
    claim = Claim(
        claim_id="3f9a2c1b",
        event_id="evt-golden-0003",
        type="returned",
        sender="brentside-homes",
        at=RECEIVED + timedelta(minutes=20),
    )
    what = "UNVERIFIED claim 3f9a2c1b: 'returned' from brentside-homes, not the placement's provider; not applied until confirmed"
    timeline = [*facts.incident.timeline, TimelineEntry(at=claim.at, what=what)]
    incident = facts.incident.model_copy(update={"claims": [claim], "timeline": timeline})
    return MessageFacts(kind="claim", incident=incident, event=facts.event, profile=facts.profile)


def test_claim_golden() -> None:
    """The message asking the alerted to confirm another provider's report: says it is NOT applied and how to confirm."""
    sms = renderer().render(claim_facts(), "sms")
    check_golden("messages/claim.sms.txt", f"{sms.text}\n")
    assert "NOT applied" in sms.text and "CONFIRM CH-GOLDEN 3f9a2c1b" in sms.text
    assert sms_cost(sms.text).segments <= 3
    email = renderer(ack_url="https://crucial.example/ack/{reference}").render(claim_facts(), "email")
    assert email.html is not None
    check_golden("messages/claim.email.txt", f"Subject: {email.subject}\n\n{email.text}")
    check_golden("messages/claim.email.html", email.html if email.html.endswith("\n") else email.html + "\n")
    text, cost = fit_sms(renderer(max_segments=1), claim_facts())
    assert cost.segments == 1 and "CONFIRM CH-GOLDEN 3f9a2c1b" in text
