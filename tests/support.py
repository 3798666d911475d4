"""Builders shared by the test tiers: synthetic events and profiles, config directories, and polling."""

from __future__ import annotations

import copy
import json
import shutil
import socket
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from alerts.placements import PlacementRegister, parse_placement

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples"


def wait_for(what: str, check: Callable[[], Any], timeout_s: float = 60.0, every_s: float = 0.2) -> Any:
    """What `check()` returns once it is truthy, polled every `every_s`; an AssertionError naming
    `what` when it is not within `timeout_s` (a bound on waiting, never a measured time)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sample_profiles() -> list[dict[str, Any]]:
    return [json.loads(line) for line in (SAMPLES / "profiles.jsonl").read_text().splitlines() if line.strip()]


def sample_placements() -> list[dict[str, Any]]:
    """The register's sample placements (samples/placements.jsonl): the form's children."""
    return [json.loads(line) for line in (SAMPLES / "placements.jsonl").read_text().splitlines() if line.strip()]


def sample_register() -> PlacementRegister:
    """The placement register holding the sample placements: who owns which placement."""
    register = PlacementRegister()
    for placement in sample_placements():
        register.upsert(parse_placement(json.dumps(placement)))
    return register


def make_event(
    *,
    type: str = "left_placement",
    child_reference: str = "HAR-2026-0192",
    event_id: str | None = None,
    last_seen_ago: timedelta = timedelta(minutes=10),
    now: datetime | None = None,
    **child: Any,
) -> dict[str, Any]:
    """A synthetic placement event (dict) based on samples/report.json."""
    now = now or datetime.now(UTC).replace(microsecond=0)
    event: dict[str, Any] = copy.deepcopy(json.loads((SAMPLES / "report.json").read_text()))
    event["event_id"] = event_id or f"evt-{uuid.uuid4().hex[:12]}"
    event["type"] = type
    event["reported_at"] = now.isoformat()
    event["occurred_at"] = (now - last_seen_ago).isoformat()
    event["child"]["reference"] = child_reference
    event["child"]["identifiers"] = []
    event["child"].update(child)
    if type == "left_placement":
        event["circumstances"]["last_seen_at"] = (now - last_seen_ago).isoformat()
    else:
        event.pop("circumstances")
    return event


def write_config(target: Path, **settings: Any) -> Path:
    """Copy config/ to `target`, deep-merging `settings` into settings.yaml."""
    shutil.copytree(REPO / "config", target)
    path = target / "settings.yaml"
    data = yaml.safe_load(path.read_text())

    def merge(into: dict[str, Any], extra: dict[str, Any]) -> None:
        for key, value in extra.items():
            if isinstance(value, dict) and isinstance(into.get(key), dict):
                merge(into[key], value)
            else:
                into[key] = value

    merge(data, settings)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return target


def unique_topics(prefix: str) -> dict[str, str]:
    return {
        "placement_events": f"{prefix}.placement-events",
        "rejected": f"{prefix}.placement-events.rejected",
        "profiles": f"{prefix}.risk-profiles",
        "incidents": f"{prefix}.incidents",
        "notifications": f"{prefix}.notifications",
        "deliveries": f"{prefix}.deliveries",
        "incident_commands": f"{prefix}.incident-commands",
        "delivery_status": f"{prefix}.delivery-status",
        "dead_letters": f"{prefix}.dead-letters",
        "placements": f"{prefix}.placements",
        "event_ids": f"{prefix}.event-ids",
        "request_signatures": f"{prefix}.request-signatures",
        "auth_state": f"{prefix}.auth-state",
    }


def expected_notifications(event: dict[str, Any], config: Any, now: datetime | None = None) -> set[tuple[str, str, str]]:
    """(agency, channel, address) the domain routes `event` to, against the sample profiles.

    Stream tests compare what the worker produced with what the pure domain decides; routing
    itself is tested in tests/unit.
    """
    from alerts.intake import parse_event, parse_profile
    from alerts.matching import ProfileIndex
    from alerts.rendering import Renderer
    from alerts.triage import Context, triage

    index = ProfileIndex()
    for profile in sample_profiles():
        index.upsert(parse_profile(json.dumps(profile)))
    renderer = Renderer(config.templates(), config.settings.timezone)
    outcome = triage(parse_event(json.dumps(event)), Context(config, renderer, now or datetime.now(UTC), index))
    return {(n.recipient.agency_id, n.channel, n.recipient.address) for n in outcome.notifications}


# A synthetic child who resembles no sample profile (for no-match paths).
UNFLAGGED_CHILD: dict[str, Any] = {
    "given_names": "Oliver",
    "family_name": "Pemberton-Hale",
    "aliases": [],
    "date_of_birth": {"value": "2012-05-17"},
    "sex": "male",
    "nationality": "British",
}


Edit = Callable[[dict[str, Any]], Any]


def edit_config(directory: Path, name: str, change: Edit) -> None:
    """Apply `change` to the YAML of config file `name` in `directory`."""
    path = directory / name
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))


def config_error(directory: Path) -> Any:
    """The ConfigError that loading `directory` raises (fails the test when none)."""
    import pytest

    from alerts.config import load_config
    from alerts.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        load_config(directory)
    return caught.value


def written_lines(path: Path) -> list[dict[str, Any]]:
    """The JSON lines a running process has finished writing to `path` (an outbox, a peer's record):
    a last line without its newline is still being written, so it is left for the next read."""
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    complete = text if text.endswith("\n") else text[: text.rfind("\n") + 1]
    return [json.loads(line) for line in complete.splitlines() if line.strip()]
