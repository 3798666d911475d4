"""The pure edge-security helpers: keys, API keys, HMAC signatures, rate limits, passwords, sessions,
CSRF tokens and signed links — no server needed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher

from alerts.config import Providers
from alerts.errors import ConfigError
from alerts.secrets import load_keys
from streams.web.auth import (
    DUMMY_PASSWORD_HASH,
    AuthError,
    LinkError,
    ProviderAuthenticator,
    RateLimiter,
    ReplayGuard,
    SignedRequest,
    Signer,
    bearer_token,
    csrf_ok,
    csrf_token,
    find_api_key,
    hash_api_key,
    hash_password,
    hash_password_scrypt,
    issue_session,
    main,
    needs_rehash,
    new_api_key,
    new_secret,
    read_session,
    same_origin,
    sign_link,
    sign_request,
    verify_link,
    verify_password,
    verify_request,
)

KEY = b"k" * 32
OTHER = b"o" * 32
NOW = 1_800_000_000.0


# --- keys -------------------------------------------------------------------------------------------


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


# --- API keys and HMAC signatures -------------------------------------------------------------------


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


# --- rate limits ------------------------------------------------------------------------------------


def test_a_burst_then_the_refill_rate() -> None:
    limiter = RateLimiter(per_minute=60, burst=3)
    assert [limiter.take("k", NOW) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("k", NOW) == pytest.approx(1.0)
    assert limiter.take("k", NOW + 0.5) == pytest.approx(0.5)
    assert limiter.take("k", NOW + 1.0) == 0.0
    assert limiter.take("other", NOW) == 0.0  # per key


def test_refused_requests_do_not_spend_tokens() -> None:
    limiter = RateLimiter(per_minute=6, burst=1)
    assert limiter.take("k", NOW) == 0.0
    for i in range(5):
        assert limiter.take("k", NOW + i) > 0
    assert limiter.take("k", NOW + 10) == 0.0


def test_the_limiter_forgets_keys_to_stay_bounded() -> None:
    limiter = RateLimiter(per_minute=60, burst=2, max_keys=100)
    for i in range(1000):
        limiter.take(f"k{i}", NOW + i / 1000)
    assert len(limiter._buckets) <= 100


# --- passwords --------------------------------------------------------------------------------------


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


# --- sessions and CSRF ------------------------------------------------------------------------------


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


# --- signed links -----------------------------------------------------------------------------------


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


# --- the command line -------------------------------------------------------------------------------


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


# --- the factories and the aiohttp glue the situation board can reuse ------------------------------


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


def test_page_auth_sets_reads_and_checks_cookies_and_posts() -> None:
    from aiohttp import web
    from aiohttp.test_utils import make_mocked_request

    from streams.web.auth import PageAuth

    auth = PageAuth([KEY], realm="board", cookie_path="/board", ttl_s=600, secure=True)
    session, token = auth.begin("duty.officer", "agency:harrow-edt", NOW)
    response = web.Response()
    auth.set_session_cookie(response, token)
    cookie = response.cookies["crucial_board"]
    assert cookie.value == token and cookie["httponly"] and cookie["secure"] and cookie["samesite"] == "Strict"
    assert cookie["path"] == "/board"

    request = make_mocked_request("POST", "/board", headers={"Cookie": f"crucial_board={token}", "Host": "h:1"})
    assert auth.session(request, NOW + 1) == session
    assert auth.session(request, NOW + 600) is None
    good = {"csrf_token": auth.csrf(session.sid)}
    assert auth.refuse_post(request, good, session.sid) is None
    assert auth.refuse_post(request, {}, session.sid) == "missing or wrong CSRF token"
    assert auth.refuse_post(request, {"csrf_token": auth.csrf("other")}, session.sid) == "missing or wrong CSRF token"
    foreign = make_mocked_request("POST", "/board", headers={"Host": "h:1", "Origin": "https://evil.example"})
    assert auth.refuse_post(foreign, good, session.sid) == "cross-site post"

    nonce, new = auth.login_nonce(make_mocked_request("GET", "/board/login"))
    assert new and len(nonce) >= 16
    again, new = auth.login_nonce(make_mocked_request("GET", "/board/login", headers={"Cookie": f"crucial_board_login={nonce}"}))
    assert again == nonce and not new
