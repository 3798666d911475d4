"""The register's follower applies one record at a time (streams/pipeline/placements.py): a tombstone removes,
a record that does not validate or whose key is not its placement id is quarantined whole by the
stage guard, with reasons that name field paths, never a child's details."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

from alerts.placements import PlacementRegister
from streams.pipeline.placements import apply_placement_record
from tests.support import sample_placements

NOW = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)


def test_records_upsert_and_tombstones_remove() -> None:
    register = PlacementRegister()
    doc = sample_placements()[0]
    assert apply_placement_record(register, b"plc-harrow-07", json.dumps(doc).encode()) == "upserted"
    assert register.owner("plc-harrow-07") == "larchwood-care"
    assert apply_placement_record(register, b"plc-harrow-07", None) == "removed"
    assert register.get("plc-harrow-07") is None


def test_a_bad_record_is_quarantined_whole_and_the_register_keeps_the_last_good_version() -> None:
    from alerts.config import Quarantine
    from streams.pipeline.stage import DeadLetters, Record, Stage
    from tests.unit.pipeline.test_stage import Captured

    register = PlacementRegister()
    good = sample_placements()[0]
    assert apply_placement_record(register, b"plc-harrow-07", json.dumps(good).encode()) == "upserted"
    bad = {**good, "children": [{**good["children"][0], "date_of_birth": {"value": "2010-02-30"}}]}
    out = Captured()
    guard = Stage("placements", DeadLetters(out, "dead", Quarantine(), lambda: NOW), max_record_bytes=65536)

    def apply(record: Record) -> None:
        apply_placement_record(register, record.key, record.value)

    for offset, (key, value) in enumerate(
        [(b"plc-harrow-07", json.dumps(bad).encode()), (b"plc-other", json.dumps(good).encode()), (b"plc-x", b"\xff not json")]
    ):
        assert not asyncio.run(guard.handle(Record("placements", 0, offset, key, value), apply))
    kept = register.get("plc-harrow-07")  # the last good version stays
    assert kept is not None and len(kept.children) == 2 and register.get("plc-other") is None
    letters = [json.loads(value) for _, _, value in out.written]
    assert [letter["reason_class"] for letter in letters] == ["schema", "schema", "not_utf8"]
    assert "children[0].date_of_birth.value" in " ".join(letters[0]["reasons"])
    assert letters[1]["reasons"] == ["(key): is not the record's placement_id"]
    said = json.dumps([letter["reasons"] for letter in letters])
    assert "Minh" not in said and "Tran" not in said and "2010-02-30" not in said
