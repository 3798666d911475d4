"""Profiles from files (alerts/profile_files.py): loading new profiles checks their dates of birth
against the clock it is given, naming the column."""

from __future__ import annotations

from datetime import UTC, datetime

from alerts.profile_files import read_profiles

NOW = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
HEADER = b"profile_id,given_names,dob,risk_level,responsible_local_authority,police_force\n"


def test_a_date_of_birth_in_the_future_is_refused_by_column_only_when_loading_new_profiles() -> None:
    data = HEADER + b"p-1,Elira,2027-01-01,high,Brent,Metropolitan Police Service\n"
    (loaded,) = read_profiles("p.csv", data, NOW)
    assert loaded.profile is None
    assert loaded.reasons == ["column 'dob' (date_of_birth): value is in the future"]
    (read_back,) = read_profiles("p.csv", data)
    assert read_back.profile is not None and read_back.reasons == []
