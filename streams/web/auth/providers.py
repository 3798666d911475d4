"""Who sent a request: a provider, by HMAC signature or bearer API key."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from alerts.config import Providers
from streams.web.auth.api_keys import bearer_token, find_api_key
from streams.web.auth.signing import AuthError, ReplayGuard, SignedRequest, verify_request


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
        (streams.pipeline.identity.SharedReplayGuard) — `Credential.signature` is then set."""
        lower = {k.lower(): v for k, v in headers.items()}
        signature = lower.get("x-crucial-signature")
        if signature is not None:
            return self._signed(lower, signature, body, now, check_replay)
        token = bearer_token(lower.get("authorization"))
        if token is None:
            raise AuthError("no credentials")
        found = find_api_key(token, self._api_keys)
        if found is None:
            raise AuthError("unknown API key")
        return found

    def _signed(self, lower: Mapping[str, str], signature: str, body: bytes, now: float, check_replay: bool) -> Credential:
        entry = self._hmac.get(lower.get("x-crucial-key-id", ""))
        if entry is None:
            raise AuthError("unknown key id")
        credential, keys = entry
        verify_request(keys, SignedRequest(lower.get("x-crucial-timestamp", ""), signature, body), now, self.window_s)
        if check_replay and not self._replays.first_time(signature.strip().lower(), now):
            raise AuthError("replayed signature")
        return replace(credential, signature=signature.strip().lower())
