"""Signed tokens: `Signer(keys, purpose)` derives a key per purpose, so a session token can never pass
as a CSRF token or an acknowledgement link, and one secret can serve several purposes.

`Signer.sign(payload)` -> "payload.MAC" with a 128-bit HMAC-SHA256 tag in base64url; payloads are
URL-safe text. Any worker holding the key verifies them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence

MAC_BYTES = 16  # 128-bit tags: short enough for an SMS link, far beyond guessing


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_secret() -> str:
    """A random 256-bit key, base64url (43 characters)."""
    return b64(secrets.token_bytes(32))


def derive_key(master: bytes, purpose: str) -> bytes:
    return hmac.new(master, b"crucial-hour/" + purpose.encode(), hashlib.sha256).digest()


class Signer:
    """HMAC-SHA256 tags under keys derived for one purpose; signs with the first key, verifies with any."""

    def __init__(self, keys: Sequence[bytes], purpose: str) -> None:
        if not keys:
            raise ValueError("a Signer needs at least one key")
        self.purpose = purpose
        self._keys = [derive_key(k, purpose) for k in keys]

    def mac(self, payload: str, key: bytes | None = None) -> str:
        return b64(hmac.new(key or self._keys[0], payload.encode(), hashlib.sha256).digest()[:MAC_BYTES])

    def sign(self, payload: str) -> str:
        return f"{payload}.{self.mac(payload)}"

    def verify(self, payload: str, tag: str) -> bool:
        """Whether `tag` is the payload's tag under any of the keys (each tried: timing tells nothing)."""
        good = False
        for key in self._keys:
            good |= hmac.compare_digest(self.mac(payload, key), tag)
        return good

    def unsign(self, token: str) -> str | None:
        """The payload when the tag is good under any key, else None."""
        payload, dot, tag = token.rpartition(".")
        return payload if dot and self.verify(payload, tag) else None
