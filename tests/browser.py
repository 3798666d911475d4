"""Headless Debian chromium, driven over the Chrome DevTools Protocol (a websocket; aiohttp's client).

No browser download and no driver binary: /usr/bin/chromium (ops/system-packages.sh installs it) runs
with a fresh profile and `--remote-debugging-port=0`; the port it chose is read from the profile's
DevToolsActivePort file. Input goes through real DOM-level mouse and keyboard events (Input.*), so
focus order, labels and form submission behave as for a person.

    async with Browser.launch() as browser:
        page = await browser.new_page(mobile=True)
        await page.goto("http://127.0.0.1:6066/report/login")
        await page.fill("#username", "night.worker")
        async with page.navigation():
            await page.click("button[type=submit]")
        assert await page.text("h1") == "..."

Tests that need it skip cleanly when chromium is absent (`chromium_path()` is None).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--no-default-browser-check",
    "--lang=en-GB",  # dates in inputs as a UK user sees them
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)
KEYS = {  # key -> (code, windowsVirtualKeyCode, text)
    "Tab": ("Tab", 9, ""),
    "Enter": ("Enter", 13, "\r"),
    " ": ("Space", 32, " "),
    "ArrowDown": ("ArrowDown", 40, ""),
    "ArrowUp": ("ArrowUp", 38, ""),
}


class BrowserError(RuntimeError):
    pass


def chromium_path() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


class Browser:
    """One chromium process and its DevTools websocket."""

    def __init__(self, process: subprocess.Popen[bytes], profile: Path, http: aiohttp.ClientSession, ws: Any) -> None:
        self.process, self.profile, self._http, self._ws = process, profile, http, ws
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._listeners: list[tuple[str, str | None, asyncio.Queue[dict[str, Any]]]] = []
        self._reader = asyncio.create_task(self._read())

    @classmethod
    @contextlib.asynccontextmanager
    async def launch(cls, timeout_s: float = 30.0) -> AsyncIterator[Browser]:
        path = chromium_path()
        if path is None:
            raise BrowserError("chromium not found (apt-get install chromium)")
        profile = Path(tempfile.mkdtemp(prefix="crucial-chromium-"))
        log = open(profile / "chromium.log", "wb")  # noqa: SIM115 - closed below
        process = subprocess.Popen([path, *FLAGS, f"--user-data-dir={profile}", "about:blank"], stdout=log, stderr=log)
        browser: Browser | None = None
        http = aiohttp.ClientSession()
        try:
            port_file = profile / "DevToolsActivePort"
            deadline = time.monotonic() + timeout_s
            while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise BrowserError(
                        f"chromium did not start: {(profile / 'chromium.log').read_text(errors='replace')[-2000:]}"
                    )
                await asyncio.sleep(0.05)
            port, ws_path = port_file.read_text().splitlines()[:2]
            ws = await http.ws_connect(f"ws://127.0.0.1:{port}{ws_path}", max_msg_size=0)
            browser = cls(process, profile, http, ws)
            yield browser
        finally:
            if browser is not None:
                await browser.close()
            await http.close()
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()
            shutil.rmtree(profile, ignore_errors=True)

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader
        await self._ws.close()

    async def _read(self) -> None:
        async for message in self._ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(message.data)
            if "id" in data:
                future = self._pending.pop(data["id"], None)
                if future is not None and not future.done():
                    future.set_result(data)
                continue
            for method, session_id, queue in self._listeners:
                if data.get("method") == method and (session_id is None or data.get("sessionId") == session_id):
                    queue.put_nowait(data.get("params", {}))

    async def send(self, method: str, params: dict[str, Any] | None = None, session_id: str | None = None) -> dict[str, Any]:
        """One DevTools command; its result, or BrowserError with the protocol's message."""
        ident = next(self._ids)
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session_id:
            message["sessionId"] = session_id
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[ident] = future
        await self._ws.send_str(json.dumps(message))
        reply = await asyncio.wait_for(future, 30)
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error'].get('message')}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    def listen(self, method: str, session_id: str | None = None) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._listeners.append((method, session_id, queue))
        return queue

    def unlisten(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._listeners = [entry for entry in self._listeners if entry[2] is not queue]

    async def new_page(self, *, mobile: bool = True, width: int = 390, height: int = 844) -> Page:
        """A tab; `mobile` emulates a phone's viewport and touch (default: 390x844, like a small phone)."""
        target = await self.send("Target.createTarget", {"url": "about:blank"})
        attached = await self.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})
        page = Page(self, attached["sessionId"])
        for domain in ("Page.enable", "Runtime.enable", "Network.enable"):
            await page.send(domain)
        if mobile:
            await page.send(
                "Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 2, "mobile": True}
            )
        return page

    async def cookies(self) -> list[dict[str, Any]]:
        result = await self.send("Storage.getCookies")
        cookies: list[dict[str, Any]] = result.get("cookies", [])
        return cookies


