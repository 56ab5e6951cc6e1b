"""The simulated Zigbee radio as the agent builds it (registry), feeding the real Hub core."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from pathlib import Path

from zigpy.zcl.clusters import general

from hub_agent.config import ZigbeeSection
from hub_agent.hub import Hub
from hub_agent.radio_registry import FACTORIES
from hub_core.bus import EventBus
from hub_core.errors import RadioUnavailable
from hub_core.model import Command, DeviceAdded, DeviceEvent, DeviceId, HubEvent, Protocol, StateChanged
from hubtest.zigbee_events import EventLog
from radios.base import RadioContext, RadioState
from radios.sim import zigbee_household as hh
from radios.sim.zigbee_air import SimulatedAir
from radios.sim.zigbee_radio import SimZigbeeRadio

BULBS = ["zigbee-" + b.replace(":", "") for b in (hh.BULB_1, hh.BULB_2)]


class Watch:
    """Awaits a condition on the hub after each bus event."""

    def __init__(self, bus: EventBus) -> None:
        self._waiters: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []
        bus.add_handler(self._on_event)

    def _on_event(self, _: HubEvent) -> None:
        for check, future in self._waiters:
            if not future.done() and check():
                future.set_result(None)

    async def until(self, check: Callable[[], bool], timeout: float = 10.0) -> None:
        if check():
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((check, future))
        await asyncio.wait_for(future, timeout)


async def test_household_through_the_hub_with_group_casts(tmp_path: Path, air: SimulatedAir) -> None:
    bus = EventBus()
    hub = Hub(bus)
    watch = Watch(bus)
    emitted: list[DeviceEvent] = []

    def emit(event: DeviceEvent) -> None:
        emitted.append(event)
        hub.ingest(event)

    _, factory = FACTORIES["zigbee"]
    radio = factory(ZigbeeSection(radio="sim", port=air.path, channel=11), RadioContext(tmp_path, emit))
    assert isinstance(radio, SimZigbeeRadio)
    assert radio.air is air
    hub.radios[Protocol.ZIGBEE] = radio
    await radio.start()
    try:
        await hub.set_inclusion(Protocol.ZIGBEE, 60)
        await watch.until(lambda: len(hub.devices()) == 11)
        # The sim radio groups the two bulbs; wait until zigpy knows the group.
        await _wait_group(radio)
        air.frames.clear()
        # A scene: both bulbs at once -> one group cast, both confirmed, state through the hub.
        results = await asyncio.gather(*(hub.execute(b, "set_level", {"level": 60}) for b in BULBS))
        assert all(r.status == "ok" for r in results)
        casts = [f for f in air.frames if f.cluster_id == general.LevelControl.cluster_id]
        assert [f.is_group for f in casts] == [True]
        await watch.until(lambda: all(hub.device(b).state.get("level") == 60 for b in BULBS))  # type: ignore[union-attr]
        # Life goes on in the household: every event the sim produces is valid for the hub.
        rng = random.Random(7)
        for _ in range(30):
            radio.simulate_activity(rng)
        await watch.until(lambda: sum(isinstance(e, StateChanged) for e in emitted) > 20)
        assert hub.events_rejected == 0
        air.unplug()
        try:
            await hub.execute("zigbee-" + hh.PLUG.replace(":", ""), "on")
        except RadioUnavailable as exc:
            assert "zigbee radio is recovering" in str(exc)
        else:
            raise AssertionError("a command during the outage must fail")
        air.replug()
        await asyncio.wait_for(radio.wait_for_state(RadioState.RUNNING), 5)
        await hub.execute("zigbee-" + hh.PLUG.replace(":", ""), "on")
    finally:
        await radio.stop()


async def _wait_group(radio: SimZigbeeRadio) -> None:
    """The grouping runs as a task after both bulbs are announced."""
    await asyncio.wait_for(radio.bulbs_grouped.wait(), 5)
    assert any(set(BULBS) <= g for g in radio.groups().values())


async def test_sim_household_comes_back_in_a_new_process(tmp_path: Path, air: SimulatedAir) -> None:
    """A fresh air (as in a new process) with an existing zigbee.db: network restored, devices rejoin."""
    section = ZigbeeSection(radio="sim", port=air.path, channel=11)
    log = EventLog()
    radio = SimZigbeeRadio(section, RadioContext(tmp_path, log))
    await radio.start()
    try:
        await radio.set_inclusion(60)
        await log.added(11)
    finally:
        await radio.stop()
    old = air.nvram
    assert old is not None
    fresh = SimulatedAir.register(SimulatedAir(air.path))
    log.clear()
    radio = SimZigbeeRadio(section, RadioContext(tmp_path, log))
    await radio.start()
    try:
        assert fresh.nvram is not None
        assert fresh.nvram[0].network_key.key == old[0].network_key.key
        assert all(d.joined for d in fresh.devices.values()) and len(fresh.devices) == 11
        # Each rejoined device is configured again (bindings, reporting) and announced again.
        plug = DeviceId("zigbee-" + hh.PLUG.replace(":", ""))
        await log.next(lambda e: isinstance(e, DeviceAdded) and e.device.id == plug)
        await radio.execute(Command(plug, "on"))
        fresh.device(hh.PLUG).set_attribute(general.OnOff, "on_off", 0)
        event = await log.next(lambda e: isinstance(e, StateChanged) and e.device == plug)
        assert isinstance(event, StateChanged) and event.value == "off"
    finally:
        await radio.stop()
