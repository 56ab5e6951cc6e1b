"""`hub-agent run` with a [cloud] section against the dev relay: the lead's agent uses the same CloudLink."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from test_cloud_harness import HUB_ID, build_agent, next_message, pki_for, relay_for, running, write_config

from hub_agent import identity
from hub_agent.cloud.devcloud import DevRelay, make_dev_pki
from hub_agent.commands.info import collect
from hub_agent.config import load_config
from hubtest.processes import signal_child

ROOT = Path(__file__).resolve().parents[2]


async def test_hub_agent_run_connects_answers_and_records_its_status(tmp_path: Path) -> None:
    paths = pki_for(tmp_path)
    async with relay_for(paths) as relay:
        config_path = tmp_path / "hub.toml"
        write_config(tmp_path, paths, relay.url)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "hub_agent",
            "run",
            "--config",
            str(config_path),
            stdout=asyncio.subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        try:
            async with asyncio.timeout(30):
                hub = await relay.wait_connected(HUB_ID)
            assert hub.hello.hub_id == HUB_ID
            result = await relay.send_command("zwave-77", "on", timeout=20)
            assert (result.status, result.error) == ("error", "unknown_device")
            snapshot = await relay.request_snapshot(timeout=20)
            assert isinstance(snapshot.devices, list)
            # What `hub-agent info` shows while the agent runs (the status is written off the hot path,
            # by another process, so poll the file until the write is committed).
            async with asyncio.timeout(10):
                while (info := collect(load_config(config_path)))["cloud"]["state"] != "connected":
                    await asyncio.sleep(0.02)
            assert info["cloud"]["url"] == relay.url
            signal_child(process, signal.SIGTERM)
            async with asyncio.timeout(30):
                assert await process.wait() == 0
        finally:
            if process.returncode is None:
                signal_child(process, signal.SIGKILL)
            await process.wait()
        assert json.dumps(info["cloud"])
        assert (await next_message(relay, "hello")).hub_id == HUB_ID


async def test_the_demo_flow_a_dev_pki_for_the_hubs_own_key(tmp_path: Path) -> None:
    """What `hub-agent demo` does: the hub's key and derived id first, then a dev PKI around them."""

    data = tmp_path / "data"
    key_path = data / "hub.key"
    hub_id = identity.hub_id_from_key(identity.load_or_create_key(key_path))
    paths = make_dev_pki(tmp_path / "cloud", hub_id, hub_key=key_path, hub_cert=data / "hub.crt")
    relay = DevRelay.from_pki(paths)
    await relay.start()
    try:
        config_path = tmp_path / "hub.toml"
        config_path.write_text(
            f'[hub]\ndata_dir = "{data}"\n[zwave]\nport = "sim"\n'
            f'[cloud]\nurl = "{relay.url}"\nca = "{paths.ca_cert}"\n'
        )
        config = load_config(config_path)
        assert identity.hub_id(config) == hub_id
        agent = await build_agent(config)
        assert agent.runtime.hub_id == hub_id
        async with running(agent):
            await agent.connected()
            hub = await relay.wait_connected(hub_id)
            assert hub.hello.hub_id == hub_id
            assert (await relay.send_command("zwave-3", "set_level", {"level": 30})).status == "ok"
    finally:
        await relay.stop()
