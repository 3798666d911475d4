"""Placement files (alerts/placement_files.py) and the register (alerts/placements.py): JSON Lines and
CSV, every bad row named with its field or column, good rows kept, no child's details in a reason."""

from __future__ import annotations

import json

from alerts.placement_files import read_placements
from alerts.placements import PlacementRegister, parse_placement
from tests.support import SAMPLES, sample_placements

HEADER = (
    "placement_id,provider_id,name,local_authority,postcode,child_reference,child_given_names,child_family_name,"
    "child_dob,child_dob_estimated,child_sex,child_identifiers,child_languages\n"
)


def test_the_sample_file_loads_whole() -> None:
    rows = list(read_placements("placements.jsonl", (SAMPLES / "placements.jsonl").read_bytes()))
    assert [r.reasons for r in rows] == [[], []]
    harrow = next(r.placement for r in rows if r.placement and r.placement.placement_id == "plc-harrow-07")
    assert harrow is not None and harrow.provider_id == "larchwood-care"
    assert [c.reference for c in harrow.children] == ["HAR-2026-0192", "HAR-2026-0205"]


def test_bad_jsonl_rows_are_named_by_row_and_field_and_the_good_ones_kept() -> None:
    good, bad_field, bad_json = sample_placements()[0], dict(sample_placements()[1]), "{not json"
    bad_field["postcode"] = "not a postcode at all"
    bad_field["children"] = [{**bad_field["children"][0], "date_of_birth": {"value": "2009-02-30"}}]
    data = "\n".join([json.dumps(good), "", json.dumps(bad_field), bad_json]).encode()
    rows = list(read_placements("in.jsonl", data))
    assert [r.where for r in rows] == ["in.jsonl: row 1", "in.jsonl: row 3", "in.jsonl: row 4"]
    assert rows[0].placement is not None and rows[0].reasons == []
    assert rows[1].placement is None
    assert sorted(r.split(":")[0] for r in rows[1].reasons) == ["children[0].date_of_birth.value", "postcode"]
    assert rows[2].reasons[0].startswith("(root): not JSON")
    everything = " ".join(reason for r in rows for reason in r.reasons)
    assert "Elira" not in everything and "Hoxha" not in everything and "2009-02-30" not in everything


def test_csv_rows_are_children_grouped_into_their_placements() -> None:
    data = (
        HEADER
        + "plc-1,larchwood-care,Home One,Harrow,HA1 9ZZ,REF-1,Ada,Lovelace,2011-05-01,yes,female,home_office:HO-1,English;French\n"
        "plc-1,larchwood-care,Home One,Harrow,HA1 9ZZ,REF-2,Bo,,,,male,,\n"
        "plc-2,brentside-homes,Home Two,Brent,NW10 9ZZ,,,,,,,,\n"
    ).encode()
    rows = list(read_placements("in.csv", data))
    assert [r.reasons for r in rows] == [[], []]
    one, two = (r.placement for r in rows)
    assert one is not None and two is not None
    assert rows[0].where == "in.csv: rows 2, 3"
    assert [c.reference for c in one.children] == ["REF-1", "REF-2"]
    first = one.children[0]
    assert first.date_of_birth is not None and first.date_of_birth.estimated
    assert [i.value for i in first.identifiers] == ["HO-1"] and first.languages == ["English", "French"]
    assert two.children == [] and two.provider_id == "brentside-homes"


def test_bad_csv_cells_name_the_row_and_column() -> None:
    data = (
        HEADER + "plc-1,larchwood-care,Home One,Harrow,HA1 9ZZ,REF-1,Ada,,2011-13-01,,female,,\n"
        "plc-2,larchwood-care,Home Two,Harrow,HA1 9ZZ,REF-2,Bo,,,maybe,male,,\n"
        ",larchwood-care,Home Three,Harrow,HA1 9ZZ,REF-3,Cy,,,,male,,\n"
        "plc-4,larchwood-care,Home Four,Harrow,HA1 9ZZ,REF-4,Di,,,,male,HO-4,\n"
    ).encode()
    rows = {r.where: r.reasons for r in read_placements("in.csv", data)}
    assert rows["in.csv: row 3"] == ["column 'child_dob_estimated': is not true or false"]
    assert rows["in.csv: row 4"] == ["column 'placement_id': is empty"]
    assert rows["in.csv: row 5"] == ["column 'child_identifiers': entry 1 is not scheme:value (e.g. home_office:HO-S1234567)"]
    [dob] = rows["in.csv: row 2"]
    assert dob.startswith("row 2, column 'child_dob' (children[0].date_of_birth.value): ")
    assert "2011-13-01" not in dob and "Ada" not in dob


def test_a_csv_header_with_unknown_or_missing_columns_is_one_error() -> None:
    rows = list(read_placements("in.csv", b"placement_id,name,nickname\nplc-1,Home,x\n"))
    assert len(rows) == 1 and rows[0].placement is None
    assert "header: unknown column 'nickname'" in rows[0].reasons[0]
    assert {"header: missing column 'provider_id'", "header: missing column 'postcode'"} <= set(rows[0].reasons)


def test_a_child_reference_twice_in_one_placement_is_refused() -> None:
    doc = sample_placements()[0]
    doc["children"].append(dict(doc["children"][0]))
    [row] = list(read_placements("in.jsonl", json.dumps(doc).encode()))
    assert row.placement is None and row.reasons == ["(root): children[2].reference is given twice in this placement"]


def test_the_register_replaces_removes_and_tells_owners() -> None:
    register = PlacementRegister()
    first, second = (parse_placement(json.dumps(p)) for p in sample_placements())
    register.upsert(first)
    register.upsert(second)
    assert register.owner("plc-harrow-07") == "larchwood-care" and register.owner("plc-nowhere") is None
    moved = parse_placement(json.dumps({**sample_placements()[0], "children": []}))
    register.upsert(moved)
    assert register.of_provider("larchwood-care") == [moved]
    register.remove("plc-harrow-07")
    assert register.of_provider("larchwood-care") == [] and len(register) == 1


def test_the_sample_csv_holds_what_the_sample_jsonl_holds() -> None:
    from_csv = [r.placement for r in read_placements("placements.csv", (SAMPLES / "placements.csv").read_bytes())]
    from_jsonl = [r.placement for r in read_placements("placements.jsonl", (SAMPLES / "placements.jsonl").read_bytes())]
    assert from_csv == from_jsonl and None not in from_csv
