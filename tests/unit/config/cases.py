"""What a config test breaks and what it expects: one edit of a copy of the shipped config/, and every
problem loading it then reports, each as `file: key: problem — fix` with the file relative to the copy."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.config import load_config
from alerts.errors import ConfigError, ConfigErrors
from tests.support import Edit, edit_config

# (case, edit of the file, the one message expected)
Case = tuple[str, Edit, str]


def problems(directory: Path) -> list[str]:
    """Every problem loading `directory` reports (fails the test when it loads)."""
    with pytest.raises(ConfigError) as caught:
        load_config(directory)
    prefix = f"{directory}/"
    return [str(e).removeprefix(prefix) for e in ConfigErrors.flatten([caught.value])]


def problems_after(directory: Path, file: str, change: Edit) -> list[str]:
    edit_config(directory, file, change)
    return problems(directory)


def ids(cases: list[Case]) -> list[str]:
    return [case for case, _, _ in cases]
