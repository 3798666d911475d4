"""Who the shipped rules would alert, per placement area and priority — for a safeguarding partnership
to review (`crucial route --explain-coverage`) and for `check-config` to say which areas have gaps.

Each row is `alerts.routing.route` itself, run on a synthetic incident: a child placed in that local
authority, who is also its responsible authority, with a profile of that area's police force, no
indicators and nothing near — the floor every report in that area gets; indicators, a port nearby or an
out-of-area placement only add to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from alerts.config import Config
from alerts.model import Decision, Incident, IncidentStatus, MatchResult, Priority, RiskProfile
from alerts.routing import SOCIAL_WORKER, route

_AT = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)  # any moment: rows list agencies, not the person on call


@dataclass(frozen=True)
class CoverageRow:
    local_authority: str
    priority: Priority
    match: tuple[str, ...]  # agency ids, in routing order
    possible_match: tuple[str, ...]


def placement_areas(config: Config) -> list[str]:
    """Every local authority a child may be placed in: those of the police force areas, those routing
    rules name, and those of the placements providers.yaml lists (when it lists any)."""
    areas = {a for authorities in config.routing.police_force_areas.values() for a in authorities}
    for rule in config.routing.rules:
        when = rule.match
        for names in (when.local_authority, when.placement_local_authority, when.responsible_local_authority):
            areas.update(names or [])
    for provider in config.providers.providers.values():
        placements: dict[str, Any] = getattr(provider, "placements", None) or {}  # may move to a register topic
        areas.update(p.local_authority for p in placements.values())
    unique: dict[str, str] = {}
    for area in sorted(areas):
        unique.setdefault(area.casefold(), area)
    return sorted(unique.values(), key=str.casefold)


def _force_of(config: Config, area: str) -> str:
    for force, authorities in config.routing.police_force_areas.items():
        if area.casefold() in (a.casefold() for a in authorities):
            return force
    return "no police force area"


def _agencies(config: Config, area: str, priority: Priority, decision: Decision) -> tuple[str, ...]:
    profile = RiskProfile(
        profile_id="coverage",
        given_names="coverage",
        risk_level=priority,
        responsible_local_authority=area,
        police_force=_force_of(config, area),
        social_worker={"name": "the child's social worker", "email": "social.worker@coverage.example"},  # type: ignore[arg-type]
    )
    incident = Incident(
        incident_id="inc-coverage",
        reference="CH-COVER",
        status=IncidentStatus.OPEN,
        event_id="evt-coverage",
        child_reference="coverage",
        placement_id="coverage",
        local_authority=area,
        match=MatchResult(decision=decision, profile_id="coverage", score=1.0),
        priority=priority,
        last_seen_at=_AT,
        received_at=_AT,
        deadline=_AT + timedelta(hours=1),
    )
    routes = route(incident, profile, config, event=None, at=_AT)
    return tuple(dict.fromkeys(r.recipient.agency_id for r in routes))


def coverage(config: Config) -> list[CoverageRow]:
    return [
        CoverageRow(
            area,
            priority,
            _agencies(config, area, priority, Decision.MATCH),
            _agencies(config, area, priority, Decision.POSSIBLE_MATCH),
        )
        for area in placement_areas(config)
        for priority in (Priority.HIGH, Priority.MEDIUM, Priority.LOW)
    ]


def coverage_gaps(config: Config) -> list[str]:
    """What a placement area lacks: an emergency duty team for every match, police for high and medium."""
    gaps = []
    for row in coverage(config):
        kinds = {config.agencies[a].kind for a in row.match if a in config.agencies}
        if row.priority == Priority.HIGH and "emergency_duty_team" not in kinds:
            gaps.append(
                f"placement area '{row.local_authority}' has no emergency duty team: add an agency of kind "
                "emergency_duty_team (agencies.yaml) and a rule naming it for that local authority (routing.yaml)"
            )
        if row.priority != Priority.LOW and "police" not in kinds:
            gaps.append(
                f"placement area '{row.local_authority}' reaches no police at {row.priority.value} priority: list it under "
                "police_force_areas and add a rule for its force (routing.yaml)"
            )
    for force in config.routing.police_force_areas:
        if force.casefold() not in (f.casefold() for f in config.routing.police_forces):
            gaps.append(
                f"police force '{force}' has no missing-person desk: give it one under police_forces (routing.yaml), "
                "or a possible match of high priority in its area reaches no police at opening"
            )
    return gaps


def _name(agency_id: str) -> str:
    return "social worker" if agency_id == SOCIAL_WORKER else agency_id


def coverage_table(config: Config) -> str:
    """The rows as a Markdown table (what `crucial route --explain-coverage` prints)."""
    lines = [
        "| local authority | priority | a match alerts | a possible match alerts |",
        "|---|---|---|---|",
    ]
    for row in coverage(config):
        match = ", ".join(_name(a) for a in row.match) or "**nobody**"
        possible = ", ".join(_name(a) for a in row.possible_match) or "**nobody**"
        lines.append(f"| {row.local_authority} | {row.priority.value} | {match} | {possible} |")
    return "\n".join(lines)
