"""`hub-agent run` with a [cloud] section against the dev relay: the lead's agent uses the same CloudLink."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from test_cloud_harness import HUB_ID, next_message, pki_for, relay_for, write_config

from hub_agent.commands.info import collect
from hub_agent.config import load_config

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
            process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(30):
                assert await process.wait() == 0
        finally:
            if process.returncode is None:
                process.kill()
            await process.wait()
        assert json.dumps(info["cloud"])
        assert (await next_message(relay, "hello")).hub_id == HUB_ID
