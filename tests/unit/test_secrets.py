"""The one secret loader (alerts.secrets): where each secret is read from, what a missing, short or
unreadable one says, and which secrets are required outside the demo."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.config import Providers, load_config
from alerts.errors import ConfigError
from alerts.secrets import (
    environment_secret,
    keys_present,
    load_hmac_secrets,
    load_keys,
    read_secret,
    shared_key_problems,
)
from tests.support import REPO


def _providers() -> Providers:
    return Providers.model_validate(
        {"providers": {"care-a": {"name": "A", "hmac_keys": [{"id": "a-hmac", "secret_env": "A_HMAC"}]}}}
    )


# --- one secret: channels' tokens and passwords ----------------------------------------------------


def test_a_secret_comes_from_its_variable_stripped() -> None:
    assert read_secret(setting="smtp.password", env="P", file=None, environ={"P": " pw \n"}) == "pw"


def test_a_named_secret_file_wins_and_an_empty_one_is_an_error(tmp_path: Path) -> None:
    file = tmp_path / "token"
    file.write_text("from-file\n")
    assert read_secret(setting="twilio.auth_token", env="T", file=file, environ={"T": "from-env"}) == "from-file"
    file.write_text("  \n")
    with pytest.raises(ConfigError) as caught:
        read_secret(setting="twilio.auth_token", env="T", file=file, environ={"T": "from-env"})
    assert (caught.value.key, caught.value.problem) == ("twilio.auth_token_file", "secret file is empty")


def test_a_missing_secret_says_every_place_it_may_live() -> None:
    with pytest.raises(ConfigError) as caught:
        read_secret(setting="smtp.password", env="P", file=None, environ={})
    assert caught.value.key == "P" and caught.value.problem == "smtp.password is not set"
    assert "P_FILE" in caught.value.fix and "smtp.password_file in settings.yaml" in caught.value.fix


def test_a_variable_names_a_file_or_systemd_holds_it(tmp_path: Path) -> None:
    (tmp_path / "S").write_text("from-credentials")
    (tmp_path / "mounted").write_text("from-mount")
    assert environment_secret("S", {"CREDENTIALS_DIRECTORY": str(tmp_path)}) == ("from-credentials", str(tmp_path / "S"))
    assert environment_secret("S", {"S_FILE": str(tmp_path / "mounted")}) == ("from-mount", str(tmp_path / "mounted"))
    assert environment_secret("S", {"S": "v", "S_FILE": str(tmp_path / "mounted")}) == ("v", "environment")
    assert environment_secret("S", {}) == ("", "environment")
    with pytest.raises(ConfigError) as caught:
        environment_secret("S", {"S_FILE": str(tmp_path / "absent")})
    assert caught.value.key == "S" and "cannot be read" in caught.value.problem


# --- signing keys: sessions, links, HMAC -----------------------------------------------------------


def test_keys_come_from_the_environment_first_one_signs(tmp_path: Path) -> None:
    assert load_keys("sessions.secret", "S", None, environ={"S": f"{'a' * 32}\n{'b' * 40}"}) == [b"a" * 32, b"b" * 40]


def test_a_secret_file_wins_over_the_environment(tmp_path: Path) -> None:
    file = tmp_path / "secret"
    file.write_text("f" * 32 + "\n")
    assert load_keys("sessions.secret", "S", file, environ={"S": "e" * 32}) == [b"f" * 32]


@pytest.mark.parametrize(
    ("environ", "problem"),
    [({}, "sessions.secret is not set"), ({"S": "  "}, "sessions.secret is not set"), ({"S": "short"}, "shorter than 32")],
)
def test_missing_or_weak_keys_are_config_errors(environ: dict[str, str], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_keys("sessions.secret", "S", None, environ=environ)
    assert problem in caught.value.problem and caught.value.key == "S"


def test_an_unreadable_secret_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_keys("links.secret", "L", tmp_path / "absent", environ={"L": "x" * 32})
    assert caught.value.key == "links.secret_file"


def test_keys_present_says_whether_load_keys_would_succeed() -> None:
    assert keys_present("links.secret", "L", None, environ={"L": "l" * 32})
    assert not keys_present("links.secret", "L", None, environ={"L": "short"})


def test_hmac_keys_without_a_secret_are_disabled_and_reported() -> None:
    found, problems = load_hmac_secrets(_providers(), environ={})
    assert found == {} and len(problems) == 1 and "a-hmac" in problems[0]
    found, problems = load_hmac_secrets(_providers(), environ={"A_HMAC": "s" * 32})
    assert found == {"a-hmac": [b"s" * 32]} and problems == []


def test_shared_key_problems_names_every_missing_key() -> None:
    config = load_config(REPO / "config")
    problems = [str(p) for p in shared_key_problems(config, environ={})]
    assert any("sessions.secret is not set" in p for p in problems)
    assert any("links.secret is not set" in p for p in problems)
    assert any("hmac_keys[0].secret is not set" in p for p in problems)
    env = {"CRUCIAL_SESSION_SECRET": "s" * 32, "CRUCIAL_LINK_SECRET": "l" * 32, "CRUCIAL_HMAC_LARCHWOOD": "h" * 32}
    assert shared_key_problems(config, environ=env) == []
