"""The pty controller emulator and its simulated nodes, checked at the byte level with a raw pty client."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from radios.sim import zwave_emulator
from radios.sim.zwave_emulator import ZWaveEmulator
from radios.sim.zwave_nodes import decode_float, double_switch, encode_float, household
from radios.zwave.frame import Frame, FrameType, SerialProtocol
from radios.zwave.messages import FunctionId


class RawHost:
    """The bare minimum host: open the pty, write bytes, collect frames with our framer."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        self.protocol = SerialProtocol()
        self.items: asyncio.Queue[object] = asyncio.Queue()
        asyncio.get_running_loop().add_reader(self.fd, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self.fd, 4096)
        except OSError:
            return
        self.protocol.receive_data(data, 0.0)
        for event in self.protocol.events_received():
            self.items.put_nowait(event)
        for chunk in self.protocol.data_to_send():
            os.write(self.fd, chunk)

    def write(self, data: bytes) -> None:
        os.write(self.fd, data)

    async def next(self) -> object:
        async with asyncio.timeout(3):
            return await self.items.get()

    def close(self) -> None:
        asyncio.get_running_loop().remove_reader(self.fd)
        os.close(self.fd)


@pytest.fixture
async def emu() -> AsyncIterator[ZWaveEmulator]:
    emulator = ZWaveEmulator()
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()


async def test_ack_then_response_and_frames_recorded(emu: ZWaveEmulator) -> None:
    host = RawHost(emu.port_path)
    try:
        seen = asyncio.ensure_future(emu.wait_for_frame(lambda f: f.function == FunctionId.MEMORY_GET_ID))
        host.write(Frame(FrameType.REQUEST, FunctionId.MEMORY_GET_ID).to_bytes())
        assert type(await host.next()).__name__ == "Ack"
        response = await host.next()
        assert isinstance(response, Frame) and response.type is FrameType.RESPONSE
        assert response.payload == emu.home_id.to_bytes(4, "big") + b"\x01"
        assert (await seen).function == FunctionId.MEMORY_GET_ID
        assert emu.frames_of(FunctionId.MEMORY_GET_ID) == [Frame(FrameType.REQUEST, FunctionId.MEMORY_GET_ID)]
    finally:
        host.close()


