"""Choose who is alerted, on which channel, and say why.

`route` applies every rule of routing.yaml to an incident: the rule's conditions are read from the
incident (placement local authority, priority, match decision), the child's risk profile when there
is one (responsible local authority, police force, indicators, social worker) and the report's
circumstances (near a port, airport…). A rota contact resolves to whoever is on call at the moment
given — the moment the report was received (the incident's received_at) — and a fallback resolves
at the moment of the fallback, so a handover in between reaches the person now on duty.

Recipients are unique per (agency, address, channel). The order is deterministic: rule order, then
contact order, then channel order as the rule lists them; a recipient chosen again by a later rule
keeps its place and gains that rule's reason.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from alerts.channels import CHANNELS, AddressError
from alerts.config import Addressed, Agency, Config, Contact, Rule, RuleMatch
from alerts.indicators import Indicators, indicators_of
from alerts.model import Decision, Incident, PlacementEvent, Recipient, RiskProfile, SocialWorker
from alerts.rota import OnCall, on_call, on_call_order, person_by_address

SOCIAL_WORKER = "social-worker"


@dataclass(frozen=True)
class Route:
    recipient: Recipient
    channel: str
    why: str
    rules: tuple[str, ...] = field(default=())


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


@dataclass(frozen=True)
class Facts:
    """What rules are matched against, gathered once per incident (all names case-folded)."""

    decision: str
    priority: str
    placement_la: str
    responsible_la: str | None
    forces: tuple[str, ...]  # the placement's area's force, the responsible authority's, the profile's
    indicators: tuple[str, ...]  # ids of the vocabulary (indicators.yaml), in the profile's order
    near: frozenset[str]
    vocabulary: Indicators
    linked: bool  # no profile of the child's own; linked to one by circumstance

    @staticmethod
    def of(incident: Incident, profile: RiskProfile | None, event: PlacementEvent | None, config: Config) -> Facts:
        area_of = {
            _fold(authority): force
            for force, authorities in config.routing.police_force_areas.items()
            for authority in authorities
        }
        placement_la = _fold(incident.local_authority)
        responsible_la = _fold(profile.responsible_local_authority) if profile else None
        forces: dict[str, None] = {}
        for authority in (placement_la, responsible_la):
            if authority is not None and authority in area_of:
                forces.setdefault(_fold(area_of[authority]))
        if profile is not None:
            forces.setdefault(_fold(profile.police_force))
        circumstances = event.circumstances if event is not None else None
        vocabulary = indicators_of(config.indicators)
        match = incident.match
        return Facts(
            decision=match.decision.value,
            priority=incident.priority.value,
            placement_la=placement_la,
            responsible_la=responsible_la,
            forces=tuple(forces),
            indicators=vocabulary.of_profile(profile).ids,
            near=frozenset(circumstances.near) if circumstances else frozenset(),
            vocabulary=vocabulary,
            linked=match.decision == Decision.POSSIBLE_MATCH and match.profile_id is None and bool(match.links),
        )


def explain_rule(rule: Rule, facts: Facts) -> list[str] | None:
    """The conditions of `rule` that hold, in words; None when any condition fails."""
    when = rule.match
    said = _decision_holds(when, facts)
    if said is None:
        return None

    def among(values: list[str] | None, actual: Collection[str]) -> list[str] | None:
        """[] when the condition is omitted; the matching values; None when it fails."""
        if values is None:
            return []
        hits = [v for v in values if _fold(v) in actual]
        return hits or None

    checks: list[tuple[list[str] | None, Collection[str], str]] = [
        (when.local_authority, {facts.placement_la, facts.responsible_la or ""}, "local authority"),
        (when.placement_local_authority, {facts.placement_la}, "placed in"),
        (when.responsible_local_authority, {facts.responsible_la or ""}, "responsible authority"),
        (when.police_force, facts.forces, "police force area"),
        ([p.value for p in when.priority] if when.priority is not None else None, {facts.priority}, "priority"),
        (list(when.near) if when.near is not None else None, facts.near, "near"),
    ]
    for values, actual, label in checks:
        hits = among(values, actual)
        if hits is None:
            return None
        if hits:
            said.append(f"{label} {', '.join(h.replace('_', ' ') for h in hits)}")
    if when.indicators is not None:  # ids and groups of the one vocabulary, never text
        wanted = facts.vocabulary.expand(when.indicators)
        held = [facts.vocabulary.label(i) for i in facts.indicators if i in wanted]
        if not held:
            return None
        said.append(f"indicators {', '.join(held)}")
    return said


def _decision_holds(when: RuleMatch, facts: Facts) -> list[str] | None:
    """The decision and linked-by-circumstance conditions in words; None when either fails."""
    if facts.decision not in when.decision:
        return None
    said = [f"decision {facts.decision}"] if when.decision != ["match"] else []
    if when.linked_by_circumstance is not None:
        if when.linked_by_circumstance != facts.linked:
            return None
        if facts.linked:
            said.append("linked by circumstance")
    return said


def _rule_reason(rule: Rule, conditions: list[str]) -> str:
    return f"rule '{rule.name}'" + (f" ({'; '.join(conditions)})" if conditions else "")


class _Routes:
    def __init__(self) -> None:
        self.found: dict[tuple[str, str, str], tuple[Recipient, str, list[str], list[str]]] = {}

    def add(self, who: Recipient, channel: str, reason: str, rule: str) -> None:
        """`who` on `channel` for `reason`; nothing when `who` has no address there."""
        if not who.address:
            return
        try:  # one person is one recipient however the address was written (a profile's phone number)
            address = CHANNELS[channel].address(who.address)
        except AddressError:
            address = who.address
        agency_id, name = who.agency_id, who.name
        key = (agency_id, address, channel)
        if key in self.found:
            _, _, reasons, rules = self.found[key]
            if reason not in reasons:
                reasons.append(reason)
            if rule not in rules:
                rules.append(rule)
            return
        self.found[key] = (Recipient(agency_id=agency_id, name=name, address=address), channel, [reason], [rule])

    def routes(self) -> list[Route]:
        return [
            Route(recipient, channel, "; and ".join(reasons), tuple(rules))
            for recipient, channel, reasons, rules in self.found.values()
        ]


def _contact_people(contact: Contact, config: Config, at: datetime) -> list[tuple[str, Addressed, str]]:
    """(name, addresses, how) for a contact: itself, or whoever of its rota is on call at `at`."""
    if contact.rota is None:
        return [(contact.name, contact, "")]
    rota = config.rota.rotas[contact.rota]
    who: OnCall | None = on_call(rota, at)
    label = f"{contact.name}: "
    if who is None:  # a layer not yet started: never leave the agency out, try the rota's first
        who = on_call_order(rota, at)[0]
        how = f"{label}nobody on call in rota '{contact.rota}' at that time; first in the rota"
    else:
        how = f"{label}on call in rota '{contact.rota}' ({who.source})"
    return [(who.person.name, who.person, how)]


@dataclass(frozen=True)
class _Reach:
    """Whom a rule (or an escalation step) reaches and why: the channels, the moment, the reason."""

    channels: Sequence[str]
    config: Config
    at: datetime
    rule: str


def _add_agency(found: _Routes, agency_id: str, reach: _Reach, reason: str) -> None:
    agency: Agency = reach.config.agencies[agency_id]
    for contact in agency.contacts:
        for name, addresses, how in _contact_people(contact, reach.config, reach.at):
            for channel in reach.channels:
                who = Recipient(agency_id=agency_id, name=name, address=addresses.address(channel) or "")
                found.add(who, channel, reason + (f" — {how}" if how else ""), reach.rule)


def social_worker_address(worker: SocialWorker, channel: str) -> str | None:
    """The social worker's address on `channel`, from the profile field the channel names."""
    field_name = CHANNELS[channel].social_worker_field
    value = getattr(worker, field_name, None) if field_name else None
    return value if isinstance(value, str) else None


