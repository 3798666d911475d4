"""argon2id staff passwords, the older scrypt hashes, the dummy hash for unknown users."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from streams.web.auth.passwords import DUMMY_PASSWORD_HASH, hash_password, hash_password_scrypt, needs_rehash, verify_password


def test_passwords_are_argon2id_hashed_and_salted() -> None:
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first != second and first.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert verify_password(first, "correct horse") and not verify_password(first, "correct horse ")
    assert not needs_rehash(first)


def test_older_scrypt_hashes_still_verify_and_ask_for_a_rehash() -> None:
    old = hash_password_scrypt("correct horse", log2_n=10)
    assert old.startswith("scrypt$10$8$1$")
    assert verify_password(old, "correct horse") and not verify_password(old, "correct horse ")
    assert needs_rehash(old)
    weaker = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("correct horse")
    assert verify_password(weaker, "correct horse") and needs_rehash(weaker)


def test_the_dummy_hash_is_a_real_argon2id_hash_costing_the_same() -> None:
    # Unknown usernames are checked against it: it must do the same work as a real hash, and match nothing.
    assert DUMMY_PASSWORD_HASH.startswith("$argon2id$v=19$m=65536,t=3,p=4$") and not needs_rehash(DUMMY_PASSWORD_HASH)


@pytest.mark.parametrize(
    "stored", ["", "md5$x", "scrypt$30$8$1$AA$AA", "scrypt$x$8$1$AA$AA", "$argon2id$v=19$nonsense", DUMMY_PASSWORD_HASH]
)
def test_malformed_hashes_never_verify(stored: str) -> None:
    assert not verify_password(stored, "anything")
