"""Acknowledgements and claim confirmations, answered only once they are on the incident's record.

The web views (acknowledgement link, SMS reply, board) send a command to the incident's owner and then
wait until this worker's incident directory — which follows the incidents topic — shows the change.
They answer "recorded" only then; "closed" when the incident is no longer open (nothing to record);
"not confirmed" when the record did not appear in time, so the person knows to try again or phone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING

from alerts.directory import OPEN_STATES, IncidentView
from alerts.model import Acknowledge, AckVia, ConfirmClaim, Incident, Recipient

if TYPE_CHECKING:
    from streams.web.ports import WorkerPort

POLL_S = 0.05


class AckOutcome(Enum):
    RECORDED = "recorded"
    CLOSED = "closed"
    NO_SUCH_CLAIM = "no_such_claim"
    NOT_CONFIRMED = "not_confirmed"

    @property
    def message(self) -> str:
        return {
            "recorded": "recorded, thank you",
            "closed": "this incident is closed or unknown: nothing was recorded",
            "no_such_claim": "there is no unverified report with that id on this incident: nothing was recorded",
            "not_confirmed": "the system did not confirm it was recorded: try again, or phone the duty team",
        }[self.value]


async def _wait_until(worker: WorkerPort, incident_id: str, done: Callable[[Incident], bool], timeout_s: float) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        view = worker.directory.get(incident_id)
        if view is not None and done(view.incident):
            return True
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(POLL_S)  # polling this worker's own memory for a condition, not a fixed wait


def _timeout(worker: WorkerPort) -> float:
    return worker.config.providers.ingest.produce_timeout_s


async def record_acknowledgement(worker: WorkerPort, view: IncidentView, by: Recipient, via: AckVia) -> AckOutcome:
    incident = view.incident
    if incident.status not in OPEN_STATES:
        return AckOutcome.CLOSED
    command = Acknowledge(
        incident_id=incident.incident_id,
        child_reference=incident.child_reference,
        at=worker.clock(),
        by=by,
        via=via,
    )
    await worker.command(command)

    def acknowledged(now: Incident) -> bool:
        return any(a.by.address == by.address for a in now.acknowledgements) or now.status not in OPEN_STATES

    if not await _wait_until(worker, incident.incident_id, acknowledged, _timeout(worker)):
        return AckOutcome.NOT_CONFIRMED
    latest = worker.directory.get(incident.incident_id)
    if latest is not None and not any(a.by.address == by.address for a in latest.incident.acknowledgements):
        return AckOutcome.CLOSED  # it closed before the acknowledgement reached it
    return AckOutcome.RECORDED


async def record_confirmation(worker: WorkerPort, view: IncidentView, claim_id: str, by: Recipient, via: AckVia) -> AckOutcome:
    """Confirm an unverified claim on the incident (see alerts.authority)."""

    def with_claim() -> IncidentView | None:  # the claim the person was told of may not be read here yet
        latest = worker.directory.get(view.incident.incident_id)
        return latest if latest is not None and any(c.claim_id == claim_id for c in latest.incident.claims) else None

    if not any(c.claim_id == claim_id for c in view.incident.claims):
        view = await worker.directory.look(with_claim) or view
    incident = view.incident
    if incident.status not in OPEN_STATES:
        return AckOutcome.CLOSED
    if not any(c.claim_id == claim_id and c.status == "unverified" for c in incident.claims):
        return AckOutcome.NO_SUCH_CLAIM
    command = ConfirmClaim(
        incident_id=incident.incident_id,
        child_reference=incident.child_reference,
        at=worker.clock(),
        by=by,
        via=via,
        claim_id=claim_id,
    )
    await worker.command(command)

    def confirmed(now: Incident) -> bool:
        return any(c.claim_id == claim_id and c.status == "confirmed" for c in now.claims)

    ok = await _wait_until(worker, incident.incident_id, confirmed, _timeout(worker))
    return AckOutcome.RECORDED if ok else AckOutcome.NOT_CONFIRMED
