"""Every message template compiled and rendered before the worker starts, so a broken template fails
`crucial check-config` and the worker's start-up instead of the first alert.

Each kind of notification is rendered for each channel from synthetic incidents: an ordinary one, and
one with every text at its longest and in UCS-2 (a place with Vietnamese diacritics), which an SMS
template must still fit into settings.sms.max_segments. Page templates (web/) are compiled.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, get_args

import jinja2

from alerts.channels import CHANNELS
from alerts.config import Config
from alerts.errors import ConfigError
from alerts.intake import parse_event, parse_profile
from alerts.manual_check import ManualCheckMessages
from alerts.model import (
    Claim,
    Decision,
    Incident,
    IncidentStatus,
    MatchResult,
    NotificationKind,
    PlacementEvent,
    Priority,
    Recipient,
    TimelineEntry,
)
from alerts.rendering import MessageFacts, Renderer

KINDS: tuple[NotificationKind, ...] = get_args(NotificationKind)
SEEN = datetime(2026, 1, 31, 23, 40, tzinfo=UTC)  # a winter night: GMT, and past midnight in the message

_EVENT: dict[str, Any] = {
    "event_id": "evt-check-0001",
    "type": "left_placement",
    "occurred_at": SEEN.isoformat(),
    "reported_at": (SEEN + timedelta(minutes=12)).isoformat(),
    "placement": {
        "id": "plc-check-01",
        "name": "Synthetic children's home",
        "local_authority": "Harrow",
        "postcode": "HA1 9ZZ",
        "placed_at": (SEEN - timedelta(hours=30)).isoformat(),
    },
    "child": {
        "reference": "CHK-2026-0001",
        "given_names": "Synthetic",
        "family_name": "Child",
        "aliases": ["Test"],
        "date_of_birth": {"value": "2011-03-04", "estimated": True},
        "sex": "female",
        "nationality": "British",
        "identifiers": [{"scheme": "home_office", "value": "HO-S0000001"}],
    },
    "circumstances": {
        "last_seen_at": SEEN.isoformat(),
        "last_seen_place": "Front gate",
        "clothing": "Grey hoodie",
        "accompanied_by": ["unknown adult"],
        "vehicles": ["silver saloon"],
        "near": ["coach_station"],
        "previous_missing_episodes": 1,
    },
    "reporter": {"name": "Night care worker", "role": "residential care worker", "callback_phone": "+447700900401"},
}
_LONG_PLACE = "Bến xe Miền Đông mới, cổng phía bắc, đối diện trạm xăng, Thành phố Thủ Đức " * 3
_PROFILE = {
    "profile_id": "prof-check-01",
    "identifiers": [{"scheme": "home_office", "value": "HO-S0000001"}],
    "given_names": "Synthetic",
    "family_name": "Child",
    "date_of_birth": {"value": "2011-03-04", "estimated": True},
    "sex": "female",
    "nationality": "British",
    "risk_level": "high",
    "indicators": ["county lines"],
    "places_of_concern": ["Victoria Coach Station"],
    "responsible_local_authority": "Harrow",
    "police_force": "Metropolitan Police Service",
    "social_worker": {"name": "Social Worker", "email": "sw@council.example", "phone": "+447700900301"},
}


def _events(kind: NotificationKind) -> list[PlacementEvent]:
    long = json.loads(json.dumps(_EVENT))
    long["circumstances"]["last_seen_place"] = _LONG_PLACE.strip()[:400]
    long["child"]["given_names"] = "Nguyễn Thị Minh Khai Phương"
    events = [_EVENT, long]
    if kind == "update":
        events = [{**e, "type": "update", "event_id": "evt-check-0002"} for e in events]
    if kind == "stand_down":
        events = [
            {**{k: v for k, v in e.items() if k != "circumstances"}, "type": "returned", "event_id": "evt-check-3"}
            for e in events
        ]
    return [parse_event(json.dumps(e)) for e in events]


def _incident(kind: NotificationKind) -> Incident:
    decision = Decision.POSSIBLE_MATCH if kind == "possible_match" else Decision.MATCH
    received = SEEN + timedelta(minutes=13)
    return Incident(
        incident_id="inc-check-0001",
        reference="CH-CHECK1",
        status=IncidentStatus.RESOLVED if kind == "stand_down" else IncidentStatus.OPEN,
        event_id="evt-check-0001",
        child_reference="CHK-2026-0001",
        placement_id="plc-check-01",
        local_authority="Harrow",
        match=MatchResult(decision=decision, profile_id="prof-check-01", score=0.97, explanation=["matched on identifier"]),
        priority=Priority.HIGH,
        reasons=["trafficking-risk profile graded high", "last seen near a coach_station"],
        last_seen_at=SEEN,
        received_at=received,
        deadline=SEEN + timedelta(hours=1),
        escalation_step=1 if kind == "escalation" else 0,
        timeline=[TimelineEntry(at=SEEN, what="last seen"), TimelineEntry(at=received, what="matched")],
        # A claim message is about the incident's latest unverified claim.
        claims=[Claim(claim_id="0c1a1m00", event_id="evt-check-0009", type="returned", sender="check", at=received)]
        if kind == "claim"
        else [],
    )


def _problem(config: Config, template: str, exc: Exception) -> ConfigError:
    where = config.templates() / template
    line = getattr(exc, "lineno", None)
    return ConfigError(
        str(where),
        f"line {line}" if line else "(template)",
        f"{type(exc).__name__}: {exc}",
        "fix the template (the worker would fail on the first message of this kind)",
    )


def check_templates(config: Config) -> list[ConfigError]:
    """Render every kind on every channel with synthetic incidents; compile the page templates."""
    errors: list[ConfigError] = []
    directory = config.templates()
    if not directory.is_dir():
        return [
            ConfigError(
                str(config.directory / "settings.yaml"),
                "templates_dir",
                f"{directory} is not a directory",
                "fix the path or remove the key",
            )
        ]
    profile = parse_profile(json.dumps(_PROFILE))
    recipient = Recipient(agency_id="check", name="Duty officer", address="duty@council.example")
    renderers = [
        Renderer.from_config(config),
        Renderer.from_config(
            config, ack_links=lambda incident, who: f"https://alerts.example/ack/{incident.reference}:{who.tag}"
        ),
    ]
    manual = ManualCheckMessages.from_config(config)
    for kind in KINDS:
        incident = _incident(kind)
        for channel in CHANNELS.names:
            failed = False
            for renderer in renderers:
                for event in _events(kind):
                    if failed:
                        break
                    facts = MessageFacts(kind=kind, incident=incident, event=event, profile=profile, recipient=recipient)
                    try:
                        if kind == "manual_check":  # the fail-open message: its own renderer, no profile
                            manual.render(incident, event, channel)
                        else:
                            renderer.render(facts, channel)
                    except Exception as exc:  # any template fault, reported with its template
                        errors.append(_problem(config, _template_of(exc, f"{CHANNELS[channel].template_dir}/{kind}.txt.j2"), exc))
                        failed = True
    errors.extend(_compile_pages(config, directory / "web"))
    return errors


def _template_of(exc: Exception, fallback: str) -> str:
    name = getattr(exc, "name", None) or getattr(exc, "filename", None)
    return str(name) if name else fallback


# The filters streams/web/board.py registers on its page environment (compiling needs their names only).
PAGE_FILTERS: dict[str, Any] = {"local": str}


def _compile_pages(config: Config, web: Path) -> list[ConfigError]:
    if not web.is_dir():
        return [ConfigError(str(web), "(directory)", "the page templates are missing", "copy web/ from the package's templates")]
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(web), autoescape=True)
    env.filters.update(PAGE_FILTERS)
    errors = []
    for path in sorted(web.rglob("*.j2")):
        try:
            env.get_template(path.relative_to(web).as_posix())
        except jinja2.TemplateError as exc:
            errors.append(_problem(config, f"web/{path.relative_to(web).as_posix()}", exc))
    return errors