class Page:
    """A tab attached with a flat session; selectors are CSS, as for document.querySelector."""

    def __init__(self, browser: Browser, session_id: str) -> None:
        self.browser, self.session_id = browser, session_id

    async def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self.browser.send(method, params, self.session_id)

    @contextlib.asynccontextmanager
    async def navigation(self, timeout_s: float = 30.0) -> AsyncIterator[None]:
        """Wait, after the body, for the page load the body caused (a link, a form post, a redirect)."""
        loaded = self.browser.listen("Page.loadEventFired", self.session_id)
        try:
            yield
            await asyncio.wait_for(loaded.get(), timeout_s)
        finally:
            self.browser.unlisten(loaded)

    async def goto(self, url: str) -> None:
        async with self.navigation():
            result = await self.send("Page.navigate", {"url": url})
            if result.get("errorText"):
                raise BrowserError(f"navigation to {url} failed: {result['errorText']}")

    async def evaluate(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression[:80]}: {result['exceptionDetails'].get('exception', {}).get('description')}")
        return result["result"].get("value")

    async def exists(self, selector: str) -> bool:
        return bool(await self.evaluate(f"document.querySelector({json.dumps(selector)}) !== null"))

    async def text(self, selector: str) -> str:
        value = await self.evaluate(f"(document.querySelector({json.dumps(selector)}) || {{}}).innerText")
        if value is None:
            raise BrowserError(f"no element matches {selector}")
        return str(value).strip()

    async def url(self) -> str:
        return str(await self.evaluate("location.href"))

    async def focused(self) -> dict[str, Any]:
        """The focused element: tag, id, name, type, value (for keyboard tests)."""
        value: dict[str, Any] = await self.evaluate(
            "(() => { const e = document.activeElement; return e ? {tag: e.tagName.toLowerCase(), id: e.id, "
            "name: e.name || '', type: e.type || '', value: e.value || '', text: (e.innerText || '').trim()} : {}; })()"
        )
        return value

    async def click(self, selector: str) -> None:
        """A real mouse click at the element's centre (scrolled into view first)."""
        box = await self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); if (!e) return null;"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " return {x: r.left + r.width / 2, y: r.top + r.height / 2}; })()"
        )
        if box is None:
            raise BrowserError(f"no element matches {selector}")
        for kind in ("mousePressed", "mouseReleased"):
            await self.send(
                "Input.dispatchMouseEvent", {"type": kind, "x": box["x"], "y": box["y"], "button": "left", "clickCount": 1}
            )

    async def focus(self, selector: str) -> None:
        if not await self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); e && e.focus(); return !!e; }})()"
        ):
            raise BrowserError(f"no element matches {selector}")

    async def type(self, text: str) -> None:
        """Text into the focused element, as an input method would."""
        await self.send("Input.insertText", {"text": text})

    async def fill(self, selector: str, text: str) -> None:
        """Clear the field, then type `text` into it."""
        await self.focus(selector)
        await self.evaluate(f"document.querySelector({json.dumps(selector)}).value = ''")
        await self.type(text)

    async def press(self, key: str) -> None:
        """A key press (Tab, Enter, Space ' ', ArrowDown, ArrowUp) through the keyboard pipeline."""
        code, vk, text = KEYS[key]
        down: dict[str, Any] = {"type": "keyDown", "key": key, "code": code, "windowsVirtualKeyCode": vk}
        if text:
            down["text"] = text
        await self.send("Input.dispatchKeyEvent", down)
        await self.send("Input.dispatchKeyEvent", {"type": "keyUp", "key": key, "code": code, "windowsVirtualKeyCode": vk})

    async def wait_for(self, expression: str, timeout_s: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = await self.evaluate(expression)
            if value:
                return value
            await asyncio.sleep(0.05)
        raise BrowserError(f"not true within {timeout_s} s: {expression}")

    async def screenshot(self, path: Path) -> Path:
        result = await self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
        path.write_bytes(base64.b64decode(result["data"]))
        return path

    async def accessibility_tree(self) -> list[dict[str, Any]]:
        result = await self.send("Accessibility.getFullAXTree")
        nodes: list[dict[str, Any]] = result.get("nodes", [])
        return nodes

    async def unnamed_controls(self) -> list[str]:
        """Form controls and buttons the accessibility tree gives no name (a missing label)."""
        unnamed = []
        for node in await self.accessibility_tree():
            role = node.get("role", {}).get("value")
            named = str(node.get("name", {}).get("value", "")).strip()
            if (
                role in ("textbox", "radio", "checkbox", "button", "combobox", "spinbutton", "link")
                and not node.get("ignored")
                and not named
            ):
                unnamed.append(f"{role} (backend node {node.get('backendDOMNodeId')})")
        return unnamed

    async def contrast_failures(self, minimum: float = 4.5) -> list[str]:
        """Visible text whose colour contrast with its (opaque) background is below `minimum` (WCAG)."""
        failures: list[str] = await self.evaluate(CONTRAST_JS.replace("MINIMUM", str(minimum)))
        return failures


# Walks every element with its own text, resolves the first opaque background up the tree, and
# computes the WCAG 2 contrast ratio.
CONTRAST_JS = """
(() => {
  const parse = (c) => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const p = m[1].split(',').map(Number); return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1}; };
  const lum = (c) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
  const background = (e) => { for (let n = e; n; n = n.parentElement) { const c = parse(getComputedStyle(n).backgroundColor);
    if (c && c.a >= 1) return c; } return {r: 255, g: 255, b: 255, a: 1}; };
  const out = [];
  for (const e of document.body.querySelectorAll('*')) {
    const own = [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    const isControl = ['INPUT', 'TEXTAREA', 'BUTTON'].includes(e.tagName) && e.type !== 'hidden';
    if (!own && !isControl) continue;
    const style = getComputedStyle(e); const r = e.getBoundingClientRect();
    if (style.visibility === 'hidden' || style.display === 'none' || r.width <= 1 || r.height <= 1) continue;
    const fg = parse(style.color), bg = background(e);
    const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    if (ratio < MINIMUM) out.push(`${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''} ${ratio.toFixed(2)}:1`);
  }
  return out;
})()
"""
