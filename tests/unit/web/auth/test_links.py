"""Signed expiring links and the configured link signer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts.errors import ConfigError
from streams.web.auth.links import LinkError, sign_link, verify_link
from streams.web.auth.tokens import Signer

KEY = b"k" * 32


def test_a_link_names_its_subject_until_it_expires() -> None:
    signer = Signer([KEY], "ack")
    now = datetime(2026, 11, 28, 23, 0, tzinfo=UTC)
    token = sign_link(signer, "CH-4K7QX2:harrow-edt:sms", now + timedelta(hours=1))
    assert token.startswith("CH-4K7QX2:harrow-edt:sms.") and len(token) < 70
    assert verify_link(signer, token, now) == "CH-4K7QX2:harrow-edt:sms"
    with pytest.raises(LinkError) as caught:
        verify_link(signer, token, now + timedelta(hours=1))
    assert caught.value.reason == "expired"
    for forged in (token.replace("harrow", "brent"), token[:-2] + "AA", "CH-X.zz", ""):
        with pytest.raises(LinkError, match="invalid"):
            verify_link(signer, forged, now)
    with pytest.raises(LinkError, match="invalid"):
        verify_link(Signer([KEY], "receipt"), token, now)  # another purpose


def test_link_subjects_are_url_safe() -> None:
    with pytest.raises(ValueError):
        sign_link(Signer([KEY], "ack"), "a b/c", datetime.now(UTC))


def test_factories_read_the_configured_keys() -> None:
    from alerts.config import LinkSettings, SessionSettings
    from streams.web.auth import link_signer, page_auth

    env = {"CRUCIAL_LINK_SECRET": "l" * 32, "CRUCIAL_SESSION_SECRET": "s" * 32}
    token = sign_link(link_signer(LinkSettings(), "ack", environ=env), "CH-AAAAAA", datetime.now(UTC) + timedelta(minutes=5))
    assert verify_link(link_signer(LinkSettings(), "ack", environ=env), token, datetime.now(UTC)) == "CH-AAAAAA"
    auth = page_auth(SessionSettings(minutes=30), "board", "/board", environ=env)
    assert auth.cookie == "crucial_board" and auth.ttl_s == 1800 and auth.secure
    with pytest.raises(ConfigError):
        link_signer(LinkSettings(), "ack", environ={})
