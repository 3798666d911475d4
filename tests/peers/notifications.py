"""Synthetic notifications and credentials for channel tests (Ofcom drama numbers, .example domains)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from alerts.model import Notification, Priority, Recipient, RenderedMessage

if TYPE_CHECKING:
    from alerts.channels.smtp_email import SmtpEmailSender
    from alerts.channels.twilio_sms import TwilioSmsSender

PHONE = "+447700900123"  # Ofcom drama range: never a real handset
SMTP_USER = "crucial"  # the SMTP peer's user; its password is made per test


@dataclass(frozen=True)
class TwilioCredentials:
    """A fake account SID and auth token, made fresh at run time (never a literal in the repo)."""

    account_sid: str
    auth_token: str

    @classmethod
    def fresh(cls) -> TwilioCredentials:
        return cls(account_sid="AC" + secrets.token_hex(16), auth_token=secrets.token_hex(16))


def make_notification(
    *,
    channel: str = "sms",
    address: str = PHONE,
    name: str = "Duty Sergeant",
    text: str = "CH-TEST01: girl 14, HIGH risk, last seen 14:05 near Harrow bus station. Reply ACK CH-TEST01.",
    subject: str = "HIGH: CH-TEST01 missing child alert",
    html: str | None = None,
    kind: str = "alert",
    priority: Priority = Priority.HIGH,
    deadline_in: timedelta = timedelta(minutes=50),
    now: datetime | None = None,
    incident_id: str = "inc-0001",
    agency_id: str = "met-police",
) -> Notification:
    now = now or datetime.now(UTC)
    recipient = Recipient(agency_id=agency_id, name=name, address=address)
    return Notification(
        idempotency_key=Notification.key_for(incident_id, recipient, channel, kind),
        incident_id=incident_id,
        incident_reference="CH-TEST01",
        child_reference="HAR-T-0001",
        kind=kind,  # type: ignore[arg-type]
        channel=channel,
        recipient=recipient,
        message=RenderedMessage(subject=subject, text=text, html=html),
        priority=priority,
        created_at=now,
        received_at=now,
        deadline=now + deadline_in,
    )


def smtp_sender(*, password: str | None = None, retry_policy: Any = None, **settings: Any) -> SmtpEmailSender:
    """An SmtpEmailSender from settings.yaml-style keyword arguments (the sender takes the section)."""
    from alerts.channels.smtp_account import SmtpSettings
    from alerts.channels.smtp_email import SmtpEmailSender

    return SmtpEmailSender(SmtpSettings(**settings), password, retry_policy=retry_policy)


def twilio_sender(
    *, auth_token: str, retry_policy: Any = None, clock: Any = None, unchecked: bool = False, **settings: Any
) -> TwilioSmsSender:
    """A TwilioSmsSender from settings.yaml-style keyword arguments (the sender takes the section).
    `unchecked`: skip the settings' validation, to send what check-config would refuse (contract tests)."""
    from alerts.channels.twilio_account import TwilioSettings
    from alerts.channels.twilio_sms import TwilioSmsSender

    made = TwilioSettings.model_construct(**settings) if unchecked else TwilioSettings(**settings)
    extra = {"clock": clock} if clock is not None else {}
    return TwilioSmsSender(made, auth_token, retry_policy=retry_policy, **extra)


def voice_sender(*, auth_token: str, twilio: dict[str, Any], retry_policy: Any = None, **voice: Any) -> Any:
    """A TwilioVoiceSender from settings.yaml-style `twilio:` and `voice:` keyword arguments."""
    from alerts.channels.twilio_account import TwilioSettings
    from alerts.channels.twilio_voice import TwilioVoiceSender
    from alerts.channels.voice_account import VoiceSettings

    return TwilioVoiceSender(TwilioSettings(**twilio), VoiceSettings(**voice), auth_token, retry_policy=retry_policy)
