"""Voice calls through Twilio Programmable Voice, with the official `twilio` client: the phone rings, a
short message is read out, and one key is gathered — 1 acknowledges, 2 passes it to the next on call.

The call carries its TwiML inline (Calls.create `twiml`), rendered from the notification's text
(templates/voice/): Twilio needs nothing from us to speak, and any worker can take the key press,
because the Gather action URL names the notification (key), the incident (ref) and the kind. Those
URLs are signed by Twilio with the account's auth token, so their parameters are as trustworthy as
the signature; every webhook — the Gather post and the call status callbacks — is checked with
Twilio's RequestValidator exactly as the SMS webhooks are (alerts.channels.twilio_status).

Call outcomes: answered and ended (`completed`) is delivered; `no-answer`, `busy`, `failed`,
`canceled` are failures with a bounded reason (alerts.channels.reasons), after which the deliverer
falls back to the next on call as for a failed SMS. Failures to place the call are translated like
SMS ones (alerts.channels.twilio_sms), plus the codes only calls have (PERMANENT_CALL_CODES).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from twilio.twiml.voice_response import VoiceResponse

from alerts.channels import reasons
from alerts.channels.base import Accepted, DeliveryError
from alerts.channels.retry import RetryPolicy
from alerts.channels.secrets import twilio_auth_token
from alerts.channels.twilio_account import TWILIO, TwilioSettings
from alerts.channels.twilio_sms import TwilioSmsSender, to_e164, translate_rest_error
from alerts.channels.twilio_status import BadCallback, BadSignature, signature_valid, with_key
from alerts.channels.voice_account import VOICE, VoiceSettings
from alerts.model import Notification

if TYPE_CHECKING:
    from alerts.config import Config

log = logging.getLogger("crucial.channels.twilio_voice")

ACKNOWLEDGE_KEY = "1"
PASS_ON_KEY = "2"
# Kinds whose SMS says "Reply ACK": the call gathers a key for these; the others are only read out.
GATHERS: frozenset[str] = frozenset({"alert", "possible_match", "escalation", "update", "manual_check"})
CALL_EVENTS = ["initiated", "ringing", "answered", "completed"]
CALL_STATUSES = frozenset(
    {"queued", "initiated", "ringing", "in-progress", "completed", "busy", "failed", "no-answer", "canceled"}
)
NOT_REACHED: dict[str, str] = {
    "no-answer": reasons.NO_ANSWER,
    "busy": reasons.BUSY,
    "failed": reasons.CALL_FAILED,
    "canceled": reasons.CANCELED,
}
# Twilio error codes of the Calls resource that mean "this number cannot be called": no retry.
PERMANENT_CALL_CODES: dict[int, str] = {
    21215: reasons.REGION_NOT_ENABLED,  # geo permissions: the account may not call this number
    21217: reasons.INVALID_NUMBER,  # the phone number does not appear to be valid
    13223: reasons.INVALID_NUMBER,  # invalid phone number format
    13224: reasons.INVALID_NUMBER,  # Twilio does not support calling this number
}
_CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")
_KEY = re.compile(r"^[0-9a-f]{8,64}$")
_REF = re.compile(r"^CH-[A-Z0-9]{4,12}$")
_KIND = re.compile(r"^[a-z_]{1,32}$")
_DIGITS = re.compile(r"^[0-9*#]{0,8}$")


@dataclass(frozen=True)
class Speech:
    """How Twilio reads the text out (settings.twilio.voice)."""

    language: str = "en-GB"
    voice: str | None = None
    repeat: int = 2
    gather_timeout_s: int = 8

    def say(self, parent: Any, text: str, loop: int = 1) -> None:
        options: dict[str, Any] = {"language": self.language}
        if self.voice:
            options["voice"] = self.voice
        if loop != 1:
            options["loop"] = loop
        parent.say(text, **options)


NO_KEY = "No key was pressed. The alert stays open and will be escalated. Goodbye."
KEYS_PROMPT = "Press 1 to acknowledge. Press 2 to pass this to the next person on call."


def call_twiml(text: str, speech: Speech, gather_action: str | None) -> str:
    """The call's TwiML: `text` read out `speech.repeat` times inside a one-key Gather posting to
    `gather_action`; without one (nothing to acknowledge) it is read out and the call ends."""
    response = VoiceResponse()
    if gather_action is None:
        speech.say(response, text, speech.repeat)
    else:
        gather = response.gather(
            num_digits=1, action=gather_action, method="POST", timeout=speech.gather_timeout_s, action_on_empty_result=False
        )
        speech.say(gather, text, speech.repeat)
        speech.say(response, NO_KEY)
    response.hangup()
    return str(response)


def reply_twiml(text: str, speech: Speech, gather_again: str | None = None) -> str:
    """The answer to a key press: `text` said; with `gather_again`, one more Gather for a valid key."""
    response = VoiceResponse()
    if gather_again is None:
        speech.say(response, text)
    else:
        gather = response.gather(num_digits=1, action=gather_again, method="POST", timeout=speech.gather_timeout_s)
        speech.say(gather, f"{text} {KEYS_PROMPT}")
        speech.say(response, NO_KEY)
    response.hangup()
    return str(response)


def _with_query(url: str, params: Mapping[str, str]) -> str:
    parts = urlsplit(url)
    query = urlencode(dict(params))
    return urlunsplit(parts._replace(query=f"{parts.query}&{query}" if parts.query else query))


def gather_action(url: str, notification: Notification) -> str:
    """The Gather action URL for one call: which notification, incident and kind the key answers."""
    return _with_query(
        url, {"key": notification.idempotency_key, "ref": notification.incident_reference, "kind": notification.kind}
    )


@dataclass(frozen=True)
class CallReport:
    """One call status callback: which call, how it stands, and the notification it belongs to."""

    provider_id: str  # CallSid, as returned in Accepted.provider_id
    status: str
    account_sid: str | None
    notification_key: str | None

    @property
    def outcome(self) -> Literal["delivered", "failed"] | None:
        """The ledger's final state this report establishes; None while the call is still going."""
        if self.status == "completed":
            return "delivered"
        return "failed" if self.status in NOT_REACHED else None

    @property
    def reason(self) -> str | None:
        return NOT_REACHED.get(self.status)


