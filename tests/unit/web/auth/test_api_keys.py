"""Providers' bearer API keys: found by hash only; the Authorization header."""

from __future__ import annotations

import pytest

from streams.web.auth.api_keys import bearer_token, find_api_key, hash_api_key, new_api_key


def test_api_keys_are_found_by_hash_only() -> None:
    key = new_api_key()
    assert key.startswith("chk_") and len(key) > 40
    known = [("a", hash_api_key(new_api_key())), ("b", hash_api_key(key))]
    assert find_api_key(key, known) == "b"
    assert find_api_key(key + "x", known) is None


@pytest.mark.parametrize(
    ("header", "token"),
    [("Bearer abc", "abc"), ("bearer  abc ", "abc"), ("Basic abc", None), ("Bearer", None), ("", None), (None, None)],
)
def test_bearer_token(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token
