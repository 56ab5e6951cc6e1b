"""kill -9 while a delay is pending: the delay is on disk before the run sleeps, so it runs after restart."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from pathlib import Path

from hub_core.clock import ManualClock
from hub_core.model import Protocol
from hubtest.processes import signal_child
from hubtest.rules_world import build_world, device

T0 = 1_790_000_000.0
MOTION = "zigbee-00158d0001a2b3c4"
LAMP = "zwave-2"

CHILD = textwrap.dedent(
    f"""
    import asyncio, sys
    from pathlib import Path
    from hub_core.model import DeviceId, StateChanged
    from hub_core.clock import ManualClock
    from hubtest.rules_world import build_world, device

    async def main() -> None:
        clock = ManualClock({T0})
        devices = [device("{MOTION}", "motion", motion="inactive"), device("{LAMP}", "switch", switch="off")]
        world = build_world(Path(sys.argv[1]), devices, clock)
        await world.start()
        await world.service.put_rule({{
            "id": "hall",
            "triggers": [{{"type": "state", "device": "{MOTION}", "attribute": "motion", "to": "active"}}],
            "actions": [
                {{"type": "command", "device": "{LAMP}", "command": "on"}},
                {{"type": "delay", "seconds": 300}},
                {{"type": "command", "device": "{LAMP}", "command": "off"}},
            ],
        }})
        world.hub.ingest(StateChanged(DeviceId("{MOTION}"), "motion", "active", clock.now()))
        await clock.wait_for_sleepers(1)
        print("pending", flush=True)
        await asyncio.Event().wait()  # until killed

    asyncio.run(main())
    """
)


async def test_a_pending_delay_survives_kill_9(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        str(tmp_path),
        cwd=root,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(root / "tests")},  # the child imports tests/hubtest
    )
    try:
        assert child.stdout is not None
        async with asyncio.timeout(30):
            line = await child.stdout.readline()
        assert line == b"pending\n"
    finally:
        if child.returncode is None:
            signal_child(child, signal.SIGKILL)
        await child.wait()
    assert child.returncode == -signal.SIGKILL

    clock = ManualClock(T0 + 1000)
    world = build_world(tmp_path, [device(MOTION, "motion"), device(LAMP, "switch")], clock)
    await world.start()
    try:
        commands = await world.radios[Protocol.ZWAVE].wait_for(1)
        assert [c.name for c in commands] == ["off"]
    finally:
        await world.stop()
