"""Inclusion and exclusion through the radio: windows, abort, remove_device, failed nodes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hub_core.errors import RadioUnavailable
from hub_core.model import Device, DeviceAdded, DeviceId, DeviceRemoved, Protocol
from hubtest.zwave_events import EventLog
from radios.base import RadioContext
from radios.sim.zwave_emulator import ZWaveEmulator
from radios.sim.zwave_nodes import household
from radios.sim.zwave_radio import SimZWaveRadio
from radios.zwave.messages import AddRemoveMode, FunctionId
from radios.zwave.radio import ZWaveRadio
from radios.zwave.transaction import Timeouts

FAST = Timeouts(ack=0.3, response=1.0, callback=1.0, retry_base=0.02, retry_step=0.1)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[tuple[ZWaveRadio, ZWaveEmulator, EventLog]]:
    emulator = ZWaveEmulator()
    await emulator.start()
    log = EventLog()
    radio = ZWaveRadio(RadioContext(tmp_path, log), emulator.port_path, timeouts=FAST, query_timeout=0.5)
    await radio.start()
    try:
        yield radio, emulator, log
    finally:
        await radio.stop()
        await emulator.stop()


def modes(emulator: ZWaveEmulator, function: int) -> list[int]:
    return [f.payload[0] & 0x0F for f in emulator.frames_of(function)]


async def test_inclusion_window_takes_several_nodes_then_closes(
    rig: tuple[ZWaveRadio, ZWaveEmulator, EventLog],
) -> None:
    radio, emulator, log = rig
    emulator.joining.extend(n for n in household() if n.node_id in (2, 3, 5))
    await radio.set_inclusion(10)
    for device in ("zwave-2", "zwave-3", "zwave-5"):
        await log.added(device)
    await radio.set_inclusion(0)
    await radio.settle()
    # one AddNode(ANY) per node (and maybe one more, open when we closed); each ended with STOP
    add = modes(emulator, FunctionId.ADD_NODE_TO_NETWORK)
    assert add.count(AddRemoveMode.ANY) >= 3
    sessions = "".join("A" if m == AddRemoveMode.ANY else "S" for m in add).split("A")[1:]
    assert all(session.startswith("S") for session in sessions)
    assert sorted(radio.nodes) == [2, 3, 5]


async def test_inclusion_window_expires(rig: tuple[ZWaveRadio, ZWaveEmulator, EventLog]) -> None:
    radio, emulator, log = rig
    await radio.set_inclusion(0.2)
    assert radio.inclusion.inclusion is not None
    await radio.inclusion.inclusion
    assert modes(emulator, FunctionId.ADD_NODE_TO_NETWORK) == [AddRemoveMode.ANY, AddRemoveMode.STOP]
    assert log.events == []


async def test_remove_device_opens_exclusion_for_the_button_press(
    rig: tuple[ZWaveRadio, ZWaveEmulator, EventLog],
) -> None:
    radio, emulator, log = rig
    emulator.joining.append(household()[1])
    await radio.set_inclusion(10)
    await log.added("zwave-3")
    await radio.set_inclusion(0)
    await radio.settle()
    emulator.leaving.append(3)  # the user presses the dimmer's button while exclusion is open
    await radio.remove_device(DeviceId("zwave-3"))
    event = await log.wait_for(lambda e: isinstance(e, DeviceRemoved))
    assert event == DeviceRemoved(DeviceId("zwave-3"), ts=event.ts)
    await radio.settle()
    assert 3 not in radio.nodes and 3 not in emulator.nodes
    assert modes(emulator, FunctionId.REMOVE_NODE_FROM_NETWORK)[0] == AddRemoveMode.ANY


async def test_failed_node_is_removed_at_once(rig: tuple[ZWaveRadio, ZWaveEmulator, EventLog]) -> None:
    radio, emulator, log = rig
    emulator.joining.append(household()[0])
    await radio.set_inclusion(10)
    await log.added("zwave-2")
    await radio.set_inclusion(0)
    await radio.settle()
    emulator.node(2).reachable = False
    await radio.remove_device(DeviceId("zwave-2"))
    assert log.of(DeviceRemoved) == [DeviceRemoved(DeviceId("zwave-2"), ts=log.of(DeviceRemoved)[0].ts)]
    assert emulator.frames_of(FunctionId.REMOVE_FAILED_NODE)
    assert not emulator.frames_of(FunctionId.REMOVE_NODE_FROM_NETWORK)


async def test_inclusion_needs_a_running_radio(tmp_path: Path) -> None:
    radio = ZWaveRadio(RadioContext(tmp_path, EventLog()), "/nonexistent/tty")
    with pytest.raises(RadioUnavailable):
        await radio.set_inclusion(5)


async def test_sim_radio_household_and_restart_keeps_it(tmp_path: Path) -> None:
    log = EventLog()
    radio = SimZWaveRadio(RadioContext(tmp_path, log), timeouts=FAST, query_timeout=0.5)
    await radio.start()
    try:
        await radio.set_inclusion(30)
        for n in range(2, 10):
            await log.added(f"zwave-{n}")
        await radio.set_inclusion(0)
        await radio.settle()
    finally:
        await radio.stop()
    known = {e.device.id: e.device for e in log.of(DeviceAdded)}  # type: ignore[attr-defined]
    known[DeviceId("zwave-2")] = Device(
        DeviceId("zwave-2"), Protocol.ZWAVE, "Porch", capabilities=("switch",), state={"switch": "on"}
    )
    log2 = EventLog()
    again = SimZWaveRadio(RadioContext(tmp_path, log2, known), timeouts=FAST, query_timeout=0.5)
    await again.start()
    try:
        added = await log2.added("zwave-2")
        assert added.device.name == "Porch"  # the hub's name for it is kept
        await log2.state("zwave-2", "switch", "on")  # the simulated switch kept its state
        await again.settle()
        assert again.interviews == 0
        assert sorted(again.nodes) == list(range(2, 10))
    finally:
        await again.stop()


async def test_one_network_mode_at_a_time(rig: tuple[ZWaveRadio, ZWaveEmulator, EventLog]) -> None:
    radio, emulator, log = rig
    emulator.joining.append(household()[1])
    await radio.set_inclusion(10)
    await log.added("zwave-3")
    await radio.settle()
    # removing a (healthy) device ends inclusion and opens exclusion, once however often asked
    await radio.remove_device(DeviceId("zwave-3"))
    await radio.remove_device(DeviceId("zwave-3"))
    assert modes(emulator, FunctionId.ADD_NODE_TO_NETWORK)[-1] == AddRemoveMode.STOP
    await emulator.wait_for_frame(lambda f: f.function == FunctionId.REMOVE_NODE_FROM_NETWORK)
    assert modes(emulator, FunctionId.REMOVE_NODE_FROM_NETWORK) == [AddRemoveMode.ANY]
    # and opening inclusion again ends the exclusion
    await radio.set_inclusion(0)
    await radio.settle()
    assert modes(emulator, FunctionId.REMOVE_NODE_FROM_NETWORK)[-1] == AddRemoveMode.STOP
    assert 3 in radio.nodes
