"""End to end in the agent: a remote button fires a rule whose scene dims both bulbs in one group cast."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from zigpy.zcl.clusters import general

from hub_agent.agent import Agent
from hub_agent.config import load_config
from hub_core.model import HubEvent, Protocol, RuleFired
from radios.sim import zigbee_household as hh
from radios.sim.zigbee_air import SimulatedAir
from radios.sim.zigbee_radio import SimZigbeeRadio


def did(ieee: str) -> str:
    return "zigbee-" + ieee.replace(":", "")


BULBS = [did(hh.BULB_1), did(hh.BULB_2)]


async def test_rule_scene_goes_out_as_one_group_cast(
    tmp_path: Path, air_for: Callable[[Path], SimulatedAir]
) -> None:
    config = tmp_path / "hub.toml"
    config.write_text(
        '[hub]\nid = "hub-zigbee"\ndata_dir = "data"\n\n[zigbee]\nradio = "sim"\n', encoding="utf-8"
    )
    air = air_for(tmp_path / "data")
    agent = Agent(load_config(config))
    runtime = await agent.start()
    try:
        radio = runtime.hub.radios[Protocol.ZIGBEE]
        assert isinstance(radio, SimZigbeeRadio) and radio.air is air
        changed = asyncio.Event()
        runtime.bus.add_handler(lambda _: changed.set())

        async def until(check: Callable[[], bool]) -> None:
            async with asyncio.timeout(10):
                while not check():
                    changed.clear()
                    await changed.wait()

        await runtime.hub.set_inclusion(Protocol.ZIGBEE, 60)
        await until(lambda: len(runtime.hub.devices()) >= 11)
        await asyncio.wait_for(radio.wait_configured(), 10)
        await asyncio.wait_for(radio.bulbs_grouped.wait(), 10)
        assert any(set(BULBS) <= members for members in radio.groups().values())
        assert runtime.rules is not None
        await runtime.rules.put_rule(
            {
                "id": "remote-dims-lounge",
                "mode": "queued",
                "triggers": [{"type": "button", "device": did(hh.REMOTE), "button": 2, "action": "pressed"}],
                "actions": [
                    {
                        "type": "scene",
                        "commands": [
                            {
                                "device": BULBS[0],
                                "command": "set_level",
                                "args": {"level": 30, "duration": 2},
                            },
                            {
                                "device": BULBS[1],
                                "command": "set_level",
                                "args": {"level": 30, "duration": 2},
                            },
                        ],
                    }
                ],
            }
        )
        fired: asyncio.Future[HubEvent] = asyncio.get_running_loop().create_future()
        runtime.bus.add_handler(
            lambda e: fired.set_result(e) if isinstance(e, RuleFired) and not fired.done() else None
        )
        air.frames.clear()
        air.device(hh.REMOTE).press("off")  # button 2 pressed
        await asyncio.wait_for(fired, 10)
        await until(lambda: all(runtime.hub.device(b).state.get("level") == 30 for b in BULBS))  # type: ignore[union-attr]
        level_frames = [f for f in air.frames if f.cluster_id == general.LevelControl.cluster_id]
        assert len(level_frames) == 1 and level_frames[0].is_group
        parsed = level_frames[0].zcl()
        assert parsed is not None and (parsed[1].level, parsed[1].transition_time) == (76, 20)
    finally:
        await agent.stop()
