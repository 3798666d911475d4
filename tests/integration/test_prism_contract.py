"""Every request the SMS sender makes, checked against Twilio's own OpenAPI contract by Prism.

Prism answers 201 only when the request satisfies the contract (Basic auth, required fields, types
and formats); otherwise 401 or 422 listing the violations. Skips, saying why, when the contract
(../shared/contracts/twilio/) or npx is absent, or CRUCIAL_SKIP_PRISM is set.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import timedelta
from typing import Any

import pytest
from twilio.http.response import Response

from alerts.channels import twilio_sms
from alerts.channels.base import Accepted, DeliveryError
from alerts.channels.twilio_account import TwilioSettings
from alerts.channels.twilio_sms import TwilioSmsSender
from alerts.channels.twilio_voice import TwilioVoiceSender
from alerts.channels.voice_account import VoiceSettings
from alerts.model import Notification
from tests.peers.notifications import TwilioCredentials, make_notification, twilio_sender

pytest_plugins = ["tests.peers.fixtures"]


def make_sender(prism_url: str, creds: TwilioCredentials, **overrides: Any) -> TwilioSmsSender:
    options: dict[str, Any] = {
        "account_sid": creds.account_sid,
        "auth_token": creds.auth_token,
        "from_number": "+447700900001",
        "status_callback_url": "https://crucial.example/twilio/status",
        "base_url": prism_url,
        "timeout_s": 10,
    }
    options.update(overrides)
    return twilio_sender(**options)


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"status_callback_url": None},
        {"from_number": None, "messaging_service_sid": "MG" + "2" * 32},
    ],
    ids=["from-number", "no-callback", "messaging-service"],
)
@pytest.mark.parametrize("deadline_in", [timedelta(minutes=55), timedelta(minutes=-5)], ids=["in-window", "past-window"])
async def test_our_requests_satisfy_twilios_contract(
    prism_url: str, twilio_credentials: TwilioCredentials, no_twilio_env: None, overrides: dict[str, Any], deadline_in: timedelta
) -> None:
    sender = make_sender(prism_url, twilio_credentials, **overrides)
    try:
        accepted = await sender.send(make_notification(deadline_in=deadline_in))
    except DeliveryError as exc:  # pragma: no cover - the failure message is the diagnosis
        pytest.fail(f"Prism refused our request: {exc}")
    finally:
        await sender.close()
    assert accepted.provider_id.startswith("SM")


def _post(url: str, form: dict[str, str], creds: TwilioCredentials | None) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if creds is not None:
        basic = base64.b64encode(f"{creds.account_sid}:{creds.auth_token}".encode()).decode()
        headers["Authorization"] = f"Basic {basic}"
    request = urllib.request.Request(url, urllib.parse.urlencode(form).encode(), headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def test_prism_really_checks_requests(prism_url: str, twilio_credentials: TwilioCredentials) -> None:
    """The control: Prism refuses what Twilio would, so the passes above mean something."""
    url = f"{prism_url}/2010-04-01/Accounts/{twilio_credentials.account_sid}/Messages.json"
    good = {"To": "+447700900123", "From": "+447700900001", "Body": "test", "ValidityPeriod": "300"}
    assert _post(url, good, twilio_credentials)[0] == 201
    status, body = _post(url, {"From": "+447700900001", "Body": "test", "ValidityPeriod": "soon"}, twilio_credentials)
    assert status == 422
    problems = {(tuple(v["location"]), v["code"]) for v in body["validation"]}
    assert (("body",), "required") in problems  # To is missing
    assert (("body", "ValidityPeriod"), "type") in problems
    assert _post(url, good, None)[0] == 401


async def test_prisms_refusal_is_translated(prism_url: str, twilio_credentials: TwilioCredentials, no_twilio_env: None) -> None:
    """A request Prism cannot match (here: an account SID outside the contract's pattern) is a
    permanent rejected_4xx, as any unexplained 4xx from Twilio would be."""
    creds = TwilioCredentials(account_sid="AC" + "z" * 32, auth_token=twilio_credentials.auth_token)
    sender = make_sender(prism_url, creds, unchecked=True)  # check-config would refuse this SID
    try:
        with pytest.raises(DeliveryError) as caught:
            await sender.send(make_notification())
    finally:
        await sender.close()
    assert (caught.value.reason, caught.value.retryable) == ("rejected_4xx", False)


class VoiceSenderWithoutEvents(TwilioVoiceSender):
    """The same call, without StatusCallbackEvent (see test_our_calls_satisfy_twilios_contract)."""

    def request_params(self, notification: Notification) -> dict[str, Any]:
        return {k: v for k, v in super().request_params(notification).items() if k != "status_callback_event"}


def make_voice_sender(
    prism_url: str, creds: TwilioCredentials, kind: type[TwilioVoiceSender] = TwilioVoiceSender
) -> TwilioVoiceSender:
    return kind(
        TwilioSettings(account_sid=creds.account_sid, from_number="+447700900001", base_url=prism_url, timeout_s=10),
        VoiceSettings(
            gather_url="https://crucial.example/twilio/voice/gather",
            status_callback_url="https://crucial.example/twilio/voice/status",
        ),
        creds.auth_token,
    )


async def _call(sender: TwilioVoiceSender, note: Notification) -> Accepted | DeliveryError:
    try:
        return await sender.send(note)
    except DeliveryError as exc:
        return exc
    finally:
        await sender.close()


@pytest.mark.parametrize("kind", ["alert", "stand_down"], ids=["gathers-a-key", "read-out-only"])
async def test_our_calls_satisfy_twilios_contract(
    prism_url: str, twilio_credentials: TwilioCredentials, no_twilio_env: None, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """Calls.create as the voice channel sends it (inline TwiML, the status callback, ring timeout,
    time limit) is a request Twilio's Calls resource accepts.

    StatusCallbackEvent is an array, sent as Twilio documents (one parameter per event, as the
    official client encodes it); Prism 5 reads repeated form keys as a single string
    (stoplightio/prism#2473, #2654) and so may object to its type, and only to that: the same call
    without it must then be accepted, so every other field is still checked."""
    answers: list[Response] = []
    original = twilio_sms._HttpClient.request

    async def recording(self: Any, *args: Any, **kwargs: Any) -> Response:
        answer: Response = await original(self, *args, **kwargs)
        answers.append(answer)
        return answer

    monkeypatch.setattr(twilio_sms._HttpClient, "request", recording)
    note = make_notification(channel="voice", kind=kind, text="Crucial Hour. Press 1.")
    full = await _call(make_voice_sender(prism_url, twilio_credentials), note)
    if isinstance(full, DeliveryError):
        objections = {(tuple(v["location"]), v["code"]) for v in json.loads(answers[-1].text)["validation"]}
        assert objections == {(("body", "StatusCallbackEvent"), "type")}, f"Prism refused our call: {objections}"
        without = await _call(make_voice_sender(prism_url, twilio_credentials, VoiceSenderWithoutEvents), note)
        assert isinstance(without, Accepted), f"Prism refused our call without StatusCallbackEvent: {without}"
        full = without
    assert full.provider_id.startswith("CA")


def test_prism_really_checks_calls(prism_url: str, twilio_credentials: TwilioCredentials) -> None:
    """The control for calls: a call without To, or with a ring timeout that is not a number, is refused."""
    url = f"{prism_url}/2010-04-01/Accounts/{twilio_credentials.account_sid}/Calls.json"
    good = {"To": "+447700900123", "From": "+447700900001", "Twiml": "<Response><Say>test</Say></Response>"}
    assert _post(url, good, twilio_credentials)[0] == 201
    status, body = _post(url, {"From": "+447700900001", "Timeout": "soon"}, twilio_credentials)
    assert status == 422
    problems = {(tuple(v["location"]), v["code"]) for v in body["validation"]}
    assert (("body",), "required") in problems  # To is missing
    assert (("body", "Timeout"), "type") in problems
