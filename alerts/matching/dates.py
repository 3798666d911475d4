"""The date-of-birth model: exact, estimated and ranged dates as evidence of different strength.

Two exact dates: the same day `dob_exact`; day and month swapped or a one-year typo `dob_close`;
within `dob.exact_days` `dob_near`; further apart `-dob_conflict`.

Otherwise the points are the Fellegi-Sunter weight log2(m/u) of the pair, computed, not hand-set: each
record stands for the birthdays it allows — an exact date its day; a disputed range its range, give or
take `dob.exact_days`; an age-assessed estimate the year it names (written 1 January, as records write
them: that calendar year) with `dob.estimate_right_year` of belief and the rest in the years either
side. m is the chance the two records describe the same birthday, u the chance for two children born
at random over `dob.population_span_days` (ages 10-17). The weight is capped at `dob_consistent`; no
overlap at all is a conflict. So one allowance applies to a pair, never a margin plus a tolerance: an
exact date anywhere in an estimate's year earns the same, a year either side less, two years off is
evidence against. The figures are in docs/matching.md.
"""

from __future__ import annotations

import math
from datetime import date
from functools import lru_cache

from alerts.config import DobTolerance, MatchWeights
from alerts.identity import Dob, transposed

EXACT, CLOSE, NEAR, CONSISTENT, WITHIN, CONFLICT = "exact", "close", "near", "consistent", "within", "conflict"


def year_typo(a: int, b: int) -> bool:
    x, y = date.fromordinal(a), date.fromordinal(b)
    return (x.month, x.day) == (y.month, y.day) and abs(x.year - y.year) == 1


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
    ratio = likelihood_ratio(ev, pr, tolerance)
    if ratio <= 0.0:
        return -weights.dob_conflict, CONFLICT
    bits = max(-weights.dob_conflict, min(weights.dob_consistent, math.log2(ratio)))
    return bits, (CONSISTENT if bits > 0 else WITHIN)


# A record as the true birthday it allows: segments (first day, last day, share of belief), uniform within.
_Segments = tuple[tuple[int, int, float], ...]


def _segments(record: tuple[int, int, int, bool], right: float, exact_days: int) -> _Segments:
    """An exact date is its day; a disputed range its range, give or take `dob.exact_days`; an
    age-assessed estimate the year it names (written 1 January: that year; otherwise the year around
    it) with `dob.estimate_right_year` of belief, the rest shared by the years either side. The record
    is (earliest, latest, value, estimated) as ordinals."""
    lo, hi, value, estimated = record
    if lo != hi:
        return ((lo - exact_days, hi + exact_days, 1.0),)
    if not estimated:
        return ((value, value, 1.0),)
    written = date.fromordinal(value)
    start = value if (written.month, written.day) == (1, 1) else value - 182
    side = (1.0 - right) / 2
    return tuple(
        (start + 365 * shift, start + 365 * shift + 364, share)
        for shift, share in ((-1, side), (0, right), (1, side))
        if share > 0
    )


def likelihood_ratio(ev: Dob, pr: Dob, tolerance: DobTolerance) -> float:
    """How much likelier these two records are for one child than for two (the Fellegi-Sunter m/u):
    the chance both describe the same birthday, against two birthdays drawn from the population's
    `dob.population_span_days` (ages 10-17)."""
    return _likelihood_ratio(
        (ev.lo, ev.hi, ev.value, ev.estimated),
        (pr.lo, pr.hi, pr.value, pr.estimated),
        tolerance.estimate_right_year,
        tolerance.exact_days,
        tolerance.population_span_days,
    )


@lru_cache(maxsize=65_536)  # namesakes repeat the same few estimates: each pair is worked out once
def _likelihood_ratio(
    ev: tuple[int, int, int, bool], pr: tuple[int, int, int, bool], right: float, exact_days: int, span: int
) -> float:
    same = 0.0
    for a_lo, a_hi, a_share in _segments(ev, right, exact_days):
        for b_lo, b_hi, b_share in _segments(pr, right, exact_days):
            overlap = min(a_hi, b_hi) - max(a_lo, b_lo) + 1
            if overlap > 0:
                same += a_share * b_share * overlap / ((a_hi - a_lo + 1) * (b_hi - b_lo + 1))
    return same * span


def _year_named(record: Dob) -> int | None:
    """The calendar year a single date or an age-assessed estimate written 1 January names; None for a
    disputed range or an estimate written another day."""
    if record.lo != record.hi:
        return None
    written = date.fromordinal(record.value)
    if record.estimated and (written.month, written.day) != (1, 1):
        return None
    return written.year


def estimate_year_off(ev: Dob, pr: Dob) -> bool:
    """Whether an estimate and another record name adjacent years: what a year out of an estimate
    earns is barely likelier for the child than for a namesake of that age (docs/matching.md)."""
    if not (ev.estimated or pr.estimated):
        return False
    ours, theirs = _year_named(ev), _year_named(pr)
    return ours is not None and theirs is not None and abs(ours - theirs) == 1


def dob_line(kind: str, ev: Dob, pr: Dob) -> str:
    said, theirs = ev.describe(), pr.describe()
    if kind == EXACT or (kind == CONSISTENT and said == theirs):
        return f"date of birth {said}"
    if kind == CONSISTENT and estimate_year_off(ev, pr):
        return f"date of birth {said}, a year off the profile's {theirs} (an estimate may be a year out: weak evidence)"
    return {
        CLOSE: f"date of birth {said} close to the profile's {theirs}",
        NEAR: f"date of birth {said} within a few weeks of the profile's {theirs}",
        CONSISTENT: f"date of birth {said}, consistent with the profile's {theirs}",
        WITHIN: f"date of birth {said} barely consistent with the profile's {theirs}",
        CONFLICT: f"date of birth {said} far from the profile's {theirs}",
    }[kind]
