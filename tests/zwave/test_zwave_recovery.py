"""Recovery in-process: unplug and return, stick reset mid-command, jammed stick, unresponsive node."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hub_core.backoff import Backoff
from hub_core.errors import DeliveryFailed, RadioUnavailable
from hub_core.model import Command, DeviceId, DeviceOnline
from hubtest.zwave_events import EventLog
from radios.base import RadioContext, RadioState
from radios.sim.zwave_emulator import ZWaveEmulator
from radios.sim.zwave_nodes import household
from radios.zwave.errors import NodeUnreachable
from radios.zwave.messages import FunctionId
from radios.zwave.radio import ZWaveRadio
from radios.zwave.transaction import Timeouts

FAST = Timeouts(ack=0.2, response=0.5, callback=0.5, retry_base=0.02, retry_step=0.1)


def on(device: str = "zwave-2") -> Command:
    return Command(DeviceId(device), "on")


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[tuple[ZWaveRadio, ZWaveEmulator, EventLog]]:
    emulator = ZWaveEmulator()
    await emulator.start()
    emulator.joining.extend(n for n in household() if n.node_id in (2, 3))
    log = EventLog()
    radio = ZWaveRadio(
        RadioContext(tmp_path, log),
        emulator.port_path,
        timeouts=FAST,
        query_timeout=0.5,
        reconnect=Backoff(0.02, 0.1),
        soft_reset_wait=0.3,
    )
    await radio.start()
    await radio.set_inclusion(10)
    await log.added("zwave-2")
    await log.added("zwave-3")
    await radio.set_inclusion(0)
    await radio.settle()
    try:
        yield radio, emulator, log
    finally:
        await radio.stop()
        await emulator.stop()


async def test_unplug_and_return(rig: tuple[ZWaveRadio, ZWaveEmulator, EventLog]) -> None:
    radio, emulator, log = rig
    emulator.faults.missing_callback = 1  # a command is in flight when the stick goes
    pending = asyncio.ensure_future(radio.execute(on()))
    await emulator.wait_for_frame(lambda f: f.function == FunctionId.SEND_DATA)
    emulator.unplug()
    with pytest.raises(RadioUnavailable):
        await pending
    assert radio.state is RadioState.RECOVERING
    with pytest.raises(RadioUnavailable):
        await radio.execute(on())
    emulator.replug()
    await radio.wait_running(5)
    assert radio.reconnects == 1
    mark = log.mark()
    await radio.execute(on("zwave-3"))
    await log.state("zwave-3", "switch", "on", since=mark)
    # the start-up sequence ran again, and nothing was re-interviewed
    assert len(emulator.frames_of(FunctionId.GET_CONTROLLER_VERSION)) == 2
    await radio.settle()  # the refresh of current values after a reconnect
    assert radio.interviews == 2


async def test_stick_reset_mid_command_is_retried_once(
    rig: tuple[ZWaveRadio, ZWaveEmulator, EventLog],
) -> None:
    radio, emulator, log = rig
    emulator.faults.missing_callback = 1
    pending = asyncio.ensure_future(radio.execute(on()))
    await emulator.wait_for_frame(lambda f: f.function == FunctionId.SEND_DATA)
    mark = log.mark()
    emulator.reset()
    await asyncio.wait_for(pending, 5)
    assert radio.state is RadioState.RUNNING
    assert emulator.node(2).state["switch"] == "on"
    await log.state("zwave-2", "switch", "on", since=mark)
    assert len(emulator.frames_of(FunctionId.GET_CONTROLLER_VERSION)) == 2
    await radio.settle()


async def test_jammed_stick_recovers_through_send_data_abort(
    rig: tuple[ZWaveRadio, ZWaveEmulator, EventLog],
) -> None:
    radio, emulator, log = rig
    emulator.faults.missing_callback = 1
    with pytest.raises(RadioUnavailable):
        await radio.execute(on())
    assert len(emulator.frames_of(FunctionId.SEND_DATA_ABORT)) == 1
    assert radio.state is RadioState.RUNNING
    mark = log.mark()
    await radio.execute(on())
    await log.state("zwave-2", "switch", "on", since=mark)


async def test_unresponsive_node_goes_offline_and_comes_back(
    rig: tuple[ZWaveRadio, ZWaveEmulator, EventLog],
) -> None:
    radio, emulator, log = rig
    node = emulator.node(2)
    node.reachable = False
    mark = log.mark()
    with pytest.raises(DeliveryFailed) as caught:
        await radio.execute(on())
    assert isinstance(caught.value, NodeUnreachable) and caught.value.node_id == 2
    event = await log.wait_for(lambda e: isinstance(e, DeviceOnline), since=mark)
    assert event == DeviceOnline(DeviceId("zwave-2"), False, ts=event.ts)
    node.reachable = True
    mark = log.mark()
    node.report("switch", "on")
    event = await log.wait_for(lambda e: isinstance(e, DeviceOnline), since=mark)
    assert isinstance(event, DeviceOnline) and event.online
    await log.state("zwave-2", "switch", "on", since=mark)


async def test_unknown_state_stick_at_start_is_soft_reset(tmp_path: Path) -> None:
    emulator = ZWaveEmulator()
    await emulator.start()
    emulator.faults.ignore = 3
    radio = ZWaveRadio(
        RadioContext(tmp_path, EventLog()), emulator.port_path, timeouts=FAST, soft_reset_wait=0.3
    )
    try:
        await radio.start()
        assert radio.state is RadioState.RUNNING
        assert emulator.resets == 1
    finally:
        await radio.stop()
        await emulator.stop()


async def test_stop_during_recovery_is_clean(rig: tuple[ZWaveRadio, ZWaveEmulator, EventLog]) -> None:
    radio, emulator, _ = rig
    emulator.unplug()
    with pytest.raises(RadioUnavailable):
        await radio.execute(on())
    await radio.stop()
    assert radio.state is RadioState.STOPPED
    await radio.stop()  # twice is fine
