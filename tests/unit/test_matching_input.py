"""Bad input is rejected with the field and the reason; nothing of it crashes a loader."""

from __future__ import annotations

import json
from typing import Any

import pytest

from alerts.errors import RejectedInput
from alerts.intake import parse_event, parse_profile
from alerts.profile_files import read_profiles
from tests.support import make_event, sample_profiles


def rejected(raw: str, parse: Any = parse_profile) -> list[str]:
    with pytest.raises(RejectedInput) as caught:
        parse(raw)
    return caught.value.reasons


def test_a_profile_with_an_impossible_date_is_rejected_naming_the_field() -> None:
    bad = sample_profiles()[0] | {"date_of_birth": {"value": "2010-02-30"}}
    assert rejected(json.dumps(bad))[0].startswith("date_of_birth.value: Input should be a valid date")


def test_a_report_with_an_impossible_date_is_rejected_naming_the_field() -> None:
    event = make_event()
    event["child"]["date_of_birth"] = {"value": "2009-13-01", "estimated": True}
    assert rejected(json.dumps(event), parse_event)[0].startswith("child.date_of_birth.value: Input should be a valid date")


def test_a_profile_or_report_with_no_name_at_all_is_rejected() -> None:
    nameless = {k: v for k, v in sample_profiles()[0].items() if k not in ("given_names", "family_name", "aliases")}
    assert rejected(json.dumps(nameless)) == ["given_names: Field required"]
    event = make_event()
    event["child"]["given_names"] = "   "
    assert rejected(json.dumps(event), parse_event)[0].startswith("child.given_names: String should have at least 1 character")


def test_an_unknown_risk_level_is_rejected_with_the_values_allowed() -> None:
    reasons = rejected(json.dumps(sample_profiles()[0] | {"risk_level": "severe"}))
    assert reasons == ["risk_level: Input should be 'high', 'medium' or 'low'"]


# --- profiles files: JSON Lines and CSV ----------------------------------------------------------

HEADER = "profile_id,given_names,family_name,aliases,dob,dob_estimated,dob_earliest,dob_latest,sex,nationality,risk_level,identifiers,associates,vehicles,phone_numbers,responsible_local_authority,police_force"


def csv(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def test_csv_rows_become_profiles_with_lists_dates_and_identifiers() -> None:
    data = csv(
        'csv-1,Mohammed Ali,Osman,Mohamed A.;Moha,2009-06-01,yes,2008-09-01,2010-03-31,male,Sudanese,high,home_office:HO-S7654321,"Van Long (claims to be uncle);Tuan",LR19 XKP,+447700900555,Harrow,Metropolitan Police Service'
    )
    [row] = list(read_profiles("profiles.csv", data))
    assert row.reasons == [] and row.profile is not None
    p = row.profile
    assert (p.given_names, p.family_name, p.aliases) == ("Mohammed Ali", "Osman", ["Mohamed A.", "Moha"])
    assert p.date_of_birth is not None and p.date_of_birth.estimated and str(p.date_of_birth.earliest) == "2008-09-01"
    assert [i.key() for i in p.identifiers] == [("home_office", "HO-S7654321")]
    assert [(a.name, a.relationship) for a in p.associates] == [("Van Long", "claims to be uncle"), ("Tuan", "unknown")]


def test_bad_csv_rows_are_reported_by_row_and_column_and_good_rows_kept() -> None:
    good = "csv-1,Elira,Hoxha,,2010-04-04,,,,female,Albanian,medium,,,,,Brent,Metropolitan Police Service"
    data = csv(
        good,
        "csv-2,Ardit,Kola,,2010-02-30,,,,male,Albanian,high,,,,,Brent,Metropolitan Police Service",
        "csv-3,,Kola,,,,,,male,Albanian,high,,,,,Brent,Metropolitan Police Service",
        "csv-4,Besa,Leka,,,,,,female,Albanian,severe,,,,,Brent,Metropolitan Police Service",
        "csv-5,Besa,Leka,,,maybe,,,female,Albanian,low,,,,,Brent,Metropolitan Police Service",
        "csv-6,Besa,Leka,,,,,,female,Albanian,low,HO-123,,,,Brent,Metropolitan Police Service",
        good.replace("csv-1", "csv-7"),
    )
    rows = list(read_profiles("p.csv", data))
    assert [r.profile.profile_id for r in rows if r.profile] == ["csv-1", "csv-7"]
    bad = {r.where: r.reasons[0] for r in rows if r.profile is None}
    assert bad["p.csv: row 3"].startswith("column 'dob' (date_of_birth.value): Input should be a valid date")
    assert bad["p.csv: row 4"] == "column 'given_names' (given_names): Field required"
    assert bad["p.csv: row 5"] == "column 'risk_level' (risk_level): Input should be 'high', 'medium' or 'low'"
    assert bad["p.csv: row 6"] == "column 'dob_estimated': 'maybe' is not true or false"
    assert bad["p.csv: row 7"] == "column 'identifiers': entry 1 is not scheme:value (e.g. home_office:HO-S1234567)"


def test_a_csv_header_with_unknown_or_missing_columns_is_reported_once() -> None:
    [row] = list(read_profiles("p.csv", csv("x,y", header="profile_id,given_name")))
    assert row.where == "p.csv: row 1" and row.profile is None
    assert row.reasons[0].startswith("header: unknown column 'given_name'")
    assert "header: missing column 'given_names'" in row.reasons


def test_jsonl_rows_that_are_not_json_not_utf8_or_not_objects_are_rejected_not_fatal() -> None:
    good = json.dumps(sample_profiles()[0]).encode()
    data = b"\n".join([b"{not json", b"\xff\xfe not utf-8", b"[1, 2]", good, b""])
    rows = list(read_profiles("p.jsonl", data))
    assert [r.where for r in rows if r.profile is None] == ["p.jsonl: row 1", "p.jsonl: row 2", "p.jsonl: row 3"]
    assert rows[0].reasons[0].startswith("(root): not JSON")
    assert rows[1].reasons[0].startswith("(root): not UTF-8")
    assert rows[3].profile is not None and rows[3].profile.profile_id == "prof-0001"


def test_the_format_is_taken_from_the_name_else_from_the_first_character() -> None:
    good = json.dumps(sample_profiles()[0]).encode()
    assert [r.profile is not None for r in read_profiles("-", good)] == [True]
    [row] = list(read_profiles("-", csv("csv-1,Elira,Hoxha,,,,,,female,,low,,,,,Brent,Met")))
    assert row.profile is not None and row.profile.profile_id == "csv-1"
