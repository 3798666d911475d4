"""Placements from files, for `crucial placements load`: JSON Lines (one placement a line) or CSV (one
row a child, the placement's columns repeated; a row with no child columns is a placement with none).

As with profiles (alerts/profile_files.py; both read rows with alerts/row_files.py): a bad row never
stops the rest, every reason names the row and the field or column, and none repeats a
name or date of birth from the file. No file access here: the caller passes the bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from alerts.errors import RejectedInput
from alerts.placements import Placement, parse_placement
from alerts.row_files import CellError, CsvRow, csv_rows, identifiers_cell, is_csv, jsonl_rows, split_cell, truth_cell


@dataclass(frozen=True)
class PlacementRow:
    """A placement from a file: `placement` when valid, else the reasons (each names the field)."""

    where: str
    placement: Placement | None
    reasons: list[str]


def read_placements(name: str, data: bytes) -> Iterator[PlacementRow]:
    if is_csv(name, data):
        yield from csv_placements(name, data)
        return
    for where, placement, reasons in jsonl_rows(name, data, parse_placement):
        yield PlacementRow(where, placement, reasons)


PLACEMENT_COLUMNS = ("placement_id", "provider_id", "name", "local_authority", "postcode")
# column -> the child's field (lists separated by ';', identifiers as scheme:value).
CHILD_COLUMNS = {
    "child_reference": "reference",
    "child_identifiers": "identifiers",
    "child_given_names": "given_names",
    "child_family_name": "family_name",
    "child_aliases": "aliases",
    "child_dob": "date_of_birth.value",
    "child_dob_estimated": "date_of_birth.estimated",
    "child_sex": "sex",
    "child_nationality": "nationality",
    "child_languages": "languages",
    "child_description": "description",
}
_TEXTS = ("child_reference", "child_given_names", "child_family_name", "child_sex", "child_nationality", "child_description")
_LISTS = ("child_aliases", "child_languages")


def _child(cell: dict[str, str]) -> dict[str, Any] | None:
    if not any(cell.get(c) for c in CHILD_COLUMNS):
        return None
    child: dict[str, Any] = {CHILD_COLUMNS[column]: cell[column] for column in _TEXTS if cell.get(column)}
    child |= {CHILD_COLUMNS[column]: split_cell(cell[column]) for column in _LISTS if cell.get(column)}
    if cell.get("child_identifiers"):
        child["identifiers"] = identifiers_cell("child_identifiers", cell["child_identifiers"])
    estimated = truth_cell("child_dob_estimated", cell.get("child_dob_estimated", ""), "is not true or false")
    if cell.get("child_dob"):
        child["date_of_birth"] = {"value": cell["child_dob"], "estimated": estimated}
    elif estimated:
        raise CellError("child_dob", "is empty but child_dob_estimated is true")
    return child


def _column_of(reason: str, rows: dict[int, int]) -> str:
    """'children[1].date_of_birth.value: bad' -> "row 7, column 'child_dob' (children[1]...): bad"."""
    path, colon, message = reason.partition(": ")
    if not colon or not path.startswith("children["):
        column = path if path in PLACEMENT_COLUMNS else None
        return f"column '{column}': {message}" if column else reason
    index, _, rest = path.removeprefix("children[").partition("]")
    field = rest.lstrip(".").split("[")[0]
    column = next((c for c, f in CHILD_COLUMNS.items() if f == field or f.split(".")[0] == field), None)
    row = rows.get(int(index)) if index.isdigit() else None
    where = f"row {row}, " if row is not None else ""
    return f"{where}column '{column}' ({path}): {message}" if column else f"{where}{reason}"


def csv_placements(name: str, data: bytes) -> Iterator[PlacementRow]:
    yield from _grouped(name, csv_rows(name, data, (*PLACEMENT_COLUMNS, *CHILD_COLUMNS), PLACEMENT_COLUMNS))


def _grouped(name: str, rows: Iterator[CsvRow]) -> Iterator[PlacementRow]:
    """One placement per placement id, from its rows in file order; its first row's columns win."""
    groups: dict[str, tuple[dict[str, Any], dict[int, int], list[int]]] = {}
    for row in rows:
        cell = row.cells
        if cell is None:
            yield PlacementRow(row.where, None, row.reasons)
            continue
        if not cell.get("placement_id"):
            yield PlacementRow(row.where, None, ["column 'placement_id': is empty"])
            continue
        try:
            child = _child(cell)
        except CellError as exc:
            yield PlacementRow(row.where, None, [str(exc)])
            continue
        doc, child_rows, lines = groups.setdefault(
            cell["placement_id"], ({c: cell[c] for c in PLACEMENT_COLUMNS if cell.get(c)} | {"children": []}, {}, [])
        )
        lines.append(row.line)
        if child is not None:
            child_rows[len(doc["children"])] = row.line
            doc["children"].append(child)
    for doc, child_rows, lines in groups.values():
        where = f"{name}: row {lines[0]}" if len(lines) == 1 else f"{name}: rows {', '.join(map(str, lines))}"
        try:
            yield PlacementRow(where, parse_placement(json.dumps(doc)), [])
        except RejectedInput as exc:
            yield PlacementRow(where, None, [_column_of(reason, child_rows) for reason in exc.reasons])
