"""Page sessions as signed tokens, and the CSRF tokens bound to them.

A session also ends when it is revoked (sign-out) or its password changes: streams.web.sessions keeps that
state on a topic every worker follows.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

from streams.web.auth.tokens import Signer, b64, unb64


@dataclass(frozen=True)
class Session:
    """Who is signed in: `user`, what they may see (`scope`, e.g. "provider:larchwood-care"), until when."""

    user: str
    scope: str
    sid: str
    expires: int
    password: str = ""  # streams.web.sessions.fingerprint of the password hash it was opened under

    def encode(self) -> str:
        data = {"u": self.user, "s": self.scope, "i": self.sid, "e": self.expires, "p": self.password}
        return b64(json.dumps(data).encode())


def issue_session(signer: Signer, user: str, scope: str, expires: int, password: str = "") -> tuple[Session, str]:
    """A new session until `expires` (Unix seconds) and its signed token (the cookie's value)."""
    session = Session(user=user, scope=scope, sid=b64(secrets.token_bytes(12)), expires=expires, password=password)
    return session, signer.sign(session.encode())


def read_session(signer: Signer, token: str | None, now: float) -> Session | None:
    """The session a token carries, or None when it is missing, forged, malformed or expired."""
    payload = signer.unsign(token or "")
    if payload is None:
        return None
    try:
        data = json.loads(unb64(payload))
        session = Session(
            user=str(data["u"]), scope=str(data["s"]), sid=str(data["i"]), expires=int(data["e"]), password=str(data.get("p", ""))
        )
    except (ValueError, KeyError, TypeError):
        return None
    return session if now < session.expires else None


def csrf_token(signer: Signer, binding: str) -> str:
    """A token for forms, bound to a session id (or, before login, to a nonce cookie)."""
    return signer.mac("csrf:" + binding)


def csrf_ok(signer: Signer, binding: str | None, token: str | None) -> bool:
    return bool(binding and token) and signer.verify("csrf:" + str(binding), str(token))


def same_origin(origin: str | None, host: str | None, scheme: str) -> bool:
    """True when the Origin header is absent (old browsers) or names this host; False for other sites."""
    if origin is None:
        return True
    return bool(host) and origin in (f"{scheme}://{host}", f"https://{host}")
