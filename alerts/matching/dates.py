"""The date-of-birth model: exact, estimated and ranged dates as evidence of different strength.

Each record is what it says: an exact date a day, an age-assessed estimate a day give or take
`dob.estimated_margin_days`, a disputed range its range. One allowance applies to a pair — never the
estimate's margin and a tolerance on top of it:

- two exact dates: the same day `dob_exact`; day and month swapped or a one-year typo `dob_close`;
  within `dob.exact_days` `dob_near`; further apart `-dob_conflict`;
- otherwise the days between the records (0 when ranges overlap) against the margin — an estimate's
  `dob.estimated_margin_days`, or `dob.exact_days` outside a disputed range (the range is already its
  own allowance): identical records or a gap of 0 earn `dob_consistent`, falling linearly to nothing at
  the margin (ranges that overlap earn less as their best estimates drift apart, half at a year); past
  an estimate's margin, up to `dob.tolerance_days` more, `dob_within_tolerance` (0 as shipped: an
  estimate two years off is no evidence for); beyond, `-dob_conflict`.

So an identical date against an estimate earns `dob_consistent`, never less than two exact dates a
month apart (`dob_near`). The figures are in docs/matching.md.
"""

from __future__ import annotations

from datetime import date

from alerts.config import DobTolerance, MatchWeights
from alerts.identity import Dob, dob_gap_days, transposed

EXACT, CLOSE, NEAR, CONSISTENT, WITHIN, CONFLICT = "exact", "close", "near", "consistent", "within", "conflict"


def year_typo(a: int, b: int) -> bool:
    x, y = date.fromordinal(a), date.fromordinal(b)
    return (x.month, x.day) == (y.month, y.day) and abs(x.year - y.year) == 1


def _point_estimate(dob: Dob) -> bool:
    return dob.estimated and dob.lo == dob.hi


def dob_evidence(ev: Dob | None, pr: Dob | None, weights: MatchWeights, tolerance: DobTolerance) -> tuple[float, str]:
    """(points, kind) for the report's date of birth against the profile's; (0, "") when either is missing."""
    if ev is None or pr is None:
        return 0.0, ""
    if ev.exact and pr.exact:
        gap = abs(ev.value - pr.value)
        if gap == 0:
            return weights.dob_exact, EXACT
        if transposed(ev.value, pr.value) or year_typo(ev.value, pr.value):
            return weights.dob_close, CLOSE
        if gap <= tolerance.exact_days:
            return weights.dob_near, NEAR
        return -weights.dob_conflict, CONFLICT
    if (ev.lo, ev.hi, ev.value) == (pr.lo, pr.hi, pr.value):
        return weights.dob_consistent, CONSISTENT
    estimate = _point_estimate(ev) or _point_estimate(pr)
    margin = tolerance.estimated_margin_days if estimate else tolerance.exact_days
    gap = dob_gap_days(ev, pr)
    if gap == 0:
        drift = min(1.0, abs(ev.value - pr.value) / 366)
        return weights.dob_consistent * (1.0 - 0.5 * drift), CONSISTENT
    if gap < margin:
        return weights.dob_consistent * (1.0 - gap / margin), CONSISTENT
    if estimate and gap <= margin + tolerance.tolerance_days:
        return weights.dob_within_tolerance, WITHIN
    return -weights.dob_conflict, CONFLICT


def dob_line(kind: str, ev: Dob, pr: Dob) -> str:
    said, theirs = ev.describe(), pr.describe()
    if kind == EXACT or (kind == CONSISTENT and said == theirs):
        return f"date of birth {said}"
    return {
        CLOSE: f"date of birth {said} close to the profile's {theirs}",
        NEAR: f"date of birth {said} within a few weeks of the profile's {theirs}",
        CONSISTENT: f"date of birth {said}, consistent with the profile's {theirs}",
        WITHIN: f"date of birth {said} no evidence either way against the profile's {theirs}",
        CONFLICT: f"date of birth {said} far from the profile's {theirs}",
    }[kind]
