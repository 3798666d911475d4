"""Reading rows from the files people load (profiles, placements): JSON Lines or CSV, each row on its
own, so a bad row never stops the rest. What alerts/profile_files.py and alerts/placement_files.py
share: format detection, the JSON Lines loop, the CSV header and row checks, and the cell formats
(lists separated by ';', scheme:value identifiers, true/false). No file access: callers pass bytes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from alerts.errors import RejectedInput

T = TypeVar("T")

LIST_SEPARATOR = ";"
TRUE, FALSE = {"true", "yes", "y", "1"}, {"false", "no", "n", "0", ""}


class CellError(ValueError):
    """A cell that cannot be read; the message names the column."""

    def __init__(self, column: str, message: str) -> None:
        super().__init__(f"column '{column}': {message}")


def is_csv(name: str, data: bytes) -> bool:
    """CSV or JSON Lines: by the name's extension, else by the first character."""
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


@dataclass(frozen=True)
class CsvRow:
    """One row of a CSV file: its cells (stripped) when it can be read, else the reasons."""

    where: str
    line: int
    cells: dict[str, str] | None
    reasons: list[str]


def csv_rows(name: str, data: bytes, known: Sequence[str], required: Sequence[str]) -> Iterator[CsvRow]:
    """Each non-blank row of a UTF-8 CSV whose header names only `known` columns and every `required`
    one; a file that is not UTF-8, or a wrong header, is one row 1 with the reasons, and nothing more."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        yield CsvRow(f"{name}: row 1", 1, None, [f"(file): not UTF-8 ({exc.reason} at byte {exc.start}): save the CSV as UTF-8"])
        return
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    reasons = [f"header: unknown column '{c}' (known: {', '.join(known)})" for c in header if c not in known]
    reasons += [f"header: missing column '{c}'" for c in required if c not in header]
    if reasons:
        yield CsvRow(f"{name}: row 1", 1, None, reasons)
        return
    for row in reader:
        where = f"{name}: row {reader.line_num}"
        if None in row:  # more cells than columns
            yield CsvRow(where, reader.line_num, None, [f"(row): {len(row[None])} more cell(s) than there are columns"])
            continue
        cells = {k: (v or "").strip() for k, v in row.items()}
        if any(cells.values()):
            yield CsvRow(where, reader.line_num, cells, [])


def split_cell(cell: str) -> list[str]:
    """A list cell: entries separated by ';', blanks dropped."""
    return [part.strip() for part in cell.split(LIST_SEPARATOR) if part.strip()]


def identifiers_cell(column: str, cell: str) -> list[dict[str, str]]:
    """'home_office:HO-S1234567; nrm:NRM-1' -> [{scheme, value}, …]; CellError naming the bad entry."""
    identifiers = []
    for n, part in enumerate(split_cell(cell), start=1):
        scheme, colon, value = part.partition(":")
        if not colon or not scheme.strip() or not value.strip():
            raise CellError(column, f"entry {n} is not scheme:value (e.g. home_office:HO-S1234567)")
        identifiers.append({"scheme": scheme.strip(), "value": value.strip()})
    return identifiers


def truth_cell(column: str, cell: str, problem: str) -> bool:
    """A true/false cell (yes/no, y/n, 1/0; empty is false); CellError with `problem` otherwise."""
    lowered = cell.lower()
    if lowered not in TRUE | FALSE:
        raise CellError(column, problem)
    return lowered in TRUE
