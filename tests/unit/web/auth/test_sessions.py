"""Page sessions as signed tokens, CSRF tokens bound to them, the Origin check."""

from __future__ import annotations

import pytest

from streams.web.auth.sessions import csrf_ok, csrf_token, issue_session, read_session, same_origin
from streams.web.auth.tokens import Signer

KEY = b"k" * 32
NOW = 1_800_000_000.0


def test_a_session_round_trips_until_it_expires() -> None:
    signer = Signer([KEY], "session:report")
    session, token = issue_session(signer, "night.worker", "provider:larchwood-care", int(NOW + 3600))
    assert read_session(signer, token, NOW + 3599) == session
    assert read_session(signer, token, NOW + 3600) is None
    assert read_session(Signer([KEY], "session:board"), token, NOW) is None
    assert read_session(signer, None, NOW) is None
    assert read_session(signer, signer.sign("bm90IGpzb24"), NOW) is None  # signed but not a session


def test_csrf_tokens_are_bound_to_their_session() -> None:
    signer = Signer([KEY], "csrf:report")
    token = csrf_token(signer, "sid-1")
    assert csrf_ok(signer, "sid-1", token)
    assert not csrf_ok(signer, "sid-2", token)
    assert not csrf_ok(signer, None, token) and not csrf_ok(signer, "sid-1", None) and not csrf_ok(signer, "sid-1", "")
    assert not csrf_ok(Signer([KEY], "csrf:board"), "sid-1", token)


@pytest.mark.parametrize(
    ("origin", "host", "scheme", "ok"),
    [
        (None, "h:1", "http", True),
        ("http://h:1", "h:1", "http", True),
        ("https://h:1", "h:1", "http", True),  # behind a TLS-terminating proxy
        ("https://evil.example", "h:1", "https", False),
        ("null", "h:1", "http", False),
        ("http://h:1", None, "http", False),
    ],
)
def test_same_origin(origin: str | None, host: str | None, scheme: str, ok: bool) -> None:
    assert same_origin(origin, host, scheme) is ok
