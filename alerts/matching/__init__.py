"""Match a placement event against flagged risk profiles (see docs/matching.md).

- index: `ProfileIndex`, the in-memory index: upsert / remove, candidate ranking, `match`;
- storage: the compact record of each profile (compressed JSON, slim scoring record);
- keys: name forms and blocking keys;
- scoring: points of evidence for one candidate (names, sex, nationality, identifiers);
- dates: the date-of-birth model (exact, estimated and ranged dates as evidence of different strength);
- rules: the decision rules, an ordered named list applied to the best candidate;
- links: circumstantial links (vehicle, phone, associate) to any profile.
- snapshot: the index as bytes, for the worker's start-up snapshot (streams/pipeline/profile_snapshot.py).
Short forms and prefixed names are in alerts.short_forms.
"""

from alerts.matching.index import Form, ProfileIndex, name_forms

__all__ = ["Form", "ProfileIndex", "name_forms"]
