"""agencies.yaml, routing.yaml and rota.yaml: every invalid case names the file, the key and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from alerts.channels import CHANNELS
from alerts.config import load_config
from tests.support import REPO, Edit, config_error, edit_config


def agency(d: dict[str, Any], agency_id: str) -> dict[str, Any]:
    return d["agencies"][agency_id]  # type: ignore[no-any-return]


def nw_rota(d: dict[str, Any]) -> dict[str, Any]:
    return d["rotas"]["met-nw-mispers"]  # type: ignore[no-any-return]


CASES: list[tuple[str, str, Edit, str]] = [
    # --- agencies.yaml
    (
        "agencies.yaml",
        "rota contact names an unknown rota",
        lambda d: agency(d, "met-nw-bcu")["contacts"][0].update(rota="met-nw-misper"),
        "agencies.yaml: agencies.met-nw-bcu.contacts[0].rota: unknown rota 'met-nw-misper' — "
        "define it in rota.yaml or use a known id (harrow-edt-managers, met-nw-mispers)",
    ),
    (
        "agencies.yaml",
        "rota contact with its own number",
        lambda d: agency(d, "met-nw-bcu")["contacts"][0].update(sms="+447700900199"),
        "agencies.yaml: agencies.met-nw-bcu.contacts[0]: contact names rota 'met-nw-mispers' and also sms — "
        "a rota contact reaches whoever is on call: move the fixed sms to a contact of its own",
    ),
    (
        "agencies.yaml",
        "contact without a name",
        lambda d: agency(d, "brent-edt")["contacts"][0].pop("name"),
        "agencies.yaml: agencies.brent-edt.contacts[0].name: Field required — add this key",
    ),
    (
        "agencies.yaml",
        "impossible phone number",
        lambda d: agency(d, "brent-edt")["contacts"][0].update(sms="+44 7700"),
        "agencies.yaml: agencies.brent-edt.contacts[0].sms: not a possible phone number (wrong length?): "
        "give it in international form, e.g. +447700900123 — correct the value",
    ),
    (
        "agencies.yaml",
        "bad email",
        lambda d: agency(d, "brent-edt")["contacts"][0].update(email="edt at brent"),
        "agencies.yaml: agencies.brent-edt.contacts[0].email: not an email address the SMTP channel can send to",
    ),
    # --- routing.yaml
    (
        "routing.yaml",
        "possible match to the police",
        lambda d: d["rules"][11]["match"].update(decision=["match", "possible_match"]),
        "routing.yaml: rules[11].notify[0]: rule 'Met North West BCU' would tell 'met-nw-bcu' (police) of a possible match — "
        "possible matches go to emergency duty teams and the social worker, for a person to confirm, and to "
        "the police only with match.priority: [high] or match.linked_by_circumstance: true: "
        "narrow the rule, or move the agency to a rule without possible_match in match.decision",
    ),
    (
        "routing.yaml",
        "no_match is not routed",
        lambda d: d["rules"][0]["match"].update(decision=["no_match"]),
        "routing.yaml: rules[0].match.decision[0]: Input should be 'match' or 'possible_match' — use one of the values listed",
    ),
    (
        "routing.yaml",
        "empty condition",
        lambda d: d["rules"][0]["match"].update(local_authority=[]),
        "routing.yaml: rules[0].match.local_authority: List should have at least 1 item after validation, not 0 — "
        "give at least one entry",
    ),
    (
        "routing.yaml",
        "unknown place near",
        lambda d: d["rules"][21]["match"].update(near=["harbour"]),
        "routing.yaml: rules[21].match.near[0]: Input should be 'port', 'airport', 'coach_station' or 'railway_station' — "
        "use one of the values listed",
    ),
    (
        "routing.yaml",
        "misspelt condition",
        lambda d: d["rules"][0]["match"].update(local_authorty=["Harrow"]),
        "routing.yaml: rules[0].match.local_authorty: unknown key — remove it, or correct its spelling",
    ),
    (
        "routing.yaml",
        "local authority in two force areas",
        lambda d: d["police_force_areas"]["City of London Police"].append("Hackney"),
        "routing.yaml: police_force_areas.City of London Police[1]: 'Hackney' is already in the area of "
        "'Metropolitan Police Service' — list each local authority under one police force only",
    ),
    # --- rota.yaml
    (
        "rota.yaml",
        "unquoted time read as a number",
        lambda d: nw_rota(d)["layers"][1]["hours"].update(start=1200),
        "rota.yaml: rotas.met-nw-mispers.layers[1].hours.start: Input should be a valid string — "
        "give text (quote it if YAML reads it as a number or date)",
    ),
    (
        "rota.yaml",
        "time out of range",
        lambda d: nw_rota(d)["layers"][0]["hours"].update(end="24:00"),
        "rota.yaml: rotas.met-nw-mispers.layers[0].hours.end: String should match pattern",
    ),
    (
        "rota.yaml",
        "a date that does not exist",
        lambda d: nw_rota(d)["layers"][0].update(rotation_start="2026-02-30 08:00"),
        "rota.yaml: rotas.met-nw-mispers.layers[0].rotation_start: '2026-02-30 08:00' is not a real date and time — "
        "correct the value",
    ),
    (
        "rota.yaml",
        "unknown person in a layer",
        lambda d: nw_rota(d)["layers"][0]["people"].append("nw-sgt-z"),
        "rota.yaml: rotas.met-nw-mispers.layers[0].people[2]: unknown person 'nw-sgt-z' — "
        "add them under rotas.met-nw-mispers.people or use a known id (nw-sgt-a, nw-sgt-b, nw-sgt-c, nw-sgt-d, nw-insp-e)",
    ),
    (
        "rota.yaml",
        "unknown person in an override",
        lambda d: nw_rota(d)["overrides"][0].update(person="nw-insp-x"),
        "rota.yaml: rotas.met-nw-mispers.overrides[0].person: unknown person 'nw-insp-x' — "
        "add them under rotas.met-nw-mispers.people or use a known id (nw-sgt-a, nw-sgt-b, nw-sgt-c, nw-sgt-d, nw-insp-e)",
    ),
    (
        "rota.yaml",
        "override ending before it starts",
        lambda d: nw_rota(d)["overrides"][0].update(end="2026-12-24 08:00"),
        "rota.yaml: rotas.met-nw-mispers.overrides[0].end: ends before it starts — give an end later than start",
    ),
    (
        "rota.yaml",
        "hours that leave a gap",
        lambda d: nw_rota(d)["layers"][1]["hours"].update(end="06:00"),
        "rota.yaml: rotas.met-nw-mispers.layers: nobody is on call from 06:00 to 08:00 on any day — "
        "add a layer covering those hours, or widen a layer's hours:",
    ),
    (
        "rota.yaml",
        "hours starting and ending together",
        lambda d: nw_rota(d)["layers"][0]["hours"].update(end="08:00"),
        "rota.yaml: rotas.met-nw-mispers.layers[0].hours: start and end are the same time — "
        "omit hours: for a layer on call around the clock",
    ),
    (
        "rota.yaml",
        "person with no way to reach them",
        lambda d: nw_rota(d)["people"]["nw-sgt-a"].pop("sms") and nw_rota(d)["people"]["nw-sgt-a"].pop("email"),
        "rota.yaml: rotas.met-nw-mispers.people.nw-sgt-a: 'nw-sgt-a' has no address on any channel — "
        f"give an address on at least one of the channels ({', '.join(f'{name}:' for name in CHANNELS.names)})",
    ),
    (
        "rota.yaml",
        "bad time zone",
        lambda d: nw_rota(d).update(timezone="Europe/Londres"),
        "rota.yaml: rotas.met-nw-mispers.timezone: unknown time zone 'Europe/Londres' — use an IANA name such as Europe/London",
    ),
    (
        "rota.yaml",
        "a layer with nobody",
        lambda d: nw_rota(d)["layers"][0].update(people=[]),
        "rota.yaml: rotas.met-nw-mispers.layers[0].people: List should have at least 1 item after validation, not 0 — "
        "give at least one entry",
    ),
]


@pytest.mark.parametrize(("file", "case", "change", "message"), CASES, ids=[c[1] for c in CASES])
def test_invalid_routing_config_names_file_key_and_fix(
    config_dir: Path, file: str, case: str, change: Edit, message: str
) -> None:
    edit_config(config_dir, file, change)
    error = config_error(config_dir)
    expected = str(config_dir / message.split(": ", 1)[0]) + ": " + message.split(": ", 1)[1]
    assert str(error).startswith(expected)


def test_the_case_indexes_still_point_at_the_rules_they_describe() -> None:
    rules = yaml.safe_load((REPO / "config" / "routing.yaml").read_text())["rules"]
    assert rules[11]["name"] == "Met North West BCU"
    assert "near" in rules[21]["match"]


def test_numbers_are_held_in_e164_however_they_are_written(config_dir: Path) -> None:
    edit_config(config_dir, "agencies.yaml", lambda d: agency(d, "brent-edt")["contacts"][0].update(sms="07700 900202"))
    edit_config(config_dir, "rota.yaml", lambda d: nw_rota(d)["people"]["nw-sgt-a"].update(sms="+44 (0)7700 900111"))
    config = load_config(config_dir)
    assert config.agencies["brent-edt"].contacts[0].address("sms") == "+447700900202"
    assert config.rota.rotas["met-nw-mispers"].people["nw-sgt-a"].address("sms") == "+447700900111"


def test_the_phone_error_does_not_repeat_the_number(config_dir: Path) -> None:
    edit_config(config_dir, "agencies.yaml", lambda d: agency(d, "brent-edt")["contacts"][0].update(sms="+44 7700 9"))
    assert "7700 9" not in str(config_error(config_dir))


def test_a_missing_rota_file_is_named(config_dir: Path) -> None:
    (config_dir / "rota.yaml").unlink()
    assert (
        str(config_error(config_dir))
        == f"{config_dir / 'rota.yaml'}: (file): file not found — create rota.yaml (`crucial init DIR` writes a complete starter config)"
    )


def test_the_shipped_routing_config_loads() -> None:
    config = load_config(REPO / "config")
    assert {a.kind for a in config.agencies.values()} >= {
        "police",
        "emergency_duty_team",
        "border_force",
        "modern_slavery_referral",
        "guardian",
    }
    assert config.rota.rotas and all(c.rota in config.rota.rotas for a in config.agencies.values() for c in a.contacts if c.rota)
