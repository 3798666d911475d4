"""The voice channel: the on-call officer's phone rings and a short message is read out; one key is
gathered — 1 acknowledges, 2 passes the alert to the next on call (twilio_voice.py places the call
through the `twilio:` account and reads the keys and the call's progress).

Settings: the `voice:` section (the public webhook URLs and how a call goes); the Twilio account is
the SMS channel's `twilio:` section. Addresses: phone numbers, in E.164 as for SMS (`voice:` in
contacts and rota people). Rules and escalation steps call only where they list `channels: [voice]`
(routed_by_default is off: a phone rings only where config says so).

A call says the minimum: the reference (spelled out), the priority, when and where the child was last
seen, the keys — never the child's name, date of birth or age (templates/voice/README.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from alerts.channels import sms
from alerts.channels.plugin import Channel, Templates
from alerts.channels.twilio_account import TWILIO
from alerts.channels.voice_account import NAME, VOICE
from alerts.model import RenderedMessage

if TYPE_CHECKING:
    from alerts.channels.base import Sender
    from alerts.config import Config
    from alerts.errors import ConfigError
    from alerts.rendering import MessageFacts


def check_voice(path: str, settings: object) -> Iterator[ConfigError]:
    """A call needs the Twilio account and a caller id."""
    from alerts.errors import ConfigError

    voice = VOICE.in_settings(settings)
    if voice is None:
        return
    twilio = TWILIO.in_settings(settings)
    if twilio is None:
        yield ConfigError(path, "voice", "calls go through the Twilio account, and twilio: is not configured", "add twilio:")
    elif voice.from_number is None and twilio.from_number is None:
        yield ConfigError(
            path, "voice.from_number", "a call needs a caller id (twilio: sends from a messaging service)", "set it"
        )


def check_secrets(config: Config) -> None:
    if VOICE.of(config) is not None:
        sms.check_secrets(config)


def sender(config: Config) -> Sender | None:
    from alerts.channels import twilio_voice

    return twilio_voice.from_config(config)


class VoiceRenderer:
    """The spoken text of templates/voice/<kind>.txt.j2, as one line (the sender wraps it in TwiML)."""

    per_recipient = False

    def __init__(self, templates: Templates) -> None:
        self.templates = templates

    def render(self, facts: MessageFacts) -> RenderedMessage:
        from alerts.text import one_line

        template = self.templates.env.get_template(f"{NAME}/{facts.kind}.txt.j2")
        return RenderedMessage(text=one_line(template.render(self.templates.context(facts))))


def renderer(templates: Templates, config: Config | None, options: dict[str, Any]) -> VoiceRenderer:
    return VoiceRenderer(templates)


CHANNEL = Channel(
    name=NAME,
    address=sms.address,
    renderer=renderer,
    sender=sender,
    sections=(VOICE,),
    ack_by_reply=True,  # the key press: acknowledgements are labelled "voice"
    delivered_callback=True,  # a call that was answered and ended
    routed_by_default=False,
    immediate=True,  # the phone rings: a high-priority first alert by voice takes the top lane
    social_worker_field="phone",
    settings_checks=(check_voice,),
    secrets_check=check_secrets,
)
