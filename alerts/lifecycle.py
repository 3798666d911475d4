"""Acknowledgement, escalation, fallback and window breach: pure transitions of an open incident.

The leader's timer asks `due_step` of every open incident; the incident's owner applies the
resulting command with `escalate`, so a duplicate command (a tick before the owner's change is
seen) is harmless: a step is taken once.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from alerts.config import POSSIBLE_MATCH_KINDS, AgencyKind, Config, EscalationChain, EscalationStep
from alerts.model import (
    Acknowledgement,
    AckVia,
    Alerted,
    Breach,
    Decision,
    Escalate,
    Incident,
    IncidentCommand,
    IncidentStatus,
    NotificationKind,
    Priority,
    Recipient,
    RiskProfile,
)
from alerts.routing import Route, agency_routes, fallback, same_person_routes
from alerts.triage import Context, Outcome, Report, apply_report, incident_record, notifications_for, with_entry

ESCALATABLE = (IncidentStatus.OPEN, IncidentStatus.ESCALATED)
# Failure reasons (alerts.channels.reasons; spelt here to keep the domain free of the provider
# packages) that say the address itself is wrong for the channel, not merely unreachable now: nothing
# more — no update, no stand-down — is sent there.
ADDRESS_INVALID = frozenset(
    {
        "invalid_number",
        "unsubscribed",
        "landline",
        "unknown_destination",
        "recipient_rejected",
        "invalid_address",
        "domain_not_allowed",
    }
)


def due_step(incident: Incident, chain: EscalationChain | None, now: datetime) -> int:
    """How many escalation steps should have fired by `now` (0 when none, or when acknowledged); never
    more than the chain's ceiling."""
    if chain is None or not chain.steps or incident.acknowledged or incident.status not in ESCALATABLE:
        return 0
    elapsed = now - incident.received_at
    fired = sum(1 for step in chain.steps if elapsed >= timedelta(minutes=step.after_minutes))
    if fired == len(chain.steps) and chain.repeat_every_minutes:
        since_last = elapsed - timedelta(minutes=chain.steps[-1].after_minutes)
        fired += int(since_last / timedelta(minutes=chain.repeat_every_minutes))
    return min(fired, chain.ceiling)


def _may_hear_of(incident: Incident, kind: AgencyKind) -> bool:
    """Routing's rule for a possible match holds for escalation too: it never fans a possible match out."""
    if incident.match.decision != Decision.POSSIBLE_MATCH:
        return True
    linked = incident.match.profile_id is None and bool(incident.match.links)
    return kind in POSSIBLE_MATCH_KINDS or (kind == "police" and (incident.priority == Priority.HIGH or linked))


def _step_targets(
    incident: Incident, specs: list[EscalationStep], config: Config, now: datetime, why: str
) -> tuple[list[Alerted], list[str]]:
    """Everyone the steps add (nobody already alerted), and the agencies left out for a possible match."""
    known = {(a.channel, a.recipient.address) for a in incident.alerted}
    targets: list[Alerted] = []
    left_out: list[str] = []
    for spec in specs:
        for agency_id in spec.notify:
            if not _may_hear_of(incident, config.agencies[agency_id].kind):
                left_out += [agency_id] if agency_id not in left_out else []
                continue
            for r in agency_routes(agency_id, spec.channels, config, now, why):
                if (r.channel, r.recipient.address) not in known:
                    known.add((r.channel, r.recipient.address))
                    targets.append(Alerted(channel=r.channel, recipient=r.recipient))
    return targets, left_out


def escalate(ctx: Context, incident: Incident, step: int, report: Report) -> Outcome:
    """Take escalation step `step` (1-based; beyond the chain, its last step repeats up to the ceiling)."""
    config, now = ctx.config, ctx.now
    chain = config.escalation.chains.get(incident.priority)
    if (
        not chain
        or step <= incident.escalation_step
        or step > chain.ceiling
        or incident.escalation_stopped
        or incident.acknowledged
        or incident.status not in ESCALATABLE
    ):
        return Outcome("escalation_not_needed", incident)
    # Every step not yet taken, not only the latest: a timer that was down (a restart) skips no tier.
    specs = [chain.steps[min(k, len(chain.steps)) - 1] for k in range(incident.escalation_step + 1, step + 1)]
    why = f"escalation step {step}"
    targets, left_out = _step_targets(incident, specs, config, now, why)
    if targets:
        what = f"not acknowledged: escalation step {step} to " + ", ".join(
            f"{t.recipient.name} ({t.recipient.agency_id}) by {t.channel}" for t in targets
        )
    else:
        what = f"not acknowledged: escalation step {step} adds nobody: everyone on it is already alerted"
    if left_out:
        what += f"; {', '.join(left_out)} not told of a possible match (a person confirms it first)"
    stopped = step >= chain.ceiling
    if stopped:
        what += f"; escalation stopped at its ceiling (step {step} of {chain.ceiling}): nobody further is alerted automatically"
    escalated = with_entry(
        incident,
        now,
        what,
        status=IncidentStatus.ESCALATED,
        escalation_step=step,
        escalation_stopped=stopped,
        alerted=[*incident.alerted, *targets],
    )
    notes = notifications_for(ctx, report.facts("escalation", escalated), targets, variant=f"step{step}")
    return Outcome("escalated", escalated, [incident_record("escalated", escalated, now)], notes)


