"""Signer: tags under a key derived per purpose, key rotation, new_secret."""

from __future__ import annotations

from alerts.secrets import load_keys
from streams.web.auth.tokens import Signer, new_secret

KEY = b"k" * 32
OTHER = b"o" * 32


def test_signers_of_different_purposes_do_not_accept_each_others_tokens() -> None:
    token = Signer([KEY], "session").sign("payload")
    assert Signer([KEY], "session").unsign(token) == "payload"
    assert Signer([KEY], "ack").unsign(token) is None
    assert Signer([OTHER], "session").unsign(token) is None
    assert Signer([KEY], "session").unsign(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert Signer([KEY], "session").unsign("no-dot") is None


def test_rotation_old_keys_still_verify_new_tokens_use_the_first() -> None:
    old = Signer([OTHER], "link").sign("x")
    rotated = Signer([KEY, OTHER], "link")
    assert rotated.unsign(old) == "x"
    assert Signer([KEY], "link").unsign(rotated.sign("y")) == "y"


def test_new_secret_is_long_enough_for_load_keys() -> None:
    assert load_keys("s", "S", None, environ={"S": new_secret()})