async def test_the_record_of_host_frames_keeps_only_the_newest(
    emu: ZWaveEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A demo that runs for days must not keep every frame (the 1 h soak found 12 KiB a minute)."""
    monkeypatch.setattr(zwave_emulator, "SENT_FRAMES_KEPT", 3)
    host = RawHost(emu.port_path)
    try:
        for _ in range(7):
            host.write(Frame(FrameType.REQUEST, FunctionId.MEMORY_GET_ID).to_bytes())
            assert type(await host.next()).__name__ == "Ack"
            assert isinstance(await host.next(), Frame)
        host.write(Frame(FrameType.REQUEST, FunctionId.GET_CONTROLLER_CAPABILITIES).to_bytes())
        assert type(await host.next()).__name__ == "Ack"
        assert isinstance(await host.next(), Frame)
    finally:
        host.close()
    # 8 frames written, kept at most 2 x 3: the oldest went, the newest is there.
    assert 3 <= len(emu.sent_frames) <= 6
    assert emu.sent_frames[-1].function == FunctionId.GET_CONTROLLER_CAPABILITIES


@pytest.mark.parametrize(("knob", "reply"), [("nak", "Nak"), ("can", "Can")])
async def test_fault_knobs_answer_and_count_down(emu: ZWaveEmulator, knob: str, reply: str) -> None:
    host = RawHost(emu.port_path)
    try:
        setattr(emu.faults, knob, 1)
        frame = Frame(FrameType.REQUEST, FunctionId.GET_CONTROLLER_VERSION).to_bytes()
        host.write(frame)
        assert type(await host.next()).__name__ == reply
        assert getattr(emu.faults, knob) == 0
        host.write(frame)
        assert type(await host.next()).__name__ == "Ack"
    finally:
        host.close()


async def test_bad_checksum_from_host_is_naked(emu: ZWaveEmulator) -> None:
    host = RawHost(emu.port_path)
    try:
        host.write(b"\x01\x03\x00\x15\x00")
        assert type(await host.next()).__name__ == "Nak"
        assert emu.sent_frames == []
    finally:
        host.close()


async def test_garbage_knob_precedes_next_frame(emu: ZWaveEmulator) -> None:
    host = RawHost(emu.port_path)
    try:
        emu.faults.garbage = b"\x42\x43"
        host.write(Frame(FrameType.REQUEST, FunctionId.GET_CONTROLLER_VERSION).to_bytes())
        assert type(await host.next()).__name__ == "Ack"
        garbage = await host.next()
        assert type(garbage).__name__ == "Garbage" and garbage.data == b"\x42\x43"  # type: ignore[attr-defined]
        assert isinstance(await host.next(), Frame)
    finally:
        host.close()


async def test_unplug_removes_port_and_replug_restores_it(emu: ZWaveEmulator) -> None:
    path = Path(emu.port_path)
    emu.unplug()
    assert not path.exists() and not emu.plugged
    emu.replug()
    assert path.is_symlink() and emu.plugged and emu.resets == 1  # a new pty behind the same path
    host = RawHost(emu.port_path)
    try:
        started = await host.next()  # the stick announces itself after being plugged in
        assert isinstance(started, Frame) and started.function == FunctionId.SERIAL_API_STARTED
    finally:
        host.close()


async def test_stop_removes_everything_and_never_started_leaves_nothing() -> None:
    emulator = ZWaveEmulator()
    assert not Path(emulator.port_path).parent.exists()
    await emulator.start()
    assert Path(emulator.port_path).exists()
    await emulator.stop()
    assert not Path(emulator.port_path).parent.exists()


def test_sim_nodes_answer_command_classes() -> None:
    switch = household()[0]
    assert switch.handle(b"\x25\x01\xff") == [b"\x25\x03\xff", switch.reports_for("power")[0]]
    assert switch.state["switch"] == "on" and switch.state["power"] == 42.0
    # Supervision Get(session 5, Binary Switch Set off) -> Supervision Report SUCCESS, then the report
    replies = switch.handle(b"\x6c\x01\x05\x03\x25\x01\x00")
    assert replies[0] == b"\x6c\x02\x05\xff\x00" and replies[1] == b"\x25\x03\x00"
    assert switch.handle(b"\x86\x13\x25") == [b"\x86\x14\x25\x02"]
    assert switch.handle(b"\x72\x04") == [b"\x72\x05\x00\x86\x00\x03\x00\x60"]
    assert switch.handle(b"\x99\x01") == []  # unsupported CC: silence
    dimmer = household()[1]
    dimmer.handle(b"\x26\x01\x32\x05")
    assert dimmer.state["level"] == 50
    dimmer.handle(b"\x26\x01\x63")
    assert dimmer.state["level"] == 100  # 99 is "full"


def test_multi_channel_node_routes_to_end_points() -> None:
    relay = double_switch(10)
    assert relay.handle(b"\x60\x07") == [b"\x60\x08\x00\x02"]
    assert relay.handle(b"\x60\x09\x02") == [b"\x60\x0a\x02\x10\x01\x25"]
    replies = relay.handle(b"\x60\x0d\x00\x02\x25\x01\xff")
    assert replies == [b"\x60\x0d\x02\x00\x25\x03\xff"]
    assert relay.endpoint(2).state["switch"] == "on"
    sent: list[bytes] = []
    relay.send = sent.append
    relay.endpoint(1).report("switch", "on")
    assert sent == [b"\x60\x0d\x01\x00\x25\x03\xff"]


@pytest.mark.parametrize(
    ("value", "precision"), [(21.5, 1), (-3.25, 2), (0.0, 0), (1234.5, 1), (100000.0, 0)]
)
def test_float_encoding_roundtrip(value: float, precision: int) -> None:
    data = encode_float(value, precision, 2)
    decoded, scale, used = decode_float(data)
    assert decoded == pytest.approx(value) and scale == 2 and used == len(data)