def agency_routes(agency_id: str, channels: Sequence[str], config: Config, at: datetime, why: str) -> list[Route]:
    """Everyone one agency is reached through at `at`, on each of `channels`: its fixed contacts and
    whoever is on call in its rotas — for callers outside the rules, such as an escalation step."""
    found = _Routes()
    _add_agency(found, agency_id, _Reach(channels, config, at, why), why)
    return found.routes()


def _force_desks(facts: Facts, config: Config) -> list[tuple[str, str]]:
    """(agency, force) for the missing-person desk of each of the child's police forces (police_forces)."""
    desks = {_fold(force): (agency_id, force) for force, agency_id in config.routing.police_forces.items()}
    return list(dict.fromkeys(desks[force] for force in facts.forces if force in desks))


def route(
    incident: Incident,
    profile: RiskProfile | None,
    config: Config,
    *,
    event: PlacementEvent | None,
    at: datetime | None = None,
) -> list[Route]:
    """Every (recipient, channel) the rules choose for this incident, each once, in rule order.

    `profile` is None for a child with no risk profile of their own (an incident opened on
    circumstantial links): rules about the responsible authority, indicators or the social worker
    then do not apply. `event` supplies the circumstances (near a port…); pass the opening report.
    `at` picks the person on call in rota contacts; default: the incident's receipt time.
    """
    if incident.match.decision == Decision.NO_MATCH:
        return []
    at = at or incident.received_at
    facts = Facts.of(incident, profile, event, config)
    found = _Routes()
    for rule in config.routing.rules:
        conditions = explain_rule(rule, facts)
        if conditions is None:
            continue
        reason = _rule_reason(rule, conditions)
        reach = _Reach(rule.channels, config, at, rule.name)
        for agency_id in rule.notify:
            _add_agency(found, agency_id, reach, reason)
        for agency_id, force in _force_desks(facts, config) if rule.notify_police_force else []:
            _add_agency(found, agency_id, reach, f"{reason}: the missing-person desk of {force}")
        if rule.social_worker and profile is not None and profile.social_worker is not None:
            worker = profile.social_worker
            for channel in rule.channels:
                who = Recipient(agency_id=SOCIAL_WORKER, name=worker.name, address=social_worker_address(worker, channel) or "")
                found.add(who, channel, reason + " — the child's social worker", rule.name)
    return found.routes()


