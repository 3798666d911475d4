"""`python -m streams.web.auth`: new-api-key, new-secret, hash-password."""

from __future__ import annotations

import pytest

from streams.web.auth.api_keys import hash_api_key
from streams.web.auth.commands import main
from streams.web.auth.passwords import verify_password


def test_the_command_line_makes_credentials(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    assert main(["new-api-key"]) == 0
    out = capsys.readouterr().out
    key = out.split()[3]
    assert f"sha256: {hash_api_key(key)}" in out
    assert main(["new-secret"]) == 0 and len(capsys.readouterr().out.strip()) == 43
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert main(["hash-password"]) == 0
    stored = capsys.readouterr().out.split("password_hash: ")[1].strip()
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "a long enough password")
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["hash-password"]) == 1
