"""Providers' bearer API keys: made here, held in config only as their SHA-256."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from typing import TypeVar

from streams.web.auth.tokens import b64

T = TypeVar("T")
API_KEY_PREFIX = "chk_"


def new_api_key() -> str:
    """A provider's bearer key: `chk_` and 256 random bits. Only hash_api_key(key) goes in config."""
    return API_KEY_PREFIX + b64(secrets.token_bytes(32))


def hash_api_key(key: str) -> str:
    """SHA-256 hex. Enough for a 256-bit random key (no dictionary to try); passwords use argon2id."""
    return hashlib.sha256(key.encode()).hexdigest()


def find_api_key(presented: str, known: Iterable[tuple[T, str]]) -> T | None:
    """The owner whose stored hash matches the presented key; compares with every hash in constant time."""
    digest = hash_api_key(presented)
    found: T | None = None
    for owner, stored in known:
        if hmac.compare_digest(digest, stored):
            found = owner
    return found


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None