def fallback(recipient: Recipient, channel: str, config: Config, at: datetime, *, tried: Collection[str] = ()) -> Route | None:
    """Whom to try instead when `recipient` cannot be reached on `channel` (e.g. an SMS failed
    permanently) at `at`, the moment of the fallback: whoever of that recipient's rota is on call at
    `at`, then the rest of the rota's order at `at` (alerts.rota.on_call_order) — skipping the
    recipient, every address in `tried` (those already alerted) and anyone without an address for the
    channel. None when the recipient was not chosen from a rota, or everyone has been tried.
    """
    agency = config.agencies.get(recipient.agency_id)
    if agency is None:
        return None
    for contact in agency.contacts:
        if contact.rota is None:
            continue
        rota = config.rota.rotas[contact.rota]
        if person_by_address(rota, channel, recipient.address) is None:
            continue
        skip = {recipient.address, *tried}
        for candidate in on_call_order(rota, at):
            address = candidate.person.address(channel)
            if not address or address in skip:
                continue
            now_on_call = on_call(rota, at)
            how = "on call at the fallback" if now_on_call and now_on_call.person_id == candidate.person_id else "next"
            why = (
                f"fallback: {recipient.name} could not be reached by {channel}; "
                f"{how} in rota '{contact.rota}' ({candidate.source})"
            )
            return Route(
                Recipient(agency_id=recipient.agency_id, name=candidate.person.name, address=address),
                channel,
                why,
                ("fallback",),
            )
        return None
    return None


def same_person_routes(recipient: Recipient, channel: str, profile: RiskProfile | None, config: Config) -> list[Route]:
    """The same person on each channel routing.yaml's `fallback` lists for `channel`, in its order,
    wherever we know their address there (their agency contact, or the child's social worker)."""
    routes = []
    for other in config.routing.fallback.get(channel, []):
        if address := _same_person_address(recipient, channel, other, profile, config):
            why = f"fallback: {recipient.name} could not be reached by {channel}; the same person by {other}"
            routes.append(Route(Recipient(agency_id=recipient.agency_id, name=recipient.name, address=address), other, why))
    return routes


def _same_person_address(
    recipient: Recipient, channel: str, other: str, profile: RiskProfile | None, config: Config
) -> str | None:
    if recipient.agency_id == SOCIAL_WORKER:
        worker = profile.social_worker if profile is not None else None
        return social_worker_address(worker, other) if worker is not None else None
    agency = config.agencies.get(recipient.agency_id)
    for contact in agency.contacts if agency is not None else []:
        known = contact.address(channel)
        if known and _same_address(channel, known, recipient.address) and (address := contact.address(other)):
            return address
    return None


def _same_address(channel: str, a: str, b: str) -> bool:
    def normal(address: str) -> str:
        try:
            return CHANNELS[channel].address(address)
        except AddressError:
            return address

    return normal(a) == normal(b)
