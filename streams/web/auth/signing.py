"""HMAC request signatures: X-Crucial-Signature = "sha256=" + HMAC-SHA256("<timestamp>." + body)."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass

from alerts.errors import CrucialHourError

SIGNATURE_PREFIX = "sha256="


class AuthError(CrucialHourError):
    """A request's credentials were refused; `reason` is a short bounded phrase, safe to log and return."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def sign_request(secret: bytes, timestamp: int, body: bytes) -> str:
    """The X-Crucial-Signature value: HMAC-SHA256 over "<timestamp>." + body, hex, prefixed "sha256="."""
    return SIGNATURE_PREFIX + hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class SignedRequest:
    """What a signed request carries: X-Crucial-Timestamp, X-Crucial-Signature and the body."""

    timestamp: str
    signature: str
    body: bytes


def verify_request(secrets_: Sequence[bytes], request: SignedRequest, now: float, window_s: float) -> int:
    """Check a signed request; returns its timestamp. Raises AuthError naming what was wrong.

    The timestamp (Unix seconds) must lie within `window_s` of `now`: an old request cannot be replayed
    later, and ReplayGuard refuses the same signature twice inside the window.
    """
    if not re.fullmatch(r"[0-9]{1,12}", request.timestamp or ""):
        raise AuthError("timestamp missing or not Unix seconds")
    when = int(request.timestamp)
    if abs(now - when) > window_s:
        raise AuthError("timestamp outside the replay window")
    presented = (request.signature or "").strip().lower()
    good = False
    for secret in secrets_:
        good |= hmac.compare_digest(sign_request(secret, when, request.body), presented)
    if not good:
        raise AuthError("signature does not match")
    return when


class ReplayGuard:
    """Remembers signatures seen within the window; a second sighting is a replay."""

    def __init__(self, window_s: float, max_entries: int = 100_000) -> None:
        self.window_s, self.max_entries = window_s, max_entries
        self._seen: dict[str, float] = {}

    def first_time(self, signature: str, now: float) -> bool:
        if len(self._seen) >= self.max_entries:
            self._seen = {s: t for s, t in self._seen.items() if now - t <= 2 * self.window_s}
        if signature in self._seen and now - self._seen[signature] <= 2 * self.window_s:
            return False
        self._seen[signature] = now
        return True
