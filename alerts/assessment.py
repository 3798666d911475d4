"""Match and grade one report: the step the worker (alerts.triage) and `crucial match` share.

A report opens an incident when it matches (or possibly matches) a profile, or — for a child with no
profile of their own — when circumstantial links grade it at least `links.open_incident_at`; such an
incident is a possible match with no profile id (a person confirms the link), its explanation says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from alerts.config import Risk
from alerts.grading import grade
from alerts.matching import ProfileIndex
from alerts.model import Decision, MatchResult, PlacementEvent, Priority, RiskProfile


@dataclass(frozen=True)
class Assessment:
    match: MatchResult
    profile: RiskProfile | None
    priority: Priority
    reasons: list[str]
    opens_incident: bool


def assess(event: PlacementEvent, index: ProfileIndex, risk: Risk) -> Assessment:
    match = index.match(event, risk.matching, risk.links)
    profile = index.get(match.profile_id) if match.profile_id is not None and match.decision != Decision.NO_MATCH else None
    if profile is None and match.decision != Decision.NO_MATCH:
        # removed between match and lookup: what is left is the circumstantial links
        match = match.model_copy(update={"decision": Decision.NO_MATCH, "profile_id": None})
    priority, reasons = grade(event, profile, match, risk.grading)
    if profile is not None:
        opens = True
    else:
        opens = bool(match.links) and priority.rank >= risk.links.open_incident_at.rank
        if opens:
            # A person confirms the link before anyone acts on it: routed and worded as a possible match,
            # with no profile of the child's own (profile_id None).
            match = match.model_copy(
                update={
                    "decision": Decision.POSSIBLE_MATCH,
                    "explanation": ["no profile of the child's own matched; linked by circumstance:", *match.explanation],
                }
            )
    return Assessment(match, profile, priority, reasons, opens)
