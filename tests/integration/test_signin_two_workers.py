"""Sign-in with two worker processes behind one address (a round-robin proxy, trusted for
X-Forwarded-For), on the real broker: a sign-in holds on either worker, sign-out ends it on both,
someone else's wrong passwords do not lock a care worker out, older hashes are upgraded, and a signed
request accepted by one worker is a replay on the other — and after a restart."""

from __future__ import annotations

import json
import shutil
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from alerts.config import load_config
from tests.ingest_support import (
    OTHER_PASSWORD,
    OTHER_USERNAME,
    PASSWORD,
    USERNAME,
    Reply,
    cookies_of,
    csrf_in,
    post_event,
    prepare_ingest_worker,
    request,
    signed_headers,
)
from tests.integration.worker import RunningWorker
from tests.peers.proxy import RoundRobinProxy
from tests.support import free_port, make_event

pytestmark = pytest.mark.integration

FREE_FAILURES = 3  # sessions.logins_per_minute below
CEILING = 2  # sessions.user_failures_alert_per_hour below


class Pair:
    def __init__(self, first: RunningWorker, second: RunningWorker, proxy: RoundRobinProxy) -> None:
        self.workers, self.proxy = (first, second), proxy


@pytest.fixture(scope="module")
def pair(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    base = tmp_path_factory.mktemp("two-workers")
    first = prepare_ingest_worker(base / "w1", kafka_bootstrap, {"web": {"trusted_proxies": ["127.0.0.1/32"]}})
    providers = yaml.safe_load((first.config_dir / "providers.yaml").read_text())
    providers["sessions"].update(logins_per_minute=FREE_FAILURES, user_failures_alert_per_hour=CEILING)
    (first.config_dir / "providers.yaml").write_text(yaml.safe_dump(providers, sort_keys=False))
    second = _second(first, base / "w2")
    workers = (first, second)
    try:
        for worker in workers:
            worker.start()
        with RoundRobinProxy([w.port for w in workers]) as proxy:
            yield Pair(first, second, proxy)
    finally:
        for worker in workers:
            worker.close()


def _second(first: RunningWorker, base: Path) -> RunningWorker:
    """The same config (topics, app id, secrets) on another web port: one consumer group, two processes."""
    base.mkdir(parents=True)
    config_dir = base / "config"
    shutil.copytree(first.config_dir, config_dir)
    settings = yaml.safe_load((config_dir / "settings.yaml").read_text())
    settings["web"]["port"] = free_port()
    (config_dir / "settings.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    return RunningWorker(config_dir, load_config(config_dir), base / "worker.log", first.outbox, dict(first.env))


def send(port: int, method: str, path: str, fields: dict[str, str] | None, cookies: dict[str, str], client: str) -> Reply:
    headers = {"X-Test-Client": client, "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
    body = None
    if fields is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        body = urllib.parse.urlencode(fields).encode()
    return request(port, method, path, body, headers)


def login_form(port: int, client: str) -> tuple[dict[str, str], str]:
    page = send(port, "GET", "/report/login", None, {}, client)
    return cookies_of(page), csrf_in(page)


def sign_in(port: int, username: str, password: str, client: str) -> Reply:
    cookies, csrf = login_form(port, client)
    return send(port, "POST", "/report/login", {"username": username, "password": password, "csrf_token": csrf}, cookies, client)


def session_cookie(reply: Reply) -> dict[str, str]:
    assert reply.status == 303 and reply.headers["Location"] == "/report", (reply.status, reply.body[:300])
    return {"crucial_report": cookies_of(reply)["crucial_report"]}


def until(condition: object, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)  # polling for a condition


def test_a_sign_in_works_across_two_workers(pair: Pair) -> None:
    before = dict(pair.proxy.served)
    cookie = session_cookie(sign_in(pair.proxy.port, USERNAME, PASSWORD, "198.51.100.10"))
    pages = [send(pair.proxy.port, "GET", "/report", None, cookie, "198.51.100.10") for _ in range(4)]
    assert [p.status for p in pages] == [200] * 4
    assert all(pair.proxy.served[w.port] - before[w.port] >= 2 for w in pair.workers)  # both served it
    for worker in pair.workers:  # and each on its own
        assert send(worker.port, "GET", "/report", None, cookie, "198.51.100.10").status == 200


def test_sign_out_ends_the_session_on_every_worker(pair: Pair) -> None:
    cookie = session_cookie(sign_in(pair.proxy.port, USERNAME, PASSWORD, "198.51.100.11"))
    form = send(pair.proxy.port, "GET", "/report", None, cookie, "198.51.100.11")
    out = send(pair.proxy.port, "POST", "/report/logout", {"csrf_token": csrf_in(form)}, cookie, "198.51.100.11")
    assert out.status == 303 and out.headers["Location"] == "/report/login"
    # The copied cookie no longer opens the form anywhere.
    for worker in pair.workers:
        until(lambda w=worker: send(w.port, "GET", "/report", None, cookie, "198.51.100.11").status == 303)
        assert send(worker.port, "GET", "/report", None, cookie, "198.51.100.11").headers["Location"] == "/report/login"


def test_someone_elses_wrong_passwords_do_not_lock_the_care_worker_out(pair: Pair) -> None:
    attacker = "203.0.113.66"
    statuses = [sign_in(pair.proxy.port, USERNAME, "wrong-guess", attacker).status for _ in range(6 * FREE_FAILURES)]
    assert set(statuses) <= {401, 429} and 429 in statuses  # the guesser is slowed down...
    refused = sign_in(pair.proxy.port, USERNAME, "wrong-guess", attacker)
    assert refused.status in (401, 429)
    # ...the care worker on their own phone is not: signed in at the first try, on either worker.
    for _ in pair.workers:
        session_cookie(sign_in(pair.proxy.port, USERNAME, PASSWORD, "198.51.100.12"))
    # The ops team is told someone is guessing this username.
    ceiling = sum(w.metric("crucial_signin_ceiling_total", realm="report") for w in pair.workers)
    assert ceiling >= 1
    assert sum(w.metric("crucial_signin_failures_total", realm="report", outcome="throttled") for w in pair.workers) >= 1


def test_an_older_scrypt_password_is_rehashed_to_argon2id_on_sign_in(pair: Pair) -> None:
    session_cookie(sign_in(pair.proxy.port, OTHER_USERNAME, OTHER_PASSWORD, "198.51.100.13"))
    worker = pair.workers[0]
    key = f"password:report/{OTHER_USERNAME}"
    records = worker.read(worker.topics.auth_state, lambda rs: any(r.get("hash", "").startswith("$argon2id$") for r in rs))
    assert any(r.get("hash", "").startswith("$argon2id$") for r in records), key
    # Both workers now check against the rehash; the password still works on each, a wrong one does not.
    for _ in pair.workers:
        session_cookie(sign_in(pair.proxy.port, OTHER_USERNAME, OTHER_PASSWORD, "198.51.100.13"))
    assert sign_in(pair.proxy.port, OTHER_USERNAME, "not-it", "198.51.100.13").status == 401


def test_a_signed_request_is_a_replay_on_the_other_worker_and_after_a_restart(pair: Pair) -> None:
    first, second = pair.workers
    body = json.dumps(make_event(child_reference="HAR-REPLAY-01")).encode()
    headers = signed_headers(body)
    assert post_event(first.port, body, key=None, headers=headers).status == 202
    replay = post_event(second.port, body, key=None, headers=headers)
    assert replay.status == 401 and replay.json()["reasons"] == ["(auth): replayed signature"]
    first.stop()
    first.start()
    again = post_event(first.port, body, key=None, headers=headers)
    assert again.status == 401 and again.json()["reasons"] == ["(auth): replayed signature"]


def test_forwarded_for_from_a_trusted_proxy_sets_the_client(pair: Pair) -> None:
    """Through the proxy each client has its own throttle; the proxy's own address is not one bucket."""
    for client in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
        statuses = [sign_in(pair.proxy.port, USERNAME, "wrong", client).status for _ in range(FREE_FAILURES)]
        assert statuses == [401] * FREE_FAILURES  # none throttled: three clients, not one
