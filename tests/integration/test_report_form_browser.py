"""The report form in headless Debian chromium against a real worker: sign in, fill, send, see the
reference — and the report reaches the incidents topic. Plus the form's edges without a browser:
sessions, CSRF, an expired sign-in that keeps what was typed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import Browser, Page, chromium_path
from tests.ingest_support import (
    FLAGGED_CHILD,
    PASSWORD,
    USERNAME,
    cookies_of,
    csrf_in,
    post_form,
    prepare_ingest_worker,
    raw_headers,
    request,
    sign_in,
)
from tests.integration.worker import RunningWorker

pytestmark = pytest.mark.integration
needs_chromium = pytest.mark.skipif(chromium_path() is None, reason="chromium is not installed (ops/system-packages.sh)")


@pytest.fixture(scope="module")
def worker(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningWorker]:
    running = prepare_ingest_worker(tmp_path_factory.mktemp("form"), kafka_bootstrap)
    running.start()
    try:
        yield running
    finally:
        running.close()


async def focus_visible(page: Page) -> bool:
    return bool(await page.evaluate("getComputedStyle(document.activeElement).outlineStyle !== 'none'"))


async def check_accessible(page: Page) -> None:
    assert await page.unnamed_controls() == []
    assert await page.contrast_failures(minimum=7.0) == []  # WCAG AAA for all text
    assert await page.evaluate("document.documentElement.lang") == "en-GB"
    assert await page.evaluate("!!document.querySelector('meta[name=viewport]')")
    # Nothing wider than a small phone's screen.
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@needs_chromium
async def test_care_staff_report_a_child_from_a_phone(worker: RunningWorker, tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{worker.port}"
    async with Browser.launch() as browser:
        page = await browser.new_page(mobile=True)
        await page.goto(f"{base}/report")
        assert (await page.url()).endswith("/report/login")
        await check_accessible(page)

        # Sign in with the keyboard only.
        await page.press("Tab")
        assert (await page.focused())["id"] == "username" and await focus_visible(page)
        await page.type(USERNAME)
        await page.press("Tab")
        assert (await page.focused())["id"] == "password"
        await page.type(PASSWORD)
        async with page.navigation():
            await page.press("Enter")
        assert (await page.url()) == f"{base}/report", await page.text("main")
        assert await page.text("h1") == "Report a child missing from Larchwood Care Ltd"
        await check_accessible(page)
        await page.screenshot(tmp_path / "form.png")
        session = [c for c in await browser.cookies() if c["name"] == "crucial_report"]
        assert session and session[0]["httpOnly"] and session[0]["secure"] and session[0]["sameSite"] == "Strict"

        # Choose the child with the keyboard: focus the first radio, Space selects it.
        await page.focus(f"#child-{FLAGGED_CHILD}")
        await page.press(" ")
        assert await page.evaluate(f"document.getElementById('child-{FLAGGED_CHILD}').checked")
        assert await page.evaluate("document.getElementById('last_seen_at').value")  # defaults to now
        await page.fill("#clothing", "Black puffer jacket, grey joggers")
        await page.fill("#notes", "Received a call shortly before leaving")
        # Leave out where they were last seen: the form says what is missing and keeps the rest.
        event_id = await page.evaluate("document.querySelector('input[name=event_id]').value")
        await page.focus("#callback_phone")
        await page.press("Tab")
        assert (await page.focused())["text"] == "Send report"
        async with page.navigation():
            await page.press("Enter")
        assert await page.text("#error-summary-title") == "There is a problem"
        assert await page.text(".error-summary a[href='#last_seen_place']") == "Enter where they were last seen"
        assert await page.evaluate("document.getElementById('last_seen_place').getAttribute('aria-invalid')") == "true"
        assert await page.evaluate("document.getElementById('clothing').value") == "Black puffer jacket, grey joggers"
        assert await page.evaluate("document.querySelector('input[name=event_id]').value") == event_id
        assert (await page.evaluate("document.title")).startswith("Error:")
        await check_accessible(page)

        await page.fill("#last_seen_place", "Front gate")
        async with page.navigation():
            await page.click("button.primary")
        assert "/report/sent/" in await page.url()
        reference = await page.text("#reference")
        assert re.fullmatch(r"CH-[A-Z2-7]{6}", reference)
        await check_accessible(page)
        await page.screenshot(tmp_path / "sent.png")

    opened = worker.read(worker.topics.incidents, lambda rs: any(r["incident"]["reference"] == reference for r in rs))
    record = next(r for r in opened if r["incident"]["reference"] == reference)
    assert record["change"] == "opened"
    assert record["incident"]["event_id"] == event_id and record["incident"]["child_reference"] == FLAGGED_CHILD
    events = worker.read(worker.topics.placement_events, lambda rs: any(r["event_id"] == event_id for r in rs))
    sent = next(r for r in events if r["event_id"] == event_id)
    assert sent["circumstances"]["last_seen_place"] == "Front gate"
    assert sent["reporter"]["callback_phone"] == "+447700900401"  # the staff member's, pre-filled


# --- without a browser: the session and CSRF edges --------------------------------------------------


def test_pages_send_strict_security_headers(worker: RunningWorker) -> None:
    login = request(worker.port, "GET", "/report/login")
    assert login.status == 200
    csp = login.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "script-src" not in csp
    assert login.headers["Cache-Control"] == "no-store" and login.headers["X-Frame-Options"] == "DENY"
    nonce_cookie = raw_headers(login)[0]
    assert "HttpOnly" in nonce_cookie and "SameSite=Strict" in nonce_cookie and "Secure" in nonce_cookie


def test_the_form_needs_a_session(worker: RunningWorker) -> None:
    assert request(worker.port, "GET", "/report").headers.get("Location") == "/report/login"
    forged = request(worker.port, "GET", "/report", headers={"Cookie": "crucial_report=eyJ1IjoieCJ9.AAAAAAAAAAAAAAAAAAAAAA"})
    assert forged.status == 303


def test_a_wrong_password_is_refused(worker: RunningWorker) -> None:
    login = request(worker.port, "GET", "/report/login")
    reply = post_form(
        worker.port, "/report/login", {"username": USERNAME, "password": "wrong", "csrf_token": csrf_in(login)}, cookies_of(login)
    )
    assert reply.status == 401 and "crucial_report" not in cookies_of(reply)
    assert "The username or password is wrong" in reply.body.decode()


def test_login_needs_its_csrf_token(worker: RunningWorker) -> None:
    login = request(worker.port, "GET", "/report/login")
    reply = post_form(worker.port, "/report/login", {"username": USERNAME, "password": PASSWORD}, cookies_of(login))
    assert reply.status == 403 and "crucial_report" not in cookies_of(reply)


def test_a_report_without_its_csrf_token_or_from_another_site_is_not_sent(worker: RunningWorker) -> None:
    cookies, csrf = sign_in(worker.port)
    fields = {
        "child": FLAGGED_CHILD,
        "last_seen_at": "2026-01-01T10:00",
        "last_seen_place": "Gate",
        "callback_phone": "07700900401",
    }
    missing = post_form(worker.port, "/report", fields, cookies)
    assert missing.status == 403 and "the report was not sent" in missing.body.decode()
    assert 'value="Gate"' in missing.body.decode()  # nothing typed is lost
    cross = post_form(worker.port, "/report", {**fields, "csrf_token": csrf}, cookies, origin="https://evil.example")
    assert cross.status == 403
    other_session, _ = sign_in(worker.port)
    wrong = post_form(worker.port, "/report", {**fields, "csrf_token": csrf}, other_session)  # token of another session
    assert wrong.status == 403


def test_an_expired_sign_in_keeps_the_report_through_the_login_page(worker: RunningWorker) -> None:
    fields = {
        "child": FLAGGED_CHILD,
        "last_seen_place": "Side door",
        "clothing": "Red scarf",
        "event_id": "form-larchwood-care-0a1b",
    }
    reply = post_form(worker.port, "/report", {**fields, "csrf_token": "stale"}, {})
    assert reply.status == 401
    page = reply.body.decode()
    assert 'name="carry.last_seen_place" value="Side door"' in page
    carried = {f"carry.{k}": v for k, v in fields.items()}
    again = post_form(
        worker.port,
        "/report/login",
        {"username": USERNAME, "password": PASSWORD, "csrf_token": csrf_in(reply), **carried},
        cookies_of(reply),
    )
    assert again.status == 200 and "crucial_report" in cookies_of(again)
    body = again.body.decode()
    assert 'value="Side door"' in body and "Red scarf" in body and "form-larchwood-care-0a1b" in body


def test_a_forged_or_expired_receipt_is_not_shown(worker: RunningWorker) -> None:
    assert request(worker.port, "GET", "/report/sent/CH-AAAAAA.zzzzzz.AAAAAAAAAAAAAAAAAAAAAA").status == 404
