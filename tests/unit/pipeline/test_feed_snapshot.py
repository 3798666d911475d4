"""The feed snapshot's bytes (streams/pipeline/feed_snapshot.py): what is written reads back; a file
that is torn, of another feed, format or code is refused with the reason, never half-read."""

from __future__ import annotations

import gc
import types
from datetime import UTC, datetime
from pathlib import Path

import pytest

from alerts.matching.snapshot import Coverage, SnapshotRejected
from streams.pipeline import feed_snapshot
from streams.pipeline.feed_snapshot import code_fingerprint, collections_paused, decode, encode
from streams.pipeline.profile_snapshot import SnapshotFile

AT = datetime(2026, 12, 2, 3, 4, tzinfo=UTC)
COVERAGES = [
    Coverage("t.incidents", {0: 12, 1: 0}, {0: "a" * 64}, AT),
    Coverage("t.deliveries", {0: 3, 1: 9}, {0: "b" * 64, 1: "c" * 64}, AT),
]
STATE = {"incidents": [{"incident": '{"incident_id": "inc-1"}'}], "forgotten": ["inc-0"]}


def test_what_is_written_reads_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(feed_snapshot, "ENCODED_AT_ONCE", 3)  # long lists are encoded a slice at a time
    state = STATE | {
        "long": [[n, {"k": str(n)}] for n in range(10)],
        "exact": list(range(3)),
        "empty": [],
        "nested": {"a": list(range(7))},
    }
    coverages, read = decode(encode("incident directory", COVERAGES, state, "fp", AT), "incident directory", "fp")
    assert read == state
    coverages, state = decode(encode("incident directory", COVERAGES, STATE, "fp", AT), "incident directory", "fp")
    assert sorted(coverages, key=lambda c: c.topic) == sorted(COVERAGES, key=lambda c: c.topic) and state == STATE


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda data: data[:-100], "checksum"),
        (lambda data: data[:10] + b"X" + data[11:], "not_a_snapshot"),
        (lambda data: b"CRUCIAL-PROFILE-INDEX\n" + data[len(feed_snapshot.MAGIC) :], "not_a_snapshot"),
    ],
    ids=["torn", "another magic", "a profile index snapshot"],
)
def test_a_damaged_file_is_refused(damage: object, reason: str) -> None:
    data = damage(encode("incident directory", COVERAGES, STATE, "fp", AT))  # type: ignore[operator]
    with pytest.raises(SnapshotRejected) as refused:
        decode(data, "incident directory", "fp")
    assert refused.value.reason == reason


def test_another_feed_format_or_code_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    data = encode("incident directory", COVERAGES, STATE, "fp", AT)
    for feed, fingerprint, reason in [("registers", "fp", "feed"), ("incident directory", "other code", "fingerprint")]:
        with pytest.raises(SnapshotRejected) as refused:
            decode(data, feed, fingerprint)
        assert refused.value.reason == reason
    monkeypatch.setattr(feed_snapshot, "FORMAT", 2)
    with pytest.raises(SnapshotRejected) as refused:
        decode(data, "incident directory", "fp")
    assert refused.value.reason == "format"


def test_the_fingerprint_follows_the_code_and_the_libraries(tmp_path: Path) -> None:
    import alerts.model as model

    now = code_fingerprint([model])
    assert code_fingerprint([model]) == now
    assert code_fingerprint([model], libraries=("pydantic",)) != now
    other = tmp_path / "other_model.py"
    other.write_text(Path(str(model.__file__)).read_text() + "\n# changed\n")
    changed = types.ModuleType("alerts.model")
    changed.__file__ = str(other)
    assert code_fingerprint([changed]) != now


def test_a_missing_file_is_refused_as_missing(tmp_path: Path) -> None:
    with pytest.raises(SnapshotRejected) as refused:
        SnapshotFile(tmp_path / "none.snapshot", lambda: "fp").read_bytes()
    assert refused.value.reason == "missing"


class _Unreadable:
    """A state that cannot be taken (as if something changed it while it was encoded)."""

    def state(self) -> dict[str, object]:
        raise RuntimeError("dictionary changed size during iteration")

    def restore(self, state: dict[str, object]) -> None:
        raise AssertionError("not called")


def test_a_snapshot_that_cannot_be_written_is_counted_and_the_feed_goes_on(tmp_path: Path) -> None:
    from alerts.config import load_config
    from streams.pipeline.feed_snapshot import KeptOnDisk, SnapshottedFollower
    from streams.pipeline.metrics import FEED_SNAPSHOTS
    from tests.support import write_config
    from tests.unit.pipeline.test_stage import stage

    config = load_config(write_config(tmp_path / "config"))
    guard, _ = stage()
    kept = KeptOnDisk("unwritable feed", _Unreadable(), SnapshotFile(tmp_path / "feed.snapshot", lambda: "fp"))
    feed = SnapshottedFollower(config, ["t"], lambda record: None, guard, kept)
    feed._changed = True
    feed._save_now()  # raises nothing: the follower's loop would go on
    assert FEED_SNAPSHOTS.labels("unwritable feed", "write_failed", "RuntimeError")._value.get() == 1
    assert feed._changed and not (tmp_path / "feed.snapshot").exists()  # the next attempt writes it


def test_the_collector_stays_paused_until_every_overlapping_read_has_ended() -> None:
    # Two feeds load at once: the profile index's read ends first, the directory's is still decoding.
    assert gc.isenabled()
    first, second = collections_paused(), collections_paused()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert not gc.isenabled()  # the directory's read is still running
    second.__exit__(None, None, None)
    assert gc.isenabled()


def test_a_pause_leaves_a_collector_that_was_off_off() -> None:
    gc.disable()
    try:
        with collections_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