def acknowledge(incident: Incident, by: Recipient, via: AckVia, now: datetime) -> Outcome:
    if any(a.by.address == by.address for a in incident.acknowledgements):
        return Outcome("duplicate_acknowledgement", incident)
    acks = [*incident.acknowledgements, Acknowledgement(by=by, via=via, at=now)]
    status = IncidentStatus.ACKNOWLEDGED if incident.status in ESCALATABLE else incident.status
    acknowledged = with_entry(
        incident, now, f"acknowledged by {by.name} ({by.agency_id}) via {via}", acknowledgements=acks, status=status
    )
    return Outcome("acknowledged", acknowledged, [incident_record("acknowledged", acknowledged, now)])


def breach(incident: Incident, now: datetime) -> Outcome:
    """The window ended with nobody acknowledging: recorded once, for the audit trail and the metric."""
    if incident.breached or incident.acknowledged or now < incident.deadline:
        return Outcome("breach_not_due", incident)
    breached = with_entry(incident, now, "the crucial hour ended without an acknowledgement", breached=True)
    return Outcome("breached", breached, [incident_record("breached", breached, now)])


def commands_due(incidents: list[Incident], config: Config, now: datetime) -> list[IncidentCommand]:
    """What the leader's timer asks of the owners now: escalation steps due and windows breached."""
    commands: list[IncidentCommand] = []
    for incident in incidents:
        step = due_step(incident, config.escalation.chains.get(incident.priority), now)
        if step > incident.escalation_step:
            commands.append(
                Escalate(incident_id=incident.incident_id, child_reference=incident.child_reference, at=now, step=step)
            )
        if not incident.breached and not incident.acknowledged and now >= incident.deadline and incident.status in ESCALATABLE:
            commands.append(Breach(incident_id=incident.incident_id, child_reference=incident.child_reference, at=now))
    return commands


# The reason a person who was reached gives for passing an alert on (a key press on a call); spelt here
# like ADDRESS_INVALID, from alerts.channels.reasons.
PASSED_ON = "passed_on"
FALLS_BACK: tuple[NotificationKind, ...] = ("alert", "possible_match", "escalation")


@dataclass(frozen=True)
class Failure:
    """A delivery that failed for good: to whom, on which channel, what kind of message, and why."""

    by: Recipient
    channel: str
    kind: NotificationKind
    reason: str


def fallback_routes(ctx: Context, failed: Failure, profile: RiskProfile | None, tried: Collection[str] = ()) -> list[Route]:
    """Whom to try when `failed.by` cannot be reached on `failed.channel` at `ctx.now`: whoever of their
    rota is on call then (or the next in its order not in `tried`), and the same person on the channels
    routing.yaml's `fallback` lists for the channel (e.g. a failed SMS: by email) when we know their
    address — unless they were reached and passed it on (voice, key 2): then not by another channel."""
    recipient, channel = failed.by, failed.channel
    routes = []
    if (next_on_call := fallback(recipient, channel, ctx.config, ctx.now, tried=tried)) is not None:
        routes.append(next_on_call)
    if failed.reason == PASSED_ON:
        return routes
    return routes + same_person_routes(recipient, channel, profile, ctx.config)


def fall_back(ctx: Context, incident: Incident, delivery: Failure, report: Report) -> Outcome:
    """A delivery failed for good: alert the fallbacks, and put the failure on the incident's record."""
    failed, channel, kind, reason, now = delivery.by, delivery.channel, delivery.kind, delivery.reason, ctx.now
    known = {(a.channel, a.recipient.address) for a in incident.alerted}
    tried = [address for c, address in known if c == channel]
    passed_on = reason == PASSED_ON  # reached, and asked for the next on call instead: not by another channel
    routes = fallback_routes(ctx, delivery, report.profile, tried) if kind in FALLS_BACK else []
    targets = [Alerted(channel=r.channel, recipient=r.recipient) for r in routes if (r.channel, r.recipient.address) not in known]
    already = [r for r in routes if (r.channel, r.recipient.address) in known]
    failure = f"{kind} by {channel} to {failed.name} ({failed.agency_id}) failed: {reason}"
    if passed_on:
        failure = f"{failed.name} ({failed.agency_id}) passed the {kind} by {channel} on to the next on call"
    if targets:
        what = failure + "; falling back to " + ", ".join(f"{t.recipient.name} by {t.channel}" for t in targets)
    elif already:
        what = failure + "; already alerted by " + ", ".join(sorted({r.channel for r in already}))
    else:
        what = failure + "; no fallback — reported"
    unreachable = list(incident.unreachable)
    if reason in ADDRESS_INVALID and not any(u.channel == channel and u.recipient == failed for u in unreachable):
        unreachable.append(Alerted(channel=channel, recipient=failed))
        what += f"; {failed.name}'s {channel} address is known to be invalid: nothing more is sent there"
    updated = with_entry(incident, now, what, alerted=[*incident.alerted, *targets], unreachable=unreachable)
    notes = notifications_for(ctx, report.facts(kind, updated), targets, variant=f"fallback:{kind}")
    return Outcome("fell_back" if targets else "no_fallback", updated, [incident_record("updated", updated, now)], notes)


def confirm_claim(ctx: Context, incident: Incident, claim_id: str, by: Recipient, report: Report) -> Outcome:
    """Someone the incident alerted (or the duty team) confirms a claim: it is applied as if the
    placement had sent it, with who confirmed it on the timeline. Confirming twice changes nothing."""
    if not any(c.claim_id == claim_id and c.status == "unverified" for c in incident.claims):
        return Outcome("claim_not_pending", incident)
    claims = [
        c.model_copy(update={"status": "confirmed", "confirmed_by": by}) if c.claim_id == claim_id else c for c in incident.claims
    ]
    base = with_entry(incident, ctx.now, f"claim {claim_id} confirmed by {by.name} ({by.agency_id})", claims=claims)
    return apply_report(ctx, base, report, by=f"{by.name}")
