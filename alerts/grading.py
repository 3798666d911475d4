"""Grade a report into a police priority (high / medium / low) with the reasons.

The rules live in risk.yaml (`grading:`), not here: each rule lists conditions on the matched
profile (risk level, indicators), the report's circumstances (age, time of day in the grading time
zone, companions, vehicles, ports and stations nearby, time since placement, previous episodes) and
circumstantial links; a rule that holds adds points and may set a floor (`at_least`), and its reason
is listed. The priority is the higher of the floors and the level the points reach.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from alerts.config import GradeWhen, Grading
from alerts.indicators import Indicators, indicators_of
from alerts.model import MatchResult, PlacementEvent, Priority, RiskProfile
from alerts.phrases import any_phrase


@dataclass(frozen=True)
class _Facts:
    """What the rules can look at, worked out once per report."""

    profile: RiskProfile | None
    match: MatchResult
    vocabulary: Indicators | None  # None for a Grading built outside load_config
    indicators: tuple[str, ...]  # the profile's, as ids of the vocabulary
    age: int | None
    age_estimated: bool
    local_minutes: int | None
    local_time: str
    companions: list[str]  # circumstances.accompanied_by, as the carer wrote it
    vehicle: bool
    near: list[str]
    hours_since_placement: float | None
    episodes: int

    @classmethod
    def of(cls, event: PlacementEvent, profile: RiskProfile | None, match: MatchResult, grading: Grading) -> _Facts:
        c = event.circumstances
        seen: datetime = c.last_seen_at if c is not None else event.reported_at
        dob = event.child.date_of_birth or (profile.date_of_birth if profile is not None else None)
        local = seen.astimezone(ZoneInfo(grading.timezone))
        vocabulary = indicators_of(grading.vocabulary) if grading.vocabulary is not None else None
        placed = event.placement.placed_at
        return cls(
            profile=profile,
            match=match,
            vocabulary=vocabulary,
            indicators=vocabulary.of_profile(profile).ids if vocabulary is not None else (),
            age=dob.age_on(local.date()) if dob is not None else None,
            age_estimated=bool(dob and (dob.estimated or dob.earliest or dob.latest)),
            local_minutes=local.hour * 60 + local.minute if c is not None else None,
            local_time=local.strftime("%H:%M"),
            companions=list(c.accompanied_by) if c else [],
            vehicle=bool(c and c.vehicles),
            near=list(c.near) if c else [],
            hours_since_placement=(seen - placed).total_seconds() / 3600 if placed is not None and c is not None else None,
            episodes=c.previous_missing_episodes if c else 0,
        )


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def _holds(when: GradeWhen, facts: _Facts) -> list[str] | None:
    """None when a condition fails; else the profile indicators the rule matched (possibly none)."""
    if not _profile_holds(when, facts):
        return None
    matched = _matched_indicators(when, facts)
    if matched is None or not (_age_holds(when, facts) and _times_hold(when, facts) and _circumstances_hold(when, facts)):
        return None
    return matched


def _profile_holds(when: GradeWhen, facts: _Facts) -> bool:
    profile = facts.profile
    if when.has_profile is not None and when.has_profile != (profile is not None):
        return False
    if when.decision is not None and facts.match.decision.value not in when.decision:
        return False
    return when.profile_risk is None or (profile is not None and profile.risk_level in when.profile_risk)


def _matched_indicators(when: GradeWhen, facts: _Facts) -> list[str] | None:
    """The labels of the profile's indicators the rule names; None when it names some and none match."""
    if when.indicators is None:
        return []
    if facts.vocabulary is None:
        raise ValueError("a grading rule names indicators but no vocabulary is attached: load it with load_config")
    wanted = facts.vocabulary.expand(when.indicators)
    matched = [facts.vocabulary.label(i) for i in facts.indicators if i in wanted]
    return matched or None


def _age_holds(when: GradeWhen, facts: _Facts) -> bool:
    age = facts.age
    if when.age_under is not None and (age is None or age >= when.age_under):
        return False
    return when.age_at_least is None or (age is not None and age >= when.age_at_least)


def _times_hold(when: GradeWhen, facts: _Facts) -> bool:
    if when.local_time is not None:
        if facts.local_minutes is None:
            return False
        start, end, now = _minutes(when.local_time.start), _minutes(when.local_time.end), facts.local_minutes
        if not (start <= now < end if start < end else (now >= start or now < end)):
            return False
    hours, under = facts.hours_since_placement, when.hours_since_placement_under
    return under is None or (hours is not None and 0 <= hours < under)


def _circumstances_hold(when: GradeWhen, facts: _Facts) -> bool:
    if when.accompanied_by is not None and not any_phrase(facts.companions, when.accompanied_by):
        return False
    if when.vehicle is not None and when.vehicle != facts.vehicle:
        return False
    if when.near is not None and not set(when.near) & set(facts.near):
        return False
    if when.previous_episodes_at_least is not None and facts.episodes < when.previous_episodes_at_least:
        return False
    return when.linked_risk is None or any(link.risk_level in when.linked_risk for link in facts.match.links)


def _with_article(place: str) -> str:
    return f"{'an' if place[:1] in 'aeiou' else 'a'} {place}"


def _labels(facts: _Facts) -> list[str]:
    return [facts.vocabulary.label(i) for i in facts.indicators] if facts.vocabulary is not None else []


def _reason(template: str, facts: _Facts, matched: list[str], when: GradeWhen) -> str:
    profile = facts.profile
    links = facts.match.links
    if when.linked_risk is not None:
        links = [link for link in links if link.risk_level in when.linked_risk]
    by_profile: dict[str, list[str]] = {}
    for link in links:
        kinds = by_profile.setdefault(link.profile_id, [])
        if link.kind not in kinds:
            kinds.append(link.kind)
    age = "unknown" if facts.age is None else f"{facts.age}{' (estimated)' if facts.age_estimated else ''}"
    hours = facts.hours_since_placement
    return template.format(
        risk=profile.risk_level.value if profile else "none",
        indicators=", ".join(matched or _labels(facts)) or "none recorded",
        age=age,
        local_time=facts.local_time,
        near=", ".join(_with_article(n.replace("_", " ")) for n in facts.near) or "nowhere recorded",
        hours_since_placement="unknown" if hours is None else f"{hours:.0f}",
        episodes=facts.episodes,
        linked="; ".join(f"{pid} ({', '.join(kinds)})" for pid, kinds in by_profile.items()) or "none",
        decision=facts.match.decision.value.replace("_", " "),
    )


def grade(event: PlacementEvent, profile: RiskProfile | None, match: MatchResult, grading: Grading) -> tuple[Priority, list[str]]:
    """The priority and, in rule order, the reason of every rule that held."""
    facts = _Facts.of(event, profile, match, grading)
    points, floor, reasons = 0, Priority.LOW, []
    for rule in grading.rules:
        matched = _holds(rule.when, facts)
        if matched is None:
            continue
        points += rule.points
        if rule.at_least is not None and rule.at_least.rank > floor.rank:
            floor = rule.at_least
        reasons.append(_reason(rule.reason, facts, matched, rule.when))
    if points >= grading.levels.high:
        reached = Priority.HIGH
    elif points >= grading.levels.medium:
        reached = Priority.MEDIUM
    else:
        reached = Priority.LOW
    priority = max(reached, floor, key=lambda p: p.rank)
    if not reasons:
        reasons = ["no grading rule applies"]
    return priority, reasons
