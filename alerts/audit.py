"""An incident's whole story, from its records on the incidents and deliveries topics."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from alerts.model import DeliveryRecord, IncidentRecord


def format_audit(records: list[IncidentRecord], deliveries: list[DeliveryRecord], timezone: str = "Europe/London") -> str:
    """Plain text: the incident as it stands, every change, every timeline entry, every delivery step."""
    if not records:
        return "no such incident"
    zone = ZoneInfo(timezone)

    def local(moment: datetime) -> str:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")

    latest = records[-1].incident
    acks = ", ".join(f"{a.by.name} ({a.by.agency_id}) via {a.via} at {local(a.at)}" for a in latest.acknowledgements)
    lines = [
        f"incident {latest.reference} ({latest.incident_id})",
        f"  status: {latest.status.value}; priority: {latest.priority.value}; child reference: {latest.child_reference}",
        f"  match: {latest.match.decision.value} {latest.match.profile_id or ''} — {'; '.join(latest.match.explanation) or '—'}",
        f"  priority reasons: {'; '.join(latest.reasons) or '—'}",
        f"  last seen {local(latest.last_seen_at)}; received {local(latest.received_at)}; deadline {local(latest.deadline)}",
        f"  acknowledged by: {acks or 'nobody'}",
        "",
        "changes:",
        *(f"  {local(r.at)}  {r.change}" for r in records),
        "",
        "timeline:",
        *(f"  {local(entry.at)}  {entry.what}" for entry in latest.timeline),
        "",
        "deliveries:",
    ]
    for delivery in sorted(deliveries, key=lambda d: d.at):
        detail = delivery.provider_id or delivery.reason or ""
        step = f"{delivery.kind:<14} {delivery.channel:<5} {delivery.agency_id or '':<22} {delivery.state:<9}"
        lines.append(f"  {local(delivery.at)}  {step} {detail}")
    return "\n".join(lines)
