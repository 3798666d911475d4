"""The starter config that `crucial init` writes (streams/starter/) beside the repository's own config/."""

from __future__ import annotations

from streams.cli.config import STARTER
from tests.support import REPO


def test_the_starter_indicator_vocabulary_is_the_shipped_one() -> None:
    # One controlled vocabulary: an installed worker grades and routes with the same words as the repository's.
    assert (STARTER / "indicators.yaml").read_text() == (REPO / "config" / "indicators.yaml").read_text()
