"""The ZNP emulator's MT framing and request handling: byte vectors, and fuzzing (nothing but the
documented errors escape; any request gets an answer or, for an AREQ, nothing)."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hubtest.processes import signal_child
from radios.sim.zigbee_zcl import eui64
from radios.sim.znp import nv as nvm
from radios.sim.znp.coordinator import ZnpCoordinator
from radios.sim.znp.frames import CommandType, Frame, FrameError, FrameParser, Subsystem
from radios.sim.znp.wire import PayloadError, Reader

# SYS_PING request and its response with capabilities 0x057F, as on the wire.
PING_REQ = bytes.fromhex("fe00210120")
PING_RSP = bytes.fromhex("fe0261017f0518")


def test_ping_request_and_response_vectors() -> None:
    assert Frame(CommandType.SREQ, Subsystem.SYS, 0x01).encode() == PING_REQ
    assert FrameParser().feed(PING_RSP) == [Frame(CommandType.SRSP, Subsystem.SYS, 0x01, b"\x7f\x05")]


def test_the_parser_resynchronises_on_junk_and_drops_a_bad_checksum() -> None:
    parser = FrameParser()
    bad = PING_REQ[:-1] + bytes([PING_REQ[-1] ^ 0xFF])
    frames = parser.feed(b"\x00\xef\xfe\xff" + bad + PING_REQ[:3])
    assert frames == []
    assert parser.feed(PING_REQ[3:]) == [Frame(CommandType.SREQ, Subsystem.SYS, 0x01)]
    assert parser.bad_frames == 1 and parser.skipped_bytes >= 2


def test_a_payload_over_250_bytes_cannot_be_encoded() -> None:
    with pytest.raises(FrameError, match="exceeds 250"):
        Frame(CommandType.AREQ, Subsystem.AF, 0x81, bytes(251)).encode()


@given(st.binary(max_size=600))
def test_the_parser_never_raises_and_frames_reencode_to_their_bytes(data: bytes) -> None:
    parser = FrameParser()
    for frame in parser.feed(data):
        assert frame.encode() in data


@given(st.lists(st.binary(max_size=260), max_size=5))
def test_any_byte_stream_splits_into_the_same_frames(chunks: list[bytes]) -> None:
    whole = b"".join(chunks)
    one = FrameParser().feed(whole)
    parser = FrameParser()
    pieces = [f for chunk in chunks for f in parser.feed(chunk)]
    assert pieces == one


def _coordinator() -> tuple[ZnpCoordinator, list[Frame]]:
    sent: list[Frame] = []
    nv = nvm.blank(bytes(8))
    return ZnpCoordinator(nv, eui64("00:12:4b:00:00:00:00:01"), sent.append, lambda: None), sent


def test_an_unknown_request_gets_the_rpc_error_and_is_counted() -> None:
    coordinator, sent = _coordinator()
    coordinator.handle(Frame(CommandType.SREQ, Subsystem.MAC, 0x42, b"\x01"))
    assert sent == [Frame(CommandType.SRSP, Subsystem.RPC_ERROR, 0x00, bytes([0x02, 0x22, 0x42]))]
    assert coordinator.unhandled == {(CommandType.SREQ, Subsystem.MAC, 0x42): 1}


def test_a_short_request_gets_the_invalid_length_error() -> None:
    coordinator, sent = _coordinator()
    coordinator.handle(Frame(CommandType.SREQ, Subsystem.SYS, 0x13, b"\x01"))  # OSAL NV length: 2 bytes
    assert sent == [Frame(CommandType.SRSP, Subsystem.RPC_ERROR, 0x00, bytes([0x04, 0x21, 0x13]))]


def test_osal_nv_item_round_trip() -> None:
    coordinator, sent = _coordinator()
    coordinator.handle(Frame(CommandType.SREQ, Subsystem.SYS, 0x07, bytes.fromhex("5f00010001aa")))
    coordinator.handle(Frame(CommandType.SREQ, Subsystem.SYS, 0x1C, bytes.fromhex("5f000000")))
    assert [f.payload for f in sent] == [b"\x09", b"\x00\x01\xaa"]  # created ("uninit"), then read


@settings(max_examples=300)
@given(
    st.sampled_from([CommandType.SREQ, CommandType.AREQ]),
    st.sampled_from([Subsystem.SYS, Subsystem.UTIL, Subsystem.ZDO, Subsystem.AF, Subsystem.APP_CNF]),
    st.integers(0, 255),
    st.binary(max_size=64),
)
def test_any_request_is_answered_or_ignored_never_crashes(
    kind: int, subsystem: int, command: int, payload: bytes
) -> None:
    async def run() -> list[Frame]:
        coordinator, sent = _coordinator()
        coordinator.handle(Frame(kind, subsystem, command, payload))
        await asyncio.sleep(0)
        return sent

    sent = asyncio.run(run())
    if kind == CommandType.SREQ:
        assert [f for f in sent if f.type == CommandType.SRSP], "an SREQ always gets an SRSP"
    for frame in sent:
        frame.encode()


def test_reader_reports_a_short_payload() -> None:
    with pytest.raises(PayloadError, match="needs 2"):
        Reader(b"\x01").u16()


async def test_the_standalone_emulator_prints_listening_and_serves(tmp_path: Path) -> None:
    state = tmp_path / "znp.json"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "radios.sim.znp",
        "--listen",
        "127.0.0.1:0",
        "--state",
        str(state),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        assert "listening" in line
        host, port = line.strip().rsplit("socket://", 1)[1].rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(PING_REQ)
        answer = FrameParser().feed(await asyncio.wait_for(reader.readexactly(len(PING_RSP)), 10))
        assert answer == [Frame(CommandType.SRSP, Subsystem.SYS, 0x01, b"\x7f\x05")]
        writer.close()
        await writer.wait_closed()
    finally:
        signal_child(process, signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 10) == 0
    assert state.stat().st_mode & 0o777 == 0o600
