"""Grade a matched report into a police priority (high / medium / low) with the reasons."""

from __future__ import annotations

from alerts.model import MatchResult, PlacementEvent, Priority, RiskProfile


def grade(event: PlacementEvent, profile: RiskProfile, match: MatchResult) -> tuple[Priority, list[str]]:
    return profile.risk_level, [f"profile risk level is {profile.risk_level.value}"]
