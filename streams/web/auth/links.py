"""Signed expiring links (acknowledgement links, receipts): "<subject>.<expiry base36>.<tag>"."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime

from alerts.config import LinkSettings
from alerts.errors import CrucialHourError
from alerts.secrets import load_keys
from streams.web.auth.tokens import Signer

LINK_SUBJECT = re.compile(r"^[A-Za-z0-9._:~-]{1,200}$")


class LinkError(CrucialHourError):
    """A link was refused: `reason` is "invalid" (forged, altered, other purpose) or "expired"."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"link {reason}")


def sign_link(signer: Signer, subject: str, expires_at: datetime) -> str:
    """A URL-safe token "<subject>.<expiry base36>.<tag>" for a link path, e.g. /ack/<token>.

    `subject` is what the link is about (an incident reference, "CH-4K7QX2:harrow-edt:sms"...) in URL-safe
    characters; the signer's purpose ("ack", "receipt") is bound in the tag but not written out.
    """
    if not LINK_SUBJECT.match(subject):
        raise ValueError("a link subject is 1-200 characters of A-Z a-z 0-9 . _ : ~ -")
    return signer.sign(f"{subject}.{_base36(int(expires_at.timestamp()))}")


def verify_link(signer: Signer, token: str, now: datetime) -> str:
    """The subject of a good, unexpired link; raises LinkError otherwise."""
    payload = signer.unsign(token)
    if payload is None:
        raise LinkError("invalid")
    subject, _, expiry = payload.rpartition(".")
    try:
        expires = int(expiry, 36)
    except ValueError:
        raise LinkError("invalid") from None
    if now.timestamp() >= expires:
        raise LinkError("expired")
    return subject


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out


def link_signer(links: LinkSettings, purpose: str, *, environ: Mapping[str, str] | None = None) -> Signer:
    """The Signer for one kind of link ("ack", "receipt"...) under the configured link keys
    (providers.yaml `links:`). Raises ConfigError when the keys are not set."""
    return Signer(load_keys("links.secret", links.secret_env, links.secret_file, environ=environ), purpose)
