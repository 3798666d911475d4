"""Rows from the files people load (alerts/row_files.py), shared by profiles and placements."""

from __future__ import annotations

import pytest

from alerts.row_files import CellError, csv_rows, identifiers_cell, is_csv, split_cell, truth_cell

KNOWN, REQUIRED = ("id", "name", "tags"), ("id",)


def test_each_readable_row_has_its_cells_stripped_and_its_line() -> None:
    rows = list(csv_rows("f.csv", b"id,name,tags\n a , Elira ,x;y\n,,\n2,,\n", KNOWN, REQUIRED))
    assert [(r.where, r.line, r.cells, r.reasons) for r in rows] == [
        ("f.csv: row 2", 2, {"id": "a", "name": "Elira", "tags": "x;y"}, []),
        ("f.csv: row 4", 4, {"id": "2", "name": "", "tags": ""}, []),
    ]


def test_a_row_with_more_cells_than_columns_is_refused_alone() -> None:
    rows = list(csv_rows("f.csv", b"id,name\n1,a,extra\n2,b\n", KNOWN, REQUIRED))
    assert [(r.line, r.reasons) for r in rows] == [(2, ["(row): 1 more cell(s) than there are columns"]), (3, [])]


def test_a_wrong_header_is_one_row_naming_every_column() -> None:
    (row,) = csv_rows("f.csv", b"nam,tags\n1,2\n", KNOWN, REQUIRED)
    assert row.cells is None and row.reasons == [
        "header: unknown column 'nam' (known: id, name, tags)",
        "header: missing column 'id'",
    ]


def test_a_file_that_is_not_utf8_is_one_row() -> None:
    (row,) = csv_rows("f.csv", b"id\n\xff\n", KNOWN, REQUIRED)
    assert row.where == "f.csv: row 1" and row.reasons[0].startswith("(file): not UTF-8")


def test_cell_formats() -> None:
    assert split_cell(" a ; ;b ") == ["a", "b"]
    assert identifiers_cell("ids", "home_office: HO-1; nrm:N-2") == [
        {"scheme": "home_office", "value": "HO-1"},
        {"scheme": "nrm", "value": "N-2"},
    ]
    with pytest.raises(CellError, match=r"^column 'ids': entry 2 is not scheme:value"):
        identifiers_cell("ids", "home_office:HO-1; HO-2")
    assert truth_cell("flag", "Yes", "bad") and not truth_cell("flag", "", "bad")
    with pytest.raises(CellError, match=r"^column 'flag': bad$"):
        truth_cell("flag", "maybe", "bad")


def test_csv_or_json_lines_by_extension_else_by_first_character() -> None:
    assert is_csv("a.csv", b"{") and not is_csv("a.jsonl", b"id,name")
    assert not is_csv("-", b'\xef\xbb\xbf  {"id": 1}') and is_csv("-", b"id,name")
