"""Security at the edges, one small module per concern. Everything but `pages` is pure: it takes the
clock's reading and the keys as arguments and touches no server.

    tokens      Signer: HMAC tags under a key derived per purpose; new_secret
    keys        the session and link keys from config (read by alerts.secrets, the one secret loader)
    api_keys    providers' bearer API keys, held in config as SHA-256
    signing     HMAC request signatures (X-Crucial-Signature) and the replay guard
    providers   ProviderAuthenticator: who sent a request, by signature or API key
    rate_limit  a token bucket per credential
    passwords   argon2id staff passwords (older scrypt hashes verified and rehashed)
    sessions    page sessions and CSRF tokens as signed tokens
    links       signed expiring links (acknowledgement links, receipts)
    pages       PageAuth: the aiohttp cookie and CSRF glue of the report form and the board
    commands    `python -m streams.web.auth new-api-key | new-secret | hash-password`

The names below are re-exported so `from streams.web.auth import Signer` keeps working; new code imports
from the module that owns the name.
"""

from alerts.secrets import load_hmac_secrets, load_keys
from streams.web.auth.api_keys import API_KEY_PREFIX, bearer_token, find_api_key, hash_api_key, new_api_key
from streams.web.auth.commands import main
from streams.web.auth.keys import link_keys, session_keys, signing_keys
from streams.web.auth.links import LinkError, link_signer, sign_link, verify_link
from streams.web.auth.pages import PageAuth, page_auth
from streams.web.auth.passwords import DUMMY_PASSWORD_HASH, hash_password, hash_password_scrypt, needs_rehash, verify_password
from streams.web.auth.providers import Credential, ProviderAuthenticator
from streams.web.auth.rate_limit import RateLimiter
from streams.web.auth.sessions import Session, csrf_ok, csrf_token, issue_session, read_session, same_origin
from streams.web.auth.signing import SIGNATURE_PREFIX, AuthError, ReplayGuard, SignedRequest, sign_request, verify_request
from streams.web.auth.tokens import Signer, derive_key, new_secret

__all__ = [
    "API_KEY_PREFIX",
    "DUMMY_PASSWORD_HASH",
    "SIGNATURE_PREFIX",
    "AuthError",
    "Credential",
    "LinkError",
    "PageAuth",
    "ProviderAuthenticator",
    "RateLimiter",
    "ReplayGuard",
    "Session",
    "SignedRequest",
    "Signer",
    "bearer_token",
    "csrf_ok",
    "csrf_token",
    "derive_key",
    "find_api_key",
    "hash_api_key",
    "hash_password",
    "hash_password_scrypt",
    "issue_session",
    "link_keys",
    "link_signer",
    "load_hmac_secrets",
    "load_keys",
    "main",
    "needs_rehash",
    "new_api_key",
    "new_secret",
    "page_auth",
    "read_session",
    "same_origin",
    "session_keys",
    "sign_link",
    "sign_request",
    "signing_keys",
    "verify_link",
    "verify_password",
    "verify_request",
]
