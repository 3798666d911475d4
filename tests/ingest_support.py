"""A worker with the ingest API and report form set up for tests: providers with known credentials.

The shipped config/providers.yaml holds hashes of keys nobody kept; tests write their own providers.yaml
with keys made here, and give the worker its signing keys through the environment, as production does.
"""

from __future__ import annotations

import html
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import yaml

from streams.web.auth import hash_api_key, hash_password, hash_password_scrypt, new_api_key, new_secret, sign_request
from tests.integration.worker import RunningWorker, prepare_worker
from tests.support import REPO

API_KEY = new_api_key()
OTHER_API_KEY = new_api_key()
HMAC_KEY_ID = "larchwood-hmac-test"
HMAC_SECRET = new_secret()
PASSWORD = "night-shift-" + new_secret()[:12]
USERNAME = "night.worker"
# Brentside's staff member still has an older scrypt hash: signing in rehashes it to argon2id.
OTHER_USERNAME = "duty.lead"
OTHER_PASSWORD = "duty-lead-" + new_secret()[:12]
BOARD_USER = "duty.manager"
BOARD_PASSWORD = "board-" + new_secret()[:12]
HMAC_ENV = "CRUCIAL_TEST_HMAC_LARCHWOOD"
# The synthetic child of the shipped providers.yaml that the sample risk profile prof-0001 flags.
FLAGGED_CHILD = "HAR-2026-0192"


def providers_yaml(
    *,
    per_minute: int = 600,
    burst: int = 100,
    max_body_bytes: int = 65536,
    other_per_minute: int = 1,
    other_burst: int = 5,
    failed_auth_per_minute: int = 30,
) -> dict[str, Any]:
    """The shipped providers.yaml with test credentials in place of the shipped hashes. Larchwood's key
    has a generous rate limit; Brentside's (OTHER_API_KEY) a small one, to be reached in tests."""
    data: dict[str, Any] = yaml.safe_load((REPO / "config" / "providers.yaml").read_text())
    data["ingest"]["max_body_bytes"] = max_body_bytes
    data["ingest"]["failed_auth_per_minute"] = failed_auth_per_minute
    larchwood = data["providers"]["larchwood-care"]
    larchwood["api_keys"] = [{"id": "larchwood-test", "sha256": hash_api_key(API_KEY)}]
    larchwood["hmac_keys"] = [{"id": HMAC_KEY_ID, "secret_env": HMAC_ENV}]
    larchwood["rate_limit"] = {"per_minute": per_minute, "burst": burst}
    larchwood["staff"][USERNAME]["password_hash"] = hash_password(PASSWORD)
    brentside = data["providers"]["brentside-homes"]
    brentside["api_keys"] = [{"id": "brentside-test", "sha256": hash_api_key(OTHER_API_KEY)}]
    brentside["rate_limit"] = {"per_minute": other_per_minute, "burst": other_burst}
    brentside["staff"][OTHER_USERNAME].pop("password_hash", None)
    brentside["staff"][OTHER_USERNAME]["password_scrypt"] = hash_password_scrypt(OTHER_PASSWORD, log2_n=12)
    return data


def board_yaml() -> dict[str, Any]:
    return {
        "refresh_seconds": 1,
        "staff": {BOARD_USER: {"name": "MASH duty manager", "password_hash": hash_password(BOARD_PASSWORD)}},
    }


def prepare_ingest_worker(base: Path, bootstrap: str, settings: dict[str, Any] | None = None, **limits: Any) -> RunningWorker:
    """`settings`: merged into settings.yaml (e.g. {"web": {"trusted_proxies": [...]}}); `limits`: providers_yaml's."""
    worker = prepare_worker(base, bootstrap, **(settings or {}))
    (worker.config_dir / "providers.yaml").write_text(yaml.safe_dump(providers_yaml(**limits), sort_keys=False))
    (worker.config_dir / "board.yaml").write_text(yaml.safe_dump(board_yaml(), sort_keys=False))
    worker.env.update(
        {
            "CRUCIAL_SESSION_SECRET": new_secret(),
            "CRUCIAL_LINK_SECRET": new_secret(),
            HMAC_ENV: HMAC_SECRET,
        }
    )
    return worker


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx comes back as the reply


_opener = urllib.request.build_opener(_NoRedirect)


def request(port: int, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> Reply:
    """One HTTP request to the worker; redirects are not followed."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method, headers=headers or {})
    try:
        with _opener.open(req, timeout=30) as reply:
            return Reply(reply.status, dict(reply.headers), reply.read())
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, dict(exc.headers), exc.read())


def post_event(
    port: int, event: dict[str, Any] | bytes, *, key: str | None = API_KEY, headers: dict[str, str] | None = None
) -> Reply:
    body = event if isinstance(event, bytes) else json.dumps(event).encode()
    sent = {"Content-Type": "application/json", **(headers or {})}
    if key is not None:
        sent["Authorization"] = f"Bearer {key}"
    return request(port, "POST", "/v1/events", body, sent)


def signed_headers(body: bytes, *, timestamp: int | None = None, secret: str = HMAC_SECRET) -> dict[str, str]:
    when = int(time.time()) if timestamp is None else timestamp
    return {
        "X-Crucial-Key-Id": HMAC_KEY_ID,
        "X-Crucial-Timestamp": str(when),
        "X-Crucial-Signature": sign_request(secret.encode(), when, body),
    }


# --- the report form without a browser -----------------------------------------------------------


def cookies_of(reply: Reply) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for name, value in reply.headers.items():
        if name.lower() == "set-cookie":
            jar.load(value)
    return {k: m.value for k, m in jar.items()}


def raw_headers(reply: Reply) -> list[str]:
    return [v for k, v in reply.headers.items() if k.lower() == "set-cookie"]


def csrf_in(reply: Reply) -> str:
    found = re.search(r'name="csrf_token" value="([^"]*)"', reply.body.decode())
    assert found, reply.body.decode()[:500]
    return html.unescape(found.group(1))


def post_form(port: int, path: str, fields: dict[str, str], cookies: dict[str, str], origin: str | None = None) -> Reply:
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
    if origin:
        headers["Origin"] = origin
    return request(port, "POST", path, urllib.parse.urlencode(fields).encode(), headers)


def sign_in(port: int) -> tuple[dict[str, str], str]:
    """(cookies, the report form's CSRF token) for the test staff member."""
    login = request(port, "GET", "/report/login")
    cookies = cookies_of(login)
    reply = post_form(port, "/report/login", {"username": USERNAME, "password": PASSWORD, "csrf_token": csrf_in(login)}, cookies)
    assert reply.status == 303 and reply.headers["Location"] == "/report", reply.status
    cookies = {"crucial_report": cookies_of(reply)["crucial_report"]}
    form = request(port, "GET", "/report", headers={"Cookie": f"crucial_report={cookies['crucial_report']}"})
    assert form.status == 200
    return cookies, csrf_in(form)
