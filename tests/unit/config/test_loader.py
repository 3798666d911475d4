"""Loading the config directory (alerts/config/loader.py): every problem in every file is reported in
one run, each naming the file, the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.config import FILES, load_config
from alerts.errors import ConfigError
from tests.support import REPO, edit_config
from tests.unit.config.cases import problems


def test_the_shipped_config_is_valid() -> None:
    config = load_config(REPO / "config")
    assert config.settings.window_minutes == 60
    assert config.routing.rules
    assert config.risk.grading.vocabulary == config.indicators


def test_kafka_bootstrap_from_the_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP", "127.0.0.1:29092")
    assert load_config(REPO / "config").settings.kafka.bootstrap == "127.0.0.1:29092"


def test_no_such_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "nowhere")
    assert str(caught.value) == (
        f"{tmp_path / 'nowhere'}: (directory): no such config directory — "
        "give --config DIR or set CRUCIAL_CONFIG; `crucial init DIR` writes one"
    )


@pytest.mark.parametrize("name", sorted(FILES))
def test_a_missing_file_is_named(config_dir: Path, name: str) -> None:
    (config_dir / name).unlink()
    assert problems(config_dir) == [
        f"{name}: (file): file not found — create {name} (`crucial init DIR` writes a complete starter config)"
    ]


def test_broken_yaml_names_the_line(config_dir: Path) -> None:
    (config_dir / "agencies.yaml").write_text("agencies:\n  x: [unclosed\n")
    assert problems(config_dir) == [
        "agencies.yaml: line 3: not valid YAML: expected ',' or ']', but got '<stream end>' — fix the YAML syntax"
    ]


def test_a_list_at_the_top_level(config_dir: Path) -> None:
    (config_dir / "board.yaml").write_text("- staff\n")
    assert problems(config_dir) == [
        "board.yaml: (root): expected a mapping at the top level — start the file with key: value lines"
    ]


def test_every_file_broken_at_once_is_reported_file_by_file(config_dir: Path) -> None:
    for name in FILES:
        edit_config(config_dir, name, lambda d: d.update(misspelt_key=1))
    assert problems(config_dir) == [f"{name}: misspelt_key: unknown key — remove it, or correct its spelling" for name in FILES]


def test_a_plain_secret_does_not_hide_the_file_s_other_problems(config_dir: Path) -> None:
    edit_config(config_dir, "providers.yaml", lambda d: d["sessions"].update(secret="x" * 40, minutes=1))
    assert problems(config_dir) == [
        "providers.yaml: sessions.secret: a secret is written in plain config — "
        "remove it and set it in the environment (secret_env) or a secret file (secret_file)",
        "providers.yaml: sessions.minutes: Input should be greater than or equal to 5 — raise the value",
    ]


def test_a_broken_agencies_file_does_not_hide_routing_s_own_problems(config_dir: Path) -> None:
    (config_dir / "agencies.yaml").write_text("agencies: [\n")
    edit_config(config_dir, "routing.yaml", lambda d: d["police_force_areas"]["City of London Police"].append("Hackney"))
    found = problems(config_dir)
    assert len(found) == 2, found
    assert found[0].startswith("agencies.yaml: line 2: not valid YAML")
    assert found[1] == (
        "routing.yaml: police_force_areas.City of London Police[1]: 'Hackney' is already in the area of "
        "'Metropolitan Police Service' — list each local authority under one police force only"
    )


def test_a_broken_rota_file_does_not_hide_the_agencies_contact_problems(config_dir: Path) -> None:
    edit_config(config_dir, "rota.yaml", lambda d: d.update(rotass={}))
    edit_config(config_dir, "agencies.yaml", lambda d: d["agencies"]["brent-edt"]["contacts"][0].update(rota="met-nw-mispers"))
    assert problems(config_dir) == [
        "rota.yaml: rotass: unknown key — remove it, or correct its spelling",
        "agencies.yaml: agencies.brent-edt.contacts[0]: contact names rota 'met-nw-mispers' and also sms or email — "
        "a rota contact reaches whoever is on call: move the fixed sms/email to a contact of its own",
    ]


def test_every_cross_file_problem_is_listed(config_dir: Path) -> None:
    """Not one per check: every unknown agency, in every rule and chain, and every grading rule."""

    def routing(d: dict[str, object]) -> None:
        rules = d["rules"]
        assert isinstance(rules, list)
        rules[0].update(notify=["nobody-known"])
        rules[2].update(notify=["also-unknown"])

    edit_config(config_dir, "routing.yaml", routing)
    edit_config(config_dir, "escalation.yaml", lambda d: d["chains"]["high"]["steps"][0].update(notify=["gone-away"]))
    found = [p.split(" — ")[0] for p in problems(config_dir)]
    assert found == [
        "routing.yaml: rules[0].notify[0]: unknown agency 'nobody-known'",
        "routing.yaml: rules[2].notify[0]: unknown agency 'also-unknown'",
        "escalation.yaml: chains.high.steps[0].notify[0]: unknown agency 'gone-away'",
    ]
