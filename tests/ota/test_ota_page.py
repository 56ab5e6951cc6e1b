"""The LAN page's Software section in headless Chromium: version, offer, Check and Install, live progress."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from lan.test_lan_browser import chromium, open_page

from ota.harness import booted
from ota.https_server import RepoServer, UpdateCA
from ota.test_ota_lan_cli import _config_with_lan
from ota.tufrepo import TufRepo

pytestmark = pytest.mark.peer


async def test_page_shows_the_update_and_installs_it(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path
) -> None:
    repo.add_target("hub-1.2.0.bundle", b"bundle" * 200_000, "1.2.0")
    repo.publish()
    config, api, token = await _config_with_lan(tmp_path, server, repo, test_ca)
    page_url = api.removesuffix("/api/v1") + "/"
    async with booted(config) as (agent, ota), chromium(tmp_path / "profile", "unused-for-http") as cdp:
        await asyncio.wait_for(ota.settled.wait(), 10)
        page = await open_page(cdp, page_url)
        await page.js(
            f"document.querySelector('#token').value = {json.dumps(token)};"
            "document.querySelector('#signin').click(); true"
        )
        text = "document.querySelector('#update').textContent"
        await page.wait_for(f"{text}.startsWith('Running 0.1.0 (slot A). No update available.')", "no status")
        assert await page.js("document.querySelector('#update-install').hidden") is True
        await page.js("document.querySelector('#update-check').click(); true")
        await page.wait_for(f"{text}.includes('Update 1.2.0 available (1.2 MB)')", "offer never shown")
        await page.wait_for("!document.querySelector('#update-install').hidden", "no install button")
        await page.js("document.querySelector('#update-install').click(); true")
        await page.wait_for(f"{text}.includes('pending reboot 100%')", "install progress never shown")
        await asyncio.wait_for(agent.exit_requested.wait(), 20)
        assert await page.js("document.querySelector('#update-error').textContent") == ""
        errors = [e for e in cdp.log if e["method"] == "Runtime.exceptionThrown"]
        assert errors == [], errors
