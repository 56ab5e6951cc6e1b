"""SIGKILL of the agent with a full outbox: everything unacknowledged is resent after the restart.

This file is also the child: `python test_cloud_sigkill.py CHILD FOLDER COUNT` builds the agent
core, connects, prints ACKED once the ack of the first events is durable, waits for the parent to
say the cloud is gone (a line on stdin), records COUNT events, prints READY once they are durable
and then waits to be killed.

Two races this test once lost, and how it avoids them: the parent used to stop the relay and
assume its last ack had reached the child (it had not when the child's keepalive had just dropped
the connection), so the child now says when the ack is on disk. And killing with
`Process.send_signal`/`kill()` twice let `Popen.poll()` reap the dead child before asyncio's child
watcher, which then reported "Unknown child process pid ..., returncode 255"; the signal is now sent
once with os.kill and only the watcher reaps.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from mosquitto import broker_for  # noqa: E402
from test_cloud_harness import (  # noqa: E402
    HUB_ID,
    build_agent,
    next_events,
    pki_for,
    relay_for,
    running,
    write_config,
)
from test_cloud_mqtt import MQTT, cloud_client, events_until  # noqa: E402

from hub_agent.cloud.link import LinkState  # noqa: E402
from hub_agent.config import load_config  # noqa: E402
from hub_core.model import DeviceId  # noqa: E402

COUNT = 5000


async def child(folder: Path, count: int) -> None:
    agent = await build_agent(load_config(folder / "hub.toml"))
    agent.task = asyncio.create_task(agent.link.run())
    await agent.link.wait_for(LinkState.CONNECTED)
    await agent.link.outbox.wait_acked(7)
    print("ACKED", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)  # the cloud is gone
    for i in range(count):
        agent.radio.report(DeviceId("zwave-2"), "switch", "off" if i % 2 else "on")
        if i % 500 == 499:
            await asyncio.sleep(0)
    await agent.link.outbox.wait_committed(7 + count)
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
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(HERE.parent.parent)},
        )
        assert process.stdin is not None and process.stdout is not None
        try:
            first = await next_events(relay, 7, timeout=20)
            assert [e["seq"] for e in first] == list(range(1, 8))
            relay.ack_now()
            async with asyncio.timeout(30):
                line = (await process.stdout.readline()).decode()
            assert line.startswith("ACKED"), f"child said {line!r}"
            await relay.stop()  # the cloud is gone
            process.stdin.write(b"gone\n")
            await process.stdin.drain()
            async with asyncio.timeout(30):
                line = (await process.stdout.readline()).decode()
            assert line.startswith("READY"), f"child said {line!r}"
            _, top, on_disk = line.split()
            assert (int(top), int(on_disk)) == (7 + COUNT, COUNT)
        finally:
            # Exactly one signal, sent with os.kill: Process.kill()/send_signal() call Popen.poll(),
            # which can reap the child before asyncio's watcher does (then returncode reads 255).
            os.kill(process.pid, signal.SIGKILL)
            await process.wait()
            process.stdin.close()
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
                await agent.link.outbox.wait_acked(7 + COUNT)
            assert agent.link.outbox.count == 0
            # New events continue the same sequence.
            assert agent.link.outbox.next_seq == 8 + COUNT


async def spawn_child(folder: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "CHILD",
        str(folder),
        str(COUNT),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(HERE.parent.parent)},
    )


async def test_sigkill_over_mqtt_with_events_unacknowledged_loses_none(tmp_path: Path) -> None:
    """The same over MQTT 5 and mosquitto: a PUBACK is the ack; the broker is down while the hub dies."""
    paths = pki_for(tmp_path)
    async with broker_for(paths, tmp_path / "broker") as broker:
        async with cloud_client(broker, paths, session=True) as cloud:
            await cloud.subscribe(f"hubs/{HUB_ID}/events", qos=1)
        write_config(tmp_path, paths, broker.url, extra_cloud=MQTT)
        process = await spawn_child(tmp_path)
        assert process.stdin is not None and process.stdout is not None
        try:
            async with asyncio.timeout(30):
                line = (await process.stdout.readline()).decode()
            assert line.startswith("ACKED"), f"child said {line!r}"  # PUBACKs for 1..7 are on disk
            await broker.stop()
            process.stdin.write(b"gone\n")
            await process.stdin.drain()
            async with asyncio.timeout(30):
                line = (await process.stdout.readline()).decode()
            assert line.startswith("READY"), f"child said {line!r}"
            assert line.split()[1:] == [str(7 + COUNT), str(COUNT)]
        finally:
            os.kill(process.pid, signal.SIGKILL)  # once, with os.kill (see the module docstring)
            await process.wait()
            process.stdin.close()
        assert process.returncode == -signal.SIGKILL
        await broker.start()
        agent = await build_agent(load_config(tmp_path / "hub.toml"), devices=False)
        async with running(agent), cloud_client(broker, paths, session=True) as cloud:
            events = await events_until(cloud, 7 + COUNT, timeout=50)
            # The consumer's session got 1..7 before; after the restart, 8.. arrive with no gap.
            assert [e["seq"] for e in events if e["seq"] > 7] == list(range(8, 8 + COUNT))
            assert [e["value"] for e in events if e["seq"] > 7] == [
                "off" if i % 2 else "on" for i in range(COUNT)
            ]
            async with asyncio.timeout(20):
                await agent.link.outbox.wait_acked(7 + COUNT)


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "CHILD":
    asyncio.run(child(Path(sys.argv[2]), int(sys.argv[3])))
