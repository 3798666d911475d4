"""Acknowledgement links: each recipient's own signed, expiring link to /ack/<token>."""

from __future__ import annotations

from datetime import datetime, timedelta

from alerts.config import Config
from alerts.model import Incident, Recipient
from streams.web.auth.keys import link_keys
from streams.web.auth.links import LinkError, sign_link, verify_link
from streams.web.auth.tokens import Signer


class AckLinks:
    """Each recipient's own acknowledgement link: /ack/<reference>:<recipient tag>.<expiry>.<signature>."""

    def __init__(self, signer: Signer, base_url: str, valid_for: timedelta) -> None:
        self.signer, self.base_url, self.valid_for = signer, base_url.rstrip("/"), valid_for

    @classmethod
    def from_config(cls, config: Config) -> AckLinks:
        """Links sent through a real provider must outlive this process: their key must be configured
        (ConfigError otherwise). With only the local outbox, a key for this process will do."""
        links, web_settings = config.providers.links, config.settings.web
        base = web_settings.public_url or f"http://{web_settings.host}:{web_settings.port}"
        return cls(Signer(link_keys(config), "ack"), base, timedelta(minutes=links.valid_minutes))

    def __call__(self, incident: Incident, recipient: Recipient) -> str:
        # Valid through the window and a while after: acknowledging late still tells the board who has it.
        expires = max(incident.deadline, incident.received_at) + self.valid_for
        return f"{self.base_url}/ack/{sign_link(self.signer, f'{incident.reference}:{recipient.tag}', expires)}"

    def read(self, token: str, now: datetime) -> tuple[str, str]:
        """(incident reference, recipient tag) of a good link; raises LinkError."""
        reference, _, tag = verify_link(self.signer, token, now).partition(":")
        if not reference or not tag:
            raise LinkError("invalid")
        return reference, tag
