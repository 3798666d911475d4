"""The provider boundary, and the registry of channels: one line per channel in CHANNELS.

Each channel module (sms.py, email.py, …) exposes a `Channel` (plugin.py): its name, settings
sections, address parser, renderer, sender factory and flags. The domain reaches channels only
through CHANNELS. Importing this package imports no provider library: a channel's sender module is
imported when `build_senders` asks for it (alerts/channels/README.md, "Adding a channel").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from alerts.channels import email, sms, voice, webhook
from alerts.channels.base import Accepted, DeliveryError, Sender
from alerts.channels.plugin import AddressError, Channel, Registry
from alerts.channels.retry import RetryPolicy, policy_of, send_with_retry

if TYPE_CHECKING:
    from alerts.config import Config

CHANNELS = Registry(
    sms.CHANNEL,
    email.CHANNEL,
    webhook.CHANNEL,
    voice.CHANNEL,
)


def build_senders(config: Config) -> dict[str, Sender]:
    """The sender for each channel a routing rule may choose; the outbox where none is configured.

    Raises ConfigError when a provider is configured but its secret is missing."""
    from alerts.channels.outbox import OutboxSender

    outbox_path = config.path(config.settings.outbox.path)
    return {channel.name: channel.sender(config) or OutboxSender(outbox_path, channel.name) for channel in CHANNELS}


def providers_configured(config: Config) -> bool:
    """Whether any channel's provider is configured (else the outbox-only demo: nothing leaves the machine)."""
    return any(channel.configured(config) for channel in CHANNELS)


__all__ = [
    "CHANNELS",
    "Accepted",
    "AddressError",
    "Channel",
    "DeliveryError",
    "RetryPolicy",
    "Sender",
    "build_senders",
    "policy_of",
    "providers_configured",
    "send_with_retry",
]
