"""Security at the edges: API keys, HMAC request signatures, rate limits, passwords, page sessions,
CSRF tokens and signed expiring links.

Everything above "aiohttp glue" is pure — it takes the clock's reading and the keys as arguments and
touches no server, so it is unit-tested directly. `PageAuth` at the bottom is the small piece of
aiohttp glue the report form uses and the situation board can reuse.

Keys
    `load_keys` reads signing keys from a secret file (which wins) or an environment variable, never
    from YAML: one or more keys separated by whitespace, the first signs, all verify (rotation).
    `Signer(keys, purpose)` derives a key per purpose from them, so a session token can never pass
    as a CSRF token or an acknowledgement link, and one secret can serve several purposes.

Tokens
    `Signer.sign(payload)` -> "payload.MAC" with a 128-bit HMAC-SHA256 tag in base64url; payloads are
    URL-safe text. Sessions, CSRF tokens and links are built on it: any worker holding the key verifies
    them. A session also ends when it is revoked (sign-out) or its password changes: streams.sessions
    keeps that state on a topic every worker follows.

Generating credentials (`python -m streams.auth --help`)
    new-api-key      a key for a provider and the sha256 line for providers.yaml
    new-secret       a random key for CRUCIAL_SESSION_SECRET / CRUCIAL_LINK_SECRET / an HMAC key
    hash-password    the password_hash (argon2id) line for a staff member (reads the password from stdin)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from argon2 import PasswordHasher
from argon2 import exceptions as argon2_exceptions

from alerts.channels import providers_configured
from alerts.channels.secrets import environment_secret
from alerts.config import Config, LinkSettings, Providers, SessionSettings
from alerts.errors import ConfigError, CrucialHourError

if TYPE_CHECKING:
    from aiohttp import web

T = TypeVar("T")
log = logging.getLogger("crucial.auth")
MAC_BYTES = 16  # 128-bit tags: short enough for an SMS link, far beyond guessing
MIN_KEY_CHARS = 32


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- keys -----------------------------------------------------------------------------------------


def load_keys(setting: str, env: str, file: Path | None, *, environ: Mapping[str, str] | None = None) -> list[bytes]:
    """The keys in `file` when one is named, else in variable `env`: whitespace-separated, first signs.

    `setting` is the dotted name in the config without suffix (e.g. "sessions.secret"), for the error.
    Raises ConfigError when the source is missing, empty, or holds a key shorter than 32 characters.
    """
    environ = os.environ if environ is None else environ
    if file is not None:
        try:
            text, source, key = file.read_text(encoding="utf-8"), str(file), f"{setting}_file"
        except OSError as exc:
            raise ConfigError(str(file), f"{setting}_file", f"secret file cannot be read ({exc.strerror})", "create it") from None
    else:
        (text, source), key = environment_secret(env, environ), env  # also <env>_FILE, $CREDENTIALS_DIRECTORY
    keys = text.split()
    if not keys:
        raise ConfigError(source, key, f"{setting} is not set", f"export {env} or set {setting}_file (new-secret makes one)")
    if any(len(k) < MIN_KEY_CHARS for k in keys):
        raise ConfigError(source, key, f"a {setting} key is shorter than {MIN_KEY_CHARS} characters", "use new-secret")
    return [k.encode() for k in keys]


def signing_keys(setting: str, env: str, file: Path | None) -> list[bytes]:
    """load_keys, or — when unset — a random key for this process, with a warning. Fit for sessions
    (signing in again after a restart is a small cost); not for links sent out in SMS or email, which
    must outlive the process: use load_keys (or link_signer) for those, so a missing key is an error."""
    try:
        return load_keys(setting, env, file)
    except ConfigError as exc:
        log.warning("%s — using a random key for this process: what it signs is void once it stops", exc)
        return [new_secret().encode()]


def outbox_only(config: Config) -> bool:
    """The demo: messages go only to the local outbox file, nothing leaves this machine."""
    return not providers_configured(config)


def secret_problems(config: Config, environ: Mapping[str, str] | None = None) -> list[ConfigError]:
    """Every secret the worker needs that is missing or too short. Outside the demo (outbox_only) the
    session and link keys and every provider's HMAC key are required: with none set, each worker would
    pick its own random key and sign-ins and links would break at random across workers. In the demo
    the worker may pick a key for itself (with a warning). `crucial check-config` and the worker's
    start both call this."""
    if outbox_only(config):
        return []
    problems: list[ConfigError] = []
    sessions, links = config.providers.sessions, config.providers.links
    for setting, env, file in (
        ("sessions.secret", sessions.secret_env, sessions.secret_file),
        ("links.secret", links.secret_env, links.secret_file),
    ):
        try:
            load_keys(setting, env, file, environ=environ)
        except ConfigError as exc:
            problems.append(exc)
    for provider_id, provider in config.providers.providers.items():
        for i, key in enumerate(provider.hmac_keys):
            try:
                load_keys(f"providers.{provider_id}.hmac_keys[{i}].secret", key.secret_env, key.secret_file, environ=environ)
            except ConfigError as exc:
                problems.append(exc)
    return problems


def check_secrets(config: Config, environ: Mapping[str, str] | None = None) -> None:
    """Raise the first of secret_problems (the worker calls this before it serves anything)."""
    problems = secret_problems(config, environ)
    if problems:
        raise problems[0]


def session_keys(config: Config) -> list[bytes]:
    """The session keys: required outside the demo (ConfigError), else possibly this process's own."""
    sessions = config.providers.sessions
    if outbox_only(config):
        return signing_keys("sessions.secret", sessions.secret_env, sessions.secret_file)
    return load_keys("sessions.secret", sessions.secret_env, sessions.secret_file)


