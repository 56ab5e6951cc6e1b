"""The zwave-js mock controller peer itself, driven through our Serial API driver and raw sockets.

These pin down what the driver-level tests rely on: the launcher speaks the Serial API on a loopback
port, splits our byte stream for the mock, changes and reports mock node state, lets sleeping nodes
wake up, and can vanish and come back.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
import zwave_peer
from zwave_peer import PeerMissing, ZWavePeer

from radios.zwave import cc
from radios.zwave.cc import parse_cc
from radios.zwave.driver import Driver
from radios.zwave.frame import Frame, FrameType
from radios.zwave.messages import (
    ApplicationCommandHandler,
    GetControllerVersionRequest,
    GetControllerVersionResponse,
    Message,
    SendDataCallback,
    SendDataRequest,
    UnknownMessage,
)
from radios.zwave.messages.transport import TransmitStatus

pytestmark = pytest.mark.peer


class Link:
    """Our driver on the peer's port, with unsolicited messages in a queue."""

    def __init__(self, url: str) -> None:
        self.messages: asyncio.Queue[Message | UnknownMessage] = asyncio.Queue()
        self.driver = Driver(url, on_message=self.messages.put_nowait)

    async def command_from(self, node: int, timeout: float = 5.0) -> cc.CCCommand:
        """The next CC that `node` sent us."""
        async with asyncio.timeout(timeout):
            while True:
                message = await self.messages.get()
                if isinstance(message, ApplicationCommandHandler) and message.node_id == node:
                    return parse_cc(message.data)

    async def send(self, node: int, command: cc.CCCommand) -> SendDataCallback:
        result = await self.driver.request(SendDataRequest(node, command.to_bytes()))
        assert isinstance(result.callback, SendDataCallback)
        return result.callback


@pytest.fixture
async def link(zwave_peer: ZWavePeer) -> AsyncIterator[Link]:
    link = Link(zwave_peer.url)
    await link.driver.open()
    try:
        yield link
    finally:
        await link.driver.close()
    assert zwave_peer.errors() == []


async def test_the_mock_answers_the_serial_api_through_our_driver(link: Link) -> None:
    result = await link.driver.request(GetControllerVersionRequest())
    assert isinstance(result.response, GetControllerVersionResponse)
    assert result.response.version.startswith("Z-Wave")


async def test_a_set_changes_mock_state_and_the_get_reports_it(link: Link, zwave_peer: ZWavePeer) -> None:
    assert (await link.send(2, cc.BinarySwitchSet(0xFF))).status == TransmitStatus.OK
    assert await zwave_peer.get_state(2, "BinarySwitch_currentValue") is True
    assert (await link.send(2, cc.BinarySwitchGet())).status == TransmitStatus.OK
    assert await link.command_from(2) == cc.BinarySwitchReport(0xFF)
    assert cc.BinarySwitchSet(0xFF).to_bytes() in await zwave_peer.received(2)


async def test_state_set_through_the_control_channel_is_reported(link: Link, zwave_peer: ZWavePeer) -> None:
    await zwave_peer.set_state(4, "Sensor_1_0", 23.5)
    await link.send(4, cc.MultilevelSensorGet(1, 0))
    report = await link.command_from(4)
    assert isinstance(report, cc.MultilevelSensorReport)
    assert (report.sensor_type, report.scale, report.value) == (1, 0, 23.5)


async def test_unsolicited_reports_reach_us(link: Link, zwave_peer: ZWavePeer) -> None:
    await zwave_peer.report(6, cc.NotificationReport(0, 0, 7, 8).to_bytes())
    assert await link.command_from(6) == cc.NotificationReport(0, 0, 7, 8)
    await zwave_peer.report(3, cc.CentralSceneNotification(1, 0, 2).to_bytes())
    assert await link.command_from(3) == cc.CentralSceneNotification(1, 0, 2)


async def test_a_sleeping_node_answers_only_while_awake(link: Link, zwave_peer: ZWavePeer) -> None:
    assert (await link.send(7, cc.BatteryGet())).status == TransmitStatus.NO_ACK
    await zwave_peer.wakeup(7)
    assert await link.command_from(7) == cc.WakeUpNotification()
    await zwave_peer.set_state(7, "Battery_level", 55)
    assert (await link.send(7, cc.BatteryGet())).status == TransmitStatus.OK
    assert await link.command_from(7) == cc.BatteryReport(55)
    await link.send(7, cc.WakeUpNoMoreInformation())
    assert (await link.send(7, cc.BatteryGet())).status == TransmitStatus.NO_ACK


