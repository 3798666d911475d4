"""Channels from config: the outbox by default, Twilio and SMTP when configured, secrets only from the
environment or secret files, and every invalid case with its own message."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest

from alerts.channels import CHANNELS, build_senders
from alerts.channels.outbox import OutboxSender
from alerts.channels.smtp_email import SmtpEmailSender
from alerts.channels.twilio_sms import TwilioSmsSender
from alerts.channels.twilio_status import status_callbacks_from_config
from alerts.config import Config, load_config
from alerts.errors import ConfigError
from tests.peers.notifications import TwilioCredentials
from tests.support import write_config

CREDS = TwilioCredentials.fresh()
TWILIO: dict[str, Any] = {
    "account_sid": CREDS.account_sid,
    "from_number": "+447700900001",
    "status_callback_url": "https://crucial.example/twilio/status",
    "auth_token_env": "CRUCIAL_TEST_TWILIO_TOKEN",
}
SMTP: dict[str, Any] = {
    "host": "smtp.crucial.example",
    "sender": "alerts@crucial.example",
    "username": "crucial",
    "password_env": "CRUCIAL_TEST_SMTP_PASSWORD",
    "local_hostname": "worker.crucial.example",
}


def config(tmp_path: Path, **settings: Any) -> Config:
    return load_config(write_config(Path(tempfile.mkdtemp(dir=tmp_path)) / "config", **settings))


def error(tmp_path: Path, **settings: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        senders = build_senders(config(tmp_path, **settings))
        for sender in senders.values():
            assert sender is not None
    return str(caught.value)


def test_the_registry_has_one_line_per_channel() -> None:
    assert set(CHANNELS.names) == {"sms", "email", "webhook", "voice"}


def test_the_outbox_serves_when_nothing_is_configured(tmp_path: Path) -> None:
    senders = build_senders(config(tmp_path))
    assert all(isinstance(s, OutboxSender) for s in senders.values())
    assert senders["sms"].name == "outbox:sms" and senders["email"].name == "outbox:email"


def test_twilio_and_smtp_when_configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRUCIAL_TEST_TWILIO_TOKEN", CREDS.auth_token)
    monkeypatch.setenv("CRUCIAL_TEST_SMTP_PASSWORD", "pw-from-env")
    retry = {"max_attempts": 3, "base_delay_s": 0.25, "max_delay_s": 4, "budget_s": 20}
    senders = build_senders(
        config(
            tmp_path, twilio={**TWILIO, "timeout_s": 2.5, "retry": retry}, smtp={**SMTP, "allowed_domains": ["Police.Example"]}
        )
    )
    sms, mail = senders["sms"], senders["email"]
    assert isinstance(sms, TwilioSmsSender) and isinstance(mail, SmtpEmailSender)
    assert (sms.account_sid, sms.from_number, sms.timeout_s) == (CREDS.account_sid, "+447700900001", 2.5)
    assert (sms.retry_policy.max_attempts, sms.retry_policy.budget_s) == (3, 20.0)
    assert (mail.host, mail.port, mail.tls, mail.allowed_domains) == ("smtp.crucial.example", 587, "starttls", ["police.example"])
    assert mail.retry_policy.budget_s == 300.0  # SMTP's own default budget


def test_secrets_from_files_win_over_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "twilio").write_text(CREDS.auth_token + "\n")
    (secrets / "smtp").write_text("pw-from-file\n")
    monkeypatch.setenv("CRUCIAL_TEST_SMTP_PASSWORD", "pw-from-env")
    cfg = config(
        tmp_path,
        twilio={**TWILIO, "auth_token_file": str(secrets / "twilio")},
        smtp={**SMTP, "password_file": str(secrets / "smtp")},
    )
    mail = build_senders(cfg)["email"]
    assert isinstance(mail, SmtpEmailSender) and mail._password == "pw-from-file"
    callbacks = status_callbacks_from_config(cfg)
    assert callbacks is not None and callbacks.public_url == TWILIO["status_callback_url"]


def test_no_status_callbacks_without_a_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRUCIAL_TEST_TWILIO_TOKEN", CREDS.auth_token)
    assert status_callbacks_from_config(config(tmp_path)) is None
    assert status_callbacks_from_config(config(tmp_path, twilio={**TWILIO, "status_callback_url": None})) is None


def test_a_missing_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRUCIAL_TEST_TWILIO_TOKEN", raising=False)
    assert error(tmp_path, twilio=TWILIO) == (
        "environment: CRUCIAL_TEST_TWILIO_TOKEN: twilio.auth_token is not set — "
        "export CRUCIAL_TEST_TWILIO_TOKEN (or CRUCIAL_TEST_TWILIO_TOKEN_FILE, or a systemd credential CRUCIAL_TEST_TWILIO_TOKEN), "
        "or set twilio.auth_token_file in settings.yaml"
    )


def test_a_missing_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRUCIAL_TEST_SMTP_PASSWORD", raising=False)
    assert error(tmp_path, smtp=SMTP) == (
        "environment: CRUCIAL_TEST_SMTP_PASSWORD: smtp.password is not set — "
        "export CRUCIAL_TEST_SMTP_PASSWORD (or CRUCIAL_TEST_SMTP_PASSWORD_FILE, or a systemd credential CRUCIAL_TEST_SMTP_PASSWORD), "
        "or set smtp.password_file in settings.yaml"
    )


def test_no_password_needed_without_a_username(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRUCIAL_TEST_SMTP_PASSWORD", raising=False)
    assert isinstance(build_senders(config(tmp_path, smtp={**SMTP, "username": None}))["email"], SmtpEmailSender)


def test_an_unreadable_secret_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "token"
    assert error(tmp_path, twilio={**TWILIO, "auth_token_file": str(missing)}) == (
        f"{missing}: twilio.auth_token_file: secret file cannot be read (No such file or directory) — create it or fix the path"
    )


def test_an_empty_secret_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    assert error(tmp_path, smtp={**SMTP, "password_file": str(empty)}) == (
        f"{empty}: smtp.password_file: secret file is empty — write the secret into it"
    )


SETTINGS_CASES: list[tuple[str, dict[str, Any], str]] = [
    (
        "two sender identities",
        {"twilio": {**TWILIO, "messaging_service_sid": "MG" + "0" * 32}},
        "twilio: give exactly one sender — set from_number or messaging_service_sid, not both",
    ),
    (
        "a status callback that is not a URL",
        {"twilio": {**TWILIO, "status_callback_url": "crucial.example/status"}},
        "twilio.status_callback_url: 'crucial.example/status' is not an http(s) URL — give a URL such as https://host/path",
    ),
    (
        "base_url with a region",
        {"twilio": {**TWILIO, "base_url": "http://127.0.0.1:9", "region": "ie1", "edge": "dublin"}},
        "twilio.base_url: base_url cannot be combined with region or edge — remove one of them",
    ),
    (
        "retry pauses upside down",
        {"twilio": {**TWILIO, "retry": {"base_delay_s": 10, "max_delay_s": 2}}},
        "twilio.retry.max_delay_s: is less than base_delay_s — raise max_delay_s",
    ),
    (
        "AUTH in the clear",
        {"smtp": {**SMTP, "tls": "none"}},
        "smtp.tls: AUTH would send the password unencrypted — use tls: starttls or implicit, or drop username",
    ),
    (
        "a plain token",
        {"twilio": {**TWILIO, "auth_token": "0123"}},
        "twilio.auth_token: a secret is written in plain config — "
        "remove it and set it in the environment (auth_token_env) or a secret file (auth_token_file)",
    ),
    (
        "a plain password",
        {"smtp": {**SMTP, "password": "hunter2"}},
        "smtp.password: a secret is written in plain config — "
        "remove it and set it in the environment (password_env) or a secret file (password_file)",
    ),
    (
        "an allowed domain that is not a domain",
        {"smtp": {**SMTP, "allowed_domains": ["*.police.example"]}},
        "smtp.allowed_domains[0]: String should match pattern",
    ),
    (
        "an unknown TLS mode",
        {"smtp": {**SMTP, "tls": "ssl"}},
        "smtp.tls: Input should be 'starttls', 'implicit' or 'none' — use one of the values listed",
    ),
    (
        "a malformed account SID",
        {"twilio": {**TWILIO, "account_sid": "AC123"}},
        "twilio.account_sid: String should match pattern '^AC[0-9a-fA-F]{32}$' — correct the value's format",
    ),
    (
        "a timeout of zero",
        {"twilio": {**TWILIO, "timeout_s": 0}},
        "twilio.timeout_s: Input should be greater than 0 — correct the value",
    ),
]


@pytest.mark.parametrize(("settings", "message"), [c[1:] for c in SETTINGS_CASES], ids=[c[0] for c in SETTINGS_CASES])
def test_invalid_channel_settings(tmp_path: Path, settings: dict[str, Any], message: str) -> None:
    directory = write_config(tmp_path / "config", **settings)
    with pytest.raises(ConfigError) as caught:
        load_config(directory)
    assert str(caught.value).startswith(f"{directory / 'settings.yaml'}: {message}")