@dataclass(frozen=True)
class KeyPress:
    """A Gather post: the key the person pressed, on which call, for which notification."""

    call_sid: str
    called: str  # To: the number that was rung (whose acknowledgement it is)
    digits: str
    notification_key: str
    reference: str
    kind: str


def _query(url: str) -> dict[str, str]:
    return {name: values[-1] for name, values in parse_qs(urlsplit(url).query).items() if values}


class VoiceWebhooks:
    """What the web views need: the auth token, our account, the public webhook URLs."""

    def __init__(self, *, auth_token: str, account_sid: str, gather_url: str, status_url: str, speech: Speech) -> None:
        self._auth_token = auth_token
        self.account_sid = account_sid
        self.gather_url, self.status_url = gather_url, status_url
        self.speech = speech

    def _verified(self, public_url: str, form: Mapping[str, str], signature: str | None, query_string: str) -> str:
        url = urlunsplit(urlsplit(public_url)._replace(query=query_string))
        if not signature_valid(self._auth_token, url, form, signature):
            raise BadSignature("X-Twilio-Signature does not match")
        if form.get("AccountSid") not in (None, self.account_sid):
            raise BadSignature("a call of another account")
        if not _CALL_SID.fullmatch(form.get("CallSid", "")):
            raise BadCallback("CallSid missing or malformed")
        return url

    def verify_status(self, form: Mapping[str, str], signature: str | None, query_string: str = "") -> CallReport:
        """Raises BadSignature (answer 403) or BadCallback (answer 400); else the report."""
        url = self._verified(self.status_url, form, signature, query_string)
        status = form.get("CallStatus", "").lower()
        if status not in CALL_STATUSES:
            raise BadCallback("CallStatus missing or unknown")
        key = _query(url).get("key")
        return CallReport(
            provider_id=form["CallSid"],
            status=status,
            account_sid=form.get("AccountSid") or None,
            notification_key=key if key and _KEY.fullmatch(key) else None,
        )

    def verify_gather(self, form: Mapping[str, str], signature: str | None, query_string: str = "") -> KeyPress:
        """Raises BadSignature (answer 403) or BadCallback (answer 400); else the key press."""
        url = self._verified(self.gather_url, form, signature, query_string)
        query = _query(url)
        key, ref, kind = query.get("key", ""), query.get("ref", ""), query.get("kind", "")
        if not (_KEY.fullmatch(key) and _REF.fullmatch(ref) and _KIND.fullmatch(kind)):
            raise BadCallback("the Gather URL does not name a notification (key, ref, kind)")
        digits = form.get("Digits", "")
        if not _DIGITS.fullmatch(digits):
            raise BadCallback("Digits malformed")
        called = form.get("To", "")
        if not called:
            raise BadCallback("To missing")
        return KeyPress(form["CallSid"], called, digits, key, ref, kind)

    def again(self, press: KeyPress) -> str:
        """The Gather action for one more try on the same call."""
        return _with_query(self.gather_url, {"key": press.notification_key, "ref": press.reference, "kind": press.kind})


