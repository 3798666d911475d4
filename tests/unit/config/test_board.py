"""board.yaml (alerts/config/board.py): duty staff hold one password hash each."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import Edit
from tests.unit.config.cases import Case, ids, problems_after

CASES: list[Case] = [
    (
        "a plain password",
        lambda d: d["staff"]["duty.manager"].update(password="hunter2hunter2"),
        "board.yaml: staff.duty.manager.password: a secret is written in plain config — "
        "remove it and set it in the environment (password_env) or a secret file (password_file)",
    ),
    (
        "no password hash",
        lambda d: d["staff"]["duty.manager"].pop("password_hash"),
        "board.yaml: staff.duty.manager: give exactly one of password_hash (argon2id, from hash-password) and "
        "password_scrypt — correct the value",
    ),
    (
        "a refresh too slow",
        lambda d: d.update(refresh_seconds=600),
        "board.yaml: refresh_seconds: Input should be less than or equal to 300 — lower the value",
    ),
]


@pytest.mark.parametrize(("case", "change", "message"), CASES, ids=ids(CASES))
def test_each_invalid_board_file_names_the_key_and_the_fix(config_dir: Path, case: str, change: Edit, message: str) -> None:
    assert problems_after(config_dir, "board.yaml", change) == [message]