def link_keys(config: Config) -> list[bytes]:
    """The link keys (acknowledgement links, receipts), required as session_keys are."""
    links = config.providers.links
    if outbox_only(config):
        return signing_keys("links.secret", links.secret_env, links.secret_file)
    return load_keys("links.secret", links.secret_env, links.secret_file)


def new_secret() -> str:
    """A random 256-bit key, base64url (43 characters)."""
    return _b64(secrets.token_bytes(32))


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
        return _b64(hmac.new(key or self._keys[0], payload.encode(), hashlib.sha256).digest()[:MAC_BYTES])

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


# --- API keys -------------------------------------------------------------------------------------

API_KEY_PREFIX = "chk_"


def new_api_key() -> str:
    """A provider's bearer key: `chk_` and 256 random bits. Only hash_api_key(key) goes in config."""
    return API_KEY_PREFIX + _b64(secrets.token_bytes(32))


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


# --- HMAC request signatures ----------------------------------------------------------------------

SIGNATURE_PREFIX = "sha256="


class AuthError(CrucialHourError):
    """A request's credentials were refused; `reason` is a short bounded phrase, safe to log and return."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def sign_request(secret: bytes, timestamp: int, body: bytes) -> str:
    """The X-Crucial-Signature value: HMAC-SHA256 over "<timestamp>." + body, hex, prefixed "sha256="."""
    return SIGNATURE_PREFIX + hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def verify_request(secrets_: Sequence[bytes], timestamp: str, signature: str, body: bytes, now: float, window_s: float) -> int:
    """Check a signed request; returns its timestamp. Raises AuthError naming what was wrong.

    The timestamp (Unix seconds) must lie within `window_s` of `now`: an old request cannot be replayed
    later, and ReplayGuard refuses the same signature twice inside the window.
    """
    if not re.fullmatch(r"[0-9]{1,12}", timestamp or ""):
        raise AuthError("timestamp missing or not Unix seconds")
    when = int(timestamp)
    if abs(now - when) > window_s:
        raise AuthError("timestamp outside the replay window")
    good = False
    for secret in secrets_:
        good |= hmac.compare_digest(sign_request(secret, when, body), (signature or "").strip().lower())
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


@dataclass(frozen=True)
class Credential:
    """Who sent a request: a provider, the key they used, and how (api_key or hmac)."""

    provider_id: str
    key_id: str
    method: str
    signature: str | None = None

    @property
    def limit_key(self) -> str:
        """The rate limiter's key: one bucket per credential."""
        return f"{self.provider_id}/{self.key_id}"


