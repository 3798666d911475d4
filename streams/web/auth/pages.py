"""Session cookie and CSRF checks for server-rendered pages: the small piece of aiohttp glue the report
form and the situation board share."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from alerts.config import SessionSettings
from alerts.secrets import load_keys
from streams.web.auth.sessions import Session, csrf_ok, csrf_token, issue_session, read_session, same_origin
from streams.web.auth.tokens import Signer, b64

if TYPE_CHECKING:
    from aiohttp import web


class PageAuth:
    """Session cookie and CSRF checks for server-rendered pages (the report form; the situation board).

    Use: `session = auth.session(request, now)` (None: send them to the login page); draw forms with
    `auth.csrf(session.sid)` in a hidden `csrf_token` field; on POST, `auth.refuse_post(request, form,
    session.sid)` is None when the post is good, else the reason to refuse it (403). To sign someone in:
    `session, token = auth.begin(user, scope, now)`, draw the page, then `auth.set_session_cookie(
    response, token)`. The login form itself is protected by a nonce cookie: `nonce, new =
    auth.login_nonce(request)`, `auth.csrf(nonce)` in the form, `auth.set_login_nonce(response, nonce)`
    when new, and `refuse_post(request, form, request.cookies.get(auth.nonce_cookie))` on POST.
    """

    def __init__(self, keys: Sequence[bytes], *, realm: str, cookie_path: str, ttl_s: float, secure: bool) -> None:
        self.sessions = Signer(keys, f"session:{realm}")
        self.csrf_signer = Signer(keys, f"csrf:{realm}")
        self.cookie = f"crucial_{realm}"
        self.nonce_cookie = f"crucial_{realm}_login"
        self.path, self.ttl_s, self.secure = cookie_path, ttl_s, secure

    def session(self, request: web.Request, now: float) -> Session | None:
        return read_session(self.sessions, request.cookies.get(self.cookie), now)

    def begin(self, user: str, scope: str, now: float, password: str = "") -> tuple[Session, str]:
        return issue_session(self.sessions, user, scope, int(now + self.ttl_s), password)

    def set_session_cookie(self, response: web.StreamResponse, token: str) -> None:
        """HttpOnly, SameSite=Strict, Secure unless configured off for plain-http development."""
        response.set_cookie(
            self.cookie, token, max_age=int(self.ttl_s), path=self.path, httponly=True, secure=self.secure, samesite="Strict"
        )
        response.del_cookie(self.nonce_cookie, path=self.path)

    def end(self, response: web.StreamResponse) -> None:
        response.del_cookie(self.cookie, path=self.path)

    def csrf(self, binding: str) -> str:
        return csrf_token(self.csrf_signer, binding)

    def login_nonce(self, request: web.Request) -> tuple[str, bool]:
        """The login form's nonce from its cookie, or a new one (True: set it with set_login_nonce)."""
        nonce = request.cookies.get(self.nonce_cookie)
        if nonce and re.fullmatch(r"[A-Za-z0-9_-]{16,64}", nonce):
            return nonce, False
        return b64(secrets.token_bytes(16)), True

    def set_login_nonce(self, response: web.StreamResponse, nonce: str) -> None:
        response.set_cookie(
            self.nonce_cookie, nonce, max_age=3600, path=self.path, httponly=True, secure=self.secure, samesite="Strict"
        )

    def refuse_post(self, request: web.Request, form: Mapping[str, object], binding: str | None) -> str | None:
        """None when a form post is from this site with a good CSRF token; else why it is refused."""
        if not same_origin(request.headers.get("Origin"), request.headers.get("Host"), request.scheme):
            return "cross-site post"
        token = form.get("csrf_token")
        if not csrf_ok(self.csrf_signer, binding, token if isinstance(token, str) else None):
            return "missing or wrong CSRF token"
        return None


def page_auth(sessions: SessionSettings, realm: str, cookie_path: str, *, environ: Mapping[str, str] | None = None) -> PageAuth:
    """PageAuth for one family of pages (realm "report", "board") under the configured session keys
    (providers.yaml `sessions:`). Raises ConfigError when the keys are not set."""
    keys = load_keys("sessions.secret", sessions.secret_env, sessions.secret_file, environ=environ)
    return PageAuth(keys, realm=realm, cookie_path=cookie_path, ttl_s=sessions.minutes * 60, secure=sessions.cookie_secure)
