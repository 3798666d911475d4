"""Pytest fixtures for the protocol peers. Load them from the root conftest with
`pytest_plugins = ["tests.peers.fixtures"]` (or in a test module, as the channel tests do).

    twilio_credentials   a fresh fake AccountSid / auth token (made at run time)
    twilio_peer          the Twilio-compatible server, in-process, on a free port
    peer_certs           a throwaway CA + server certificate for 127.0.0.1 (session)
    smtp_password        a fresh password for the SMTP peer's user "crucial"
    smtp_peer            aiosmtpd with STARTTLS required and AUTH required
    smtp_peer_implicit   aiosmtpd with implicit TLS (SMTPS) and AUTH required
    prism_url            Prism serving Twilio's OpenAPI contract (session; skips when unavailable)
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.peers.certs import CertPaths, make_certs
from tests.peers.notifications import SMTP_USER, TwilioCredentials
from tests.peers.prism import start_prism, unavailable_reason
from tests.peers.smtp_server import SmtpPeer, free_port
from tests.peers.twilio_server import TwilioPeer

TWILIO_ENV = ("TWILIO_EDGE", "TWILIO_REGION", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_API_KEY", "TWILIO_API_SECRET")


@pytest.fixture
def no_twilio_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Twilio's environment variables rewrite hosts and credentials: none in tests."""
    for name in TWILIO_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def twilio_credentials() -> TwilioCredentials:
    return TwilioCredentials.fresh()


@pytest.fixture
async def twilio_peer(twilio_credentials: TwilioCredentials, no_twilio_env: None) -> AsyncIterator[TwilioPeer]:
    peer = TwilioPeer(account_sid=twilio_credentials.account_sid, auth_token=twilio_credentials.auth_token)
    await peer.start()
    try:
        yield peer
    finally:
        await peer.stop()


@pytest.fixture(scope="session")
def peer_certs(tmp_path_factory: pytest.TempPathFactory) -> CertPaths:
    return make_certs(tmp_path_factory.mktemp("peer-certs"))


@pytest.fixture
def smtp_password() -> str:
    return secrets.token_urlsafe(12)


@pytest.fixture
def smtp_peer(peer_certs: CertPaths, smtp_password: str) -> Iterator[SmtpPeer]:
    with SmtpPeer(certs=peer_certs, users={SMTP_USER: smtp_password}, mode="starttls") as peer:
        yield peer


@pytest.fixture
def smtp_peer_implicit(peer_certs: CertPaths, smtp_password: str) -> Iterator[SmtpPeer]:
    with SmtpPeer(certs=peer_certs, users={SMTP_USER: smtp_password}, mode="implicit") as peer:
        yield peer


@pytest.fixture(scope="session")
def prism_url() -> Iterator[str]:
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    prism = start_prism(free_port())
    try:
        yield str(prism.info["base_url"])
    finally:
        prism.stop()
