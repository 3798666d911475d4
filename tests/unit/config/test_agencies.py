"""agencies.yaml (alerts/config/agencies.py): each invalid case reports exactly one message naming the key and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from alerts.channels import CHANNELS
from alerts.config import load_config
from tests.support import REPO, Edit, edit_config
from tests.unit.config.cases import Case, ids, problems_after


def agency(d: dict[str, Any], agency_id: str) -> dict[str, Any]:
    return d["agencies"][agency_id]  # type: ignore[no-any-return]


CASES: list[Case] = [
    (
        "rota contact names an unknown rota",
        lambda d: agency(d, "met-nw-bcu")["contacts"][0].update(rota="met-nw-misper"),
        "agencies.yaml: agencies.met-nw-bcu.contacts[0].rota: unknown rota 'met-nw-misper' — "
        "define it in rota.yaml or use a known id (harrow-edt-managers, met-nw-mispers)",
    ),
    (
        "rota contact with its own number",
        lambda d: agency(d, "met-nw-bcu")["contacts"][0].update(sms="+447700900199"),
        "agencies.yaml: agencies.met-nw-bcu.contacts[0]: contact names rota 'met-nw-mispers' and also sms — "
        "a rota contact reaches whoever is on call: move the fixed sms to a contact of its own",
    ),
    (
        "contact without a name",
        lambda d: agency(d, "brent-edt")["contacts"][0].pop("name"),
        "agencies.yaml: agencies.brent-edt.contacts[0].name: Field required — add this key",
    ),
    (
        "impossible phone number",
        lambda d: agency(d, "brent-edt")["contacts"][0].update(sms="+44 7700"),
        "agencies.yaml: agencies.brent-edt.contacts[0].sms: not a possible phone number (wrong length?): "
        "give it in international form, e.g. +447700900123 — correct the value",
    ),
    (
        "bad email",
        lambda d: agency(d, "brent-edt")["contacts"][0].update(email="edt at brent"),
        "agencies.yaml: agencies.brent-edt.contacts[0].email: not an email address the SMTP channel can send to: "
        "An email address must have an @-sign; write it as name@domain.example — correct the value",
    ),
    (
        "contact without a channel",
        lambda d: (
            d["agencies"]["harrow-edt"]["contacts"][0].pop("sms") and d["agencies"]["harrow-edt"]["contacts"][0].pop("email")
        ),
        "agencies.yaml: agencies.harrow-edt.contacts[0]: contact 'EDT duty social worker' has no address on any channel — "
        f"give an address on at least one of the channels ({', '.join(f'{name}:' for name in CHANNELS.names)})",
    ),
    (
        "bad agency kind",
        lambda d: d["agencies"]["harrow-edt"].update(kind="fire"),
        "agencies.yaml: agencies.harrow-edt.kind: Input should be 'police', 'emergency_duty_team', 'social_care', "
        "'border_force', 'modern_slavery_referral', 'guardian' or 'other' — use one of the values listed",
    ),
]


@pytest.mark.parametrize(("case", "change", "message"), CASES, ids=ids(CASES))
def test_each_invalid_agencies_file_names_the_key_and_the_fix(config_dir: Path, case: str, change: Edit, message: str) -> None:
    assert problems_after(config_dir, "agencies.yaml", change) == [message]


def test_numbers_are_held_in_e164_however_they_are_written(config_dir: Path) -> None:
    edit_config(config_dir, "agencies.yaml", lambda d: agency(d, "brent-edt")["contacts"][0].update(sms="07700 900202"))
    edit_config(
        config_dir, "rota.yaml", lambda d: d["rotas"]["met-nw-mispers"]["people"]["nw-sgt-a"].update(sms="+44 (0)7700 900111")
    )
    config = load_config(config_dir)
    assert config.agencies["brent-edt"].contacts[0].address("sms") == "+447700900202"
    assert config.rota.rotas["met-nw-mispers"].people["nw-sgt-a"].address("sms") == "+447700900111"


def test_the_phone_error_does_not_repeat_the_number(config_dir: Path) -> None:
    assert not any(
        "7700 9" in p
        for p in problems_after(
            config_dir, "agencies.yaml", lambda d: agency(d, "brent-edt")["contacts"][0].update(sms="+44 7700 9")
        )
    )


def test_the_shipped_agencies_reach_every_kind_and_name_known_rotas() -> None:
    config = load_config(REPO / "config")
    assert {a.kind for a in config.agencies.values()} >= {
        "police",
        "emergency_duty_team",
        "border_force",
        "modern_slavery_referral",
        "guardian",
    }
    assert config.rota.rotas and all(c.rota in config.rota.rotas for a in config.agencies.values() for c in a.contacts if c.rota)
