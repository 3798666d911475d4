"""HMAC request signatures: the replay window, the reasons a signature is refused, the replay guard."""

from __future__ import annotations

import pytest

from streams.web.auth.signing import AuthError, ReplayGuard, SignedRequest, sign_request, verify_request

KEY = b"k" * 32
OTHER = b"o" * 32
NOW = 1_800_000_000.0


def test_a_signature_within_the_window_verifies() -> None:
    body = b'{"a": 1}'
    signature = sign_request(KEY, int(NOW), body)
    assert signature.startswith("sha256=") and len(signature) == 7 + 64
    assert verify_request([OTHER, KEY], SignedRequest(str(int(NOW)), signature, body), NOW + 299, 300) == int(NOW)


@pytest.mark.parametrize(
    ("timestamp", "signature_of", "body", "reason"),
    [
        (str(int(NOW) - 301), None, b"{}", "timestamp outside the replay window"),
        (str(int(NOW) + 301), None, b"{}", "timestamp outside the replay window"),
        ("", None, b"{}", "timestamp missing or not Unix seconds"),
        ("12.5", None, b"{}", "timestamp missing or not Unix seconds"),
        (str(int(NOW)), OTHER, b"{}", "signature does not match"),
        (str(int(NOW)), KEY, b"{} ", "signature does not match"),
    ],
)
def test_bad_signatures_are_refused_with_a_reason(timestamp: str, signature_of: bytes | None, body: bytes, reason: str) -> None:
    when = int(timestamp) if timestamp.isdigit() else int(NOW)
    signature = sign_request(signature_of or KEY, when, b"{}")
    with pytest.raises(AuthError) as caught:
        verify_request([KEY], SignedRequest(timestamp, signature, body), NOW, 300)
    assert caught.value.reason == reason


def test_a_replayed_signature_is_seen() -> None:
    guard = ReplayGuard(300)
    assert guard.first_time("s1", NOW)
    assert not guard.first_time("s1", NOW + 10)
    assert guard.first_time("s2", NOW + 10)
    assert guard.first_time("s1", NOW + 700)  # beyond twice the window the timestamp check refuses it anyway


def test_the_replay_guard_stays_bounded() -> None:
    guard = ReplayGuard(1, max_entries=10)
    for i in range(100):
        guard.first_time(f"s{i}", NOW + i * 10)
    assert len(guard._seen) <= 10
