"""The date-of-birth model (alerts.matching.dates): each record counts for what it is, once."""

from __future__ import annotations

from datetime import date

import pytest

from alerts.config import DobTolerance, MatchWeights
from alerts.identity import dob_of
from alerts.matching.dates import CONFLICT, CONSISTENT, EXACT, NEAR, dob_evidence
from alerts.model import DateOfBirth

WEIGHTS, TOLERANCE = MatchWeights(), DobTolerance()


def exact(day: str) -> DateOfBirth:
    return DateOfBirth(value=date.fromisoformat(day))


def estimated(day: str) -> DateOfBirth:
    return DateOfBirth(value=date.fromisoformat(day), estimated=True)


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


def test_evidence_falls_as_an_estimate_drifts_from_the_other_date() -> None:
    same, _ = points(exact("2012-01-01"), estimated("2012-01-01"))
    months, _ = points(exact("2012-06-01"), estimated("2012-01-01"))
    year, _ = points(exact("2012-12-31"), estimated("2012-01-01"))
    assert same > months > year >= 0


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
