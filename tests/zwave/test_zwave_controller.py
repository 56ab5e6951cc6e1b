"""Controller flows on the pty emulator: start-up, soft reset, jams, in/exclusion, failed nodes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from radios.sim.zwave_emulator import ZWaveEmulator
from radios.sim.zwave_nodes import household
from radios.zwave.controller import Controller, StartupFailed, transmit_ok
from radios.zwave.errors import TransactionFailed
from radios.zwave.messages import (
    AddRemoveMode,
    ControllerCapability,
    FunctionId,
    Message,
    UnknownMessage,
)
from radios.zwave.transaction import Timeouts

FAST = Timeouts(ack=0.2, response=0.5, callback=0.3, retry_base=0.02, retry_step=0.1)


@pytest.fixture
async def emulator() -> AsyncIterator[ZWaveEmulator]:
    emu = ZWaveEmulator()
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()


def make(emu: ZWaveEmulator, messages: list[Message | UnknownMessage] | None = None) -> Controller:
    sink = messages.append if messages is not None else (lambda m: None)
    return Controller(emu.port_path, on_message=sink, timeouts=FAST, soft_reset_wait=0.5)


async def test_startup_sequence_in_order(emulator: ZWaveEmulator) -> None:
    emulator.add_node(household()[0])
    controller = make(emulator)
    try:
        info = await controller.start()
    finally:
        await controller.close()
    assert [f.function for f in emulator.sent_frames] == [
        FunctionId.GET_CONTROLLER_VERSION,
        FunctionId.GET_SERIAL_API_CAPABILITIES,
        FunctionId.MEMORY_GET_ID,
        FunctionId.GET_SERIAL_API_INIT_DATA,
        FunctionId.GET_CONTROLLER_CAPABILITIES,
    ]
    assert info.version == "Z-Wave 7.18"
    assert info.home_id == emulator.home_id and info.home_id_hex == f"{emulator.home_id:08x}"
    assert info.node_id == 1 and info.node_ids == (1, 2)
    assert FunctionId.SEND_DATA in info.supported_functions
    assert ControllerCapability.SUC in info.capabilities
    assert controller.soft_resets == 0


async def test_stick_in_unknown_state_is_soft_reset(emulator: ZWaveEmulator) -> None:
    emulator.faults.ignore = 3  # the first request goes unanswered, all three attempts
    controller = make(emulator)
    try:
        info = await controller.start()
    finally:
        await controller.close()
    assert controller.soft_resets == 1
    assert emulator.resets == 1
    assert info.node_id == 1
    assert FunctionId.SOFT_RESET in [f.function for f in emulator.sent_frames]


async def test_dead_stick_fails_startup_clearly(emulator: ZWaveEmulator) -> None:
    emulator.faults.ignore = 100
    controller = make(emulator)
    with pytest.raises(StartupFailed, match="does not answer"):
        await controller.start()
    assert not controller.driver.is_open


async def test_send_data_and_unreachable_node(emulator: ZWaveEmulator) -> None:
    node = emulator.add_node(household()[0])
    controller = make(emulator)
    await controller.start()
    try:
        assert transmit_ok(await controller.send_data(2, bytes((0x25, 0x01, 0xFF))))
        node.reachable = False
        assert not transmit_ok(await controller.send_data(2, bytes((0x25, 0x01, 0x00))))
    finally:
        await controller.close()


async def test_refused_send_data_raises(emulator: ZWaveEmulator) -> None:
    emulator.add_node(household()[0])
    controller = make(emulator)
    await controller.start()
    emulator.faults.refuse_send_data = 1
    try:
        with pytest.raises(TransactionFailed, match="refused"):
            await controller.send_data(2, bytes((0x25, 0x02)))
    finally:
        await controller.close()


async def test_missing_callback_is_aborted_then_stick_reset_when_it_repeats(emulator: ZWaveEmulator) -> None:
    emulator.add_node(household()[0])
    controller = make(emulator)
    await controller.start()
    try:
        emulator.faults.missing_callback = 1
        with pytest.raises(TransactionFailed):
            await controller.send_data(2, bytes((0x25, 0x01, 0xFF)))
        assert controller.aborts == 1 and controller.soft_resets == 0
        assert len(emulator.frames_of(FunctionId.SEND_DATA_ABORT)) == 1
        # a second jam in a row: abort, then soft reset
        emulator.faults.missing_callback = 1
        with pytest.raises(TransactionFailed):
            await controller.send_data(2, bytes((0x25, 0x01, 0xFF)))
        assert controller.soft_resets == 1 and emulator.resets == 1
        # and the stick works again, in the same process
        assert transmit_ok(await controller.send_data(2, bytes((0x25, 0x01, 0xFF))))
    finally:
        await controller.close()


async def test_inclusion_of_one_node(emulator: ZWaveEmulator) -> None:
    emulator.include_default_household()
    controller = make(emulator)
    await controller.start()
    try:
        joined = await controller.add_node(timeout=3)
    finally:
        await controller.close()
    assert joined is not None and joined.node_id == 2
    assert joined.info is not None and 0x25 in joined.info.command_classes
    modes = [f.payload[0] & 0x0F for f in emulator.frames_of(FunctionId.ADD_NODE_TO_NETWORK)]
    assert modes == [AddRemoveMode.ANY, AddRemoveMode.STOP, AddRemoveMode.STOP]
    # the final STOP carries callback id 0
    assert emulator.frames_of(FunctionId.ADD_NODE_TO_NETWORK)[-1].payload[1] == 0
    assert 2 in emulator.nodes


async def test_inclusion_times_out_when_nobody_joins(emulator: ZWaveEmulator) -> None:
    controller = make(emulator)
    await controller.start()
    try:
        assert await controller.add_node(timeout=0.2) is None
    finally:
        await controller.close()
    modes = [f.payload[0] & 0x0F for f in emulator.frames_of(FunctionId.ADD_NODE_TO_NETWORK)]
    assert modes == [AddRemoveMode.ANY, AddRemoveMode.STOP]


async def test_exclusion(emulator: ZWaveEmulator) -> None:
    emulator.add_node(household()[1])
    emulator.leaving.append(3)
    controller = make(emulator)
    await controller.start()
    try:
        assert await controller.remove_node(timeout=3) == 3
        assert await controller.remove_node(timeout=0.2) is None
    finally:
        await controller.close()
    assert 3 not in emulator.nodes


async def test_failed_node_removal(emulator: ZWaveEmulator) -> None:
    node = emulator.add_node(household()[0])
    controller = make(emulator)
    await controller.start()
    try:
        assert not await controller.is_failed(2)
        assert not await controller.remove_failed(2)  # it answers, so it stays
        node.reachable = False
        assert await controller.is_failed(2)
        assert await controller.remove_failed(2)
        assert 2 not in emulator.nodes
        assert not await controller.remove_failed(42)
    finally:
        await controller.close()


async def test_node_info_and_protocol_info(emulator: ZWaveEmulator) -> None:
    node = emulator.add_node(household()[2])  # the sleeping multisensor, awake for now
    controller = make(emulator)
    await controller.start()
    try:
        proto = await controller.node_protocol_info(4)
        assert not proto.listening and proto.generic == 0x21
        info = await controller.request_node_info(4)
        assert info is not None and 0x31 in info.command_classes
        node.awake = False
        assert await controller.request_node_info(4, timeout=1) is None
    finally:
        await controller.close()
