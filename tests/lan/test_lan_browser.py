"""End to end in headless Chromium: sign in with a token, toggle a device, see its state change live.

Chromium (Debian `chromium`) is driven over the Chrome DevTools Protocol by the small client below.
It trusts the hub's self-signed certificate by its SPKI pin only (no blanket "ignore errors"), and
everything but loopback is sent to a dead proxy, so the browser cannot reach the Internet.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub_core.model import DeviceId, RuleFired, StateChanged

pytestmark = pytest.mark.peer

SWITCH, DIMMER = "zwave-2", "zwave-3"
DEVTOOLS = re.compile(rb"DevTools listening on (ws://\S+)")


def chromium_binary() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail(
        "headless Chromium is required for the LAN browser test and was not found; "
        "install it with: apt-get install -y chromium chromium-driver"
    )


class CDP:
    """A minimal Chrome DevTools Protocol client: commands by id, events to waiting futures."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._waiters: list[tuple[str, asyncio.Future[dict[str, Any]]]] = []
        self.log: list[dict[str, Any]] = []
        self._reader = asyncio.create_task(self._read(), name="cdp-reader")

    async def _read(self) -> None:
        async for message in self.ws:
            data = json.loads(message.data)
            if "id" in data:
                future = self._pending.pop(data["id"], None)
                if future is not None and not future.done():
                    if "error" in data:
                        future.set_exception(RuntimeError(f"CDP error: {data['error']}"))
                    else:
                        future.set_result(data.get("result", {}))
                continue
            method = data.get("method", "")
            if method in ("Log.entryAdded", "Runtime.exceptionThrown", "Runtime.consoleAPICalled"):
                self.log.append(data)
            for name, future in list(self._waiters):
                if name == method and not future.done():
                    future.set_result(data.get("params", {}))
                    self._waiters.remove((name, future))

    async def send(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> Any:
        message_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[message_id] = future
        payload: dict[str, Any] = {"id": message_id, "method": method, "params": params or {}}
        if session is not None:
            payload["sessionId"] = session
        await self.ws.send_str(json.dumps(payload))
        return await asyncio.wait_for(future, 15)

    def expect(self, method: str) -> asyncio.Future[dict[str, Any]]:
        """A future for the next event named `method` (create it before causing the event)."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters.append((method, future))
        return future

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


class Page:
    """One browser tab, attached in flat mode."""

    def __init__(self, cdp: CDP, session: str) -> None:
        self.cdp = cdp
        self.session = session

    async def js(self, expression: str) -> Any:
        """Evaluate `expression` in the page, awaiting a promise; raise on a page exception."""
        result = await self.cdp.send(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True},
            self.session,
        )
        if "exceptionDetails" in result:
            raise AssertionError(f"page error: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, predicate: str, what: str, timeout_ms: int = 10000) -> Any:
        """Resolve when the JS `predicate` is truthy, re-checked on every DOM mutation (no polling)."""
        return await self.js(
            f"""new Promise((resolve, reject) => {{
                const check = () => {{ try {{ return ({predicate}); }} catch (e) {{ return null; }} }};
                const first = check();
                if (first) return resolve(first);
                const observer = new MutationObserver(() => {{
                    const value = check();
                    if (value) {{ observer.disconnect(); clearTimeout(timer); resolve(value); }}
                }});
                const all = {{subtree: true, childList: true, characterData: true, attributes: true}};
                observer.observe(document, all);
                const fail = () => {{ observer.disconnect(); reject(new Error({json.dumps(what)})); }};
                const timer = setTimeout(fail, {timeout_ms});
            }})"""
        )


@contextlib.asynccontextmanager
async def chromium(profile: Path, spki_pin: str) -> AsyncIterator[CDP]:
    """Start headless Chromium with a fresh profile; yield a CDP client on its browser endpoint."""
    process = await asyncio.create_subprocess_exec(
        chromium_binary(),
        "--headless=new",
        "--no-sandbox",  # CI runs tests as root, where Chromium's sandbox refuses to start
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--remote-debugging-port=0",
        "--remote-debugging-address=127.0.0.1",
        f"--ignore-certificate-errors-spki-list={spki_pin}",
        "--proxy-server=http://127.0.0.1:9",  # loopback bypasses proxies; everything else dead-ends
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--no-first-run",
        "--no-default-browser-check",
        "--no-pings",
        "--metrics-recording-only",
        "about:blank",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    drain: asyncio.Task[None] | None = None
    session: aiohttp.ClientSession | None = None
    cdp: CDP | None = None
    try:
        url = None
        seen = b""
        async with asyncio.timeout(30):
            while url is None:
                line = await process.stderr.readline()
                if not line:
                    pytest.fail(f"Chromium exited before DevTools started: {seen.decode(errors='replace')}")
                seen += line
                match = DEVTOOLS.search(line)
                if match:
                    url = match.group(1).decode()

        async def drain_stderr() -> None:
            assert process.stderr is not None
            while await process.stderr.read(65536):
                pass

        drain = asyncio.create_task(drain_stderr(), name="chromium-stderr")
        session = aiohttp.ClientSession()
        cdp = CDP(await session.ws_connect(url, max_msg_size=0))
        yield cdp
    finally:
        if cdp is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(cdp.send("Browser.close"), 5)
            await cdp.close()
        if session is not None:
            await session.close()
        if process.returncode is None:
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()
        if drain is not None:
            await drain


async def open_page(cdp: CDP, url: str) -> Page:
    target = await cdp.send("Target.createTarget", {"url": "about:blank"})
    attached = await cdp.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})
    page = Page(cdp, attached["sessionId"])
    for domain in ("Page", "Runtime", "Log"):
        await cdp.send(f"{domain}.enable", {}, page.session)
    loaded = cdp.expect("Page.loadEventFired")
    navigation = await cdp.send("Page.navigate", {"url": url}, page.session)
    assert "errorText" not in navigation, navigation
    await asyncio.wait_for(loaded, 15)
    return page


async def test_sign_in_toggle_and_see_the_state_change(lan: Any, token: str, tmp_path: Path) -> None:
    assert lan.server.certificate is not None
    lan.rules.rules["hall"] = {"id": "hall", "enabled": True, "triggers": [{}], "actions": [{}]}
    async with chromium(tmp_path / "profile", lan.server.certificate.spki_sha256_b64) as cdp:
        page = await open_page(cdp, lan.url + "/")
        assert await page.js("document.title") == "hub-agent"
        assert await page.js("document.querySelector('#app-view').hidden") is True

        # A wrong token is refused and the sign-in form stays.
        await page.js(
            "document.querySelector('#token').value = '0123456789ab.' + 'D'.repeat(43);"
            "document.querySelector('#signin').click(); true"
        )
        await page.wait_for("document.querySelector('#signin-error').textContent", "no sign-in error shown")
        assert await page.js("document.querySelector('#app-view').hidden") is True

        # Sign in with the real token; the device list and the live badge appear.
        await page.js(
            f"document.querySelector('#token').value = {json.dumps(token)};"
            "document.querySelector('#signin').click(); true"
        )
        await page.wait_for(
            f"document.querySelector('[data-device=\"{SWITCH}\"]')", "device list never shown"
        )
        await page.wait_for(
            "document.querySelector('#live').textContent === 'live'", "events never connected"
        )
        switch_cell = f'document.querySelector(\'[data-device="{SWITCH}"] [data-attr="switch"]\')'
        assert await page.js(f"{switch_cell}.textContent") == "off"
        assert await page.js(f"document.querySelector('[data-device=\"{SWITCH}\"] h3').textContent") == (
            "Hall switch"
        )

        # Toggle: the click goes LAN API -> hub -> radio; the new state comes back over the WebSocket.
        await page.js(
            f'document.querySelector(\'[data-device="{SWITCH}"] [data-command="on"]\').click(); true'
        )
        await page.wait_for(f"{switch_cell}.textContent === 'on'", "switch state never turned on")
        assert lan.radio.written == [b"zwave-2:on:[]"]
        assert lan.runtime.hub.device(SWITCH).state["switch"] == "on"

        # The level slider sends set_level.
        await page.js(
            f'const s = document.querySelector(\'[data-device="{DIMMER}"] input[data-command="set_level"]\');'
            "s.value = '70'; s.dispatchEvent(new Event('change')); true"
        )
        level_cell = f'document.querySelector(\'[data-device="{DIMMER}"] [data-attr="level"]\')'
        await page.wait_for(f"{level_cell}.textContent === '70'", "level never reached 70")
        # The live event list names the device and gives the value its unit.
        entries = "Array.from(document.querySelectorAll('#events li'), li => li.textContent)"
        await page.wait_for(
            f"{entries}.some(t => t.endsWith(' Desk lamp: level = 70 %'))", "event list without name or unit"
        )
        assert not any(DIMMER in entry for entry in await page.js(entries))  # names, not ids

        # A change made at the device itself (not from this page) shows up live as well.
        lan.runtime.hub.ingest(StateChanged(DeviceId(SWITCH), "switch", "off"))
        await page.wait_for(f"{switch_cell}.textContent === 'off'", "device-side change never shown")

        # Rules list with last-fired times, updated by rule_fired events.
        fired = 'document.querySelector(\'[data-rule="hall"] [data-field="last_fired"]\')'
        assert await page.js(f"{fired}.textContent") == "never"
        lan.runtime.bus.publish(RuleFired("hall", "state", 0.3))
        await page.wait_for(f"{fired}.textContent !== 'never'", "rule last-fired never updated")

        # Inclusion from the page: the radio is asked to let devices join for 60 s.
        await page.js("document.querySelector('[data-include=\"zwave\"]').click(); true")
        await page.wait_for(
            "document.querySelector('#inclusion-note').textContent.includes('60 s')",
            "inclusion not confirmed",
        )
        assert lan.radio.inclusion == [60]

        errors = [e for e in cdp.log if e["method"] == "Runtime.exceptionThrown"]
        errors += [
            e
            for e in cdp.log
            if e["method"] == "Log.entryAdded"
            and e["params"]["entry"]["level"] == "error"
            and "401" not in e["params"]["entry"].get("text", "")  # the wrong-token attempt above
        ]
        assert errors == [], errors
        await page.js("document.querySelector('#signout').click(); true")
        await page.wait_for("document.querySelector('#signin-view').hidden === false", "sign-out failed")
    await lan.server.api.no_clients.wait()
