"""SIGKILL of the agent with a full outbox: everything unacknowledged is resent after the restart.

This file is also the child: `python test_cloud_sigkill.py CHILD FOLDER URL COUNT` builds the agent
core, connects, waits for the cloud to go away, records COUNT events, prints READY once they are
durable and then waits to be killed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from test_cloud_harness import (  # noqa: E402
    build_agent,
    next_events,
    pki_for,
    relay_for,
    running,
    write_config,
)

from hub_agent.cloud.link import LinkState  # noqa: E402
from hub_agent.config import load_config  # noqa: E402
from hub_core.model import DeviceId  # noqa: E402

COUNT = 5000


async def child(folder: Path, count: int) -> None:
    agent = await build_agent(load_config(folder / "hub.toml"))
    agent.task = asyncio.create_task(agent.link.run())
    await agent.link.wait_for(LinkState.CONNECTED)
    await agent.link.wait_for(LinkState.BACKOFF, LinkState.CONNECTING)  # the cloud went away
    for i in range(count):
        agent.radio.report(DeviceId("zwave-2"), "switch", "off" if i % 2 else "on")
        if i % 500 == 499:
            await asyncio.sleep(0)
    while agent.link.outbox.committed_seq < 7 + count:
        await asyncio.sleep(0.01)
    print(f"READY {agent.link.outbox.committed_seq} {agent.link.outbox.count}", flush=True)
    await asyncio.Future()


async def test_sigkill_with_a_full_outbox_resends_everything_after_restart(tmp_path: Path) -> None:
    paths = pki_for(tmp_path)
    async with relay_for(paths) as relay:
        write_config(tmp_path, paths, relay.url)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "CHILD",
            str(tmp_path),
            str(COUNT),
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(HERE.parent.parent)},
        )
        try:
            first = await next_events(relay, 7, timeout=20)
            assert [e["seq"] for e in first] == list(range(1, 8))
            await relay.stop()  # acknowledges 1..7, then the cloud is gone
            assert process.stdout is not None
            async with asyncio.timeout(30):
                line = (await process.stdout.readline()).decode()
            assert line.startswith("READY"), f"child said {line!r}"
            _, top, on_disk = line.split()
            assert (int(top), int(on_disk)) == (7 + COUNT, COUNT)
            process.send_signal(signal.SIGKILL)
        finally:
            if process.returncode is None:
                process.kill()
            await process.wait()
        assert process.returncode == -signal.SIGKILL

        # The agent comes back on the same store; the cloud comes back too.
        await relay.start()
        agent = await build_agent(load_config(tmp_path / "hub.toml"), devices=False)
        assert agent.hub.devices() == []
        async with running(agent):
            received = await next_events(relay, COUNT, timeout=30)
            assert [e["seq"] for e in received] == list(range(8, 8 + COUNT))
            assert [e["value"] for e in received] == ["off" if i % 2 else "on" for i in range(COUNT)]
            assert relay.duplicates == 0
            async with asyncio.timeout(10):
                while agent.link.outbox.count:
                    await asyncio.sleep(0.01)
            # New events continue the same sequence.
            assert agent.link.outbox.next_seq == 8 + COUNT


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "CHILD":
    asyncio.run(child(Path(sys.argv[2]), int(sys.argv[3])))
