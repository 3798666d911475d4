"""Channels are plug-ins: the domain and the stream side name none of them, and a channel the code
has never seen works from one registration — contacts, rules, fallback, rendering, metrics."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from alerts.channels import CHANNELS
from tests.support import REPO, write_config

# A channel's name may appear outside alerts/channels/ only as what it is elsewhere: the profile's
# social-worker field "email" (the published profile schema) and the audit's `via` literal, which
# lives in alerts/model.py beside the other stored records (see docs in alerts/channels/README.md).
ALLOWED = {
    "alerts/profile_files.py": "the social-worker columns of a profile CSV",
}


def _literals(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    keys = {id(k) for node in ast.walk(tree) if isinstance(node, ast.Dict) for k in node.keys if k is not None}
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and node.value in CHANNELS.names and id(node) not in keys
    ]


def test_no_channel_name_is_spelt_outside_alerts_channels() -> None:
    found = []
    for package in ("alerts", "streams"):
        for path in sorted((REPO / package).rglob("*.py")):
            relative = path.relative_to(REPO).as_posix()
            if relative.startswith("alerts/channels/"):
                continue
            found += [f"{relative}:{line}: {value!r}" for line, value in _literals(path)]
    allowed = {f for f in found if f.split(":", 1)[0] in ALLOWED}
    assert sorted(set(found) - allowed) == []


NEW_CHANNEL = r"""
import json, sys
from alerts.channels import CHANNELS
from alerts.channels.plugin import AddressError, Channel
from alerts.model import RenderedMessage

def address(text):
    if not text.strip().upper().startswith("PG-"):
        raise AddressError("not a pager id: write it as PG-1234")
    return text.strip().upper()

class Pages:
    per_recipient = False
    def __init__(self, templates):
        self.templates = templates
    def render(self, facts):
        return RenderedMessage(text=f"PAGE {facts.incident.reference} {self.templates.context(facts)['priority']}")

CHANNELS.add(Channel(name="pager", address=address, renderer=lambda t, c, o: Pages(t), sender=lambda c: None))

from alerts.config import load_config
from alerts.errors import ConfigError
from alerts.rendering import Renderer
from alerts.routing import route, same_person_routes
from streams.pipeline import metrics
from tests.unit.test_rendering import facts

try:
    config = load_config(sys.argv[1])
except ConfigError as exc:
    print(json.dumps({"error": str(exc)}))
    raise SystemExit(0)
f = facts()
routes = route(f.incident, f.profile, config, event=f.event)
pages = [r for r in routes if r.channel == "pager"]
again = same_person_routes(next(r.recipient for r in routes if r.channel == "sms" and r.recipient.agency_id == pages[0].recipient.agency_id), "sms", f.profile, config)
print(json.dumps({
    "pages": [[r.recipient.agency_id, r.recipient.address] for r in pages],
    "fallback": [[r.channel, r.recipient.address] for r in again],
    "text": Renderer(config.templates(), config=config).render(f, "pager").text,
    "metrics": list(metrics.CHANNELS),
}))
"""


def run_with_pager(config_dir: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", NEW_CHANNEL, str(config_dir)], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def pager_config(tmp_path: Path, pager: str) -> Path:
    directory = write_config(tmp_path / "config")
    agencies = yaml.safe_load((directory / "agencies.yaml").read_text())
    contact = next(c for a in agencies["agencies"].values() for c in a["contacts"] if c.get("sms") and c.get("email"))
    contact["pager"] = pager
    (directory / "agencies.yaml").write_text(yaml.safe_dump(agencies, sort_keys=False))
    routing = yaml.safe_load((directory / "routing.yaml").read_text())
    routing["fallback"] = {"sms": ["pager", "email"]}
    (directory / "routing.yaml").write_text(yaml.safe_dump(routing, sort_keys=False))
    return directory


def test_a_channel_never_seen_by_the_code_works_from_one_registration(tmp_path: Path) -> None:
    result = run_with_pager(pager_config(tmp_path, "pg-0042"))
    assert "error" not in result, result
    assert result["pages"] and all(address == "PG-0042" for _, address in result["pages"])  # parsed by the channel
    assert [channel for channel, _ in result["fallback"]] == ["pager", "email"]  # routing.yaml's order
    assert result["fallback"][0][1] == "PG-0042"
    assert result["text"].startswith("PAGE CH-")
    assert "pager" in result["metrics"]


def test_a_new_channels_address_is_checked_by_its_own_parser(tmp_path: Path) -> None:
    result = run_with_pager(pager_config(tmp_path, "0042"))
    assert "].pager: not a pager id: write it as PG-1234" in result["error"]


def _sms_contact_with_email(config: Any) -> tuple[str, str, str]:
    for agency_id, agency in config.agencies.items():
        for contact in agency.contacts:
            if contact.address("sms") and contact.address("email"):
                return agency_id, contact.address("sms"), contact.address("email")
    raise AssertionError("the shipped config has a contact with both")


def test_the_same_person_fallback_is_routing_config_not_code(tmp_path: Path) -> None:
    from alerts.config import load_config
    from alerts.model import Recipient
    from alerts.routing import same_person_routes
    from tests.support import config_error, edit_config

    directory = write_config(tmp_path / "config")
    shipped = load_config(directory)
    agency_id, phone, email = _sms_contact_with_email(shipped)
    failed = Recipient(agency_id=agency_id, name="Duty", address=phone)
    routes = same_person_routes(failed, "sms", None, shipped)
    assert [(r.channel, r.recipient.address) for r in routes] == [("email", email)]
    assert routes[0].why == "fallback: Duty could not be reached by sms; the same person by email"
    assert same_person_routes(failed, "email", None, shipped) == []  # nothing listed for email

    edit_config(directory, "routing.yaml", lambda d: d.pop("fallback"))
    assert same_person_routes(failed, "sms", None, load_config(directory)) == []

    edit_config(directory, "routing.yaml", lambda d: d.update(fallback={"sms": ["sms"]}))
    assert "fallback.sms lists sms itself" in str(config_error(directory))
    edit_config(directory, "routing.yaml", lambda d: d.update(fallback={"sms": ["carrier-pigeon"]}))
    error = str(config_error(directory))
    assert "routing.yaml: fallback.sms[0]: 'carrier-pigeon' is not a channel (registered: " in error


def test_a_rule_naming_an_unknown_channel_is_refused_naming_the_registered_ones(tmp_path: Path) -> None:
    from tests.support import config_error, edit_config

    directory = write_config(tmp_path / "config")
    edit_config(directory, "routing.yaml", lambda d: d["rules"][0].update(channels=["fax"]))
    error = str(config_error(directory))
    assert f"routing.yaml: rules[0].channels[0]: 'fax' is not a channel (registered: {', '.join(CHANNELS.names)})" in error
