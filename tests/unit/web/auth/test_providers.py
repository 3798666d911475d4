"""ProviderAuthenticator: which provider sent a request, by signature or API key."""

from __future__ import annotations

import pytest

from alerts.config import Providers
from streams.web.auth.api_keys import hash_api_key
from streams.web.auth.providers import ProviderAuthenticator
from streams.web.auth.signing import AuthError, sign_request

KEY = b"k" * 32
NOW = 1_800_000_000.0


def providers(**hmac: str) -> Providers:
    return Providers.model_validate(
        {
            "providers": {
                "care-a": {
                    "name": "Care A",
                    "api_keys": [{"id": "a1", "sha256": hash_api_key("chk_a")}],
                    "hmac_keys": [{"id": "a-hmac", "secret_env": "A_HMAC"}],
                },
                "care-b": {
                    "name": "Care B",
                    "api_keys": [{"id": "b1", "sha256": hash_api_key("chk_b")}],
                },
            }
        }
    )


def test_the_authenticator_tells_providers_apart() -> None:
    auth = ProviderAuthenticator(providers(), {"a-hmac": [KEY]}, 300)
    assert auth.authenticate({"Authorization": "Bearer chk_b"}, b"", NOW).provider_id == "care-b"
    body = b"{}"
    headers = {
        "x-crucial-key-id": "a-hmac",
        "X-Crucial-Timestamp": str(int(NOW)),
        "X-CRUCIAL-SIGNATURE": sign_request(KEY, int(NOW), body),
    }
    credential = auth.authenticate(headers, body, NOW)
    assert (credential.provider_id, credential.method, credential.limit_key) == ("care-a", "hmac", "care-a/a-hmac")
    with pytest.raises(AuthError, match="replayed signature"):
        auth.authenticate(headers, body, NOW + 1)
    # A signature wins over a bearer key: a bad signature is not rescued by a good key.
    with pytest.raises(AuthError, match="unknown key id"):
        auth.authenticate({**headers, "X-Crucial-Key-Id": "nope", "Authorization": "Bearer chk_a"}, body, NOW)
    for headers, reason in (({}, "no credentials"), ({"Authorization": "Bearer chk_c"}, "unknown API key")):
        with pytest.raises(AuthError, match=reason):
            auth.authenticate(headers, b"", NOW)
