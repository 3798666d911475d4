"""Choose who is alerted, on which channel, and say why."""

from __future__ import annotations

from dataclasses import dataclass

from alerts.config import Config, Rule
from alerts.model import Incident, Recipient, RiskProfile

SOCIAL_WORKER = "social-worker"


@dataclass(frozen=True)
class Route:
    recipient: Recipient
    channel: str
    why: str


def _rule_applies(rule: Rule, incident: Incident, profile: RiskProfile) -> bool:
    when = rule.match
    if when.local_authority is not None:
        authorities = {incident.local_authority.casefold(), profile.responsible_local_authority.casefold()}
        if not authorities & {la.casefold() for la in when.local_authority}:
            return False
    return when.priority is None or incident.priority in when.priority


def route(incident: Incident, profile: RiskProfile, config: Config) -> list[Route]:
    """Every (recipient, channel) chosen by the rules, each once, in rule order."""
    routes: dict[tuple[str, str, str], Route] = {}

    def add(agency_id: str, name: str, address: str | None, channel: str, why: str) -> None:
        if address:
            key = (agency_id, address, channel)
            routes.setdefault(key, Route(Recipient(agency_id=agency_id, name=name, address=address), channel, why))

    for rule in config.routing.rules:
        if not _rule_applies(rule, incident, profile):
            continue
        why = f"rule '{rule.name}'"
        for agency_id in rule.notify:
            for contact in config.agencies[agency_id].contacts:
                for channel in rule.channels:
                    add(agency_id, contact.name, getattr(contact, channel), channel, why)
        if rule.social_worker and profile.social_worker is not None:
            worker = profile.social_worker
            for channel in rule.channels:
                address = worker.phone if channel == "sms" else worker.email
                add(SOCIAL_WORKER, worker.name, address, channel, why + " (the child's social worker)")
    return list(routes.values())
