"""The voice channel's pure parts: the call's TwiML (a one-key Gather naming the notification, or only
read out), Calls.create's arguments, the Gather and call-status webhooks checked against an
independent implementation of Twilio's signature (the test peer's), and call errors translated."""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ElementTree
from urllib.parse import parse_qs, urlsplit

import pytest

from alerts.channels import reasons
from alerts.channels.twilio_account import TwilioSettings
from alerts.channels.twilio_status import BadCallback, BadSignature
from alerts.channels.twilio_voice import (
    GATHERS,
    KEYS_PROMPT,
    Speech,
    TwilioVoiceSender,
    VoiceWebhooks,
    call_twiml,
    reply_twiml,
    translate_call_error,
)
from alerts.channels.voice_account import VoiceSettings
from tests.peers.notifications import TwilioCredentials, make_notification
from tests.peers.twilio_server import twilio_signature

CREDS = TwilioCredentials.fresh()
CALL = "CA" + secrets.token_hex(16)
GATHER = "https://crucial.example/twilio/voice/gather"
STATUS = "https://crucial.example/twilio/voice/status"
HOOKS = VoiceWebhooks(
    auth_token=CREDS.auth_token, account_sid=CREDS.account_sid, gather_url=GATHER, status_url=STATUS, speech=Speech()
)


def sender() -> TwilioVoiceSender:
    return TwilioVoiceSender(
        TwilioSettings(account_sid=CREDS.account_sid, from_number="07700 900001"),
        VoiceSettings(gather_url=GATHER, status_callback_url=STATUS, voice="Polly.Amy", repeat=2, gather_timeout_s=6),
        CREDS.auth_token,
    )


def call_form(**extra: str) -> dict[str, str]:
    return {
        "AccountSid": CREDS.account_sid,
        "CallSid": CALL,
        "CallStatus": "in-progress",
        "From": "+447700900001",
        "To": "+447700900123",
        "Direction": "outbound-api",
        **extra,
    }


def test_an_alert_call_reads_the_text_inside_a_one_key_gather_that_names_the_notification() -> None:
    note = make_notification(channel="voice", text="Crucial Hour. High risk.")
    params = sender().request_params(note)
    assert params["to"] == "+447700900123" and params["from_"] == "+447700900001"
    assert params["status_callback"] == f"{STATUS}?key={note.idempotency_key}"
    assert params["status_callback_event"] == ["initiated", "ringing", "answered", "completed"]
    root = ElementTree.fromstring(params["twiml"].encode())
    gather, no_key, hangup = list(root)
    assert (gather.tag, gather.get("numDigits"), gather.get("method"), gather.get("timeout")) == ("Gather", "1", "POST", "6")
    query = parse_qs(urlsplit(gather.get("action") or "").query)
    assert query == {"key": [note.idempotency_key], "ref": ["CH-TEST01"], "kind": ["alert"]}
    [say] = list(gather)
    assert (say.text, say.get("loop"), say.get("voice"), say.get("language")) == (
        "Crucial Hour. High risk.",
        "2",
        "Polly.Amy",
        "en-GB",
    )
    assert no_key.tag == "Say" and (no_key.text or "").startswith("No key was pressed")
    assert hangup.tag == "Hangup"


@pytest.mark.parametrize("kind", ["stand_down", "claim"])
def test_a_message_with_nothing_to_acknowledge_is_only_read_out(kind: str) -> None:
    assert kind not in GATHERS
    root = ElementTree.fromstring(sender().twiml(make_notification(channel="voice", kind=kind, text="Stand down.")).encode())
    assert [v.tag for v in root] == ["Say", "Hangup"] and root[0].text == "Stand down."


def test_text_with_markup_characters_stays_text() -> None:
    twiml = call_twiml('Last seen at "Bob\'s <Café> & Bar".', Speech(), GATHER + "?key=ab&ref=CH-AAAAAA&kind=alert")
    root = ElementTree.fromstring(twiml.encode())
    assert root[0][0].text == 'Last seen at "Bob\'s <Café> & Bar".'


def test_a_wrong_key_gathers_again_with_the_prompt() -> None:
    root = ElementTree.fromstring(reply_twiml("That key does nothing.", Speech(), gather_again=GATHER + "?key=ab").encode())
    assert root[0].tag == "Gather" and root[0].get("action") == GATHER + "?key=ab"
    assert root[0][0].text == f"That key does nothing. {KEYS_PROMPT}"
    assert "1" in KEYS_PROMPT and "2" in KEYS_PROMPT


def _signed(url: str, form: dict[str, str], token: str = CREDS.auth_token) -> str:
    return twilio_signature(token, url, form)


def test_a_signed_key_press_is_read_with_its_notification() -> None:
    query = "key=" + "ab" * 16 + "&ref=CH-4K7QX2&kind=escalation"
    form = call_form(Digits="1")
    press = HOOKS.verify_gather(form, _signed(f"{GATHER}?{query}", form), query)
    assert (press.digits, press.called, press.reference, press.kind, press.call_sid) == (
        "1",
        "+447700900123",
        "CH-4K7QX2",
        "escalation",
        CALL,
    )
    assert press.notification_key == "ab" * 16


