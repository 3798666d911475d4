"""`crucial route`: who would be alerted for a report, on which channel, and why — offline.

It runs the worker's own code (alerts.triage, hence alerts.matching, alerts.grading, alerts.routing
and the renderer) on one placement event, against the profiles given, at the report's time or the
moment given with --at, and prints the decision instead of producing it.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from alerts.channels import CHANNELS
from alerts.config import load_config
from alerts.coverage import coverage_table
from alerts.errors import RejectedInput
from alerts.intake import parse_event, parse_profile
from alerts.matching import ProfileIndex
from alerts.model import Notification
from alerts.rendering import Renderer
from alerts.routing import Route
from alerts.triage import Context, Outcome, triage


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an ISO 8601 date and time") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"'{text}' has no time zone: add Z or an offset such as +01:00")
    return moment


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser(
        "route",
        parents=[common],
        help="show who would be alerted for a report, on which channel, and why (offline)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--event", help="a placement event as JSON (a file, or - for stdin)")
    parser.add_argument(
        "--explain-coverage",
        action="store_true",
        help="instead: per placement area and priority, which agencies a match and a possible match alert "
        "(a Markdown table; docs/routing.md holds the shipped config's)",
    )
    parser.add_argument("--profiles", help="risk profiles as JSON Lines to match against (default: none)")
    parser.add_argument(
        "--at",
        type=_moment,
        help="the moment the report is received, ISO 8601 with a zone: it picks who is on call (default: the event's "
        "reported_at)",
    )
    parser.add_argument("--messages", action="store_true", help="also print each rendered message once")
    parser.add_argument("--json", action="store_true", help="print the routes as JSON")
    parser.set_defaults(func=cmd_route)


def _load_profiles(source: str | None, index: ProfileIndex) -> int:
    if source is None:
        return 0
    bad = 0
    for number, line in enumerate(Path(source).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            index.upsert(parse_profile(line))
        except RejectedInput as exc:
            bad += 1
            for reason in exc.reasons:
                print(f"{source}: row {number}: {reason}", file=sys.stderr)
    return bad


def cmd_route(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if args.explain_coverage:
        print(coverage_table(config))
        return 0
    if args.event is None:
        print("crucial route: give --event FILE (or --explain-coverage)", file=sys.stderr)
        return 2
    text = sys.stdin.read() if args.event == "-" else Path(args.event).read_text(encoding="utf-8")
    try:
        event = parse_event(text)
    except RejectedInput as exc:
        for reason in exc.reasons:
            print(f"{args.event}: {reason}", file=sys.stderr)
        return 1
    index = ProfileIndex(config.risk.matching, config.risk.links)
    bad = _load_profiles(args.profiles, index)
    now: datetime = args.at or event.reported_at
    renderer = Renderer.from_config(config)
    outcome = triage(event, Context(config, renderer, now, index))
    if args.json:
        print(json.dumps(_as_json(outcome, now), indent=2, ensure_ascii=False))
    else:
        print(_describe(outcome, renderer, _Asked(event.event_id, now, len(index), args.messages)))
    return 1 if bad else 0


def _as_json(outcome: Outcome, now: datetime) -> dict[str, Any]:
    incident = outcome.open_incident
    return {
        "outcome": outcome.label,
        "at": now.isoformat(),
        "incident": None
        if incident is None
        else {
            "reference": incident.reference,
            "decision": incident.match.decision.value,
            "priority": incident.priority.value,
            "deadline": incident.deadline.isoformat(),
        },
        "routes": [
            {
                "agency_id": r.recipient.agency_id,
                "name": r.recipient.name,
                "address": r.recipient.address,
                "channel": r.channel,
                "why": r.why,
                "rules": list(r.rules),
            }
            for r in outcome.routes
        ],
        "notifications": [
            {"kind": n.kind, "channel": n.channel, "idempotency_key": n.idempotency_key} for n in outcome.notifications
        ],
    }


@dataclass(frozen=True)
class _Asked:
    """What `crucial route` was asked about: the event, the moment, how many profiles, whether to show messages."""

    event_id: str
    now: datetime
    profiles: int
    messages: bool


def _describe(outcome: Outcome, renderer: Renderer, asked: _Asked) -> str:
    local = renderer.local
    lines = [f"event {asked.event_id}, received {local(asked.now, '%H:%M %Z %a %d %b %Y')}; {asked.profiles} profile(s) loaded"]
    incident = outcome.open_incident
    if incident is None:
        explain = {
            "no_match": "no profile matches: nobody would be alerted",
            "no_open_incident": "not a missing report and no incident is open: nobody would be alerted",
        }
        lines.append(explain.get(outcome.label, f"outcome {outcome.label}: nobody would be alerted"))
        return "\n".join(lines)
    match = incident.match
    lines.append(f"{match.decision.value.replace('_', ' ')} on profile {match.profile_id} (score {match.score:.2f})")
    lines.extend(f"  {line}" for line in match.explanation)
    reasons = "; ".join(incident.reasons) or "no reasons given"
    lines.append(
        f"incident {incident.reference}: priority {incident.priority.value} ({reasons}); "
        f"crucial hour ends {local(incident.deadline, '%H:%M %Z %a %d %b')}"
    )
    kinds = sorted({n.kind for n in outcome.notifications})
    recipients = {(r.recipient.agency_id, r.recipient.address) for r in outcome.routes}
    lines.append(f"{len(outcome.notifications)} {'/'.join(kinds) or 'no'} notification(s) to {len(recipients)} address(es):")
    if not outcome.routes:
        lines.append("  nobody: no routing rule matched (check routing.yaml)")
    lines.extend(_route_lines(outcome.routes))
    if asked.messages:
        lines.extend(_message_lines(outcome.notifications))
    return "\n".join(lines)


def _route_lines(routes: list[Route]) -> list[str]:
    out = []
    width = max((len(r.recipient.agency_id) for r in routes), default=0)
    for number, r in enumerate(routes, start=1):
        out.append(f"  {number:>2}. {r.channel:<5} {r.recipient.agency_id:<{width}}  {r.recipient.name} <{r.recipient.address}>")
        out.append(f"      why: {r.why}")
    return out


def _message_lines(notifications: list[Notification]) -> list[str]:
    out: list[str] = []
    seen: set[tuple[str, str]] = set()
    for note in notifications:
        if (note.kind, note.channel) in seen:
            continue
        seen.add((note.kind, note.channel))
        out.append("")
        out.append(f"--- {note.kind} by {note.channel}{CHANNELS[note.channel].summary(note.message)}")
        out.append(note.message.text.rstrip())
    return out
