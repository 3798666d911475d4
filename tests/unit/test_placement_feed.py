"""The register's follower applies one record at a time (streams/placements.py): a tombstone removes,
a record that does not validate or whose key is not its placement id is refused whole, and what is
logged names field paths, never a child's details."""

from __future__ import annotations

import json
import logging

import pytest

from alerts.placements import PlacementRegister
from streams.placements import apply_placement_record
from tests.support import sample_placements


def test_records_upsert_and_tombstones_remove() -> None:
    register = PlacementRegister()
    doc = sample_placements()[0]
    assert apply_placement_record(register, b"plc-harrow-07", json.dumps(doc).encode()) == "upserted"
    assert register.owner("plc-harrow-07") == "larchwood-care"
    assert apply_placement_record(register, b"plc-harrow-07", None) == "removed"
    assert register.get("plc-harrow-07") is None


def test_a_bad_record_is_refused_whole_and_logged_without_values(caplog: pytest.LogCaptureFixture) -> None:
    register = PlacementRegister()
    good = sample_placements()[0]
    assert apply_placement_record(register, b"plc-harrow-07", json.dumps(good).encode()) == "upserted"
    bad = {**good, "children": [{**good["children"][0], "date_of_birth": {"value": "2010-02-30"}}]}
    with caplog.at_level(logging.ERROR, logger="crucial.placements"):
        assert apply_placement_record(register, b"plc-harrow-07", json.dumps(bad).encode()) == "rejected"
        assert apply_placement_record(register, b"plc-other", json.dumps(good).encode()) == "rejected"
        assert apply_placement_record(register, b"plc-x", b"\xff not json") == "rejected"
    kept = register.get("plc-harrow-07")  # the last good version stays
    assert kept is not None and len(kept.children) == 2 and register.get("plc-other") is None
    logged = caplog.text
    assert "children[0].date_of_birth.value" in logged and "its key is not its placement_id" in logged
    assert "Minh" not in logged and "Tran" not in logged and "2010-02-30" not in logged
