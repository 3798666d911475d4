"""Twilio's webhooks on the worker's web port: message status callbacks and SMS replies.

Both check X-Twilio-Signature (403 otherwise) and hand the result on as a record keyed for its
owner: a status to the delivery agent (by idempotency key), an acknowledgement to the incident's
owner (by child reference). Neither logs the form: it carries phone numbers.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from faust.web import Request, Response, View

from alerts.channels import BadCallback, BadSignature, status_callbacks_from_config
from alerts.channels.twilio_inbound import inbound_webhook_from_config, twiml_message
from alerts.model import DeliveryStatus, IncidentCommand
from streams import metrics

if TYPE_CHECKING:
    from streams.app import Worker

log = logging.getLogger("crucial.webhooks")
TWIML = "application/xml"


async def _form(request: Request) -> dict[str, str]:
    return {k: v for k, v in (await request.post()).items() if isinstance(v, str)}


def register_webhooks(worker: Worker) -> None:
    app, config = worker.app, worker.config
    status_callbacks = status_callbacks_from_config(config)
    inbound = inbound_webhook_from_config(config)
    topics = config.settings.kafka.topics

    @app.page("/twilio/status")
    class TwilioStatus(View):
        async def post(self, request: Request) -> Response:
            if status_callbacks is None:
                return self.text("status callbacks are not configured", status=404)
            try:
                report = status_callbacks.verify(
                    await _form(request), request.headers.get("X-Twilio-Signature"), request.rel_url.raw_query_string
                )
            except BadSignature:
                log.warning("status callback refused: bad signature")
                return self.text("forbidden", status=403)
            except BadCallback as exc:
                return self.text(f"bad request: {exc}", status=400)
            if report.outcome is None:
                return self.text("", status=204)  # queued, sending, sent: not final
            if report.notification_key is None:
                return self.text("bad request: the callback URL carries no notification key", status=400)
            status = DeliveryStatus(
                idempotency_key=report.notification_key,
                provider_id=report.provider_id,
                outcome=report.outcome,
                reason=report.reason,
                error_code=report.error_code,
                at=worker.clock(),
            )
            await worker.outputs.emit(topics.delivery_status, status.idempotency_key, status.model_dump_json().encode())
            return self.text("", status=204)

    @app.page("/twilio/inbound")
    class TwilioInbound(View):
        """An SMS reply: "ACK <ref>" from a number that was alerted acknowledges the incident."""

        async def post(self, request: Request) -> Response:
            if inbound is None:
                return self.text("inbound SMS is not configured", status=404)
            try:
                sms = inbound.verify(
                    await _form(request), request.headers.get("X-Twilio-Signature"), request.rel_url.raw_query_string
                )
            except BadSignature:
                log.warning("inbound SMS refused: bad signature")
                return self.text("forbidden", status=403)
            except BadCallback as exc:
                return self.text(f"bad request: {exc}", status=400)
            reference = sms.acknowledged_reference
            view = worker.directory.by_reference(reference) if reference else None
            recipient = worker.directory.alerted_recipient(view, "sms", sms.sender) if view else None
            if view is None or recipient is None:
                metrics.ACKNOWLEDGEMENTS.labels("sms", "rejected").inc()
                reply = (
                    "Crucial Hour: to acknowledge, reply ACK and the reference from the alert you received, e.g. ACK CH-4K7QX2."
                )
                return self.text(twiml_message(reply), content_type=TWIML)
            command = IncidentCommand(
                command="acknowledge",
                incident_id=view.incident.incident_id,
                child_reference=view.incident.child_reference,
                at=worker.clock(),
                by=recipient,
                via="sms",
            )
            await worker.command(command)
            log.info("acknowledgement of %s by %s received by SMS", view.incident.reference, recipient.agency_id)
            reply = f"Crucial Hour: {view.incident.reference} acknowledged by {recipient.name}. Thank you."
            return self.text(twiml_message(reply), content_type=TWIML)
