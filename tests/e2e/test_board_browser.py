"""The situation board in headless Debian chromium, against a worker subprocess on the real broker:
sign in, see an incident arrive with a live countdown and who was alerted, acknowledge it by the
link in an email, and see the board say who acknowledged."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from streams.web.auth import hash_password, new_secret
from tests.browser import Browser, chromium_path
from tests.ingest_support import request
from tests.integration.worker import RunningWorker, prepare_worker
from tests.support import make_event, written_lines

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(chromium_path() is None, reason="no chromium (ops/system-packages.sh installs it)"),
]

USER, PASSWORD = "duty.manager", "board-" + new_secret()[:16]
FLAGGED = [{"scheme": "home_office", "value": "HO-S1234567"}]


@pytest.fixture(scope="module")
def worker(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningWorker]:
    running = prepare_worker(tmp_path_factory.mktemp("board"), kafka_bootstrap)
    board = {"refresh_seconds": 1, "staff": {USER: {"name": "MASH duty manager", "password_hash": hash_password(PASSWORD)}}}
    (running.config_dir / "board.yaml").write_text(yaml.safe_dump(board))
    running.env |= {"CRUCIAL_SESSION_SECRET": new_secret(), "CRUCIAL_LINK_SECRET": new_secret()}
    running.start()
    try:
        yield running
    finally:
        running.close()


def test_the_board_needs_a_sign_in(worker: RunningWorker) -> None:
    assert request(worker.port, "GET", "/board").headers["Location"] == "/board/login"
    assert request(worker.port, "GET", "/board/data.json").status == 401
    assert request(worker.port, "GET", "/board/incidents").status == 401


def test_a_forged_or_altered_ack_link_is_refused(worker: RunningWorker) -> None:
    assert request(worker.port, "POST", "/ack/CH-AAAAAA:0123456789abcdef.zzzz.forged").status == 410


async def test_duty_staff_watch_an_incident_and_see_it_acknowledged(worker: RunningWorker, tmp_path: Path) -> None:
    async with Browser.launch() as browser:
        page = await browser.new_page(mobile=False, width=1280, height=1000)
        await page.goto(f"http://127.0.0.1:{worker.port}/board")
        assert "/board/login" in await page.url()
        await page.fill("#username", USER)
        await page.fill("#password", PASSWORD)
        async with page.navigation():
            await page.click("button[type=submit]")
        assert await page.text("h1") == "Situation board"

        event = make_event(child_reference=f"HAR-B-{uuid.uuid4().hex[:6]}", identifiers=FLAGGED)
        worker.emit(event)
        ref = await page.wait_for(
            "(document.querySelector('.incident h2') || {}).textContent", timeout_s=30
        )  # arrives by the page's own refresh, no reload
        assert re.fullmatch(r"CH-[A-Z2-7]{6}", ref)
        card = f".incident[data-reference='{ref}']"
        first = await page.text(f"{card} .countdown .left")
        for _ in range(50):  # the countdown ticks each second: watch it move (5 s at most)
            if await page.text(f"{card} .countdown .left") != first:
                break
            await asyncio.sleep(0.1)
        assert await page.text(f"{card} .countdown .left") != first, "the countdown is live"
        assert re.fullmatch(r"\d+:\d\d", await page.text(f"{card} .countdown .left"))
        assert await page.evaluate(f'document.querySelectorAll("{card} tbody tr").length') >= 3
        assert "Not yet acknowledged" in await page.text(f"{card} .acks")
        await page.screenshot(tmp_path / "board.png")
        assert await page.unnamed_controls() == []

        # The police hub's email carries its own acknowledgement link.
        sent = written_lines(worker.outbox)
        email = next(
            n
            for n in sent
            if n["incident_reference"] == ref and n["channel"] == "email" and n["recipient"]["agency_id"] == "met-police-mispers"
        )
        link = re.search(r"http://\S+/ack/\S+", email["message"]["text"])
        assert link is not None
        ack_page = await browser.new_page()
        await ack_page.goto(link.group(0).rstrip("."))
        assert await ack_page.text("h1") == f"Acknowledge {ref}", "opening the link alone does not acknowledge"
        async with ack_page.navigation():
            await ack_page.click("button[type=submit]")
        assert await ack_page.text("h1") == "Acknowledged"

        acks = await page.wait_for(
            f'(document.querySelector("{card} .acks") || {{}}).textContent.includes(\'Acknowledged by\') && document.querySelector("{card} .acks").textContent',
            timeout_s=30,
        )
        assert "MISPER hub on-call officer (met-police-mispers, link" in acks
        await page.screenshot(tmp_path / "board-acknowledged.png")
        print(f"\nboard screenshots: {tmp_path}")