def speech_of(voice: VoiceSettings) -> Speech:
    return Speech(voice.language, voice.voice, voice.repeat, voice.gather_timeout_s)


def voice_webhooks_from_config(config: Config) -> VoiceWebhooks | None:
    """None unless the voice channel (and so Twilio) is configured."""
    settings, voice = TWILIO.of(config), VOICE.of(config)
    if settings is None or voice is None:
        return None
    return VoiceWebhooks(
        auth_token=twilio_auth_token(config, settings),
        account_sid=settings.account_sid,
        gather_url=voice.gather_url,
        status_url=voice.status_callback_url,
        speech=speech_of(voice),
    )


def translate_call_error(status: int, code: int | None, retry_after_s: float | None = None) -> DeliveryError:
    """An HTTP error answer to Calls.create as a DeliveryError: the call codes first, then as for SMS."""
    if status < 500 and status != 429 and code is not None and code in PERMANENT_CALL_CODES:
        return DeliveryError(PERMANENT_CALL_CODES[code], retryable=False, detail=f"HTTP {status} code {code}")
    return translate_rest_error(status, code, retry_after_s)


class TwilioVoiceSender(TwilioSmsSender):
    """Sender for the "voice" channel: one call per notification, through the SMS sender's client, its
    concurrency limit, timeout and error handling."""

    name = "twilio_voice"

    def __init__(
        self, twilio: TwilioSettings, voice: VoiceSettings, auth_token: str, *, retry_policy: RetryPolicy | None = None
    ) -> None:
        """`twilio` and `voice` as in settings.yaml; `auth_token` read from the secret `twilio` names;
        `retry_policy` defaults to twilio.retry."""
        caller = voice.from_number or twilio.from_number
        if caller is None:
            raise ValueError("a call needs a caller id: voice.from_number or twilio.from_number")
        account = twilio.model_copy(update={"from_number": caller, "messaging_service_sid": None})
        super().__init__(account, auth_token, retry_policy=retry_policy)
        self.gather_url, self.call_status_url = voice.gather_url, voice.status_callback_url
        self.speech = speech_of(voice)
        self.ring_timeout_s, self.time_limit_s = voice.ring_timeout_s, voice.time_limit_s

    def twiml(self, notification: Notification) -> str:
        gathers = notification.kind in GATHERS
        return call_twiml(
            notification.message.text, self.speech, gather_action(self.gather_url, notification) if gathers else None
        )

    def request_params(self, notification: Notification) -> dict[str, Any]:
        """The Calls.create arguments for one notification (pure; no I/O)."""
        return {
            "to": to_e164(notification.recipient.address, self.default_region),
            "from_": self.from_number,
            "twiml": self.twiml(notification),
            "status_callback": with_key(self.call_status_url, notification.idempotency_key),
            "status_callback_method": "POST",
            "status_callback_event": CALL_EVENTS,
            "timeout": self.ring_timeout_s,
            "time_limit": self.time_limit_s,
        }

    @staticmethod
    def translate(status: int, code: int | None, retry_after_s: float | None) -> DeliveryError:
        return translate_call_error(status, code, retry_after_s)

    async def send(self, notification: Notification) -> Accepted:
        call = await self._create(lambda account: account.calls, self.request_params(notification))
        sid = getattr(call, "sid", None)
        if not isinstance(sid, str) or not sid:
            raise DeliveryError(reasons.PROVIDER_ERROR, retryable=True, detail="answer without a call sid")
        log.debug("call %s placed with twilio as %s", notification.idempotency_key[:8], sid)
        return Accepted(provider_id=sid)


def from_config(config: Config) -> TwilioVoiceSender | None:
    """The sender described by settings.yaml's voice: (and twilio:), or None when voice is not configured."""
    settings, voice = TWILIO.of(config), VOICE.of(config)
    if settings is None or voice is None or (voice.from_number or settings.from_number) is None:
        return None  # the last: voice.check_voice refuses it; kept for a config built in code
    return TwilioVoiceSender(settings, voice, twilio_auth_token(config, settings))
