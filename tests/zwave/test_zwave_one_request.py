"""One outstanding request (INS12350 6.1), including requests whose completion is an unsolicited frame.

A RequestNodeInfo is not over when its response arrives: the stick stays busy until the node's NIF
(ApplicationUpdate) or the failure notice arrives. The emulator in strict mode refuses anything sent
meanwhile, as a real stick does, and records every such request in `violations`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hub_core.model import DeviceAdded
from hubtest.zwave_events import EventLog
from radios.base import RadioContext
from radios.sim.zwave_emulator import ZWaveEmulator
from radios.sim.zwave_nodes import household
from radios.zwave.controller import Controller
from radios.zwave.frame import Frame, FrameType
from radios.zwave.messages import (
    FunctionId,
    GetControllerVersionRequest,
    RequestNodeInfoRequest,
)
from radios.zwave.radio import ZWaveRadio
from radios.zwave.transaction import Timeouts

FAST = Timeouts(ack=0.3, response=1.0, callback=1.0, retry_base=0.02, retry_step=0.1)


@pytest.fixture
async def strict() -> AsyncIterator[ZWaveEmulator]:
    """A strict emulator whose nodes take 100 ms to answer RequestNodeInfo."""
    emu = ZWaveEmulator()
    emu.strict = True
    emu.nif_delay = 0.1
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()


async def test_strict_emulator_refuses_a_request_while_node_info_is_pending(strict: ZWaveEmulator) -> None:
    strict.add_node(household()[0])
    strict.nif_delay = None  # the node answers when the test says so
    loop = asyncio.get_running_loop()
    fd = os.open(strict.port_path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    received = bytearray()
    arrived = asyncio.Event()

    def readable() -> None:
        received.extend(os.read(fd, 4096))
        arrived.set()

    async def read_until(predicate: bytes) -> None:
        async with asyncio.timeout(5):
            while predicate not in received:
                arrived.clear()
                await arrived.wait()

    loop.add_reader(fd, readable)
    try:
        # A host that ignores the rule: the next request right after RequestNodeInfo's response.
        os.write(fd, RequestNodeInfoRequest(2).to_frame().to_bytes())
        response = Frame(FrameType.RESPONSE, FunctionId.REQUEST_NODE_INFO, b"\x01").to_bytes()
        await read_until(response)
        os.write(fd, GetControllerVersionRequest().to_frame().to_bytes())
        await read_until(response + b"\x18")  # CAN: refused, not served
        assert strict.violations == ["function 0x15 while busy with RequestNodeInfo to node 2"]
        # The NIF still arrives and ends the busy spell; then the stick serves requests again.
        strict.release_node_info()
        await read_until(bytes((FunctionId.APPLICATION_UPDATE, 0x84, 2)))
        os.write(fd, b"\x06")
        os.write(fd, GetControllerVersionRequest().to_frame().to_bytes())
        await read_until(b"Z-Wave 7.18")
        assert len(strict.violations) == 1
    finally:
        loop.remove_reader(fd)
        os.close(fd)


async def test_node_info_requests_wait_for_the_previous_nif(strict: ZWaveEmulator) -> None:
    for node in household()[:2]:  # a switch and a dimmer, both listening
        strict.add_node(node)
    controller = Controller(strict.port_path, on_message=lambda m: None, timeouts=FAST)
    await controller.start()
    try:
        infos = await asyncio.gather(
            controller.request_node_info(2),
            controller.request_node_info(3),
            controller.send_data(2, b"\x25\x02"),
        )
    finally:
        await controller.close()
    assert strict.violations == []
    assert infos[0] is not None and infos[0].command_classes == strict.node(2).info.command_classes
    assert infos[1] is not None and infos[1].command_classes == strict.node(3).info.command_classes
    functions = [f.function for f in strict.sent_frames[5:]]
    # One at a time; the user's SendData goes ahead of the queued interview request (scheduler.py).
    assert functions == [FunctionId.REQUEST_NODE_INFO, FunctionId.SEND_DATA, FunctionId.REQUEST_NODE_INFO]


async def test_start_up_interviews_nodes_one_request_at_a_time(strict: ZWaveEmulator, tmp_path: Path) -> None:
    # A known network nobody has interviewed yet: every listening node is set up at start-up, at once.
    listening = [n for n in household() if n.listening]
    assert len(listening) >= 3
    for node in listening:
        node.awake = True
        strict.add_node(node)
    log = EventLog()
    radio = ZWaveRadio(RadioContext(tmp_path, log), strict.port_path, timeouts=FAST, query_timeout=1.0)
    await radio.start()
    try:
        await radio.settle()
    finally:
        await radio.stop()
    assert strict.violations == []
    announced = {e.device.id for e in log.events if isinstance(e, DeviceAdded)}
    assert {f"zwave-{n.node_id}" for n in listening} <= announced
    assert radio.interviews == len(listening)


async def test_a_node_info_request_given_up_on_still_holds_the_link_until_the_nif(
    strict: ZWaveEmulator,
) -> None:
    strict.add_node(household()[0])
    strict.nif_delay = None
    controller = Controller(strict.port_path, on_message=lambda m: None, timeouts=FAST)
    await controller.start()
    try:
        asked = strict.wait_for_frame(lambda f: f.function == FunctionId.REQUEST_NODE_INFO)
        request = asyncio.create_task(controller.request_node_info(2))
        await asked  # the response went out with the ACK; now wait for the host to ACK it in turn
        await strict.wait_for_acks(strict.acks_received + 1)
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request
        # The next request waits for the NIF the stick is busy fetching (a bounded look for a
        # frame that must not come), then goes out.
        proto = asyncio.create_task(controller.node_protocol_info(2))
        with pytest.raises(TimeoutError):
            await strict.wait_for_frame(
                lambda f: f.function == FunctionId.GET_NODE_PROTOCOL_INFO, timeout=0.2
            )
        strict.release_node_info()
        info = await proto
    finally:
        await controller.close()
    assert info.listening
    assert strict.violations == []
    functions = [f.function for f in strict.sent_frames[5:]]
    assert functions == [FunctionId.REQUEST_NODE_INFO, FunctionId.GET_NODE_PROTOCOL_INFO]
    assert controller.driver.busy_with is None
