"""providers.yaml (alerts/config/providers.py): validated strictly, secrets refused when written in plain
config, each credential owned by one provider; each invalid case reports exactly one message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from alerts.config import load_config
from streams.web.auth import hash_api_key
from tests.support import REPO, Edit
from tests.unit.config.cases import Case, ids, problems, problems_after

SCRYPT_HASH = "scrypt$14$8$1$kW0HkmeYOVD6jdz3P0EeZA$aM9CMKjl4-dRZXTt9-oFShjmAoeiu4aw84gev1VfXvI"


LARCHWOOD_KEY_HASH = yaml.safe_load((REPO / "config" / "providers.yaml").read_text())["providers"]["larchwood-care"]["api_keys"][
    0
]["sha256"]


def larchwood(d: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = d["providers"]["larchwood-care"]
    return result


def test_the_shipped_providers_are_valid_and_hold_no_secret() -> None:
    config = load_config(REPO / "config")
    provider = config.providers.providers["larchwood-care"]
    assert "night.worker" in provider.staff
    assert config.providers.sessions.cookie_secure
    text = (REPO / "config" / "providers.yaml").read_text()
    assert "chk_" not in text


CASES: list[Case] = [
    (
        "an HMAC key written out",
        lambda d: larchwood(d)["hmac_keys"][0].update(secret="s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t"),
        "providers.yaml: "
        "providers.larchwood-care.hmac_keys[0].secret: a secret is written in plain config — "
        "remove it and set it in the environment (secret_env) or a secret file (secret_file)",
    ),
    (
        "a raw API key",
        lambda d: larchwood(d)["api_keys"][0].update(api_key="chk_abc"),
        "providers.yaml: "
        "providers.larchwood-care.api_keys[0].api_key: a secret is written in plain config — "
        "remove it and set it in the environment (api_key_env) or a secret file (api_key_file)",
    ),
    (
        "a staff password",
        lambda d: larchwood(d)["staff"]["night.worker"].update(password="hunter2hunter2"),
        "providers.yaml: "
        "providers.larchwood-care.staff.night.worker.password: a secret is written in plain config — "
        "remove it and set it in the environment (password_env) or a secret file (password_file)",
    ),
    (
        "the session key",
        lambda d: d["sessions"].update(secret="x" * 40),
        "providers.yaml: "
        "sessions.secret: a secret is written in plain config — "
        "remove it and set it in the environment (secret_env) or a secret file (secret_file)",
    ),
    (
        "the link key",
        lambda d: d["links"].update(secret="x" * 40),
        "providers.yaml: "
        "links.secret: a secret is written in plain config — "
        "remove it and set it in the environment (secret_env) or a secret file (secret_file)",
    ),
    (
        "an API key where its hash belongs",
        lambda d: larchwood(d)["api_keys"][0].update(sha256="chk_" + "a" * 43),
        "providers.yaml: "
        "providers.larchwood-care.api_keys[0].sha256: String should match pattern '^[0-9a-f]{64}$' — correct the value's format",
    ),
    (
        "a password where its hash belongs",
        lambda d: (
            larchwood(d)["staff"]["night.worker"].pop("password_hash"),
            larchwood(d)["staff"]["night.worker"].update(password_scrypt="hunter2"),
        ),
        "providers.yaml: providers.larchwood-care.staff.night.worker.password_scrypt: String should match pattern "
        "'^scrypt\\$[0-9]{1,2}\\$[0-9]{1,2}\\$[0-9]{1,2}\\$[A-Za-z0-9_-]{16,}\\$[A-Za-z0-9_-]{32,}$' — correct the value's format",
    ),
    (
        "an authority named twice",
        lambda d: larchwood(d).update(authority_for=["Harrow", "harrow"]),
        "providers.yaml: providers.larchwood-care.authority_for[1]: 'harrow' is also given at authority_for[0] — give each once",
    ),
    (
        "an authority that cannot authenticate",
        lambda d: larchwood(d).update(authority_for=["Harrow"], api_keys=[], hmac_keys=[]),
        "providers.yaml: "
        "providers.larchwood-care.authority_for: an authority with no api_keys or hmac_keys cannot send — add a key, or remove it",
    ),
    (
        "a staff member with two password hashes",
        lambda d: larchwood(d)["staff"]["night.worker"].update(password_scrypt=SCRYPT_HASH),
        "providers.yaml: providers.larchwood-care.staff.night.worker: give exactly one of password_hash (argon2id, from "
        "hash-password) and password_scrypt — correct the value",
    ),
    (
        "placements left in providers.yaml",
        lambda d: larchwood(d).update(
            placements={"plc-harrow-07": {"name": "x", "local_authority": "Harrow", "postcode": "HA1 1AA"}}
        ),
        "providers.yaml: providers.larchwood-care: placements are no longer kept in providers.yaml (children are "
        "special-category data that change weekly): move them to a JSON Lines file like samples/placements.jsonl and run "
        "`crucial placements load FILE` — correct the value",
    ),
    (
        "one API key for two providers",
        lambda d: d["providers"]["brentside-homes"]["api_keys"][0].update(sha256=larchwood(d)["api_keys"][0]["sha256"]),
        f"providers.yaml: providers.brentside-homes.api_keys[0].sha256: API key hash '{LARCHWOOD_KEY_HASH}' is also given at "
        "providers.larchwood-care.api_keys[0].sha256 — give each API key hash once",
    ),
    (
        "one HMAC key id for two providers",
        lambda d: d["providers"]["brentside-homes"].update(hmac_keys=[{"id": "larchwood-hmac-1", "secret_env": "X_HMAC"}]),
        "providers.yaml: providers.brentside-homes.hmac_keys[0].id: HMAC key id 'larchwood-hmac-1' is also given at "
        "providers.larchwood-care.hmac_keys[0].id — give each HMAC key id once",
    ),
    (
        "one username for two providers",
        lambda d: d["providers"]["brentside-homes"]["staff"].update(
            {"night.worker": d["providers"]["brentside-homes"]["staff"]["duty.lead"]}
        ),
        "providers.yaml: providers.brentside-homes.staff.night.worker: username 'night.worker' is also given at "
        "providers.larchwood-care.staff.night.worker — give each username once",
    ),
    (
        "an HMAC env name that is not one",
        lambda d: larchwood(d)["hmac_keys"][0].update(secret_env="the key is abc"),
        "providers.yaml: providers.larchwood-care.hmac_keys[0].secret_env: String should match pattern '^[A-Z_][A-Z0-9_]*$' — "
        "correct the value's format",
    ),
    (
        "a body limit beyond a megabyte",
        lambda d: d["ingest"].update(max_body_bytes=10_000_000),
        "providers.yaml: ingest.max_body_bytes: Input should be less than or equal to 1048576 — lower the value",
    ),
]


@pytest.mark.parametrize(("case", "change", "message"), CASES, ids=ids(CASES))
def test_each_invalid_providers_file_names_the_key_and_the_fix(config_dir: Path, case: str, change: Edit, message: str) -> None:
    assert problems_after(config_dir, "providers.yaml", change) == [message]


def test_check_config_command_refuses_a_plain_secret_without_printing_it(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from streams.cli.main import main

    path = config_dir / "providers.yaml"
    data = yaml.safe_load(path.read_text())
    data["sessions"]["secret"] = "x" * 40
    path.write_text(yaml.safe_dump(data))
    assert main(["check-config", "--config", str(config_dir)]) == 1
    err = capsys.readouterr().err
    assert "sessions.secret: a secret is written in plain config" in err and "x" * 40 not in err


def test_a_missing_providers_file_is_named(config_dir: Path) -> None:
    (config_dir / "providers.yaml").unlink()
    assert problems(config_dir) == [
        "providers.yaml: (file): file not found — create providers.yaml (`crucial init DIR` writes a complete starter config)"
    ]


def test_hashes_made_by_the_helpers_are_accepted(config_dir: Path) -> None:
    path = config_dir / "providers.yaml"
    data = yaml.safe_load(path.read_text())
    larchwood(data)["api_keys"].append({"id": "second", "sha256": hash_api_key("chk_x")})
    path.write_text(yaml.safe_dump(data))
    assert len(load_config(config_dir).providers.providers["larchwood-care"].api_keys) == 2
