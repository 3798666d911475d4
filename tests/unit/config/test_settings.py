"""settings.yaml (alerts/config/settings.py): each invalid case reports exactly one message naming the
key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import Edit
from tests.unit.config.cases import Case, ids, problems_after

CASES: list[Case] = [
    (
        "unknown key",
        lambda d: d.update(windw_minutes=30),
        "settings.yaml: windw_minutes: unknown key — remove it, or correct its spelling",
    ),
    (
        "out of range",
        lambda d: d.update(window_minutes=0),
        "settings.yaml: window_minutes: Input should be greater than or equal to 1 — raise the value",
    ),
    (
        "wrong type",
        lambda d: d["web"].update(port="http"),
        "settings.yaml: web.port: Input should be a valid integer, unable to parse string as an integer — give a whole number",
    ),
    (
        "fetch wait beyond faust's own",
        lambda d: d["kafka"].update(fetch_max_wait_ms=5000),
        "settings.yaml: kafka.fetch_max_wait_ms: Input should be less than or equal to 1500 — lower the value",
    ),
    (
        "bad time zone",
        lambda d: d.update(timezone="Europe/Londn"),
        "settings.yaml: timezone: unknown time zone 'Europe/Londn' — use an IANA name such as Europe/London",
    ),
    (
        "more in-sync replicas than replicas",
        lambda d: d["kafka"].update(replication_factor=1, min_insync_replicas=2),
        "settings.yaml: kafka.min_insync_replicas: exceeds kafka.replication_factor: no write could succeed — lower it",
    ),
    (
        "plain secret",
        lambda d: d.update(kafka={**d["kafka"], "security": {"password": "hunter2"}}),
        "settings.yaml: kafka.security.password: a secret is written in plain config — "
        "remove it and set it in the environment (password_env) or a secret file (password_file)",
    ),
]


@pytest.mark.parametrize(("case", "change", "message"), CASES, ids=ids(CASES))
def test_each_invalid_settings_file_names_the_key_and_the_fix(config_dir: Path, case: str, change: Edit, message: str) -> None:
    assert problems_after(config_dir, "settings.yaml", change) == [message]