async def test_custom_behaviours_answer_wake_up_association_and_central_scene(link: Link) -> None:
    await link.send(7, cc.WakeUpIntervalSet(600, 1))  # asleep: not delivered
    await link.send(2, cc.AssociationSet(1, (1,)))
    await link.send(2, cc.AssociationGet(1))
    assert await link.command_from(2) == cc.AssociationReport(1, 5, (1,))
    await link.send(3, cc.CentralSceneSupportedGet())
    report = await link.command_from(3)
    assert isinstance(report, cc.CentralSceneSupportedReport)
    assert report.scene_count == 2 and report.keys_of(2) == (0, 1, 2, 3)


async def test_supervised_set_is_confirmed_by_a_supervision_report(link: Link) -> None:
    await link.send(3, cc.SupervisionGet(7, cc.MultilevelSwitchSet(40)))
    assert await link.command_from(3) == cc.SupervisionReport(7, cc.SupervisionStatus.SUCCESS)


async def test_the_link_trace_shows_each_transaction_in_order(link: Link, zwave_peer: ZWavePeer) -> None:
    await link.send(2, cc.BinarySwitchSet(0xFF))
    frames = [f for f in await zwave_peer.link_frames() if f.function == 0x13]
    # SendData: our request, the stick's response, then its callback; the head starts with node, length, CC.
    assert [(f.from_host, f.kind) for f in frames] == [(True, 0x00), (False, 0x01), (False, 0x00)]
    assert frames[0].head[:4] == bytes((2, 3, 0x25, 0x01))
    assert frames[0].t <= frames[1].t <= frames[2].t
    zwave_peer.reset("household")
    assert await zwave_peer.link_frames() == []


def _frame(function: int, payload: bytes = b"") -> bytes:
    return Frame(FrameType.REQUEST, function, payload).to_bytes()


def test_an_ack_glued_to_the_next_frame_is_split_for_the_mock(zwave_peer: ZWavePeer) -> None:
    # The mock parses every write as one message; the launcher must split ACK + frame.
    with socket.create_connection(("127.0.0.1", zwave_peer.port), timeout=5) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader = sock.makefile("rb")
        sock.sendall(_frame(0x15))  # GetControllerVersion
        assert reader.read(1) == b"\x06"
        first = reader.read(2)
        reader.read(first[1])
        sock.sendall(b"\x06" + _frame(0x15) + b"\x99")  # ACK, the next request and a garbage byte, one write
        assert reader.read(1) == b"\x06"
        head = reader.read(4)
        assert head[0] == 0x01 and head[3] == 0x15  # the second response came
        reader.read(head[1] - 2)
        sock.sendall(b"\x06")
        reader.close()


async def test_a_send_data_bridge_is_recorded_like_send_data(zwave_peer: ZWavePeer) -> None:
    # zwave-js's Driver (the benchmark's other host) sends SendDataBridge: source, node, length, CC, ...
    bridge = bytes((1, 2, 3, 0x25, 0x01, 0xFF, 0x25, 0, 0, 0, 0, 0x07))
    with socket.create_connection(("127.0.0.1", zwave_peer.port), timeout=5) as sock:
        reader = sock.makefile("rb")
        sock.sendall(_frame(0xA9, bridge))
        assert reader.read(1) == b"\x06"  # the mock took the frame
        # Take and ACK its response and callback as a host must: a host that leaves them unacknowledged
        # leaves the mock retransmitting into the next test's connection.
        for _ in range(2):
            head = reader.read(3)
            assert head[0] == 0x01, head
            rest = reader.read(head[1] - 1)
            assert rest[0] == 0xA9, rest  # function id of the response, then of the callback
            sock.sendall(b"\x06")
        reader.close()
    assert await zwave_peer.received(2) == [cc.BinarySwitchSet(0xFF).to_bytes()]
    assert [f.function for f in await zwave_peer.link_frames() if f.from_host] == [0xA9]


async def test_the_peer_vanishes_and_returns_on_the_same_port(zwave_peer: ZWavePeer) -> None:
    await zwave_peer.vanish(300)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", zwave_peer.port), timeout=2).close()
    await zwave_peer.wait_listening()
    link = Link(zwave_peer.url)
    await link.driver.open()
    try:
        result = await link.driver.request(GetControllerVersionRequest())
        assert isinstance(result.response, GetControllerVersionResponse)
    finally:
        await link.driver.close()


def test_a_missing_install_fails_with_the_command_to_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.setattr(zwave_peer, "PEER_DIR", tmp_path)
    with pytest.raises(PeerMissing, match="run: npm ci --prefix tests/peers/zwave"):
        ZWavePeer().start()
