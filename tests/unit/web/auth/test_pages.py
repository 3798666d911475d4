"""PageAuth: the session cookie, CSRF and login nonce of the form and the board."""

from __future__ import annotations

KEY = b"k" * 32
NOW = 1_800_000_000.0


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
