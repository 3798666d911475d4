"""An incident's whole story, from its records on the incidents and deliveries topics — per person.

Usable as a serious-case-review record: for every person alerted, on every channel, each step of each
message (time, kind, attempt number, state, and the reason: why a retry happened, why it failed —
the provider's message id only where there is no reason), then what became of it; beside the
incident's changes and timeline. Three renderings of one structure (`audit_record`): JSON, Markdown
and plain text (`crucial incident show REF --format json|md|text`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from alerts.model import DeliveryRecord, IncidentRecord


def _step(delivery: DeliveryRecord) -> dict[str, Any]:
    reason = delivery.reason
    if delivery.state == "intent" and reason:
        reason = f"retry after {reason}"
    return {
        "at": delivery.at.isoformat(),
        "kind": delivery.kind,
        "attempt": delivery.attempts,
        "state": delivery.state,
        "reason": reason,
        "provider_id": delivery.provider_id,
    }


def _outcome(steps: list[dict[str, Any]]) -> str:
    if not steps:
        return "not sent (no delivery recorded)"
    last = steps[-1]
    if last["state"] == "failed":
        return f"failed: {last['reason'] or 'no reason given'}"
    return {"intent": "being sent", "accepted": "accepted by the provider", "delivered": "delivered"}[last["state"]]


def audit_record(records: list[IncidentRecord], deliveries: list[DeliveryRecord]) -> dict[str, Any]:
    """The incident as it stands, its changes and timeline, and every person alerted with every step."""
    if not records:
        return {"incident": None, "people": [], "changes": [], "timeline": []}
    latest = records[-1].incident
    ordered = sorted(deliveries, key=lambda d: d.at)
    people = []
    for alerted in latest.alerted:
        who = alerted.recipient
        mine = [d for d in ordered if d.recipient_tag == who.tag and d.channel == alerted.channel]
        steps = [_step(d) for d in mine]
        acked = [a.at.isoformat() for a in latest.acknowledgements if a.by.tag == who.tag]
        people.append(
            {
                "name": who.name,
                "agency_id": who.agency_id,
                "channel": alerted.channel,
                "address": who.address,
                "steps": steps,
                "outcome": _outcome(steps),
                "acknowledged_at": acked[0] if acked else None,
                "unreachable": any(u.recipient.tag == who.tag and u.channel == alerted.channel for u in latest.unreachable),
            }
        )
    known = {(a.channel, a.recipient.tag) for a in latest.alerted}
    unmatched = [_step(d) | {"agency_id": d.agency_id} for d in ordered if (d.channel, d.recipient_tag) not in known]
    incident = latest.model_dump(mode="json", exclude={"alerted", "timeline", "unreachable"})
    return {
        "incident": incident,
        "people": people,
        "unmatched_deliveries": unmatched,
        "changes": [{"at": r.at.isoformat(), "change": r.change} for r in records],
        "timeline": [{"at": e.at.isoformat(), "what": e.what} for e in latest.timeline],
    }


def _clock(timezone: str) -> Any:
    zone = ZoneInfo(timezone)

    def local(moment: str | datetime, fmt: str = "%Y-%m-%d %H:%M:%S %Z") -> str:
        value = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
        return value.astimezone(zone).strftime(fmt)

    return local


def _summary(record: dict[str, Any], local: Any) -> list[str]:
    i = record["incident"]
    acks = ", ".join(
        f"{a['by']['name']} ({a['by']['agency_id']}) via {a['via']} at {local(a['at'])}" for a in i["acknowledgements"]
    )
    return [
        f"status: {i['status']}; priority: {i['priority']}; child reference: {i['child_reference']}",
        f"match: {i['match']['decision']} {i['match']['profile_id'] or ''} — {'; '.join(i['match']['explanation']) or '—'}",
        f"priority reasons: {'; '.join(i['reasons']) or '—'}",
        f"last seen {local(i['last_seen_at'])}; received {local(i['received_at'])}; deadline {local(i['deadline'])}",
        f"escalation: {i['escalation_step']} step(s){'; stopped at its ceiling' if i['escalation_stopped'] else ''}",
        f"acknowledged by: {acks or 'nobody'}",
    ]


def _cell(text: str) -> str:
    """Text a Markdown table cell can hold: no pipe or line break from a report breaks the table."""
    return " ".join(text.replace("|", "\\|").split())


def format_markdown(records: list[IncidentRecord], deliveries: list[DeliveryRecord], timezone: str = "Europe/London") -> str:
    record = audit_record(records, deliveries)
    if record["incident"] is None:
        return "no such incident"
    local = _clock(timezone)
    i = record["incident"]
    lines = [f"# Incident {i['reference']} ({i['incident_id']})", "", *(f"- {line}" for line in _summary(record, local))]
    lines += ["", "## Timeline", "", "| time | what |", "|---|---|"]
    lines += [f"| {local(e['at'])} | {_cell(e['what'])} |" for e in record["timeline"]]
    lines += ["", "## People alerted", ""]
    for person in record["people"]:
        lines += [f"### {person['name']} — {person['agency_id']}, {person['channel']}", ""]
        lines.append(
            f"outcome: {person['outcome']}"
            + (f"; acknowledged {local(person['acknowledged_at'])}" if person["acknowledged_at"] else "")
        )
        if person["unreachable"]:
            lines.append("address known to be invalid: no further message sent there")
        lines += ["", "| time | message | attempt | state | reason (or provider id) |", "|---|---|---|---|---|"]
        for s in person["steps"]:
            detail = _cell(s["reason"] or s["provider_id"] or "")
            lines.append(f"| {local(s['at'])} | {s['kind']} | {s['attempt']} | {s['state']} | {detail} |")
        lines.append("")
    lines += ["## Changes", "", *(f"- {local(c['at'])} {c['change']}" for c in record["changes"])]
    return "\n".join(lines)


def format_audit(records: list[IncidentRecord], deliveries: list[DeliveryRecord], timezone: str = "Europe/London") -> str:
    """Plain text: the incident as it stands, every change, every timeline entry, every person's steps."""
    record = audit_record(records, deliveries)
    if record["incident"] is None:
        return "no such incident"
    local = _clock(timezone)
    i = record["incident"]
    lines = [f"incident {i['reference']} ({i['incident_id']})", *(f"  {line}" for line in _summary(record, local))]
    lines += ["", "changes:", *(f"  {local(c['at'])}  {c['change']}" for c in record["changes"])]
    lines += ["", "timeline:", *(f"  {local(e['at'])}  {e['what']}" for e in record["timeline"])]
    lines += ["", "people alerted:"]
    for person in record["people"]:
        lines.append(f"  {person['name']} ({person['agency_id']}) by {person['channel']}: {person['outcome']}")
        for s in person["steps"]:
            detail = s["reason"] or s["provider_id"] or ""
            lines.append(f"    {local(s['at'])}  {s['kind']:<14} attempt {s['attempt']}  {s['state']:<9}  {detail}".rstrip())
    for s in record["unmatched_deliveries"]:
        lines.append(f"  (recipient not on the incident, {s['agency_id']}) {local(s['at'])} {s['state']} {s['reason'] or ''}")
    return "\n".join(lines)
