"""Twilio's webhooks on the worker's web port: message status callbacks and SMS replies.

Both check X-Twilio-Signature (403 otherwise) and hand the result on as a record keyed for its
owner: a status to the delivery agent (by idempotency key), an acknowledgement to the incident's
owner (by child reference). Neither logs the form: it carries phone numbers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from faust.web import Request, Response, View

from alerts.channels.sms import NAME as SMS
from alerts.channels.twilio_inbound import InboundSms, inbound_webhook_from_config, twiml_message
from alerts.channels.twilio_status import BadCallback, BadSignature, StatusCallbacks, status_callbacks_from_config
from alerts.directory import IncidentView
from alerts.model import DeliveryStatus, Recipient
from streams.pipeline import metrics
from streams.web.acks import AckOutcome, record_acknowledgement, record_confirmation

if TYPE_CHECKING:
    from streams.web.ports import WorkerPort

log = logging.getLogger("crucial.webhooks")
T = TypeVar("T")
TWIML = "application/xml"


async def _form(request: Request) -> dict[str, str]:
    return {k: v for k, v in (await request.post()).items() if isinstance(v, str)}


class Refused(Exception):
    """A Twilio webhook request that is not answered: what to say, and the HTTP status."""

    def __init__(self, text: str, status: int) -> None:
        super().__init__(text)
        self.text, self.status = text, status


async def signed(request: Request, verify: Callable[[dict[str, str], str | None, str], T], what: str) -> T:
    """What a Twilio webhook request says, once its signature is checked; Refused otherwise (403 for a
    bad signature, 400 for a malformed request)."""
    try:
        return verify(await _form(request), request.headers.get("X-Twilio-Signature"), request.rel_url.raw_query_string)
    except BadSignature:
        log.warning("%s refused: bad signature", what)
        raise Refused("forbidden", 403) from None
    except BadCallback as exc:
        raise Refused(f"bad request: {exc}", 400) from None


def register_webhooks(worker: WorkerPort) -> None:
    app, config = worker.app, worker.config
    status_callbacks = status_callbacks_from_config(config)
    inbound = inbound_webhook_from_config(config)

    @app.page("/twilio/status")
    class TwilioStatus(View):
        async def post(self, request: Request) -> Response:
            if status_callbacks is None:
                return self.text("status callbacks are not configured", status=404)
            text, status = await _status_callback(worker, status_callbacks, request)
            return self.text(text, status=status)

    @app.page("/twilio/inbound")
    class TwilioInbound(View):
        """An SMS reply: "ACK <ref>" from a number that was alerted acknowledges the incident."""

        async def post(self, request: Request) -> Response:
            if inbound is None:
                return self.text("inbound SMS is not configured", status=404)
            try:
                sms = await signed(request, inbound.verify, "inbound SMS")
            except Refused as refused:
                return self.text(refused.text, status=refused.status)
            return self.text(twiml_message(await _reply_to(worker, sms)), content_type=TWIML)


async def _status_callback(worker: WorkerPort, callbacks: StatusCallbacks, request: Request) -> tuple[str, int]:
    """Verify a message status callback and pass a final status to the delivery agent: (text, status)."""
    try:
        report = await signed(request, callbacks.verify, "status callback")
    except Refused as refused:
        return refused.text, refused.status
    if report.outcome is None:
        return "", 204  # queued, sending, sent: not final
    if report.notification_key is None:
        return "bad request: the callback URL carries no notification key", 400
    status = DeliveryStatus(
        idempotency_key=report.notification_key,
        provider_id=report.provider_id,
        outcome=report.outcome,
        reason=report.reason,
        error_code=report.error_code,
        at=worker.clock(),
    )
    topic = worker.config.settings.kafka.topics.delivery_status
    await worker.outputs.emit(topic, status.idempotency_key, status.model_dump_json().encode())
    return "", 204


async def _reply_to(worker: WorkerPort, sms: InboundSms) -> str:
    """Acknowledge (ACK <ref>) or confirm a claim (CONFIRM <ref> <claim>) from an alerted number; the reply."""
    confirming = sms.confirmed_claim
    reference = confirming[0] if confirming else sms.acknowledged_reference

    def alerted() -> tuple[IncidentView, Recipient] | None:
        view = worker.directory.by_reference(reference) if reference else None
        recipient = worker.directory.alerted_recipient(view, SMS, sms.sender) if view else None
        return (view, recipient) if view is not None and recipient is not None else None

    # The alert was sent from a record this worker's directory may not have read yet: a miss waits for it.
    found = await worker.directory.look(alerted) if reference else None
    if found is None:
        metrics.ACKNOWLEDGEMENTS.labels(SMS, "rejected").inc()
        return "Crucial Hour: to acknowledge, reply ACK and the reference from the alert you received, e.g. ACK CH-4K7QX2."
    view, recipient = found
    if confirming is not None:
        return await _confirm(worker, view, confirming[1], recipient)
    outcome = await record_acknowledgement(worker, view, recipient, SMS)
    log.info("acknowledgement of %s by %s by SMS: %s", view.incident.reference, recipient.agency_id, outcome.value)
    if outcome is AckOutcome.RECORDED:
        return f"Crucial Hour: {view.incident.reference} acknowledged by {recipient.name}. Thank you."
    return f"Crucial Hour: {view.incident.reference} NOT acknowledged: {outcome.message}."


async def _confirm(worker: WorkerPort, view: IncidentView, claim_id: str | None, recipient: Recipient) -> str:
    """Confirm the named claim, or the only unverified one when none is named; the reply to send."""

    def pending_on(latest: IncidentView) -> list[str]:
        return [c.claim_id for c in latest.incident.claims if c.status == "unverified"]

    if claim_id is None and not pending_on(view):  # the claim the person was told of may not be read yet
        view = await worker.directory.look(lambda: _with(worker, view, pending_on)) or view
    pending = pending_on(view)
    if claim_id is None and len(pending) == 1:
        claim_id = pending[0]
    reference = view.incident.reference
    if claim_id is None:
        return f"Crucial Hour: {reference} has {len(pending)} unverified reports; reply CONFIRM {reference} and the report's id."
    outcome = await record_confirmation(worker, view, claim_id, recipient, SMS)
    log.info("claim %s on %s confirmed by SMS by %s: %s", claim_id, reference, recipient.agency_id, outcome.value)
    if outcome is AckOutcome.RECORDED:
        return f"Crucial Hour: report {claim_id} on {reference} confirmed by {recipient.name} and applied. Thank you."
    return f"Crucial Hour: report {claim_id} on {reference} NOT confirmed: {outcome.message}."


def _with(worker: WorkerPort, view: IncidentView, wanted: Callable[[IncidentView], object]) -> IncidentView | None:
    """The directory's latest view of this incident if `wanted` holds of it (None: not yet)."""
    latest = worker.directory.get(view.incident.incident_id)
    return latest if latest is not None and wanted(latest) else None
