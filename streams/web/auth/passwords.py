"""Staff passwords: argon2id, and the older scrypt hashes still verified (and rehashed on sign-in)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2 import exceptions as argon2_exceptions

from streams.web.auth.tokens import b64, unb64

# argon2id with argon2-cffi's defaults (RFC 9106's second recommended option).
_ARGON2 = PasswordHasher()
_SCRYPT_MAXMEM = 256 * 1024 * 1024


def hash_password(password: str) -> str:
    """An argon2id hash (PHC string) for providers.yaml / board.yaml `password_hash`."""
    return _ARGON2.hash(password)


def hash_password_scrypt(password: str, *, log2_n: int = 14, r: int = 8, p: int = 1) -> str:
    """The older scheme, scrypt$log2n$r$p$salt$hash (base64url): still verified, rehashed on sign-in."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**log2_n, r=r, p=p, maxmem=_SCRYPT_MAXMEM, dklen=32)
    return f"scrypt${log2_n}${r}${p}${b64(salt)}${b64(digest)}"


def _verify_scrypt(stored: str, password: str) -> bool:
    try:
        scheme, log2_n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt" or not (10 <= int(log2_n) <= 20):
            return False
        got = hashlib.scrypt(
            password.encode(), salt=unb64(salt), n=2 ** int(log2_n), r=int(r), p=int(p), maxmem=_SCRYPT_MAXMEM, dklen=32
        )
    except ValueError:
        return False
    return hmac.compare_digest(got, unb64(digest))


def verify_password(stored: str, password: str) -> bool:
    """Whether `password` is the one `stored` (argon2id, or the older scrypt) was made from. CPU-heavy:
    call it off the event loop (streams.web.signin does)."""
    if stored.startswith("$argon2"):
        try:
            return _ARGON2.verify(stored, password)
        except (argon2_exceptions.VerificationError, argon2_exceptions.InvalidHashError):
            return False
    return _verify_scrypt(stored, password)


def needs_rehash(stored: str) -> bool:
    """True for a scrypt hash, or an argon2 hash made with weaker parameters than today's."""
    if not stored.startswith("$argon2"):
        return True
    try:
        return _ARGON2.check_needs_rehash(stored)
    except argon2_exceptions.InvalidHashError:
        return True


# Checked when the username is unknown, so timing does not reveal which users exist: the same work.
DUMMY_PASSWORD_HASH = "$argon2id$v=19$m=65536,t=3,p=4$nFdYpd/Ys1XppGu+PIiLiA$n/R/QrytoLCEcSPPtqDBedRWveQ0MiNGfdqZYvYKVfU"
