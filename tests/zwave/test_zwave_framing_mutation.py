"""Serial API framing at its edges (issue 19): spec bytes, the smallest and largest frames, the
frame timeout to the tick, resynchronisation, and events that can be hashed and compared."""

from __future__ import annotations

import dataclasses

import pytest

from hub_core.errors import ProtocolError
from radios.zwave.frame import (
    FRAME_TIMEOUT,
    Ack,
    BadFrame,
    Can,
    Control,
    Frame,
    FrameTimedOut,
    FrameType,
    Garbage,
    Nak,
    SerialProtocol,
    checksum,
)

#: INS12350's FUNC_ID_ZW_GET_VERSION request, the classic first frame a host sends.
GET_VERSION = bytes.fromhex("01030015e9")


def test_the_smallest_frame_is_the_spec_bytes_both_ways() -> None:
    assert checksum(bytes.fromhex("030015")) == 0xE9
    assert checksum(b"") == 0xFF
    assert Frame(FrameType.REQUEST, 0x15).to_bytes() == GET_VERSION
    assert Frame.from_bytes(GET_VERSION) == Frame(FrameType.REQUEST, 0x15, b"")
    response = Frame(FrameType.RESPONSE, 0x15, b"\x01\x02")
    assert response.to_bytes() == bytes.fromhex("0105011501 02") + bytes([0xFF ^ 5 ^ 1 ^ 0x15 ^ 1 ^ 2])
    assert Frame.from_bytes(response.to_bytes()) == response
    assert repr(response) == "Frame(RES 0x15 0102)" and repr(Frame(FrameType.REQUEST, 0x15)).startswith(
        "Frame(REQ"
    )


def test_the_largest_frame_and_function_fit_and_one_more_does_not() -> None:
    biggest = Frame(FrameType.REQUEST, 0xFF, bytes(range(252)))
    wire = biggest.to_bytes()
    assert wire[1] == 0xFF and len(wire) == 257
    assert Frame.from_bytes(wire) == biggest
    with pytest.raises(ValueError, match="too long for one frame"):
        Frame(FrameType.REQUEST, 0x13, bytes(253)).to_bytes()
    with pytest.raises(ValueError, match="function id 256 out of range"):
        Frame(FrameType.REQUEST, 0x100).to_bytes()
    with pytest.raises(ValueError, match="function id -1 out of range"):
        Frame(FrameType.REQUEST, -1).to_bytes()


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (GET_VERSION[:4], "4 bytes is too short"),
        (b"\x02" + GET_VERSION[1:], "not SOF"),
        (bytes.fromhex("0102001500"), "length byte 2"),
        (GET_VERSION + b"\x00", "length byte 3 does not match 6"),
        (GET_VERSION[:-1] + b"\x00", "bad checksum 0x00, expected 0xe9"),
        (bytes.fromhex("01030215") + bytes([0xFF ^ 3 ^ 2 ^ 0x15]), "unknown frame type 0x02"),
    ],
)
def test_each_malformed_frame_names_its_fault(data: bytes, words: str) -> None:
    with pytest.raises(ProtocolError, match=words):
        Frame.from_bytes(data)


def test_control_bytes_are_the_spec_values_both_ways() -> None:
    assert [int(c) for c in (Control.SOF, Control.ACK, Control.NAK, Control.CAN)] == [0x01, 0x06, 0x15, 0x18]
    link = SerialProtocol()
    link.receive_data(b"\x06\x15\x18", now=0.0)
    assert link.events_received() == [Ack(), Nak(), Can()]
    assert link.events_received() == []
    for control in (Control.ACK, Control.NAK, Control.CAN):
        link.send_control(control)
    link.send_frame(Frame(FrameType.REQUEST, 0x15))
    assert link.data_to_send() == [b"\x06", b"\x15", b"\x18", GET_VERSION]
    assert link.data_to_send() == []


def test_events_are_values_that_can_be_hashed_and_not_changed() -> None:
    events = {Ack(), Ack(), Nak(), Can(), Garbage(b"x"), BadFrame(b"x", "r"), FrameTimedOut(b"x")}
    assert len(events) == 6
    with pytest.raises(dataclasses.FrozenInstanceError):
        Frame(FrameType.REQUEST, 1).function = 2  # type: ignore[misc]
    for value in (*events, Frame(FrameType.REQUEST, 1)):
        assert not hasattr(value, "__dict__"), value


def test_a_good_frame_is_acked_and_a_damaged_one_nakked() -> None:
    link = SerialProtocol()
    link.receive_data(GET_VERSION, now=0.0)
    assert link.events_received() == [Frame(FrameType.REQUEST, 0x15)]
    assert link.data_to_send() == [b"\x06"]
    damaged = GET_VERSION[:-1] + b"\x00"
    link.receive_data(damaged, now=0.0)
    (bad,) = link.events_received()
    assert isinstance(bad, BadFrame) and bad.data == damaged and "checksum" in bad.reason
    assert link.data_to_send() == [b"\x15"]
    assert not link.in_frame


def test_the_frame_timeout_is_exact() -> None:
    assert FRAME_TIMEOUT == 1.5
    link = SerialProtocol()
    assert link.deadline() is None
    link.receive_data(GET_VERSION[:3], now=10.0)
    assert link.in_frame and link.deadline() == 11.5
    link.check_timeout(11.5)
    assert link.events_received() == [] and link.in_frame  # exactly the timeout: still waiting
    link.receive_data(GET_VERSION[3:], now=11.5)
    assert link.events_received() == [Frame(FrameType.REQUEST, 0x15)]
    link.receive_data(GET_VERSION[:3], now=20.0)
    link.check_timeout(21.5001)
    assert link.events_received() == [FrameTimedOut(GET_VERSION[:3])] and link.deadline() is None


def test_late_bytes_after_a_timeout_start_afresh() -> None:
    link = SerialProtocol()
    link.receive_data(GET_VERSION[:2], now=0.0)
    link.receive_data(b"\x06" + GET_VERSION, now=2.0)  # the first part timed out before these came
    assert link.events_received() == [FrameTimedOut(GET_VERSION[:2]), Ack(), Frame(FrameType.REQUEST, 0x15)]


def test_an_idle_link_never_times_out() -> None:
    link = SerialProtocol()
    link.receive_data(b"\x06", now=1000.0)
    link.check_timeout(5000.0)
    assert link.events_received() == [Ack()]


def test_noise_before_a_frame_and_a_false_sof_are_garbage() -> None:
    link = SerialProtocol()
    link.receive_data(b"\x99\x98" + GET_VERSION, now=0.0)
    assert link.events_received() == [Garbage(b"\x99\x98"), Frame(FrameType.REQUEST, 0x15)]
    # SOF followed by a length no frame can have: the SOF was noise, the next byte counts again.
    link.receive_data(b"\x01\x02\x01\x06", now=0.0)
    assert link.events_received() == [Garbage(b"\x01\x02")] and link.in_frame  # 01 06: a frame begins
    link.check_timeout(2.0)
    assert link.events_received() == [FrameTimedOut(b"\x01\x06")]
    link.receive_data(b"\x01\x00\x06", now=3.0)
    assert link.events_received() == [Garbage(b"\x01\x00"), Ack()]
    link.receive_data(b"\x77", now=0.0)
    assert link.events_received() == [Garbage(b"\x77")]
    link.receive_data(b"", now=0.0)
    assert link.events_received() == []
