"""Twilio's voice webhooks on the worker's web port: the key pressed on an alert call, and the call's
progress. Both check X-Twilio-Signature (403 otherwise, nothing recorded), as the SMS webhooks do.

- POST /twilio/voice/gather?key=…&ref=…&kind=… — 1 acknowledges (the same command, timeline entry and
  metric as an SMS "ACK", via "voice"), 2 asks the incident's owner to pass the alert to the next on
  call (a fall_back, as after a failed SMS), anything else is asked again. Answered with TwiML.
- POST /twilio/voice/status?key=… — a call that ended (completed / no-answer / busy / failed) becomes
  a delivery status for the deliverer, keyed like the notification; a failed one falls back there.

Neither logs the form: it carries phone numbers.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, get_args

from faust.web import Request, Response, View

from alerts.channels import reasons as channel_reasons
from alerts.channels.twilio_voice import (
    ACKNOWLEDGE_KEY,
    PASS_ON_KEY,
    KeyPress,
    VoiceWebhooks,
    reply_twiml,
    voice_webhooks_from_config,
)
from alerts.channels.voice_account import NAME as VOICE
from alerts.directory import OPEN_STATES, IncidentView
from alerts.lifecycle import FALLS_BACK
from alerts.model import DeliveryStatus, FallBack, NotificationKind, Recipient
from streams.pipeline import metrics
from streams.web.acks import AckOutcome, record_acknowledgement
from streams.web.webhooks import Refused, signed

if TYPE_CHECKING:
    from streams.web.ports import WorkerPort

log = logging.getLogger("crucial.webhooks.voice")
TWIML = "application/xml"
KINDS = frozenset(get_args(NotificationKind))


def register_voice_webhooks(worker: WorkerPort) -> None:
    app = worker.app
    hooks = voice_webhooks_from_config(worker.config)
    topics = worker.config.settings.kafka.topics

    @app.page("/twilio/voice/status")
    class VoiceStatus(View):
        async def post(self, request: Request) -> Response:
            if hooks is None:
                return self.text("voice calls are not configured", status=404)
            try:
                report = await signed(request, hooks.verify_status, "call status callback")
            except Refused as refused:
                return self.text(refused.text, status=refused.status)
            if report.outcome is None:
                return self.text("", status=204)  # initiated, ringing, in progress: not final
            if report.notification_key is None:
                return self.text("bad request: the callback URL carries no notification key", status=400)
            status = DeliveryStatus(
                idempotency_key=report.notification_key,
                provider_id=report.provider_id,
                outcome=report.outcome,
                reason=report.reason,
                at=worker.clock(),
            )
            await worker.outputs.emit(topics.delivery_status, status.idempotency_key, status.model_dump_json().encode())
            return self.text("", status=204)

    @app.page("/twilio/voice/gather")
    class VoiceGather(View):
        """The key pressed on an alert call: 1 acknowledges, 2 passes it to the next on call."""

        async def post(self, request: Request) -> Response:
            if hooks is None:
                return self.text("voice calls are not configured", status=404)
            try:
                press = await signed(request, hooks.verify_gather, "key press")
            except Refused as refused:
                return self.text(refused.text, status=refused.status)
            return self.text(await _answer(worker, hooks, press), content_type=TWIML)


async def _answer(worker: WorkerPort, hooks: VoiceWebhooks, press: KeyPress) -> str:
    """The TwiML answering one key press, once what it asks is on its way to the incident's owner."""

    def alerted() -> tuple[IncidentView, Recipient] | None:
        view = worker.directory.by_reference(press.reference)
        recipient = worker.directory.alerted_recipient(view, VOICE, press.called) if view else None
        return (view, recipient) if view is not None and recipient is not None else None

    # The call was placed from a record this worker's directory may not have read yet: a miss waits for it.
    found = await worker.directory.look(alerted) if press.kind in KINDS else None
    if found is None:
        metrics.ACKNOWLEDGEMENTS.labels(VOICE, "rejected").inc()
        return reply_twiml("This call does not match an open alert for this number. Nothing was recorded.", hooks.speech)
    view, recipient = found
    if press.digits == ACKNOWLEDGE_KEY:
        outcome = await record_acknowledgement(worker, view, recipient, VOICE)
        log.info("acknowledgement of %s by %s by voice: %s", view.incident.reference, recipient.agency_id, outcome.value)
        if outcome is AckOutcome.RECORDED:
            return reply_twiml(f"Acknowledged by {recipient.name}. Thank you. Goodbye.", hooks.speech)
        return reply_twiml(f"Not acknowledged: {outcome.message}.", hooks.speech)
    if press.digits == PASS_ON_KEY and press.kind in FALLS_BACK:
        return reply_twiml(await _pass_on(worker, view, recipient, press.kind), hooks.speech)
    if press.digits == PASS_ON_KEY:  # an update or a manual check: nobody else is alerted for these
        return reply_twiml("This message is not passed on.", hooks.speech, gather_again=hooks.again(press))
    return reply_twiml("That key does nothing.", hooks.speech, gather_again=hooks.again(press))


async def _pass_on(worker: WorkerPort, view: IncidentView, recipient: Recipient, kind: NotificationKind) -> str:
    """Ask the incident's owner to alert the next on call instead of `recipient` (a fall_back command,
    as after a failed delivery); what to say."""
    incident = view.incident
    if incident.status not in OPEN_STATES:
        return "This incident is closed. Nothing more is needed. Goodbye."
    if incident.acknowledged:
        return f"This alert was already acknowledged by {incident.acknowledgements[0].by.name}. Goodbye."
    command = FallBack(
        incident_id=incident.incident_id,
        child_reference=incident.child_reference,
        at=worker.clock(),
        by=recipient,
        channel=VOICE,
        kind=kind,
        reason=channel_reasons.PASSED_ON,
    )
    await worker.command(command)
    metrics.FALLBACKS.labels(VOICE, channel_reasons.PASSED_ON).inc()
    log.info("%s passed on by %s by voice", incident.reference, recipient.agency_id)
    return "Passing this alert to the next person on call. Goodbye."
