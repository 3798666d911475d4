"""providers.yaml: placement providers and how they authenticate (API keys, HMAC keys, staff who sign
in), the web side's ingest, session and link settings, and the checks across providers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, StringConstraints, model_validator

from alerts.config.base import Schema
from alerts.errors import ConfigError
from alerts.model import Phone, Ref, Text

ProviderId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
KeyId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")]
Username = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")]
Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
# scrypt$<log2 n>$<r>$<p>$<salt>$<hash>, base64url, as `python -m streams.web.auth hash-password` prints it.
_B64 = r"[A-Za-z0-9_-]"
_SCRYPT = rf"^scrypt\$[0-9]{{1,2}}\$[0-9]{{1,2}}\$[0-9]{{1,2}}\${_B64}{{16,}}\${_B64}{{32,}}$"
ScryptHash = Annotated[str, StringConstraints(pattern=_SCRYPT)]
# $argon2id$v=19$m=..,t=..,p=..$salt$hash (PHC string), as `python -m streams.web.auth hash-password` prints it.
_ARGON2ID = r"^\$argon2id\$v=19\$m=[0-9]{1,8},t=[0-9]{1,3},p=[0-9]{1,3}\$[A-Za-z0-9+/]{11,}\$[A-Za-z0-9+/]{16,}$"
Argon2Hash = Annotated[str, StringConstraints(pattern=_ARGON2ID)]


class Password(Schema):
    """A password held as a hash: `password_hash` (argon2id), or an older `password_scrypt`, which is
    still accepted and rehashed to argon2id at the next sign-in (streams.web.sessions keeps the rehash)."""

    password_hash: Argon2Hash | None = None
    password_scrypt: ScryptHash | None = None

    @model_validator(mode="after")
    def _one_hash(self) -> Password:
        if (self.password_hash is None) == (self.password_scrypt is None):
            raise ValueError("give exactly one of password_hash (argon2id, from hash-password) and password_scrypt")
        return self

    @property
    def stored_password(self) -> str:
        return self.password_hash or self.password_scrypt or ""


class ApiKey(Schema):
    """A bearer API key, held only as its SHA-256 (hex): `python -m streams.web.auth new-api-key` makes one."""

    id: KeyId
    sha256: Sha256Hex


class HmacKey(Schema):
    """A key shared with the provider for HMAC-SHA256 request signatures; the key itself lives in the
    environment or in a secret file (which wins), never here."""

    id: KeyId = Field(description="sent by the provider in X-Crucial-Key-Id")
    secret_env: Annotated[str, StringConstraints(pattern=r"^[A-Z_][A-Z0-9_]*$")]
    secret_file: Path | None = None


class StaffMember(Password):
    """Someone who may sign in to the report form; `name`, `role` and `callback_phone` fill the reporter."""

    name: Text
    role: Text = "residential care worker"
    callback_phone: Phone
    placements: list[Ref] | None = Field(
        default=None, description="omitted: every placement of the provider in the placement register"
    )


class RateLimit(Schema):
    """Per credential (API key or HMAC key id): a token bucket refilled at per_minute, holding burst."""

    per_minute: Annotated[int, Field(ge=1, le=60_000)] = 60
    burst: Annotated[int, Field(ge=1, le=10_000)] = 20


class Provider(Schema):
    """A placement provider and how it authenticates. Its placements and their children are in the
    placement register (alerts/placements.py, `crucial placements load`), not here."""

    name: Text
    api_keys: list[ApiKey] = []
    hmac_keys: list[HmacKey] = []
    staff: dict[Username, StaffMember] = {}
    rate_limit: RateLimit = RateLimit()
    authority_for: list[Text] = Field(
        default=[],
        description="local authorities this provider acts for: it may update, stand down or report again any "
        "incident whose placement's local authority, or whose profile's responsible local authority, is listed",
    )

    @model_validator(mode="before")
    @classmethod
    def _no_placements(cls, data: Any) -> Any:
        if isinstance(data, dict) and "placements" in data:
            raise ValueError(
                "placements are no longer kept in providers.yaml (children are special-category data that "
                "change weekly): move them to a JSON Lines file like samples/placements.jsonl and run "
                "`crucial placements load FILE`"
            )
        return data


class IngestSettings(Schema):
    max_body_bytes: Annotated[int, Field(ge=1024, le=1024 * 1024)] = 64 * 1024
    signature_window_s: Annotated[int, Field(ge=30, le=3600)] = Field(
        default=300, description="how far X-Crucial-Timestamp may be from the server's clock"
    )
    produce_timeout_s: Annotated[float, Field(gt=0, le=120)] = Field(
        default=10.0, description="longest wait for Kafka's acknowledgement before answering 503"
    )
    failed_auth_per_minute: Annotated[int, Field(ge=1, le=60_000)] = Field(
        default=30, description="refused authentications allowed per client address before 429"
    )


class SessionSettings(Schema):
    """Signed session cookies for the pages (report form, situation board) and their CSRF tokens."""

    secret_env: Annotated[str, StringConstraints(pattern=r"^[A-Z_][A-Z0-9_]*$")] = "CRUCIAL_SESSION_SECRET"
    secret_file: Path | None = None
    minutes: Annotated[int, Field(ge=5, le=7 * 24 * 60)] = 12 * 60
    cookie_secure: bool = Field(default=True, description="false only for plain-http development")
    logins_per_minute: Annotated[int, Field(ge=1, le=600)] = Field(
        default=10, description="failed sign-ins per (username, client address) before a growing wait"
    )
    user_failures_alert_per_hour: Annotated[int, Field(ge=1, le=100_000)] = Field(
        default=50,
        description="failed sign-ins for one username from all addresses in an hour that alert the ops team "
        "(crucial_signin_ceiling_total); the person is never locked out by it",
    )


class LinkSettings(Schema):
    """Signed, expiring links (acknowledgement links in SMS and email, report receipts)."""

    secret_env: Annotated[str, StringConstraints(pattern=r"^[A-Z_][A-Z0-9_]*$")] = "CRUCIAL_LINK_SECRET"
    secret_file: Path | None = None
    valid_minutes: Annotated[int, Field(ge=1, le=7 * 24 * 60)] = 24 * 60


class Providers(Schema):
    ingest: IngestSettings = IngestSettings()
    sessions: SessionSettings = SessionSettings()
    links: LinkSettings = LinkSettings()
    providers: dict[ProviderId, Provider] = {}


def check_providers(path: str, providers: Providers) -> Iterator[ConfigError]:
    """Each HMAC key id, API key hash and username appears once across all providers."""
    first_at: dict[tuple[str, str], str] = {}

    def once(kind: str, value: str, key: str) -> Iterator[ConfigError]:
        other = first_at.setdefault((kind, value), key)
        if other != key:
            yield ConfigError(path, key, f"{kind} '{value}' is also given at {other}", f"give each {kind} once")

    for provider_id, provider in providers.providers.items():
        at = f"providers.{provider_id}"
        yield from _check_authority(path, at, provider)
        for i, hmac_key in enumerate(provider.hmac_keys):
            yield from once("HMAC key id", hmac_key.id, f"{at}.hmac_keys[{i}].id")
        for i, api_key in enumerate(provider.api_keys):
            yield from once("API key hash", api_key.sha256, f"{at}.api_keys[{i}].sha256")
        for username in provider.staff:
            yield from once("username", username, f"{at}.staff.{username}")


def _check_authority(path: str, at: str, provider: Provider) -> Iterator[ConfigError]:
    """authority_for names each local authority once; an authority needs credentials to send with."""
    seen: dict[str, int] = {}
    for i, name in enumerate(provider.authority_for):
        if (first := seen.setdefault(name.casefold(), i)) != i:
            yield ConfigError(
                path, f"{at}.authority_for[{i}]", f"'{name}' is also given at authority_for[{first}]", "give each once"
            )
    if provider.authority_for and not (provider.api_keys or provider.hmac_keys):
        yield ConfigError(
            path, f"{at}.authority_for", "an authority with no api_keys or hmac_keys cannot send", "add a key, or remove it"
        )