def load_hmac_secrets(providers: Providers, environ: Mapping[str, str] | None = None) -> tuple[dict[str, list[bytes]], list[str]]:
    """Every provider HMAC key that can be read (key id -> keys), and a problem line for each that cannot."""
    found: dict[str, list[bytes]] = {}
    problems: list[str] = []
    for provider_id, provider in providers.providers.items():
        for i, key in enumerate(provider.hmac_keys):
            try:
                found[key.id] = load_keys(
                    f"providers.{provider_id}.hmac_keys[{i}].secret", key.secret_env, key.secret_file, environ=environ
                )
            except ConfigError as exc:
                problems.append(f"HMAC key {key.id} of {provider_id} disabled: {exc}")
    return found, problems


class ProviderAuthenticator:
    """Authenticates a request by HMAC signature (X-Crucial-Key-Id, -Timestamp, -Signature) when one is
    sent, else by `Authorization: Bearer <API key>`. Raises AuthError with a bounded reason."""

    def __init__(self, providers: Providers, hmac_secrets: Mapping[str, Sequence[bytes]], window_s: float) -> None:
        self.window_s = window_s
        self._api_keys = [
            (Credential(pid, key.id, "api_key"), key.sha256) for pid, p in providers.providers.items() for key in p.api_keys
        ]
        self._hmac = {
            key.id: (Credential(pid, key.id, "hmac"), list(hmac_secrets[key.id]))
            for pid, p in providers.providers.items()
            for key in p.hmac_keys
            if key.id in hmac_secrets
        }
        self._replays = ReplayGuard(window_s)

    def authenticate(self, headers: Mapping[str, str], body: bytes, now: float, *, check_replay: bool = True) -> Credential:
        """`check_replay=False` when the caller checks the signature against a shared guard
        (streams.identity.SharedReplayGuard) — `Credential.signature` is then set."""
        lower = {k.lower(): v for k, v in headers.items()}
        signature = lower.get("x-crucial-signature")
        if signature is not None:
            entry = self._hmac.get(lower.get("x-crucial-key-id", ""))
            if entry is None:
                raise AuthError("unknown key id")
            credential, keys = entry
            verify_request(keys, lower.get("x-crucial-timestamp", ""), signature, body, now, self.window_s)
            if check_replay and not self._replays.first_time(signature.strip().lower(), now):
                raise AuthError("replayed signature")
            return replace(credential, signature=signature.strip().lower())
        token = bearer_token(lower.get("authorization"))
        if token is None:
            raise AuthError("no credentials")
        found = find_api_key(token, self._api_keys)
        if found is None:
            raise AuthError("unknown API key")
        return found


# --- rate limiting --------------------------------------------------------------------------------


