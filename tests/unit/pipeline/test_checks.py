"""check-config passes exactly when the worker would start and every message would render: the same
validation (streams.pipeline.checks.validated_config) runs in both, and every problem is listed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import streams.cli.main as cli
from alerts.config import PACKAGE_TEMPLATES, load_config
from alerts.errors import ConfigError, ConfigErrors
from streams.pipeline.checks import validated_config
from tests.support import REPO, edit_config

TOKEN = "TWILIO_AUTH_TOKEN"
TWILIO = {"account_sid": "AC" + "0" * 32, "from_number": "+447700900001"}


@pytest.fixture
def starter(tmp_path: Path) -> Path:
    assert cli.main(["init", str(tmp_path / "config")]) == 0
    return tmp_path / "config"


@pytest.fixture
def own_templates(starter: Path) -> Path:
    shutil.copytree(PACKAGE_TEMPLATES, starter / "templates")
    edit_config(starter, "settings.yaml", lambda d: d.update(templates_dir="templates"))
    return starter / "templates"


def _problems(directory: Path) -> list[str]:
    with pytest.raises(ConfigErrors) as caught:
        validated_config(directory)
    return [str(e) for e in caught.value.errors]


def test_templates_dir_is_relative_to_the_config_dir_and_optional(starter: Path, own_templates: Path) -> None:
    assert validated_config(starter).config.templates() == own_templates
    edit_config(starter, "settings.yaml", lambda d: d.pop("templates_dir"))
    assert validated_config(starter).config.templates() == PACKAGE_TEMPLATES


def test_a_broken_sms_template_fails_with_its_file_and_line(starter: Path, own_templates: Path) -> None:
    path = own_templates / "sms" / "escalation.txt.j2"
    path.write_text(path.read_text() + "\n{% if ref %}never closed\n")
    (problem,) = _problems(starter)
    assert problem.startswith(f"{path}: line ") and "TemplateSyntaxError" in problem


def test_a_template_naming_an_unknown_value_fails(starter: Path, own_templates: Path) -> None:
    path = own_templates / "email" / "stand_down.html.j2"
    path.write_text(path.read_text().replace("{{ ref }}", "{{ incident.no_such_field }}", 1))
    (problem,) = _problems(starter)
    assert "email/stand_down" in problem and "no_such_field" in problem


def test_a_missing_template_fails(starter: Path, own_templates: Path) -> None:
    (own_templates / "sms" / "update.txt.j2").unlink()
    problems = _problems(starter)
    assert any("update.txt.j2" in p and "TemplateNotFound" in p for p in problems)


def test_an_sms_that_cannot_fit_fails(starter: Path) -> None:
    edit_config(starter, "settings.yaml", lambda d: d["sms"].update(max_segments=1))
    # The shipped templates fit one segment even for the longest synthetic report (they mark parts optional).
    validated_config(starter)


def test_twilio_without_its_token_or_the_link_secret(starter: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN, raising=False)
    monkeypatch.delenv("CRUCIAL_LINK_SECRET", raising=False)
    monkeypatch.delenv("CRUCIAL_SESSION_SECRET", raising=False)
    edit_config(starter, "settings.yaml", lambda d: d.update(twilio=TWILIO))
    problems = _problems(starter)
    assert len(problems) == 3
    assert problems[0].startswith("environment: TWILIO_AUTH_TOKEN: twilio.auth_token is not set")
    # Outside the demo the keys every worker must share are required too (streams.pipeline.checks.required_key_problems).
    assert "CRUCIAL_SESSION_SECRET" in problems[1] and "sessions.secret is not set" in problems[1]
    assert "CRUCIAL_LINK_SECRET" in problems[2] and "links.secret is not set" in problems[2]
    monkeypatch.setenv(TOKEN, "t" * 32)
    monkeypatch.setenv("CRUCIAL_LINK_SECRET", "k" * 43)
    monkeypatch.setenv("CRUCIAL_SESSION_SECRET", "s" * 43)
    validated_config(starter)


def test_smtp_with_a_username_needs_the_password(starter: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SMTP_PASSWORD", raising=False)
    monkeypatch.setenv("CRUCIAL_LINK_SECRET", "k" * 43)
    monkeypatch.setenv("CRUCIAL_SESSION_SECRET", "s" * 43)
    smtp = {"host": "smtp.example", "username": "alerts", "sender": "alerts@crucial.example"}
    edit_config(starter, "settings.yaml", lambda d: d.update(smtp=smtp))
    (problem,) = _problems(starter)
    assert problem.startswith("environment: SMTP_PASSWORD: smtp.password is not set")


@pytest.mark.parametrize("address", ["a..b@x.example", ".a@x.example", "a@x..example", "a@localhost", "a@b.test"])
def test_an_address_the_smtp_channel_refuses_fails_check_config(starter: Path, address: str) -> None:
    from alerts.channels.base import DeliveryError
    from alerts.channels.smtp_email import check_address

    with pytest.raises(DeliveryError):
        check_address(address)
    edit_config(starter, "agencies.yaml", lambda d: d["agencies"]["duty-team"]["contacts"][0].update(email=address))
    (problem,) = _problems(starter)
    assert problem.split(": ")[1] == "agencies.duty-team.contacts[0].email"


def test_every_problem_is_listed_not_the_first(starter: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit_config(starter, "settings.yaml", lambda d: d.update(window_minutes=0, timezon="UTC"))
    edit_config(starter, "agencies.yaml", lambda d: d["agencies"]["duty-team"]["contacts"][0].update(email="a..b@x.example"))
    edit_config(starter, "rota.yaml", lambda d: d.update(rotass={}))
    edit_config(starter, "risk.yaml", lambda d: d["grading"]["levels"].update(high="many"))
    assert cli.main(["check-config", "--config", str(starter)]) == 1
    err = capsys.readouterr().err
    for expected in ("window_minutes", "timezon: unknown key", "contacts[0].email", "rotass: unknown key", "levels.high"):
        assert expected in err, expected
    assert "5 problems found" in err and "Traceback" not in err


def test_every_cross_file_problem_is_listed(starter: Path) -> None:
    """Not one per check: every unknown agency, in every rule and chain, and every grading rule."""

    def routing(d: dict[str, object]) -> None:
        rules = d["rules"]
        assert isinstance(rules, list)
        rules[0].update(notify=["nobody-known"])
        rules[2].update(notify=["police-mispers", "also-unknown"])

    def risk(d: dict[str, object]) -> None:
        rules = d["grading"]["rules"]  # type: ignore[index]
        rules[0].update(reason="{no_such_field}")
        rules[1].update(points=0, at_least=None)

    edit_config(starter, "routing.yaml", routing)
    edit_config(starter, "escalation.yaml", lambda d: d["chains"]["high"]["steps"][1].update(after_minutes=1))
    edit_config(starter, "risk.yaml", risk)
    problems = _problems(starter)
    assert len(problems) == 5, problems
    assert "routing.yaml: rules[0].notify[0]: unknown agency 'nobody-known'" in problems[0]
    assert "routing.yaml: rules[2].notify[1]: unknown agency 'also-unknown'" in problems[1]
    assert "escalation.yaml: chains.high.steps[1].after_minutes" in problems[2]
    assert "risk.yaml: grading.rules[0].reason: unknown placeholder {no_such_field}" in problems[3]
    assert "risk.yaml: grading.rules[1]: rule" in problems[4] and "changes nothing" in problems[4]


def test_the_worker_refuses_what_check_config_refuses(
    starter: Path, own_templates: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = own_templates / "sms" / "alert.txt.j2"
    path.write_text("{{ ref ")
    assert cli.main(["check-config", "--config", str(starter)]) == 1
    checked = capsys.readouterr().err
    # Offline: the worker stops at the same check, before it reaches Kafka.
    assert cli.main(["worker", "--config", str(starter)]) == 1
    assert capsys.readouterr().err == checked


def test_secrets_from_a_file_variable_or_systemd_credentials(
    starter: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alerts.secrets import environment_secret

    monkeypatch.delenv(TOKEN, raising=False)
    monkeypatch.delenv("CRUCIAL_LINK_SECRET", raising=False)
    edit_config(starter, "settings.yaml", lambda d: d.update(twilio=TWILIO))
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / TOKEN).write_text("t" * 32 + "\n")
    (tmp_path / "link").write_text("k" * 43)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))  # systemd LoadCredential=TWILIO_AUTH_TOKEN:...
    monkeypatch.setenv("CRUCIAL_LINK_SECRET_FILE", str(tmp_path / "link"))  # a container's mounted secret
    monkeypatch.setenv("CRUCIAL_SESSION_SECRET", "s" * 43)
    validated_config(starter)
    assert environment_secret(TOKEN) == ("t" * 32 + "\n", str(credentials / TOKEN))
    monkeypatch.setenv("CRUCIAL_LINK_SECRET_FILE", str(tmp_path / "missing"))
    (problem,) = _problems(starter)
    assert problem.startswith(f"{tmp_path / 'missing'}: CRUCIAL_LINK_SECRET: secret file cannot be read")


def test_check_config_command_exits_non_zero_with_the_message(starter: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check-config", "--config", str(starter)]) == 0
    edit_config(starter, "settings.yaml", lambda d: d.update(windw_minutes=30))
    assert cli.main(["check-config", "--config", str(starter)]) == 1
    assert "windw_minutes: unknown key" in capsys.readouterr().err


def test_outside_the_demo_every_shared_key_is_required() -> None:
    from alerts.config import SmtpSettings
    from streams.pipeline.checks import check_required_keys, outbox_only, required_key_problems

    config = load_config(REPO / "config")
    assert outbox_only(config) and required_key_problems(config, environ={}) == []  # the demo picks its own keys
    with_smtp = config.settings.model_copy(update={"smtp": SmtpSettings(host="smtp.example", sender="a@b.example")})
    live = config.model_copy(update={"settings": with_smtp})
    problems = [str(p) for p in required_key_problems(live, environ={})]
    assert any("sessions.secret is not set" in p for p in problems)
    assert any("links.secret is not set" in p for p in problems)
    assert any("hmac_keys[0].secret is not set" in p for p in problems)
    with pytest.raises(ConfigError):
        check_required_keys(live, environ={})
    env = {"CRUCIAL_SESSION_SECRET": "s" * 32, "CRUCIAL_LINK_SECRET": "l" * 32, "CRUCIAL_HMAC_LARCHWOOD": "h" * 32}
    assert required_key_problems(live, environ=env) == []
