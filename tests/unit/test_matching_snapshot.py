"""The profile index snapshot: a loaded snapshot matches exactly as a fresh build does, and every
snapshot that is not provably current or intact is refused with its reason. Synthetic profiles only."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alerts.config import Risk, load_config
from alerts.intake import parse_event, parse_profile
from alerts.matching import ProfileIndex
from alerts.matching import snapshot as snap
from alerts.matching.snapshot import Coverage, SnapshotRejected
from alerts.model import PlacementEvent
from ops.bench.profiles import matched_report, profile, unprofiled_report
from tests.support import REPO, sample_profiles

NOW = datetime(2026, 11, 28, 23, 0, tzinfo=UTC)
COVERAGE = Coverage("risk-profiles", {0: 40, 1: 35}, {0: "a" * 64, 1: "b" * 64}, NOW)
COUNT = 1200


@pytest.fixture(scope="module")
def risk() -> Risk:
    return load_config(REPO / "config").risk


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    return [profile(n, seed=3) for n in range(COUNT)] + sample_profiles()


def build(rows: list[dict[str, Any]], risk: Risk) -> ProfileIndex:
    index = ProfileIndex(risk.matching, risk.links)
    for row in rows:
        index.upsert(parse_profile(json.dumps(row)))
    # Some removed and one replaced, so free slots and their order are part of what must survive.
    for row in rows[10:400:37]:
        index.remove(row["profile_id"])
    index.upsert(parse_profile(json.dumps(rows[5] | {"aliases": ["Minh Anh"]})))
    return index


def probes(rows: list[dict[str, Any]]) -> list[PlacementEvent]:
    """Reports about profiled children (with the shared reference, by name and date alone, by given
    name alone) and about children with no profile."""
    rng = random.Random(11)
    reports = []
    for n, row in enumerate(rng.sample(rows, min(60, len(rows)))):
        report = matched_report(row, f"evt-{n}", NOW, rng)
        by_name = json.loads(json.dumps(report))
        by_name["event_id"] += "-name"
        by_name["child"].pop("identifiers")
        given_only = json.loads(json.dumps(by_name))
        given_only["event_id"] += "-given"
        given_only["child"].pop("family_name")
        given_only["child"].pop("date_of_birth")
        reports += [report, by_name, given_only]
    reports += [unprofiled_report(f"evt-u{n}", NOW, rng) for n in range(30)]
    return [parse_event(json.dumps(r), now=NOW) for r in reports]


def results(index: ProfileIndex, events: list[PlacementEvent]) -> list[dict[str, Any]]:
    return [index.match(event).model_dump(mode="json") for event in events]


def restored(data: bytes, risk: Risk, fingerprint: str = "fp") -> ProfileIndex:
    index = ProfileIndex(risk.matching, risk.links)
    snap.restore(index, snap.decode(data, fingerprint))
    return index


def test_a_loaded_snapshot_matches_every_report_exactly_as_the_index_it_was_written_from(
    rows: list[dict[str, Any]], risk: Risk
) -> None:
    index = build(rows, risk)
    copy = restored(snap.encode(index, COVERAGE, "fp"), risk)
    events = probes(rows)
    assert len(copy) == len(index) and copy._free == index._free
    found = results(index, events)
    assert any(r["decision"] == "match" for r in found) and any(r["decision"] == "no_match" for r in found)
    assert results(copy, events) == found
    # And it stays the same index under the changes the feed then applies to both.
    for target in (index, copy):
        target.remove(rows[7]["profile_id"])
        target.upsert(parse_profile(json.dumps(rows[20] | {"profile_id": "RP-NEW-0001"})))
        target.upsert(parse_profile(json.dumps(rows[12] | {"given_names": "Thi Lan"})))
    assert copy._slot_of == index._slot_of
    assert results(copy, events) == results(index, events)


def test_a_snapshot_written_by_another_process_holds_the_keys_this_one_computes(
    rows: list[dict[str, Any]], risk: Risk, tmp_path: Any
) -> None:
    """Python salts str hashes per process: keys hashed that way would find nothing after a restart."""
    target = tmp_path / "index.snapshot"
    script = (
        "import json, sys; from pathlib import Path;"
        "from alerts.config import load_config; from alerts.matching import snapshot as snap;"
        "from tests.unit.test_matching_snapshot import build, COVERAGE, COUNT;"
        "from ops.bench.profiles import profile; from tests.support import sample_profiles;"
        "risk = load_config(Path('config')).risk;"
        "rows = [profile(n, seed=3) for n in range(COUNT)] + sample_profiles();"
        f"Path({str(target)!r}).write_bytes(snap.encode(build(rows, risk), COVERAGE, 'fp'))"
    )
    seed = "1" if os.environ.get("PYTHONHASHSEED") != "1" else "2"
    subprocess.run([sys.executable, "-c", script], cwd=REPO, check=True, env=os.environ | {"PYTHONHASHSEED": seed})
    events = probes(rows)
    assert results(restored(target.read_bytes(), risk), events) == results(build(rows, risk), events)


@pytest.fixture(scope="module")
def written(rows: list[dict[str, Any]], risk: Risk) -> bytes:
    return snap.encode(build(rows[:300], risk), COVERAGE, "fp")


def test_the_header_says_what_the_snapshot_covers(written: bytes) -> None:
    loaded = snap.decode(written, "fp")
    assert loaded.coverage == COVERAGE
    assert loaded.profiles == snap.read_header(written)["profiles"] > 0


def rejected(data: bytes, fingerprint: str = "fp") -> str:
    with pytest.raises(SnapshotRejected) as caught:
        snap.decode(data, fingerprint)
    return caught.value.reason


def test_a_snapshot_of_other_matching_code_or_settings_is_refused(written: bytes) -> None:
    assert rejected(written, fingerprint="another release") == "fingerprint"


def test_a_snapshot_of_another_format_is_refused(written: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snap, "FORMAT", snap.FORMAT + 1)
    assert rejected(written) == "format"


@pytest.mark.parametrize("keep", [0, 10, len(snap.MAGIC) + 3, 5000, -1])
def test_a_torn_snapshot_is_refused(written: bytes, keep: int) -> None:
    assert rejected(written[:keep]) in ("not_a_snapshot", "checksum")


@pytest.mark.parametrize("where", [len(snap.MAGIC) + 10, 3000, -100, -1])
def test_a_snapshot_with_a_changed_byte_is_refused(written: bytes, where: int) -> None:
    data = bytearray(written)
    data[where] ^= 0x20
    assert rejected(bytes(data)) == "checksum"


def test_a_file_that_is_no_snapshot_is_refused() -> None:
    assert rejected(b'{"profile_id": "RP-1"}' * 10) == "not_a_snapshot"


def test_an_index_holding_state_the_format_does_not_know_is_not_written(rows: list[dict[str, Any]], risk: Risk) -> None:
    index = build(rows[:20], risk)
    index._extra = {}  # type: ignore[attr-defined]
    with pytest.raises(SnapshotRejected, match="unsupported"):
        snap.encode(index, COVERAGE, "fp")


def test_the_fingerprint_changes_with_any_source_or_setting() -> None:
    sources = [("matching/keys.py", b"def key(): ..."), ("identity.py", b"x = 1")]
    base = snap.fingerprint(sources, "settings")
    assert snap.fingerprint(list(reversed(sources)), "settings") == base
    assert snap.fingerprint([sources[0], ("identity.py", b"x = 2")], "settings") != base
    assert snap.fingerprint([*sources, ("matching/new.py", b"")], "settings") != base
    assert snap.fingerprint(sources, "settings, max_candidates 40") != base


# --- does it cover the topic as it is now -----------------------------------------------------------

END = {0: 50, 1: 35}
BEGINNING = {0: 0, 1: 0}


def problem(
    coverage: Coverage = COVERAGE, beginning: dict[int, int] = BEGINNING, end: dict[int, int] = END, **kw: Any
) -> str | None:
    found = snap.coverage_problem(
        coverage, snap.TopicExtent(kw.get("topic", "risk-profiles"), beginning, end), kw.get("now", NOW), 3600
    )
    return None if found is None else found.reason


def test_a_snapshot_behind_the_end_of_the_topic_is_used_and_the_rest_read() -> None:
    assert problem() is None
    assert problem(end={0: 40, 1: 35}) is None  # exactly at the end


def test_a_snapshot_ahead_of_the_topic_is_refused() -> None:
    assert problem(end={0: 39, 1: 35}) == "offsets_ahead"


def test_a_snapshot_lacking_records_the_topic_no_longer_holds_is_refused() -> None:
    assert problem(beginning={0: 41, 1: 0}) == "offsets_behind"


def test_a_snapshot_of_other_partitions_or_another_topic_is_refused() -> None:
    assert problem(end={0: 50, 1: 35, 2: 0}) == "partitions"
    assert problem(end={0: 50}) == "partitions"
    assert problem(topic="other.risk-profiles") == "topic"


def test_a_snapshot_older_than_a_deletion_is_kept_or_from_the_future_is_refused() -> None:
    assert problem(now=NOW + timedelta(seconds=3599)) is None
    assert problem(now=NOW + timedelta(seconds=3601)) == "stale"
    assert problem(now=NOW - timedelta(seconds=5)) == "stale"
