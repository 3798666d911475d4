"""The voice channel module: what a call says for every kind (golden files), that it says the minimum
(no name, date of birth, age, description, carer's number), its settings and their cross-checks."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from alerts.channels import CHANNELS
from alerts.channels.twilio_voice import GATHERS, Speech, call_twiml, gather_action
from alerts.channels.voice import CHANNEL, VoiceRenderer
from alerts.config import PACKAGE_TEMPLATES, load_config
from alerts.errors import ConfigError
from alerts.lifecycle import FALLS_BACK
from alerts.manual_check import ManualCheckMessages
from alerts.model import Claim, Notification, NotificationKind, Recipient
from alerts.rendering import MessageFacts, Renderer
from tests.golden.golden import check_golden
from tests.peers.notifications import voice_sender
from tests.support import write_config
from tests.unit.test_rendering_golden import golden_event, golden_facts

KINDS: list[NotificationKind] = ["alert", "possible_match", "escalation", "update", "stand_down", "claim"]
GATHER = "https://crucial.example/twilio/voice/gather"


def spoken(facts: MessageFacts) -> str:
    voice = Renderer(PACKAGE_TEMPLATES, "Europe/London").channel("voice")
    assert isinstance(voice, VoiceRenderer)
    return voice.render(facts).text


def claim_facts() -> MessageFacts:
    """The golden alert's incident with an unverified claim on it."""
    facts = golden_facts("alert")
    claim = Claim(claim_id="1a2b3c4d", event_id="evt-x", type="returned", sender="brentside-homes", at=facts.incident.received_at)
    incident = facts.incident.model_copy(update={"claims": [claim]})
    return MessageFacts(kind="claim", incident=incident, event=facts.event, profile=facts.profile)


def facts_for(kind: NotificationKind) -> MessageFacts:
    return claim_facts() if kind == "claim" else golden_facts(kind)


@pytest.mark.parametrize("kind", KINDS)
def test_voice_golden(kind: NotificationKind) -> None:
    check_golden(f"messages/{kind}.voice.txt", spoken(facts_for(kind)) + "\n")


def test_voice_golden_possible_match_escalation() -> None:
    facts = golden_facts("possible_match")
    facts = MessageFacts(kind="escalation", incident=facts.incident, event=facts.event, profile=facts.profile)
    text = spoken(facts)
    check_golden("messages/escalation.possible_match.voice.txt", text + "\n")
    assert "possible match, not yet confirmed" in text


def test_voice_golden_manual_check() -> None:
    facts = golden_facts("alert")
    text = ManualCheckMessages(PACKAGE_TEMPLATES, "Europe/London").render(facts.incident, facts.event, "voice").text
    check_golden("messages/manual_check.voice.txt", text + "\n")


@pytest.mark.parametrize("kind", KINDS)
def test_a_call_says_the_minimum(kind: NotificationKind) -> None:
    """Reference (spelled out), priority, when and where last seen; never the child's name, aliases,
    date of birth, age, description or the carer's number — a call may be overheard or reach voicemail."""
    facts = facts_for(kind)
    text = spoken(facts)
    child, event = facts.event.child, golden_event()
    assert "C, H, G, O, L, D, E, N" in text
    forbidden = [child.given_names, child.family_name or "", *child.aliases, "Phamtest", "Lana", "150 cm", "ponytail"]
    assert child.date_of_birth is not None
    dob: date = child.date_of_birth.value
    forbidden += [dob.isoformat(), dob.strftime("%d %B"), str(dob.year), "aged", " 16", "Vietnamese"]
    assert event.reporter.callback_phone
    forbidden += [event.reporter.callback_phone, "+447700900666", "Red hoodie", "cousin"]
    for word in forbidden:
        assert word not in text, f"{kind}: a call must not say {word!r}"
    if kind in ("alert", "possible_match", "escalation", "update"):
        assert "High risk" in text or kind == "update"
        assert "Last seen at 21:35 on Tuesday 14 July, at Bus stop outside Rowan House, Station Road." in text
    if kind in FALLS_BACK:
        assert text.endswith("Press 1 to acknowledge. Press 2 to pass this to the next person on call.")
    elif kind in GATHERS:
        assert text.endswith("Press 1 to acknowledge.") and "Press 2" not in text, "an update is not passed on"
    else:
        assert "Press 1" not in text


def test_every_kind_renders_on_the_voice_channel_and_the_registry_has_it() -> None:
    assert CHANNELS["voice"] is CHANNEL and not CHANNEL.routed_by_default and CHANNEL.ack_by_reply
    for kind in ("alert", "possible_match", "escalation", "update", "stand_down"):
        assert spoken(golden_facts(kind)).startswith("Crucial Hour")


