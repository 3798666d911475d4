"""rota.yaml (alerts/config/rota.py): each invalid case reports exactly one message naming the key and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from alerts.channels import CHANNELS
from tests.support import Edit
from tests.unit.config.cases import Case, ids, problems_after


def nw_rota(d: dict[str, Any]) -> dict[str, Any]:
    return d["rotas"]["met-nw-mispers"]  # type: ignore[no-any-return]


CASES: list[Case] = [
    (
        "unquoted time read as a number",
        lambda d: nw_rota(d)["layers"][1]["hours"].update(start=1200),
        "rota.yaml: rotas.met-nw-mispers.layers[1].hours.start: Input should be a valid string — "
        "give text (quote it if YAML reads it as a number or date)",
    ),
    (
        "time out of range",
        lambda d: nw_rota(d)["layers"][0]["hours"].update(end="24:00"),
        "rota.yaml: rotas.met-nw-mispers.layers[0].hours.end: String should match pattern '^([01][0-9]|2[0-3]):[0-5][0-9]$' — "
        "correct the value's format",
    ),
    (
        "a date that does not exist",
        lambda d: nw_rota(d)["layers"][0].update(rotation_start="2026-02-30 08:00"),
        "rota.yaml: rotas.met-nw-mispers.layers[0].rotation_start: '2026-02-30 08:00' is not a real date and time — "
        "correct the value",
    ),
    (
        "unknown person in a layer",
        lambda d: nw_rota(d)["layers"][0]["people"].append("nw-sgt-z"),
        "rota.yaml: rotas.met-nw-mispers.layers[0].people[2]: unknown person 'nw-sgt-z' — "
        "add them under rotas.met-nw-mispers.people or use a known id (nw-sgt-a, nw-sgt-b, nw-sgt-c, nw-sgt-d, nw-insp-e)",
    ),
    (
        "unknown person in an override",
        lambda d: nw_rota(d)["overrides"][0].update(person="nw-insp-x"),
        "rota.yaml: rotas.met-nw-mispers.overrides[0].person: unknown person 'nw-insp-x' — "
        "add them under rotas.met-nw-mispers.people or use a known id (nw-sgt-a, nw-sgt-b, nw-sgt-c, nw-sgt-d, nw-insp-e)",
    ),
    (
        "override ending before it starts",
        lambda d: nw_rota(d)["overrides"][0].update(end="2026-12-24 08:00"),
        "rota.yaml: rotas.met-nw-mispers.overrides[0].end: ends before it starts — give an end later than start",
    ),
    (
        "hours that leave a gap",
        lambda d: nw_rota(d)["layers"][1]["hours"].update(end="06:00"),
        "rota.yaml: rotas.met-nw-mispers.layers: nobody is on call from 06:00 to 08:00 on any day — "
        "add a layer covering those hours, or widen a layer's hours:",
    ),
    (
        "hours starting and ending together",
        lambda d: nw_rota(d)["layers"][0]["hours"].update(end="08:00"),
        "rota.yaml: rotas.met-nw-mispers.layers[0].hours: start and end are the same time — "
        "omit hours: for a layer on call around the clock",
    ),
    (
        "person with no way to reach them",
        lambda d: nw_rota(d)["people"]["nw-sgt-a"].pop("sms") and nw_rota(d)["people"]["nw-sgt-a"].pop("email"),
        "rota.yaml: rotas.met-nw-mispers.people.nw-sgt-a: 'nw-sgt-a' has no address on any channel — "
        f"give an address on at least one of the channels ({', '.join(f'{name}:' for name in CHANNELS.names)})",
    ),
    (
        "bad time zone",
        lambda d: nw_rota(d).update(timezone="Europe/Londres"),
        "rota.yaml: rotas.met-nw-mispers.timezone: unknown time zone 'Europe/Londres' — use an IANA name such as Europe/London",
    ),
    (
        "a layer with nobody",
        lambda d: nw_rota(d)["layers"][0].update(people=[]),
        "rota.yaml: rotas.met-nw-mispers.layers[0].people: List should have at least 1 item after validation, not 0 — "
        "give at least one entry",
    ),
]


@pytest.mark.parametrize(("case", "change", "message"), CASES, ids=ids(CASES))
def test_each_invalid_rota_file_names_the_key_and_the_fix(config_dir: Path, case: str, change: Edit, message: str) -> None:
    assert problems_after(config_dir, "rota.yaml", change) == [message]
