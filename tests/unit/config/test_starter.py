"""The starter config that `crucial init` writes (streams/starter/) kept in step with the repository's
own config/ and with the schemas: one file per schema, loading as the worker loads it."""

from __future__ import annotations

from alerts.config import FILES, load_config
from streams.cli.config import STARTER
from tests.support import REPO


def test_the_starter_and_the_shipped_config_hold_one_file_per_schema() -> None:
    assert sorted(p.name for p in STARTER.glob("*.yaml")) == sorted(FILES)
    assert sorted(p.name for p in (REPO / "config").glob("*.yaml")) == sorted(FILES)


def test_the_starter_config_loads() -> None:
    config = load_config(STARTER)
    assert config.agencies and config.routing.rules


def test_the_starter_indicator_vocabulary_is_the_shipped_one() -> None:
    # One controlled vocabulary: an installed worker grades and routes with the same words as the repository's.
    assert (STARTER / "indicators.yaml").read_text() == (REPO / "config" / "indicators.yaml").read_text()
