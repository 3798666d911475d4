"""Match a placement event against flagged risk profiles (see docs/matching.md).

- index: the in-memory profile index (storage, candidate selection, scoring, the decision);
- short_forms: diminutives, short forms and prefixed names (nicknames package + curated lists);
- dates: the date-of-birth model (exact, estimated and ranged dates as evidence of different strength);
- rules: the decision rules, an ordered named list applied to the best candidate.
"""

from alerts.matching.index import Form, ProfileIndex, name_forms

__all__ = ["Form", "ProfileIndex", "name_forms"]
