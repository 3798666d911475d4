"""Compare output with a golden file; UPDATE_GOLDEN=1 rewrites the file instead (see README.md)."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

GOLDEN = Path(__file__).resolve().parent


def check_golden(relative: str, actual: str) -> None:
    path = GOLDEN / relative
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    if not path.exists():
        raise AssertionError(f"{path} is missing: run UPDATE_GOLDEN=1 .venv/bin/pytest {relative_test_hint()} and review it")
    expected = path.read_text(encoding="utf-8")
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True), actual.splitlines(keepends=True), f"golden/{relative}", "actual"
            )
        )
        raise AssertionError(f"output differs from golden/{relative} (UPDATE_GOLDEN=1 to accept):\n{diff}")


def relative_test_hint() -> str:
    return "tests/unit/test_rendering_golden.py tests/unit/channels/test_voice.py tests/unit/cli/test_route.py"
