"""Errors that reach the hub name the device: the driver and controller only know nodes, the radio adds it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from hub_core.backoff import Backoff
from hub_core.errors import CommandError, RadioUnavailable
from hub_core.model import Command, DeviceId
from hubtest.zwave_events import EventLog
from radios.base import RadioContext, RadioState
from radios.sim.zwave_emulator import ZWaveEmulator
from radios.sim.zwave_nodes import household
from radios.zwave.errors import SerialClosed, TransactionFailed
from radios.zwave.messages import FunctionId
from radios.zwave.radio import ZWaveRadio
from radios.zwave.transaction import Timeouts

# A short response timeout (the hung-stick test waits it out); a long callback timeout, so the
# link-drop test's SendData is surely still in flight when the stick is pulled out.
FAST = Timeouts(ack=0.3, response=0.5, callback=10.0, retry_base=0.02, retry_step=0.1)


@pytest.fixture
async def rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[ZWaveEmulator, ZWaveRadio]]:
    """A stick with a switch (node 2) and a dimmer (node 3), and our radio running on it, interviewed."""
    emulator = ZWaveEmulator()
    emulator.strict = True
    for node in household()[:2]:
        emulator.add_node(node)
    await emulator.start()
    radio = ZWaveRadio(
        RadioContext(tmp_path_factory.mktemp("zwave"), EventLog()),
        emulator.port_path,
        timeouts=FAST,
        query_timeout=1.0,
        reconnect=Backoff(0.05, 0.05),
    )
    try:
        await radio.start()
        await radio.settle()
        assert radio.nodes[2].interviewed and radio.nodes[3].interviewed
        yield emulator, radio
    finally:
        await radio.stop()
        await emulator.stop()
    assert emulator.violations == []


async def test_remove_device_names_the_device_when_the_stick_does_not_answer_is_failed(
    rig: tuple[ZWaveEmulator, ZWaveRadio],
) -> None:
    emulator, radio = rig
    emulator.faults.mute = 1  # IsFailedNode is ACKed, then nothing
    with pytest.raises(CommandError) as caught:
        await radio.remove_device(DeviceId("zwave-2"))
    error = caught.value
    assert isinstance(error, RadioUnavailable) and not isinstance(error, TransactionFailed)
    assert error.device == "zwave-2" and "zwave-2" in str(error), error
    assert isinstance(error.__cause__, TransactionFailed) and error.__cause__.reason == "NO_RESPONSE"
    assert emulator.frames_of(FunctionId.IS_FAILED_NODE)  # it was asked, not refused up front
    assert 2 in radio.nodes  # nothing was forgotten
    # The stick answers again: the node is not failed, so exclusion opens for its button press.
    await radio.remove_device(DeviceId("zwave-2"))
    await emulator.wait_for_frame(lambda f: f.function == FunctionId.REMOVE_NODE_FROM_NETWORK)


async def test_remove_device_on_a_stopped_radio_names_the_device(
    rig: tuple[ZWaveEmulator, ZWaveRadio],
) -> None:
    _, radio = rig
    await radio.stop()
    with pytest.raises(RadioUnavailable) as caught:
        await radio.remove_device(DeviceId("zwave-3"))
    assert caught.value.device == "zwave-3" and "zwave-3" in str(caught.value)


async def test_execute_names_the_device_when_the_link_drops_mid_transaction(
    rig: tuple[ZWaveEmulator, ZWaveRadio],
) -> None:
    emulator, radio = rig
    emulator.faults.missing_callback = 1  # the SendData is accepted and then hangs ...
    command = asyncio.create_task(radio.execute(Command(DeviceId("zwave-2"), "on", {})))
    try:
        await emulator.wait_for_frame(lambda f: f.function == FunctionId.SEND_DATA)
        emulator.unplug()  # ... and the stick is pulled out with it in flight
        with pytest.raises(CommandError) as caught:
            await asyncio.wait_for(command, 5)
    finally:
        command.cancel()
    error = caught.value
    assert isinstance(error, RadioUnavailable)
    assert error.device == "zwave-2" and "zwave-2" in str(error), error
    assert isinstance(error.__cause__, SerialClosed)
    # While the stick is gone, a new command fails at once, also naming its device.
    assert radio.state is RadioState.RECOVERING
    with pytest.raises(RadioUnavailable) as caught:
        await radio.execute(Command(DeviceId("zwave-3"), "off", {}))
    assert caught.value.device == "zwave-3" and "zwave-3" in str(caught.value)
    # Plugged back in, the radio recovers and the command goes through.
    emulator.replug()
    await radio.wait_running(5)
    await radio.execute(Command(DeviceId("zwave-2"), "on", {}))
    assert emulator.node(2).state["switch"] == "on"
