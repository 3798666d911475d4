"""Risk profiles from files: JSON Lines or CSV, each row validated on its own.

A bad row never stops the rest: each yields its reasons, every one naming the row and the field
(for CSV, the column). Reasons never repeat a name, date of birth or identifier from the file. Used by
`crucial profiles load` and `crucial match`. No file access here: the caller passes the bytes.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from alerts.errors import RejectedInput
from alerts.intake import parse_profile
from alerts.model import RiskProfile

T = TypeVar("T")


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


def is_csv(name: str, data: bytes) -> bool:
    """CSV or JSON Lines: by the name's extension, else by the first character (shared with
    alerts/placement_files.py)."""
    lowered = name.lower()
    if lowered.endswith(".csv"):
        return True
    if lowered.endswith((".jsonl", ".ndjson", ".json")):
        return False
    return not data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")


def jsonl_rows(name: str, data: bytes, parse_row: Callable[[bytes], T]) -> Iterator[tuple[str, T | None, list[str]]]:
    """(where, parsed or None, reasons) for each non-blank line, each validated on its own."""
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{name}: row {number}"
        try:
            yield where, parse_row(line), []
        except RejectedInput as exc:
            yield where, None, exc.reasons


def jsonl_profiles(name: str, data: bytes, now: datetime | None = None) -> Iterator[Row]:
    for where, profile, reasons in jsonl_rows(name, data, partial(parse_profile, now=now)):
        yield Row(where, profile, reasons)


# --- CSV ------------------------------------------------------------------------------------------

LIST_SEPARATOR = ";"
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
_TRUE, _FALSE = {"true", "yes", "y", "1"}, {"false", "no", "n", "0", ""}


class _CellError(ValueError):
    def __init__(self, column: str, message: str) -> None:
        super().__init__(f"column '{column}': {message}")


def split_cell(cell: str) -> list[str]:
    """A list cell: entries separated by ';', blanks dropped."""
    return [part.strip() for part in cell.split(LIST_SEPARATOR) if part.strip()]


def _row_to_profile(row: dict[str, str]) -> dict[str, Any]:
    cell = {k: (v or "").strip() for k, v in row.items()}
    out: dict[str, Any] = {}
    for column in ("profile_id", "given_names", "family_name", "sex", "nationality", "risk_level"):
        if cell.get(column):
            out[column] = cell[column]
    for column in ("responsible_local_authority", "police_force"):
        if cell.get(column):
            out[column] = cell[column]
    for column in _LISTS:
        if cell.get(column):
            out[column] = split_cell(cell[column])
    if cell.get("identifiers"):
        identifiers = []
        for n, part in enumerate(split_cell(cell["identifiers"]), start=1):
            scheme, colon, value = part.partition(":")
            if not colon or not scheme.strip() or not value.strip():
                raise _CellError("identifiers", f"entry {n} is not scheme:value (e.g. home_office:HO-S1234567)")
            identifiers.append({"scheme": scheme.strip(), "value": value.strip()})
        out["identifiers"] = identifiers
    if cell.get("associates"):
        associates = []
        for n, part in enumerate(split_cell(cell["associates"]), start=1):
            found = _ASSOCIATE.match(part)
            if not found:
                raise _CellError("associates", f"entry {n} is not Name or Name (relationship)")
            associate = {"name": found["name"].strip()}
            if found["relationship"]:
                associate["relationship"] = found["relationship"].strip()
            associates.append(associate)
        out["associates"] = associates
    dob: dict[str, Any] = {}
    for column, key in (("dob", "value"), ("dob_earliest", "earliest"), ("dob_latest", "latest")):
        if cell.get(column):
            dob[key] = cell[column]
    estimated = cell.get("dob_estimated", "").lower()
    if estimated not in _TRUE | _FALSE:
        raise _CellError("dob_estimated", f"'{cell['dob_estimated']}' is not true or false")
    if estimated in _TRUE:
        dob["estimated"] = True
    if dob:
        if "value" not in dob:
            raise _CellError("dob", "is empty but dob_estimated, dob_earliest or dob_latest is given")
        out["date_of_birth"] = dob
    worker = {
        k: cell[c]
        for c, k in (("social_worker_name", "name"), ("social_worker_email", "email"), ("social_worker_phone", "phone"))
        if cell.get(c)
    }
    if worker:
        out["social_worker"] = worker
    return out


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
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        yield Row(f"{name}: row 1", None, [f"(file): not UTF-8 ({exc.reason} at byte {exc.start}): save the CSV as UTF-8"])
        return
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    unknown = [c for c in header if c not in COLUMNS]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if unknown or missing:
        reasons = [f"header: unknown column '{c}' (known: {', '.join(COLUMNS)})" for c in unknown]
        reasons += [f"header: missing column '{c}'" for c in missing]
        yield Row(f"{name}: row 1", None, reasons)
        return
    for row in reader:
        where = f"{name}: row {reader.line_num}"
        if None in row:  # more cells than columns
            yield Row(where, None, [f"(row): {len(row[None])} more cell(s) than there are columns"])
            continue
        if not any((v or "").strip() for v in row.values()):
            continue
        try:
            raw = json.dumps(_row_to_profile(row))
        except _CellError as exc:
            yield Row(where, None, [str(exc)])
            continue
        try:
            yield Row(where, parse_profile(raw, now=now), [])
        except RejectedInput as exc:
            yield Row(where, None, [_column_of(reason) for reason in exc.reasons])
