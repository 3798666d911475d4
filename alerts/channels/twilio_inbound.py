"""SMS replies from Twilio's inbound webhook: "ACK <ref>" acknowledges an incident.

Pure apart from the signature check (Twilio's RequestValidator): the web view passes the form, the
signature header and the query string, and answers with the TwiML this module builds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from twilio.twiml.messaging_response import MessagingResponse

from alerts.channels.secrets import twilio_auth_token
from alerts.channels.twilio_account import TWILIO
from alerts.channels.twilio_status import BadCallback, BadSignature, signature_valid

if TYPE_CHECKING:
    from alerts.config import Config

# "ACK CH-4K7QX2", "ack ch-4k7qx2", "Ack: CH-4K7QX2 on my way" — the reference is what matters.
_ACK = re.compile(r"^\s*ACK\b[\s:.-]*CH-?([A-Z2-7]{6})\b", re.IGNORECASE)
# "CONFIRM CH-4K7QX2 1a2b3c4d": an unverified report (alerts.authority) on that incident is true.
_CONFIRM = re.compile(r"^\s*CONFIRM\b[\s:.-]*CH-?([A-Z2-7]{6})\b[\s:.-]*([0-9a-f]{8})?\b", re.IGNORECASE)


@dataclass(frozen=True)
class InboundSms:
    sender: str  # the From number: whose acknowledgement it is
    body: str

    @property
    def acknowledged_reference(self) -> str | None:
        """The incident reference an "ACK <ref>" reply names, normalised to CH-XXXXXX; else None."""
        found = _ACK.match(self.body)
        if found is None:
            return None
        return f"CH-{found.group(1).upper()}"

    @property
    def confirmed_claim(self) -> tuple[str, str | None] | None:
        """(incident reference, claim id or None) a "CONFIRM <ref> [<claim>]" reply names; else None."""
        found = _CONFIRM.match(self.body)
        if found is None:
            return None
        return f"CH-{found.group(1).upper()}", found.group(2).lower() if found.group(2) else None


def twiml_message(text: str) -> str:
    """The TwiML answer that sends `text` back to the person who replied."""
    response = MessagingResponse()
    response.message(text)
    return str(response)


class InboundWebhook:
    def __init__(self, *, auth_token: str, account_sid: str, public_url: str) -> None:
        self._auth_token = auth_token
        self.account_sid = account_sid
        self.public_url = public_url

    def verify(self, form: Mapping[str, str], signature: str | None, query_string: str = "") -> InboundSms:
        """Raises BadSignature (answer 403) or BadCallback (answer 400); else the message."""
        url = urlunsplit(urlsplit(self.public_url)._replace(query=query_string))
        if not signature_valid(self._auth_token, url, form, signature):
            raise BadSignature("X-Twilio-Signature does not match")
        if form.get("AccountSid") not in (None, self.account_sid):
            raise BadSignature("message for another account")
        sender, body = form.get("From", ""), form.get("Body", "")
        if not sender:
            raise BadCallback("From missing")
        return InboundSms(sender=sender, body=body)


def inbound_webhook_from_config(config: Config) -> InboundWebhook | None:
    """None unless Twilio and its inbound_url are configured."""
    settings = TWILIO.of(config)
    if settings is None or not settings.inbound_url:
        return None
    return InboundWebhook(
        auth_token=twilio_auth_token(config, settings),
        account_sid=settings.account_sid,
        public_url=settings.inbound_url,
    )
