"""The date-of-birth model (alerts.matching.dates): each record counts for what it is, once."""

from __future__ import annotations

import math
from datetime import date

import pytest

from alerts.config import DobTolerance, MatchWeights
from alerts.identity import Dob, dob_of
from alerts.matching.dates import CONFLICT, CONSISTENT, EXACT, NEAR, WITHIN, dob_evidence, dob_line
from alerts.model import DateOfBirth

WEIGHTS, TOLERANCE = MatchWeights(), DobTolerance()


def exact(day: str) -> DateOfBirth:
    return DateOfBirth(value=date.fromisoformat(day))


def estimated(day: str) -> DateOfBirth:
    return DateOfBirth(value=date.fromisoformat(day), estimated=True)


def record(dob: DateOfBirth) -> Dob:
    found = dob_of(dob)
    assert found is not None
    return found


def points(a: DateOfBirth, b: DateOfBirth) -> tuple[float, str]:
    return dob_evidence(dob_of(a), dob_of(b), WEIGHTS, TOLERANCE)


def test_an_identical_date_against_an_estimate_earns_no_less_than_two_exact_dates_a_month_apart() -> None:
    identical_vs_estimate, kind = points(exact("2012-01-01"), estimated("2012-01-01"))
    month_apart, near = points(exact("2012-03-01"), exact("2012-03-29"))
    assert (kind, near) == (CONSISTENT, NEAR)
    assert identical_vs_estimate >= month_apart > 0


@pytest.mark.parametrize("years_off", [2, 3])
def test_an_estimate_two_years_off_earns_no_positive_evidence(years_off: int) -> None:
    """The estimate's margin and the tolerance do not stack (the old model paid 0.5 here)."""
    for report, profile in (
        (exact(f"{2012 + years_off}-01-01"), estimated("2012-01-01")),
        (estimated(f"{2012 + years_off}-01-01"), estimated("2012-01-01")),
        (estimated("2012-01-01"), exact(f"{2012 + years_off}-02-01")),
    ):
        earned, _ = points(report, profile)
        assert earned <= 0


def test_an_exact_date_anywhere_in_an_estimates_year_earns_the_same() -> None:
    """An estimate written 1 January stands for that year: late in it is no weaker than early in it (the
    old model fell linearly from 1 January, so a true December birthday earned almost nothing)."""
    january, kind = points(exact("2012-01-01"), estimated("2012-01-01"))
    december, _ = points(exact("2012-12-30"), estimated("2012-01-01"))
    assert kind == CONSISTENT and january == december > WEIGHTS.dob_near


def test_a_year_either_side_of_an_estimate_is_weaker_evidence_and_two_years_is_against() -> None:
    """The Fellegi-Sunter weight of the pair: an age assessment a year out is usual, two years rare."""
    right_year, _ = points(exact("2012-06-01"), estimated("2012-01-01"))
    year_after, after = points(exact("2013-06-01"), estimated("2012-01-01"))
    year_before, before = points(exact("2011-06-01"), estimated("2012-01-01"))
    assert right_year > year_after > 0 and (after, before) == (CONSISTENT, CONSISTENT)
    assert year_after == year_before  # the old model paid nothing a year after 1 January, and up to 2.5 before it
    assert points(exact("2014-06-01"), estimated("2012-01-01"))[1] == CONFLICT
    two_years, kind = points(estimated("2014-01-01"), estimated("2012-01-01"))
    assert kind == WITHIN and two_years < 0  # two estimates each a year out: possible, and evidence against


def test_the_weight_is_the_likelihood_ratio_of_the_two_records() -> None:
    """Identical estimates: m = 0.6^2 + 2 x 0.2^2 of one year in 2,922 days (log2 3.52 = 1.82 bits)."""
    identical, _ = points(estimated("2012-01-01"), estimated("2012-01-01"))
    assert identical == pytest.approx(math.log2(0.44 * 2922 / 365), abs=0.01)


def test_two_exact_dates_far_apart_conflict_and_the_same_day_is_strongest() -> None:
    assert points(exact("2012-03-04"), exact("2012-03-04")) == (WEIGHTS.dob_exact, EXACT)
    assert points(exact("2012-03-04"), exact("2012-09-04"))[1] == CONFLICT
    assert points(exact("2012-03-04"), exact("2012-04-03"))[0] == WEIGHTS.dob_close  # day and month swapped


def test_a_disputed_range_meeting_the_other_date_is_consistent_and_identical_ranges_earn_most() -> None:
    disputed = DateOfBirth(value=date(2012, 1, 1), estimated=True, earliest=date(2011, 6, 1), latest=date(2013, 6, 1))
    identical, _ = points(disputed, disputed)
    inside, kind = points(exact("2013-03-01"), disputed)
    assert kind == CONSISTENT and identical >= inside > 0


def test_a_disputed_range_is_its_own_allowance_no_tolerance_is_added_beyond_it() -> None:
    disputed = DateOfBirth(value=date(2011, 1, 1), estimated=True, earliest=date(2009, 8, 25), latest=date(2012, 5, 30))
    # six months past the range's end: the old model stacked a year's tolerance on top and paid for it
    assert points(exact("2012-11-14"), disputed)[1] == CONFLICT
    assert points(exact("2012-06-10"), disputed)[0] > 0  # just outside: still consistent, less


def test_a_date_a_year_off_an_estimate_is_said_to_be_weak_not_merely_consistent() -> None:
    """The officer is told why such a match is only possible: a year out of an estimate is as likely
    for a namesake of that age as for the child."""
    report, profile = exact("2010-10-26"), estimated("2009-01-01")
    bits, kind = points(report, profile)
    assert kind == CONSISTENT and 0 < bits < 1
    line = dob_line(kind, record(report), record(profile))
    assert line.startswith("date of birth 2010-10-26, a year off the profile's 2009 (estimated)") and "weak" in line
    # Two estimates a year apart likewise; the estimate's own year stays "consistent".
    assert "a year off" in dob_line(CONSISTENT, record(estimated("2012-01-01")), record(estimated("2013-01-01")))
    same_year = dob_line(CONSISTENT, record(exact("2009-10-26")), record(profile))
    assert "consistent with the profile's 2009 (estimated)" in same_year and "a year off" not in same_year