class RateLimiter:
    """A token bucket per key: `burst` requests at once, refilled at `per_minute`.

    `take(key, now)` spends one token and returns 0.0, or returns the seconds until one is available
    (for Retry-After) and spends nothing. Memory is bounded: full buckets are forgotten first.
    """

    def __init__(self, per_minute: float, burst: int, max_keys: int = 10_000) -> None:
        self.rate, self.burst, self.max_keys = per_minute / 60.0, float(burst), max_keys
        self._buckets: dict[str, tuple[float, float]] = {}

    def _level(self, key: str, now: float) -> float:
        tokens, at = self._buckets.get(key, (self.burst, now))
        return min(self.burst, tokens + max(0.0, now - at) * self.rate)

    def take(self, key: str, now: float) -> float:
        level = self._level(key, now)
        if level < 1.0:
            self._buckets[key] = (level, now)
            return (1.0 - level) / self.rate
        if key not in self._buckets and len(self._buckets) >= self.max_keys:
            self._forget(now)
        self._buckets[key] = (level - 1.0, now)
        return 0.0

    def _forget(self, now: float) -> None:
        self._buckets = {k: v for k, v in self._buckets.items() if self._level(k, now) < self.burst}
        if len(self._buckets) >= self.max_keys:  # all busy: drop the least recently used half
            keep = sorted(self._buckets.items(), key=lambda item: item[1][1])[self.max_keys // 2 :]
            self._buckets = dict(keep)


# --- passwords ------------------------------------------------------------------------------------

# argon2id with argon2-cffi's defaults (RFC 9106's second recommended option: t=3, m=64 MiB, p=4).
_ARGON2 = PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash (PHC string) for providers.yaml / board.yaml `password_hash`."""
    return _ARGON2.hash(password)


def hash_password_scrypt(password: str, *, log2_n: int = 14, r: int = 8, p: int = 1) -> str:
    """The older scheme, scrypt$log2n$r$p$salt$hash (base64url): still verified, rehashed on sign-in."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**log2_n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=32)
    return f"scrypt${log2_n}${r}${p}${_b64(salt)}${_b64(digest)}"


def _verify_scrypt(stored: str, password: str) -> bool:
    try:
        scheme, log2_n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt" or not (10 <= int(log2_n) <= 20):
            return False
        got = hashlib.scrypt(
            password.encode(), salt=_unb64(salt), n=2 ** int(log2_n), r=int(r), p=int(p), maxmem=256 * 1024 * 1024, dklen=32
        )
    except ValueError:
        return False
    return hmac.compare_digest(got, _unb64(digest))


def verify_password(stored: str, password: str) -> bool:
    """Whether `password` is the one `stored` (argon2id, or the older scrypt) was made from. CPU-heavy:
    call it off the event loop (streams.signin does)."""
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


# --- sessions -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    """Who is signed in: `user`, what they may see (`scope`, e.g. "provider:larchwood-care"), until when."""

    user: str
    scope: str
    sid: str
    expires: int
    password: str = ""  # streams.sessions.fingerprint of the password hash it was opened under

    def encode(self) -> str:
        data = {"u": self.user, "s": self.scope, "i": self.sid, "e": self.expires, "p": self.password}
        return _b64(json.dumps(data).encode())


def issue_session(signer: Signer, user: str, scope: str, now: float, ttl_s: float, password: str = "") -> tuple[Session, str]:
    """A new session and its signed token (the cookie's value)."""
    session = Session(user=user, scope=scope, sid=_b64(secrets.token_bytes(12)), expires=int(now + ttl_s), password=password)
    return session, signer.sign(session.encode())


def read_session(signer: Signer, token: str | None, now: float) -> Session | None:
    """The session a token carries, or None when it is missing, forged, malformed or expired."""
    payload = signer.unsign(token or "")
    if payload is None:
        return None
    try:
        data = json.loads(_unb64(payload))
        session = Session(
            user=str(data["u"]), scope=str(data["s"]), sid=str(data["i"]), expires=int(data["e"]), password=str(data.get("p", ""))
        )
    except (ValueError, KeyError, TypeError):
        return None
    return session if now < session.expires else None


# --- CSRF -----------------------------------------------------------------------------------------


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


# --- signed expiring links ------------------------------------------------------------------------

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


# --- aiohttp glue for pages -----------------------------------------------------------------------


class PageAuth:
    """Session cookie and CSRF checks for server-rendered pages (the report form; the situation board).

    Use: `session = auth.session(request, now)` (None: send them to the login page); draw forms with
    `auth.csrf(session.sid)` in a hidden `csrf_token` field; on POST, `auth.refuse_post(request, form,
    session.sid)` is None when the post is good, else the reason to refuse it (403). To sign someone in:
    `session, token = auth.begin(user, scope, now)`, draw the page, then `auth.set_session_cookie(
    response, token)`. The login form itself is protected by a nonce cookie: `nonce, new =
    auth.login_nonce(request)`, `auth.csrf(nonce)` in the form, `auth.set_login_nonce(response, nonce)`
    when new, and `refuse_post(request, form, request.cookies.get(auth.nonce_cookie))` on POST.
    """

    def __init__(self, keys: Sequence[bytes], *, realm: str, cookie_path: str, ttl_s: float, secure: bool) -> None:
        self.sessions = Signer(keys, f"session:{realm}")
        self.csrf_signer = Signer(keys, f"csrf:{realm}")
        self.cookie = f"crucial_{realm}"
        self.nonce_cookie = f"crucial_{realm}_login"
        self.path, self.ttl_s, self.secure = cookie_path, ttl_s, secure

    def session(self, request: web.Request, now: float) -> Session | None:
        return read_session(self.sessions, request.cookies.get(self.cookie), now)

    def begin(self, user: str, scope: str, now: float, password: str = "") -> tuple[Session, str]:
        return issue_session(self.sessions, user, scope, now, self.ttl_s, password)

    def set_session_cookie(self, response: web.StreamResponse, token: str) -> None:
        """HttpOnly, SameSite=Strict, Secure unless configured off for plain-http development."""
        response.set_cookie(
            self.cookie, token, max_age=int(self.ttl_s), path=self.path, httponly=True, secure=self.secure, samesite="Strict"
        )
        response.del_cookie(self.nonce_cookie, path=self.path)

    def end(self, response: web.StreamResponse) -> None:
        response.del_cookie(self.cookie, path=self.path)

    def csrf(self, binding: str) -> str:
        return csrf_token(self.csrf_signer, binding)

    def login_nonce(self, request: web.Request) -> tuple[str, bool]:
        """The login form's nonce from its cookie, or a new one (True: set it with set_login_nonce)."""
        nonce = request.cookies.get(self.nonce_cookie)
        if nonce and re.fullmatch(r"[A-Za-z0-9_-]{16,64}", nonce):
            return nonce, False
        return _b64(secrets.token_bytes(16)), True

    def set_login_nonce(self, response: web.StreamResponse, nonce: str) -> None:
        response.set_cookie(
            self.nonce_cookie, nonce, max_age=3600, path=self.path, httponly=True, secure=self.secure, samesite="Strict"
        )

    def refuse_post(self, request: web.Request, form: Mapping[str, object], binding: str | None) -> str | None:
        """None when a form post is from this site with a good CSRF token; else why it is refused."""
        if not same_origin(request.headers.get("Origin"), request.headers.get("Host"), request.scheme):
            return "cross-site post"
        token = form.get("csrf_token")
        if not csrf_ok(self.csrf_signer, binding, token if isinstance(token, str) else None):
            return "missing or wrong CSRF token"
        return None


def page_auth(sessions: SessionSettings, realm: str, cookie_path: str, *, environ: Mapping[str, str] | None = None) -> PageAuth:
    """PageAuth for one family of pages (realm "report", "board") under the configured session keys
    (providers.yaml `sessions:`). Raises ConfigError when the keys are not set."""
    keys = load_keys("sessions.secret", sessions.secret_env, sessions.secret_file, environ=environ)
    return PageAuth(keys, realm=realm, cookie_path=cookie_path, ttl_s=sessions.minutes * 60, secure=sessions.cookie_secure)


# --- command line ---------------------------------------------------------------------------------


def _read_password() -> str:
    """Asked twice without echo on a terminal (getpass); else the first line of stdin (a pipe, a script)."""
    import getpass
    import sys

    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise SystemExit("the two passwords differ: nothing hashed")
    return first


def main(argv: list[str] | None = None) -> int:
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m streams.auth", description="Make credentials for providers.yaml.")
    sub = parser.add_subparsers(dest="what", required=True)
    sub.add_parser("new-api-key", help="a provider API key and its sha256 for providers.yaml")
    sub.add_parser("new-secret", help="a random key for a secret file or environment variable")
    sub.add_parser("hash-password", help="password_hash (argon2id) for a staff member (asked without echo, or one line on stdin)")
    args = parser.parse_args(argv)
    if args.what == "new-api-key":
        key = new_api_key()
        print(f"give the provider:   {key}\nproviders.yaml:      sha256: {hash_api_key(key)}")
    elif args.what == "new-secret":
        print(new_secret())
    else:
        password = _read_password()
        if len(password) < 10:
            print("use at least 10 characters", file=sys.stderr)
            return 1
        print(f"password_hash: {hash_password(password)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
