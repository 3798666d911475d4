"""Match a placement event against flagged risk profiles.

The index is held in memory by every worker, rebuilt from the compacted profiles topic at start and
kept current by `upsert` / `remove`. Lookups go through keyed indexes, never a scan of every profile.
"""

from __future__ import annotations

from alerts.model import Decision, MatchResult, PlacementEvent, RiskProfile


class ProfileIndex:
    def __init__(self) -> None:
        self._profiles: dict[str, RiskProfile] = {}
        self._by_identifier: dict[tuple[str, str], set[str]] = {}

    def __len__(self) -> int:
        return len(self._profiles)

    def get(self, profile_id: str) -> RiskProfile | None:
        return self._profiles.get(profile_id)

    def upsert(self, profile: RiskProfile) -> None:
        self.remove(profile.profile_id)
        self._profiles[profile.profile_id] = profile
        for identifier in profile.identifiers:
            self._by_identifier.setdefault(identifier.key(), set()).add(profile.profile_id)

    def remove(self, profile_id: str) -> None:
        old = self._profiles.pop(profile_id, None)
        if old is None:
            return
        for identifier in old.identifiers:
            holders = self._by_identifier.get(identifier.key())
            if holders is not None:
                holders.discard(profile_id)
                if not holders:
                    del self._by_identifier[identifier.key()]

    def match(self, event: PlacementEvent) -> MatchResult:
        """The best profile for this event, with a score and what matched."""
        for identifier in event.identifiers():
            for profile_id in sorted(self._by_identifier.get(identifier.key(), ())):
                return MatchResult(
                    decision=Decision.MATCH,
                    profile_id=profile_id,
                    score=1.0,
                    explanation=[f"matched on identifier {identifier.scheme} {identifier.value}"],
                )
        return MatchResult(decision=Decision.NO_MATCH)
