from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support import REPO


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A copy of the shipped config/ to break in one place."""
    return Path(shutil.copytree(REPO / "config", tmp_path / "config"))
