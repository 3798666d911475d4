"""Risk profiles from files: JSON Lines or CSV, each row validated on its own.

A bad row never stops the rest: each yields its reasons, every one naming the row and the field
(for CSV, the column). Reasons never repeat a name, date of birth or identifier from the file. Used by
`crucial profiles load` and `crucial match`. No file access here: the caller passes the bytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from alerts.errors import RejectedInput
from alerts.intake import parse_profile
from alerts.model import RiskProfile
from alerts.row_files import CellError, csv_rows, identifiers_cell, is_csv, jsonl_rows, split_cell, truth_cell


@dataclass(frozen=True)
class Row:
    """One row of a profiles file: `profile` when valid, else the reasons (each names the field)."""

    where: str
    profile: RiskProfile | None
    reasons: list[str]


def read_profiles(name: str, data: bytes, now: datetime | None = None) -> Iterator[Row]:
    """Rows of a CSV or a JSON Lines file: by the name's extension, else by the first character. Given
    `now` (new profiles being loaded), each date of birth must be plausible on that day."""
    yield from (csv_profiles(name, data, now) if is_csv(name, data) else jsonl_profiles(name, data, now))


def jsonl_profiles(name: str, data: bytes, now: datetime | None = None) -> Iterator[Row]:
    for where, profile, reasons in jsonl_rows(name, data, partial(parse_profile, now=now)):
        yield Row(where, profile, reasons)


# --- CSV ------------------------------------------------------------------------------------------

# column -> where it goes in the profile (lists are separated by ';').
COLUMNS = {
    "profile_id": "profile_id",
    "identifiers": "identifiers",  # scheme:value; scheme:value
    "given_names": "given_names",
    "family_name": "family_name",
    "aliases": "aliases",
    "dob": "date_of_birth.value",
    "dob_estimated": "date_of_birth.estimated",
    "dob_earliest": "date_of_birth.earliest",
    "dob_latest": "date_of_birth.latest",
    "sex": "sex",
    "nationality": "nationality",
    "risk_level": "risk_level",
    "indicators": "indicators",
    "associates": "associates",  # Name (relationship); Name
    "vehicles": "vehicles",
    "phone_numbers": "phone_numbers",
    "places_of_concern": "places_of_concern",
    "responsible_local_authority": "responsible_local_authority",
    "police_force": "police_force",
    "social_worker_name": "social_worker.name",
    "social_worker_email": "social_worker.email",
    "social_worker_phone": "social_worker.phone",
}
REQUIRED_COLUMNS = ("profile_id", "given_names", "risk_level", "responsible_local_authority", "police_force")
_LISTS = ("aliases", "indicators", "vehicles", "phone_numbers", "places_of_concern")
_ASSOCIATE = re.compile(r"^(?P<name>[^()]+?)\s*(?:\((?P<relationship>[^()]*)\))?$")
# Columns copied as they are, and list columns (entries separated by ';').
_TEXTS = (
    "profile_id",
    "given_names",
    "family_name",
    "sex",
    "nationality",
    "risk_level",
    "responsible_local_authority",
    "police_force",
)
_DOB = (("dob", "value"), ("dob_earliest", "earliest"), ("dob_latest", "latest"))
_SOCIAL_WORKER = (("social_worker_name", "name"), ("social_worker_email", "email"), ("social_worker_phone", "phone"))


def _row_to_profile(cell: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {column: cell[column] for column in _TEXTS if cell.get(column)}
    out |= {column: split_cell(cell[column]) for column in _LISTS if cell.get(column)}
    if cell.get("identifiers"):
        out["identifiers"] = identifiers_cell("identifiers", cell["identifiers"])
    if cell.get("associates"):
        out["associates"] = _associates(cell["associates"])
    if dob := _date_of_birth(cell):
        out["date_of_birth"] = dob
    if worker := {key: cell[column] for column, key in _SOCIAL_WORKER if cell.get(column)}:
        out["social_worker"] = worker
    return out


def _associates(cell: str) -> list[dict[str, str]]:
    associates = []
    for n, part in enumerate(split_cell(cell), start=1):
        found = _ASSOCIATE.match(part)
        if not found:
            raise CellError("associates", f"entry {n} is not Name or Name (relationship)")
        associate = {"name": found["name"].strip()}
        if found["relationship"]:
            associate["relationship"] = found["relationship"].strip()
        associates.append(associate)
    return associates


def _date_of_birth(cell: dict[str, str]) -> dict[str, Any]:
    dob: dict[str, Any] = {key: cell[column] for column, key in _DOB if cell.get(column)}
    estimated = cell.get("dob_estimated", "")
    if truth_cell("dob_estimated", estimated, f"'{estimated}' is not true or false"):
        dob["estimated"] = True
    if dob and "value" not in dob:
        raise CellError("dob", "is empty but dob_estimated, dob_earliest or dob_latest is given")
    return dob


_FIELD_TO_COLUMN = {path: column for column, path in COLUMNS.items()}


def _column_of(reason: str) -> str:
    """'date_of_birth.value: bad date' -> "column 'dob' (date_of_birth.value): bad date"."""
    path, colon, message = reason.partition(": ")
    if not colon:
        return reason
    base = re.sub(r"\[\d+\]", "", path)
    column = _FIELD_TO_COLUMN.get(base) or _FIELD_TO_COLUMN.get(base.split(".")[0])
    if column is None and base in ("(root)", "date_of_birth"):
        column = "dob" if base == "date_of_birth" else None
    return f"column '{column}' ({path}): {message}" if column else reason


def csv_profiles(name: str, data: bytes, now: datetime | None = None) -> Iterator[Row]:
    for row in csv_rows(name, data, tuple(COLUMNS), REQUIRED_COLUMNS):
        if row.cells is None:
            yield Row(row.where, None, row.reasons)
            continue
        try:
            raw = json.dumps(_row_to_profile(row.cells))
        except CellError as exc:
            yield Row(row.where, None, [str(exc)])
            continue
        try:
            yield Row(row.where, parse_profile(raw, now=now), [])
        except RejectedInput as exc:
            yield Row(row.where, None, [_column_of(reason) for reason in exc.reasons])
