"""Property test of the modes: random triggers and clock jumps on a real store; the invariants hold."""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from hub_agent.store import STORE_FILE
from hub_core.clock import ManualClock
from hub_core.model import DeviceId, Protocol, StateChanged
from hubtest.rules_world import World, build_world, device

MOTION = "zigbee-00158d0001a2b3c4"
LAMP = "zwave-2"
MAX = 2

STEPS = st.lists(
    st.one_of(st.just("trigger"), st.sampled_from([1.0, 4.0, 10.0, 25.0])), min_size=1, max_size=12
)


async def quiesce(world: World, clock: ManualClock) -> None:
    """Until every running run sleeps on the clock (or none runs): store round trips, no real sleeps."""
    async with asyncio.timeout(10):
        while clock.sleeping != world.service.runner.running("r"):
            await world.runtime.db.read(lambda conn: None)


async def scenario(data_dir: Path, mode: str, steps: list[object]) -> tuple[list[str], int, list[int]]:
    clock = ManualClock()
    world = build_world(data_dir, [device(MOTION, "motion"), device(LAMP, "switch")], clock)
    await world.start()
    observed: list[int] = []
    try:
        await world.service.put_rule(
            {
                "id": "r",
                "mode": mode,
                "max": MAX,
                "triggers": [{"type": "state", "device": MOTION, "attribute": "motion", "to": "active"}],
                "actions": [
                    {"type": "command", "device": LAMP, "command": "on"},
                    {"type": "delay", "seconds": 10},
                    {"type": "command", "device": LAMP, "command": "off"},
                ],
            }
        )
        triggers = 0
        for step in steps:
            if step == "trigger":
                triggers += 1
                world.hub.ingest(StateChanged(DeviceId(MOTION), "motion", "inactive", clock.now()))
                world.hub.ingest(StateChanged(DeviceId(MOTION), "motion", "active", clock.now()))
            else:
                assert isinstance(step, float)
                await clock.advance(step)
            await quiesce(world, clock)
            observed.append(world.service.runner.running("r"))
        for _ in range(3 * MAX + 2):  # let every queued run finish
            await clock.advance(10)
            await quiesce(world, clock)
        assert world.service.runner.running("r") == 0
    finally:
        await world.stop()
    return [c.name for c in world.radios[Protocol.ZWAVE].commands], triggers, observed


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["single", "restart", "queued", "parallel"]), STEPS)
def test_mode_invariants(mode: str, steps: list[object]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        names, triggers, observed = asyncio.run(scenario(Path(tmp), mode, steps))
        with sqlite3.connect(Path(tmp) / STORE_FILE) as conn:
            (pending,) = conn.execute("SELECT count(*) FROM pending_actions").fetchone()
    assert pending == 0  # every delay that ended or was cancelled left the store
    ons, offs = names.count("on"), names.count("off")
    assert ons <= triggers
    if triggers:
        assert ons >= 1 and offs >= 1
    if mode == "parallel":
        assert max(observed) <= MAX and ons == offs
    else:
        assert max(observed) <= 1
    if mode in ("single", "queued"):
        assert names == ["on", "off"] * ons  # one run at a time, each completes
    if mode == "restart":
        assert ons == triggers and offs <= ons  # every trigger starts over; cancelled runs send no "off"
        assert not names or names[-1] == "off"  # the last run always completes
