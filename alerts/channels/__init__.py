"""The provider boundary. A channel is one module implementing `Sender`, plus one line in CHANNELS.

Each entry maps a channel name (as routing rules and notifications spell it) to a factory that
builds the configured provider's sender from config, or returns None when that provider is not
configured — then the outbox serves the channel, so a fresh checkout runs with no accounts.
"""

from __future__ import annotations

from collections.abc import Callable

from alerts.channels import smtp_email, twilio_sms
from alerts.channels.base import Accepted, DeliveryError, Sender
from alerts.channels.outbox import OutboxSender
from alerts.channels.retry import RetryPolicy, policy_of, send_with_retry
from alerts.channels.twilio_status import BadCallback, BadSignature, StatusCallbacks, StatusReport, status_callbacks_from_config
from alerts.config import Config

Factory = Callable[[Config], Sender | None]

CHANNELS: dict[str, Factory] = {
    "sms": twilio_sms.from_config,
    "email": smtp_email.from_config,
}


def build_senders(config: Config) -> dict[str, Sender]:
    """The sender for each channel a routing rule may choose; the outbox where none is configured.

    Raises ConfigError when a provider is configured but its secret is missing."""
    outbox_path = config.path(config.settings.outbox.path)
    return {channel: factory(config) or OutboxSender(outbox_path, channel) for channel, factory in CHANNELS.items()}


__all__ = [
    "CHANNELS",
    "Accepted",
    "BadCallback",
    "BadSignature",
    "DeliveryError",
    "RetryPolicy",
    "Sender",
    "StatusCallbacks",
    "StatusReport",
    "build_senders",
    "policy_of",
    "send_with_retry",
    "status_callbacks_from_config",
]
