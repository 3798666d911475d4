"""The provider boundary. A channel is one module implementing `Sender`, plus one line below."""

from __future__ import annotations

from alerts.channels.base import Accepted, DeliveryError, Sender
from alerts.channels.outbox import OutboxSender
from alerts.config import Config


def build_senders(config: Config) -> dict[str, Sender]:
    """The sender for each channel a routing rule may choose; the outbox where none is configured."""
    outbox_path = config.path(config.settings.outbox.path)
    senders: dict[str, Sender] = {
        "sms": OutboxSender(outbox_path, "sms"),
        "email": OutboxSender(outbox_path, "email"),
    }
    return senders


__all__ = ["Accepted", "DeliveryError", "Sender", "build_senders"]