def test_the_spoken_text_travels_inline_in_the_calls_twiml() -> None:
    facts = golden_facts("alert")
    text = spoken(facts)
    recipient = Recipient(agency_id="met-nw-bcu", name="PS Avery Quinn", address="+447700900111")
    note = Notification(
        idempotency_key=Notification.key_for(facts.incident.incident_id, recipient, "voice", "alert"),
        incident_id=facts.incident.incident_id,
        incident_reference=facts.incident.reference,
        child_reference=facts.incident.child_reference,
        kind="alert",
        channel="voice",
        recipient=recipient,
        message=Renderer(PACKAGE_TEMPLATES, "Europe/London").render(facts, "voice"),
        priority=facts.incident.priority,
        created_at=facts.incident.received_at,
        received_at=facts.incident.received_at,
        deadline=facts.incident.deadline,
    )
    sender = voice_sender(
        auth_token="t",
        twilio={"account_sid": "AC" + "1" * 32, "from_number": "+447700900001"},
        gather_url=GATHER,
        status_callback_url="https://crucial.example/twilio/voice/status",
    )
    twiml = sender.request_params(note)["twiml"]
    assert twiml == call_twiml(text, Speech(), gather_action(GATHER, note))
    check_golden("messages/alert.voice.twiml", twiml.replace(note.idempotency_key, "{key}") + "\n")
    assert ElementTree.fromstring(twiml.encode())[0][0].text == text
    assert len(twiml) < 4000  # Twilio's limit for inline TwiML


# --- settings -----------------------------------------------------------------------------------


def configured(tmp_path: Path, **settings: Any) -> Any:
    return load_config(write_config(tmp_path / "config", **settings))


VOICE = {
    "gather_url": "https://alerts.example/twilio/voice/gather",
    "status_callback_url": "https://alerts.example/twilio/voice/status",
}
TWILIO = {"account_sid": "AC" + "1" * 32, "from_number": "+447700900001"}


def test_voice_settings_are_read_with_their_defaults(tmp_path: Path) -> None:
    config = configured(tmp_path, twilio=TWILIO, voice=VOICE)
    voice = config.settings.voice
    assert (voice.ring_timeout_s, voice.gather_timeout_s, voice.repeat, voice.language) == (25, 8, 2, "en-GB")
    assert CHANNEL.configured(config)
    assert not CHANNEL.configured(configured(tmp_path / "none"))


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"voice": VOICE}, "settings.yaml: voice: calls go through the Twilio account, and twilio: is not configured"),
        (
            {"voice": VOICE, "twilio": {"account_sid": "AC" + "1" * 32, "messaging_service_sid": "MG" + "2" * 32}},
            "settings.yaml: voice.from_number: a call needs a caller id",
        ),
        ({"voice": {**VOICE, "gather_url": "ftp://x"}, "twilio": TWILIO}, "voice.gather_url"),
        ({"voice": {**VOICE, "ring_timeout_s": 1}, "twilio": TWILIO}, "voice.ring_timeout_s"),
        ({"voice": {**VOICE, "auth_token": "x"}, "twilio": TWILIO}, "voice"),
    ],
    ids=["no twilio", "no caller id", "not a url", "ring too short", "a secret in yaml"],
)
def test_bad_voice_settings_name_the_key(tmp_path: Path, settings: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        configured(tmp_path, **settings)
    assert problem in str(caught.value)


def test_rota_people_and_contacts_take_a_voice_number(tmp_path: Path) -> None:
    directory = write_config(tmp_path / "config")
    rota = yaml.safe_load((directory / "rota.yaml").read_text())
    rota["rotas"]["met-nw-mispers"]["people"]["nw-sgt-a"]["voice"] = "07700 900111"
    (directory / "rota.yaml").write_text(yaml.safe_dump(rota))
    person = load_config(directory).rota.rotas["met-nw-mispers"].people["nw-sgt-a"]
    assert person.address("voice") == "+447700900111"


def test_the_documented_voice_section_is_the_code_s() -> None:
    """docs/voice.md's `voice:` example, its comments taken as YAML, is a valid section whose
    figures are the model's defaults."""
    from alerts.channels.voice_account import VoiceSettings
    from tests.support import REPO

    doc = (REPO / "docs" / "voice.md").read_text()
    block = doc.split("```yaml\nvoice:\n")[1].split("```")[0]
    lines = [
        line.split("#", 1)[0].rstrip() if not line.strip().startswith("#") else line.replace("# ", "", 1)
        for line in block.splitlines()
    ]
    documented = yaml.safe_load(
        "\n".join(line.split(" #")[0].rstrip() for line in lines if line.strip() and not line.strip().startswith("#"))
    )
    settings = VoiceSettings(**documented)
    defaults = VoiceSettings(gather_url=settings.gather_url, status_callback_url=settings.status_callback_url)
    for key in ("ring_timeout_s", "gather_timeout_s", "time_limit_s", "repeat", "language"):
        assert key in documented and getattr(settings, key) == getattr(defaults, key), key
