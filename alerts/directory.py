"""What every worker knows about incidents: the latest state of each, and how its deliveries went.

Fed from the incidents and deliveries topics (every partition), it answers the situation board,
acknowledgements (reference -> incident), the leader's escalation timer and the incident gauges.

It may lag what was just written (its follower fetches in batches). A reader that must not refuse
what was written a moment ago — a key press on a call placed from a record this worker has not read
yet — asks `await directory.look(lookup)`: a hit is answered at once; a miss is looked up again once
the directory has caught up with everything written before the miss (`catch_up`, set by the worker).

What it holds stays bounded however long a worker runs: resolved incidents beyond the newest
`KEPT_AFTER_RESOLVED` are forgotten; the latest step of each of their notifications is kept a while
longer, the newest `FORGOTTEN_STEPS_KEPT` of them, because a notification read again (its offset not
yet committed) must still find that it was sent. Both topics keep everything for the audit. Listeners
hear of each step applied and each incident forgotten, so the state others keep beside it is bounded
the same way.

`state()` is all it holds as plain JSON values, and `restore(state)` puts it back: the worker keeps it
on disk with the offsets it covers (streams/pipeline/feed_snapshot.py), so a start reads only what
followed instead of the topics' whole history.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from alerts.model import DeliveryRecord, Incident, IncidentRecord, IncidentStatus, Recipient
from alerts.phone import normalised

OPEN_STATES = (IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED, IncidentStatus.ESCALATED)
KEPT_AFTER_RESOLVED = 500  # resolved incidents the board still shows
# Ids of forgotten incidents remembered, so that a step of one read later (a repeated callback; a replay
# reads the two topics in no set order) is filed with the forgotten incidents' steps, not waited on as early.
FORGOTTEN_REMEMBERED = 100_000
FORGOTTEN_STEPS_KEPT = 100_000  # the latest steps of forgotten incidents' notifications, the newest kept
T = TypeVar("T")


async def _nothing_to_catch_up() -> bool:
    return False  # fed directly (tests, in memory): what is applied is all there is


@dataclass
class IncidentView:
    incident: Incident
    deliveries: dict[str, DeliveryRecord] = field(default_factory=dict)  # by idempotency key
    first_delivery_at: datetime | None = None


class IncidentDirectory:
    def __init__(self) -> None:
        self._views: dict[str, IncidentView] = {}
        self._by_reference: dict[str, str] = {}
        self._early_deliveries: dict[str, list[DeliveryRecord]] = {}
        self._forgotten: dict[str, None] = {}  # an ordered set, the oldest first
        # By idempotency key, the oldest first: (state, the step as JSON), a fifth of the model's memory.
        self._forgotten_steps: dict[str, tuple[str, str]] = {}
        self.on_delivery: list[Callable[[DeliveryRecord], None]] = []  # each step as it is applied
        self.on_forget: list[Callable[[IncidentView], None]] = []  # each incident as it is forgotten
        # Returns once everything written before the call is applied (False: it could not say so in time).
        self.catch_up: Callable[[], Awaitable[bool]] = _nothing_to_catch_up

    async def look(self, lookup: Callable[[], T | None]) -> T | None:
        """`lookup()` now; on a miss (None), once more after the directory has caught up with what was
        written before the miss — a miss may be the directory's lag, not an answer. A hit never waits."""
        found = lookup()
        if found is not None:
            return found
        await self.catch_up()  # on False (timed out, not running) the second look answers from what is applied
        return lookup()

    def apply_incident(self, record: IncidentRecord) -> None:
        incident = record.incident
        if incident.incident_id in self._forgotten:
            return  # a stale record of an incident resolved and forgotten
        view = self._views.get(incident.incident_id)
        if view is None:
            view = IncidentView(incident)
            self._views[incident.incident_id] = view
            self._by_reference[incident.reference.upper()] = incident.incident_id
            for early in self._early_deliveries.pop(incident.incident_id, []):
                self._add_delivery(view, early)
        elif len(incident.timeline) >= len(view.incident.timeline):  # ignore a stale replayed record
            view.incident = incident
        if incident.status == IncidentStatus.RESOLVED:
            self._forget_old_resolved()

    def apply_delivery(self, record: DeliveryRecord) -> None:
        for listener in self.on_delivery:
            listener(record)
        if record.incident_id in self._forgotten:
            self._keep_forgotten_step(record)
            return
        view = self._views.get(record.incident_id)
        if view is None:  # the delivery's incident record is on another partition, not read yet
            self._early_deliveries.setdefault(record.incident_id, []).append(record)
            return
        self._add_delivery(view, record)

    @staticmethod
    def _add_delivery(view: IncidentView, record: DeliveryRecord) -> None:
        previous = view.deliveries.get(record.idempotency_key)
        if previous is None or previous.state != "delivered":
            view.deliveries[record.idempotency_key] = record
        if record.state in ("accepted", "delivered") and (view.first_delivery_at is None or record.at < view.first_delivery_at):
            view.first_delivery_at = record.at

    def _forget_old_resolved(self) -> None:
        resolved = [v for v in self._views.values() if v.incident.status == IncidentStatus.RESOLVED]
        excess = len(resolved) - KEPT_AFTER_RESOLVED
        for view in sorted(resolved, key=lambda v: v.incident.received_at)[: max(excess, 0)]:
            self._forget(view)

    def _forget(self, view: IncidentView) -> None:
        incident_id = view.incident.incident_id
        del self._views[incident_id]
        self._by_reference.pop(view.incident.reference.upper(), None)
        self._forgotten[incident_id] = None
        if len(self._forgotten) > FORGOTTEN_REMEMBERED:
            del self._forgotten[next(iter(self._forgotten))]
        for step in view.deliveries.values():
            self._keep_forgotten_step(step)
        for listener in self.on_forget:
            listener(view)

    def _keep_forgotten_step(self, record: DeliveryRecord) -> None:
        key = record.idempotency_key
        kept = self._forgotten_steps.get(key)
        if kept is None or kept[0] != "delivered":  # "delivered" is the last word, as in _add_delivery
            self._forgotten_steps.pop(key, None)  # filed again as the newest
            self._forgotten_steps[key] = (record.state, record.model_dump_json())
            if len(self._forgotten_steps) > FORGOTTEN_STEPS_KEPT:
                del self._forgotten_steps[next(iter(self._forgotten_steps))]

    def state(self) -> dict[str, Any]:
        """What the directory holds, as JSON values (each record as its own JSON, as the topics carry it)."""
        return {
            "incidents": [
                {
                    "incident": view.incident.model_dump_json(),
                    "deliveries": [step.model_dump_json() for step in view.deliveries.values()],
                    "first_delivery_at": view.first_delivery_at.isoformat() if view.first_delivery_at else None,
                }
                for view in self._views.values()
            ],
            "early": [
                [incident_id, [step.model_dump_json() for step in steps]] for incident_id, steps in self._early_deliveries.items()
            ],
            "forgotten": list(self._forgotten),
            "forgotten_steps": [[key, state, step] for key, (state, step) in self._forgotten_steps.items()],
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Hold `state` (from `state()`) instead of what it holds now; listeners hear nothing of it.
        A state that does not read as one raises (ValueError, TypeError, KeyError): nothing is changed."""
        views: dict[str, IncidentView] = {}
        for held in state["incidents"]:
            view = IncidentView(Incident.model_validate_json(held["incident"]))
            for raw in held["deliveries"]:
                step = DeliveryRecord.model_validate_json(raw)
                view.deliveries[step.idempotency_key] = step
            first = held["first_delivery_at"]
            view.first_delivery_at = datetime.fromisoformat(first) if first is not None else None
            views[view.incident.incident_id] = view
        early = {str(i): [DeliveryRecord.model_validate_json(raw) for raw in steps] for i, steps in state["early"]}
        forgotten = {str(incident_id): None for incident_id in state["forgotten"]}
        steps = {str(key): (str(kept), str(raw)) for key, kept, raw in state["forgotten_steps"]}
        self._views, self._early_deliveries, self._forgotten, self._forgotten_steps = views, early, forgotten, steps
        self._by_reference = {v.incident.reference.upper(): incident_id for incident_id, v in views.items()}

    def sizes(self) -> dict[str, int]:
        """What it holds, by kind (the state a long run must keep bounded)."""
        early = sum(len(steps) for steps in self._early_deliveries.values())
        steps = sum(len(v.deliveries) for v in self._views.values())
        return {
            "incidents": len(self._views),
            "delivery steps": steps,
            "early steps": early,
            "forgotten ids": len(self._forgotten),
            "forgotten steps": len(self._forgotten_steps),
        }

    def get(self, incident_id: str) -> IncidentView | None:
        return self._views.get(incident_id)

    def delivery(self, incident_id: str, idempotency_key: str) -> DeliveryRecord | None:
        """The latest record of one notification, as the deliveries topic tells it."""
        view = self._views.get(incident_id)
        if view is not None:
            return view.deliveries.get(idempotency_key)
        early = [r for r in self._early_deliveries.get(incident_id, []) if r.idempotency_key == idempotency_key]
        if early:
            return early[-1]
        kept = self._forgotten_steps.get(idempotency_key)  # a forgotten incident's
        step = DeliveryRecord.model_validate_json(kept[1]) if kept is not None else None
        return step if step is not None and step.incident_id == incident_id else None

    def by_reference(self, reference: str) -> IncidentView | None:
        incident_id = self._by_reference.get(reference.strip().upper())
        return self._views.get(incident_id) if incident_id else None

    def open_for_child(self, child_reference: str) -> IncidentView | None:
        """The child's open incident, if any (the triage agent keeps at most one)."""
        views = [
            v for v in self._views.values() if v.incident.child_reference == child_reference and v.incident.status in OPEN_STATES
        ]
        return max(views, key=lambda v: v.incident.received_at) if views else None

    def open(self) -> list[IncidentView]:
        """Open incidents, the nearest deadline first."""
        return sorted((v for v in self._views.values() if v.incident.status in OPEN_STATES), key=lambda v: v.incident.deadline)

    def alerted_recipient(self, view: IncidentView, channel: str, address: str) -> Recipient | None:
        """The recipient of this incident reached at `address`, if any (acknowledgement is theirs only)."""
        for alerted in view.incident.alerted:
            if alerted.channel == channel and _same_address(alerted.recipient.address, address):
                return alerted.recipient
        return None


def _same_address(a: str, b: str) -> bool:
    """Phone numbers compare in E.164 (07700 900101 is +447700900101); emails case-blind."""
    if "@" in a or "@" in b:
        return a.strip().lower() == b.strip().lower()
    return normalised(a) == normalised(b)
