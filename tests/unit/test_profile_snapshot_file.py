"""The snapshot file beside the worker's data: its fingerprint follows the code and the matching
settings, and it is written whole or not at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.config import Config, load_config
from alerts.matching import ProfileIndex
from alerts.matching import snapshot as snap
from alerts.matching.snapshot import Coverage, SnapshotRejected
from streams.pipeline.profile_snapshot import SnapshotFile, index_fingerprint, snapshot_path
from tests.support import REPO


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(REPO / "config")


def test_the_fingerprint_follows_the_matching_settings(config: Config) -> None:
    base = index_fingerprint(config)
    assert index_fingerprint(config) == base
    blocking = config.risk.matching.blocking.model_copy(
        update={"max_candidates": config.risk.matching.blocking.max_candidates + 1}
    )
    changed = config.model_copy(
        update={
            "risk": config.risk.model_copy(update={"matching": config.risk.matching.model_copy(update={"blocking": blocking})})
        }
    )
    assert index_fingerprint(changed) != base


def test_the_file_is_named_for_its_topic_in_the_data_directory(config: Config) -> None:
    path = snapshot_path(config)
    assert path.parent == config.path(config.settings.data_dir)
    assert config.settings.kafka.topics.profiles in path.name


def test_a_snapshot_is_written_whole_and_read_back(tmp_path: Path) -> None:
    store = SnapshotFile(tmp_path / "data" / "profile-index.t.snapshot", lambda: "fp")
    with pytest.raises(SnapshotRejected) as missing:
        store.read()
    assert missing.value.reason == "missing"
    store.write(snap.encode(ProfileIndex(), Coverage("t", {0: 0}, {}, None), "fp"))
    assert store.read().coverage.topic == "t"
    assert [p.name for p in store.path.parent.iterdir()] == [store.path.name]  # no temporary file left
    other = SnapshotFile(store.path, lambda: "another release")
    with pytest.raises(SnapshotRejected) as refused:
        other.read()
    assert refused.value.reason == "fingerprint"


def test_after_a_load_the_unmapped_indicators_are_counted_as_a_build_counts_them(
    config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    import asyncio
    import json

    from alerts.intake import parse_profile
    from streams.pipeline.metrics import PROFILE_INDICATORS_UNMAPPED
    from streams.pipeline.profiles import ProfileFeed
    from tests.support import sample_profiles
    from tests.unit.pipeline.test_stage import stage

    row = sample_profiles()[0] | {"indicators": ["debt bondage", "sleeps at friends' houses", "Quoc's flat"]}
    built = ProfileIndex(config.risk.matching, config.risk.links)
    built.upsert(parse_profile(json.dumps(row)))
    built.upsert(parse_profile(json.dumps(sample_profiles()[1])))
    guard, _ = stage()
    feed = ProfileFeed(config, ProfileIndex(config.risk.matching, config.risk.links), guard)
    snap.restore(feed.index, snap.decode(snap.encode(built, Coverage("t", {0: 2}, {}, None), "fp"), "fp"))
    before = PROFILE_INDICATORS_UNMAPPED._value.get()

    async def count_once_started() -> float:
        feed.chores_after = asyncio.Event()  # the worker's start, not in yet
        counting = asyncio.create_task(feed._count_unmapped())
        for _ in range(5):
            await asyncio.sleep(0)
        counted_before_the_start: float = PROFILE_INDICATORS_UNMAPPED._value.get() - before
        feed.chores_after.set()
        await counting
        return counted_before_the_start

    with caplog.at_level("WARNING", logger="crucial.profiles"):
        assert asyncio.run(count_once_started()) == 0  # it leaves the CPU to the start
    assert PROFILE_INDICATORS_UNMAPPED._value.get() - before == 2
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "2 indicator(s) on the 2 profiles loaded" in said and "Quoc" not in said and row["profile_id"] not in said
