"""The cloud's `ota_available` end to end: dev relay (mutual TLS) -> agent -> check, install, reboot.

The new slot proves health only once its cloud link is connected again.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from cloud.test_cloud_harness import pki_for, relay_for, write_config

from hub_agent.cloud.protocol import OtaAvailable
from hub_agent.ota import EXIT_REBOOT
from ota.harness import booted
from ota.https_server import RepoServer, UpdateCA
from ota.tufrepo import TufRepo

pytestmark = pytest.mark.peer


async def test_ota_available_from_the_cloud_installs_and_the_new_slot_needs_the_cloud(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path
) -> None:
    repo.add_target("hub-1.2.0.bundle", b"image" * 1000, "1.2.0")
    repo.publish()
    paths = pki_for(tmp_path / "cloud")  # (the update CA lives in tmp_path / "pki")
    root = tmp_path / "tuf-root.json"
    root.write_bytes(repo.root_bytes())
    async with relay_for(paths) as relay:
        config = write_config(tmp_path, paths, relay.url).path
        config.write_text(
            config.read_text()
            + f'[ota]\nrepository = "{server.url}"\nroot = "{root}"\nca = "{test_ca.ca_file}"\n'
            'backend = "dir"\nauto_install = true\nhealth_window = 20\n'
        )
        async with booted(config) as (agent, ota):
            await asyncio.wait_for(ota.settled.wait(), 10)
            await relay.wait_connected()
            await relay.send(OtaAvailable({"version": "1.2.0"}))
            await asyncio.wait_for(agent.exit_requested.wait(), 30)
            assert agent.exit_code == EXIT_REBOOT
        async with booted(config) as (agent, ota):
            await asyncio.wait_for(ota.settled.wait(), 30)  # healthy only once the cloud link is up
            status = ota.status()
            assert status["current"] == {"version": "1.2.0", "slot": "B"}
            assert (status["state"], status["last_error"]) == ("idle", None)
