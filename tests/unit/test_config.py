"""Every invalid configuration gets a message naming the file, the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.config import load_config
from tests.support import REPO, Edit, config_error, edit_config


def test_the_shipped_config_is_valid() -> None:
    config = load_config(REPO / "config")
    assert config.settings.window_minutes == 60
    assert config.routing.rules


def test_kafka_bootstrap_from_the_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP", "127.0.0.1:29092")
    assert load_config(REPO / "config").settings.kafka.bootstrap == "127.0.0.1:29092"


CASES: list[tuple[str, str, Edit, str]] = [
    (
        "settings.yaml",
        "unknown key",
        lambda d: d.update(windw_minutes=30),
        "settings.yaml: windw_minutes: unknown key — remove it, or correct its spelling",
    ),
    (
        "settings.yaml",
        "out of range",
        lambda d: d.update(window_minutes=0),
        "settings.yaml: window_minutes: Input should be greater than or equal to 1 — raise the value",
    ),
    (
        "settings.yaml",
        "wrong type",
        lambda d: d["web"].update(port="http"),
        "settings.yaml: web.port: Input should be a valid integer, unable to parse string as an integer — give a whole number",
    ),
    (
        "settings.yaml",
        "fetch wait beyond faust's own",
        lambda d: d["kafka"].update(fetch_max_wait_ms=5000),
        "settings.yaml: kafka.fetch_max_wait_ms: Input should be less than or equal to 1500 — ",
    ),
    (
        "settings.yaml",
        "bad time zone",
        lambda d: d.update(timezone="Europe/Londn"),
        "settings.yaml: timezone: unknown time zone 'Europe/Londn' — use an IANA name such as Europe/London",
    ),
    (
        "settings.yaml",
        "plain secret",
        lambda d: d.update(kafka={**d["kafka"], "security": {"password": "hunter2"}}),
        "settings.yaml: kafka.security.password: a secret is written in plain config — "
        "remove it and set it in the environment (password_env) or a secret file (password_file)",
    ),
    (
        "agencies.yaml",
        "contact without a channel",
        lambda d: (
            d["agencies"]["harrow-edt"]["contacts"][0].pop("sms") and d["agencies"]["harrow-edt"]["contacts"][0].pop("email")
        ),
        "agencies.yaml: agencies.harrow-edt.contacts[0]: contact 'EDT duty social worker' has no sms or email — "
        "give an sms number, an email address, or both",
    ),
    (
        "agencies.yaml",
        "bad agency kind",
        lambda d: d["agencies"]["harrow-edt"].update(kind="fire"),
        "agencies.yaml: agencies.harrow-edt.kind: Input should be",
    ),
    (
        "routing.yaml",
        "unknown agency",
        lambda d: d["rules"][0].update(notify=["met-police-misper"]),
        "routing.yaml: rules[0].notify[0]: unknown agency 'met-police-misper' — define it in agencies.yaml or use a known id (",
    ),
    (
        "routing.yaml",
        "unknown priority",
        lambda d: d["rules"][0]["match"].update(priority=["urgent"]),
        "routing.yaml: rules[0].match.priority[0]: Input should be 'high', 'medium' or 'low' — use one of the values listed",
    ),
    (
        "routing.yaml",
        "no rules",
        lambda d: d.update(rules=[]),
        "routing.yaml: rules: List should have at least 1 item after validation, not 0 — give at least one entry",
    ),
]


@pytest.mark.parametrize(("file", "case", "change", "message"), CASES, ids=[c[1] for c in CASES])
def test_invalid_config_names_file_key_and_fix(config_dir: Path, file: str, case: str, change: Edit, message: str) -> None:
    edit_config(config_dir, file, change)
    error = config_error(config_dir)
    assert str(error).startswith(str(config_dir / message.split(": ", 1)[0]) + ": " + message.split(": ", 1)[1])


def test_missing_file(config_dir: Path) -> None:
    (config_dir / "routing.yaml").unlink()
    assert (
        str(config_error(config_dir))
        == f"{config_dir / 'routing.yaml'}: (file): file not found — create routing.yaml (`crucial init DIR` writes a complete starter config)"
    )


def test_broken_yaml_names_the_line(config_dir: Path) -> None:
    (config_dir / "agencies.yaml").write_text("agencies:\n  x: [unclosed\n")
    error = config_error(config_dir)
    assert error.key == "line 3" and error.fix == "fix the YAML syntax"


def test_check_config_command_exits_non_zero_with_the_message(config_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from streams.cli.main import main

    edit_config(config_dir, "settings.yaml", lambda d: d.update(windw_minutes=30))
    assert main(["check-config", "--config", str(config_dir)]) == 1
    assert "windw_minutes: unknown key" in capsys.readouterr().err
    assert main(["check-config", "--config", str(REPO / "config")]) == 0