@pytest.mark.parametrize(
    "forgery",
    ["unsigned", "wrong token", "digits changed", "other notification", "other account", "signed for the status URL"],
)
def test_a_forged_key_press_is_refused(forgery: str) -> None:
    query = "key=" + "ab" * 16 + "&ref=CH-4K7QX2&kind=alert"
    form = call_form(Digits="2")
    signature: str | None = _signed(f"{GATHER}?{query}", form)
    if forgery == "unsigned":
        signature = None
    elif forgery == "wrong token":
        signature = _signed(f"{GATHER}?{query}", form, secrets.token_hex(16))
    elif forgery == "digits changed":
        form = {**form, "Digits": "1"}
    elif forgery == "other notification":
        query = query.replace("ab" * 16, "cd" * 16)
    elif forgery == "other account":
        form = {**form, "AccountSid": "AC" + "0" * 32}
        signature = _signed(f"{GATHER}?{query}", form)
    else:
        signature = _signed(f"{STATUS}?{query}", form)
    with pytest.raises(BadSignature):
        HOOKS.verify_gather(form, signature, query)


@pytest.mark.parametrize(
    ("query", "form_change"),
    [
        ("key=" + "ab" * 16, {}),
        ("key=xyz&ref=CH-4K7QX2&kind=alert", {}),
        ("key=" + "ab" * 16 + "&ref=CH-4K7QX2&kind=alert", {"To": ""}),
    ],
    ids=["no reference", "bad key", "no called number"],
)
def test_a_signed_key_press_that_names_no_notification_is_a_bad_request(query: str, form_change: dict[str, str]) -> None:
    form = call_form(Digits="1") | form_change
    with pytest.raises(BadCallback) as caught:
        HOOKS.verify_gather(form, _signed(f"{GATHER}?{query}", form), query)
    assert not isinstance(caught.value, BadSignature)


@pytest.mark.parametrize(
    ("status", "outcome", "reason"),
    [
        ("initiated", None, None),
        ("ringing", None, None),
        ("in-progress", None, None),
        ("completed", "delivered", None),
        ("no-answer", "failed", reasons.NO_ANSWER),
        ("busy", "failed", reasons.BUSY),
        ("failed", "failed", reasons.CALL_FAILED),
        ("canceled", "failed", reasons.CANCELED),
    ],
)
def test_call_status_callbacks_say_whether_the_call_reached_anyone(status: str, outcome: str | None, reason: str | None) -> None:
    query = "key=" + "ef" * 16
    form = call_form(CallStatus=status)
    report = HOOKS.verify_status(form, _signed(f"{STATUS}?{query}", form), query)
    assert (report.provider_id, report.outcome, report.reason, report.notification_key) == (CALL, outcome, reason, "ef" * 16)
    assert reason is None or reason in reasons.ALL


def test_a_forged_or_unknown_call_status_is_refused() -> None:
    query = "key=" + "ef" * 16
    form = call_form(CallStatus="no-answer")
    with pytest.raises(BadSignature):
        HOOKS.verify_status(form, "forged", query)
    with pytest.raises(BadSignature):
        HOOKS.verify_status({**form, "CallStatus": "completed"}, _signed(f"{STATUS}?{query}", form), query)
    odd = call_form(CallStatus="exploded")
    with pytest.raises(BadCallback):
        HOOKS.verify_status(odd, _signed(f"{STATUS}?{query}", odd), query)
    no_sid = {k: v for k, v in form.items() if k != "CallSid"}
    with pytest.raises(BadCallback):
        HOOKS.verify_status(no_sid, _signed(f"{STATUS}?{query}", no_sid), query)


@pytest.mark.parametrize(
    ("status", "code", "reason", "retryable"),
    [
        (400, 21215, reasons.REGION_NOT_ENABLED, False),
        (400, 21217, reasons.INVALID_NUMBER, False),
        (400, 13224, reasons.INVALID_NUMBER, False),
        (400, 21211, reasons.INVALID_NUMBER, False),  # shared with SMS
        (400, 21210, reasons.REJECTED_4XX, False),
        (401, 20003, reasons.AUTH, False),
        (429, 20429, reasons.RATE_LIMITED, True),
        (503, 21215, reasons.PROVIDER_5XX, True),  # a 5xx is theirs whatever the code says
    ],
)
def test_call_errors_are_translated_to_bounded_reasons(status: int, code: int, reason: str, retryable: bool) -> None:
    error = translate_call_error(status, code)
    assert (error.reason, error.retryable) == (reason, retryable)
    assert error.reason in reasons.ALL


def test_the_caller_id_is_the_voice_sections_or_else_twilios() -> None:
    twilio = TwilioSettings(account_sid=CREDS.account_sid, messaging_service_sid="MG" + "2" * 32)
    own = VoiceSettings(gather_url=GATHER, status_callback_url=STATUS, from_number="+447700900002")
    assert TwilioVoiceSender(twilio, own, CREDS.auth_token).request_params(make_notification())["from_"] == "+447700900002"
    with pytest.raises(ValueError, match="caller id"):
        TwilioVoiceSender(twilio, VoiceSettings(gather_url=GATHER, status_callback_url=STATUS), CREDS.auth_token)
