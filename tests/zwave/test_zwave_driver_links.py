"""The driver on other pyserial URLs: socket:// (ser2net-style, loopback TCP) and a port without a fd."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator

import pytest

from radios.sim.zwave_emulator import ZWaveEmulator
from radios.sim.zwave_nodes import household
from radios.zwave.controller import Controller, transmit_ok
from radios.zwave.driver import Driver
from radios.zwave.errors import TransactionFailed
from radios.zwave.messages import GetControllerVersionRequest, Message, UnknownMessage
from radios.zwave.transaction import Timeouts


class Ser2Net:
    """A tiny ser2net: one TCP client on 127.0.0.1 relayed to the emulator's pty, byte for byte."""

    def __init__(self, pty_path: str) -> None:
        self.pty_path = pty_path
        self.server: asyncio.Server | None = None
        self.chunks_from_host: list[bytes] = []
        self.nodelay: list[int] = []
        self.connected = False
        self.finished = asyncio.Event()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        self.connected = True
        fd = os.open(self.pty_path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)

        def from_stick() -> None:
            with contextlib.suppress(OSError):
                writer.write(os.read(fd, 4096))

        loop.add_reader(fd, from_stick)
        try:
            while data := await reader.read(4096):
                self.chunks_from_host.append(data)
                os.write(fd, data)
        finally:
            loop.remove_reader(fd)
            os.close(fd)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            self.finished.set()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        if self.connected:
            async with asyncio.timeout(5):
                await self.finished.wait()


@pytest.fixture
async def emulator() -> AsyncIterator[ZWaveEmulator]:
    emu = ZWaveEmulator()
    await emu.start()
    emu.add_node(household()[0])
    try:
        yield emu
    finally:
        await emu.stop()


async def test_socket_url_with_nodelay(emulator: ZWaveEmulator) -> None:
    relay = Ser2Net(emulator.port_path)
    port = await relay.start()
    controller = Controller(f"socket://127.0.0.1:{port}", on_message=lambda m: None)
    try:
        info = await controller.start()
        assert info.home_id == emulator.home_id
        assert transmit_ok(await controller.send_data(2, b"\x25\x01\xff"))
        sock = controller.driver._link._port._socket  # type: ignore[union-attr]
        assert isinstance(sock, socket.socket)
        # Nagle off: an ACK goes out at once, in its own write, not held back to join the next frame.
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        assert relay.chunks_from_host
    finally:
        await controller.close()
        await relay.stop()
    assert emulator.node(2).state["switch"] == "on"


async def test_port_without_fd_is_read_by_a_thread() -> None:
    # pyserial's loop:// echoes what we write and has no file descriptor: the thread reader is used.
    # Our request comes back as an unsolicited frame (we ACK it), our ACK comes back as its ACK,
    # and then nobody answers: a clean "no response" failure, and the reader thread is joined.
    messages: list[Message | UnknownMessage] = []
    driver = Driver("loop://", on_message=messages.append, timeouts=Timeouts(ack=0.3, response=0.3))
    await driver.open()
    try:
        assert driver._link is not None and driver._link._thread is not None
        with pytest.raises(TransactionFailed) as caught:
            await driver.request(GetControllerVersionRequest())
        assert caught.value.reason == "NO_RESPONSE"
        assert any(isinstance(m, UnknownMessage) and m.frame.function == 0x15 for m in messages)
    finally:
        await driver.close()
