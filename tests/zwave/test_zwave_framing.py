"""Serial API framing: byte vectors fed whole, byte by byte and in random splits; fuzzing."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub_core.errors import ProtocolError
from radios.zwave.frame import (
    Ack,
    BadFrame,
    Can,
    Frame,
    FrameEvent,
    FrameTimedOut,
    FrameType,
    Garbage,
    Nak,
    SerialProtocol,
    checksum,
)

# GetControllerVersion request: SOF, LEN=3 (type+func+chk), REQ, 0x15, CHK = 0xFF^0x03^0x00^0x15.
GET_VERSION = bytes.fromhex("01 03 00 15 e9")
# SendData response "accepted": SOF, LEN 4, RES, 0x13, RetVal 1, CHK.
SEND_DATA_RES = bytes.fromhex("01 04 01 13 01 e8")
# SendData callback: SOF, LEN 7, REQ, 0x13, callback id 2, TxStatus OK, ticks 0x0001, CHK.
SEND_DATA_CB = bytes.fromhex("01 07 00 13 02 00 00 01 e8")
# ApplicationCommandHandler: status 0, node 2, len 3, Binary Switch Report 0xFF.
APP_CMD = bytes.fromhex("01 09 00 04 00 02 03 25 03 ff 2a")

VECTORS = [
    (GET_VERSION, Frame(FrameType.REQUEST, 0x15, b"")),
    (SEND_DATA_RES, Frame(FrameType.RESPONSE, 0x13, b"\x01")),
    (SEND_DATA_CB, Frame(FrameType.REQUEST, 0x13, bytes.fromhex("02000001"))),
    (APP_CMD, Frame(FrameType.REQUEST, 0x04, bytes.fromhex("0002032503ff"))),
]


def feed(chunks: list[bytes], now: float = 0.0) -> tuple[list[FrameEvent], list[bytes]]:
    proto = SerialProtocol()
    for chunk in chunks:
        proto.receive_data(chunk, now)
    return proto.events_received(), proto.data_to_send()


def splits(data: bytes, rng: random.Random) -> list[bytes]:
    cuts = sorted(rng.sample(range(1, len(data)), rng.randint(0, len(data) - 1)))
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]


@pytest.mark.parametrize(("wire", "frame"), VECTORS)
def test_vectors_encode_exactly(wire: bytes, frame: Frame) -> None:
    assert frame.to_bytes() == wire
    assert Frame.from_bytes(wire) == frame


@pytest.mark.parametrize(("wire", "frame"), VECTORS)
def test_vectors_whole_bytewise_and_random_splits(wire: bytes, frame: Frame) -> None:
    stream = wire + b"\x06" + wire
    expected: list[FrameEvent] = [frame, Ack(), frame]
    assert feed([stream]) == (expected, [b"\x06", b"\x06"])
    assert feed([bytes((b,)) for b in stream]) == (expected, [b"\x06", b"\x06"])
    rng = random.Random(len(wire))
    for _ in range(50):
        assert feed(splits(stream, rng))[0] == expected


def test_control_bytes() -> None:
    events, out = feed([b"\x06\x15\x18"])
    assert events == [Ack(), Nak(), Can()]
    assert out == []  # control bytes are never acknowledged


def test_bad_checksum_is_naked_and_next_frame_still_parses() -> None:
    damaged = GET_VERSION[:-1] + b"\x00"
    events, out = feed([damaged + SEND_DATA_RES])
    assert isinstance(events[0], BadFrame)
    assert "checksum" in events[0].reason
    assert events[1] == VECTORS[1][1]
    assert out == [b"\x15", b"\x06"]


def test_unknown_frame_type_is_naked() -> None:
    body = bytes((0x03, 0x07, 0x15))
    events, out = feed([b"\x01" + body + bytes((checksum(body),))])
    assert isinstance(events[0], BadFrame) and "type" in events[0].reason
    assert out == [b"\x15"]


def test_garbage_before_frame_is_skipped_and_reported() -> None:
    events, out = feed([b"\xff\x42\x00" + GET_VERSION])
    assert events == [Garbage(b"\xff\x42\x00"), VECTORS[0][1]]
    assert out == [b"\x06"]


def test_sof_followed_by_impossible_length_resynchronises() -> None:
    # SOF then LEN 0x02 (too short for any frame): SOF was noise, the real frame follows.
    events, _ = feed([b"\x01\x02" + GET_VERSION])
    assert events == [Garbage(b"\x01\x02"), VECTORS[0][1]]


def test_incomplete_frame_dropped_after_1500_ms() -> None:
    proto = SerialProtocol()
    proto.receive_data(APP_CMD[:5], now=10.0)
    assert proto.deadline() == pytest.approx(11.5)
    proto.check_timeout(11.4)
    assert proto.events_received() == []
    proto.check_timeout(11.6)
    assert proto.events_received() == [FrameTimedOut(APP_CMD[:5])]
    assert proto.deadline() is None
    assert proto.data_to_send() == []  # a timed-out frame is dropped silently, not NAKed
    # The rest of the old frame is now garbage; the next whole frame parses.
    proto.receive_data(APP_CMD[5:] + GET_VERSION, now=12.0)
    assert proto.events_received() == [Garbage(APP_CMD[5:]), VECTORS[0][1]]


def test_late_bytes_of_a_stale_frame_are_dropped_on_receive() -> None:
    proto = SerialProtocol()
    proto.receive_data(GET_VERSION[:2], now=0.0)
    proto.receive_data(GET_VERSION, now=2.0)
    events = proto.events_received()
    assert events == [FrameTimedOut(GET_VERSION[:2]), VECTORS[0][1]]


def test_send_frame_and_control_are_separate_chunks() -> None:
    proto = SerialProtocol()
    proto.receive_data(APP_CMD, 0.0)
    proto.send_frame(VECTORS[0][1])
    assert proto.data_to_send() == [b"\x06", GET_VERSION]
    assert proto.data_to_send() == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x01\x03\x00", "too short"),
        (b"\x02\x03\x00\x15\xe9", "SOF"),
        (b"\x01\x04\x00\x15\xe9", "length"),
        (b"\x01\x03\x00\x15\x00", "checksum"),
    ],
)
def test_from_bytes_errors_name_the_problem(data: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        Frame.from_bytes(data)


def test_to_bytes_rejects_oversized_payload() -> None:
    with pytest.raises(ValueError, match="too long"):
        Frame(FrameType.REQUEST, 0x13, bytes(253)).to_bytes()


frames = st.builds(
    Frame,
    st.sampled_from(list(FrameType)),
    st.integers(0, 255),
    st.binary(max_size=60),
)


@given(st.lists(frames, min_size=1, max_size=5), st.randoms(use_true_random=False))
@settings(max_examples=200, deadline=None)
def test_property_any_frames_roundtrip_in_any_split(items: list[Frame], rng: random.Random) -> None:
    stream = b"".join(f.to_bytes() for f in items)
    events, out = feed(splits(stream, rng) if len(stream) > 1 else [stream])
    assert events == items
    assert out == [b"\x06"] * len(items)


@given(st.lists(st.binary(max_size=40), max_size=8), st.floats(0, 5))
@settings(max_examples=400, deadline=None)
def test_fuzz_parser_never_raises_and_always_recovers(chunks: list[bytes], step: float) -> None:
    proto = SerialProtocol()
    now = 0.0
    for chunk in chunks:
        proto.receive_data(chunk, now)
        now += step
    proto.events_received()
    # Whatever came before, after the timeout a good frame parses again.
    proto.receive_data(GET_VERSION, now + 2.0)
    assert proto.events_received()[-1] == VECTORS[0][1]


@given(st.binary(max_size=300))
@settings(max_examples=400, deadline=None)
def test_fuzz_from_bytes_raises_only_protocol_error(data: bytes) -> None:
    try:
        frame = Frame.from_bytes(data)
    except ProtocolError:
        return
    assert frame.to_bytes() == data
