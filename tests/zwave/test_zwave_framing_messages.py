"""Serial API messages: byte vectors both ways, and fuzzing of every parser (only ProtocolError)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub_core.errors import ProtocolError
from radios.zwave.frame import Frame, FrameType
from radios.zwave.messages import (
    AddNodeStatus,
    AddNodeToNetworkCallback,
    AddNodeToNetworkRequest,
    AddRemoveMode,
    ApplicationCommandHandler,
    ApplicationUpdate,
    FunctionId,
    GetControllerVersionResponse,
    GetNodeProtocolInfoResponse,
    GetSerialApiCapabilitiesResponse,
    GetSerialApiInitDataResponse,
    MemoryGetIdResponse,
    Message,
    NodeInfo,
    RemoveFailedNodeRequest,
    SendDataCallback,
    SendDataRequest,
    SendDataResponse,
    TransmitOptions,
    TransmitStatus,
    UnknownMessage,
    UpdateState,
    parse_frame,
    parse_host_frame,
)
from radios.zwave.messages.base import _HOST_REGISTRY, _REGISTRY

# (wire bytes of the whole frame, message); annotated per byte.
INCOMING: list[tuple[str, Message]] = [
    # SOF LEN RES 0x15 "Z-Wave 7.18" NUL lib=7 CHK
    ("01 10 01 15 5a2d5761766520372e3138 00 07 9e", GetControllerVersionResponse("Z-Wave 7.18", 7)),
    # SOF LEN RES 0x20 home id e5a1c0de, node 1, CHK
    ("01 08 01 20 e5a1c0de 01 8d", MemoryGetIdResponse(0xE5A1C0DE, 1)),
    # SOF LEN RES 0x13 RetVal=1 CHK
    ("01 04 01 13 01 e8", SendDataResponse(True)),
    # SOF LEN REQ 0x13 callback 7, TxStatus NO_ACK, ticks 0x0002, CHK
    ("01 07 00 13 07 01 00 02 ef", SendDataCallback(7, TransmitStatus.NO_ACK, 2)),
    # SOF LEN REQ 0x04 rx status 0, node 2, len 3, 25 03 ff (Binary Switch Report on), CHK
    ("01 09 00 04 00 02 03 25 03 ff 2a", ApplicationCommandHandler(0, 2, b"\x25\x03\xff")),
    # SOF LEN REQ 0x49 NODE_INFO_RECEIVED node 6, len 5: basic 4 generic 7 specific 1, CCs 71 80, CHK
    (
        "01 0b 00 49 84 06 05 04 07 01 71 80 c9",
        ApplicationUpdate(UpdateState.NODE_INFO_RECEIVED, 6, NodeInfo(4, 7, 1, (0x71, 0x80))),
    ),
    # SOF LEN REQ 0x4a callback 1, ADDING_SLAVE, node 3, len 4: 04 11 01 26, CHK
    (
        "01 0b 00 4a 01 03 03 04 04 11 01 26 89",
        AddNodeToNetworkCallback(1, AddNodeStatus.ADDING_SLAVE, 3, NodeInfo(4, 0x11, 1, (0x26,))),
    ),
    # SOF LEN RES 0x41 capability 0x93 (listening, routing), security 0, reserved, 04 10 01, CHK
    (
        "01 09 01 41 d3 00 00 04 10 01 70",
        GetNodeProtocolInfoResponse(True, True, False, 4, 0x10, 1),
    ),
]

OUTGOING: list[tuple[str, Message]] = [
    # SOF LEN REQ 0x13 node 2, len 3, 25 01 ff, options 0x25, callback 9, CHK
    (
        "01 0a 00 13 02 03 25 01 ff 25 09 10",
        SendDataRequest(2, b"\x25\x01\xff", TransmitOptions.default(), 9),
    ),
    # SOF LEN REQ 0x4a mode ANY|HIGH_POWER|NETWORK_WIDE, callback 1, CHK
    ("01 05 00 4a c1 01 70", AddNodeToNetworkRequest(AddRemoveMode.ANY | 0xC0, 1)),  # type: ignore[arg-type]
    # SOF LEN REQ 0x61 node 5, callback 3, CHK
    ("01 05 00 61 05 03 9d", RemoveFailedNodeRequest(5, 3)),
]


def wire(hexstr: str) -> bytes:
    return bytes.fromhex(hexstr.replace(" ", ""))


@pytest.mark.parametrize(("hexstr", "message"), INCOMING)
def test_incoming_vectors(hexstr: str, message: Message) -> None:
    data = wire(hexstr)
    frame = Frame.from_bytes(data)
    assert parse_frame(frame) == message
    assert message.to_frame().to_bytes() == data


@pytest.mark.parametrize(("hexstr", "message"), OUTGOING)
def test_outgoing_vectors(hexstr: str, message: Message) -> None:
    data = wire(hexstr)
    assert message.to_frame().to_bytes() == data
    assert parse_host_frame(Frame.from_bytes(data)) == message


def test_capabilities_and_init_data_roundtrip() -> None:
    caps = GetSerialApiCapabilitiesResponse("7.18", 0x0000, 0x0004, 0x0001, (0x02, 0x13, 0x4A))
    assert parse_frame(caps.to_frame()) == caps
    init = GetSerialApiInitDataResponse(9, 8, (1, 2, 17, 232), 7, 0)
    assert parse_frame(init.to_frame()) == init


def test_unknown_function_is_not_an_error() -> None:
    frame = Frame(FrameType.REQUEST, 0xEE, b"\x01")
    assert parse_frame(frame) == UnknownMessage(frame)
    assert parse_host_frame(frame) == UnknownMessage(frame)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (Frame(FrameType.RESPONSE, FunctionId.GET_CONTROLLER_VERSION, b"Z-Wave"), "NUL"),
        (Frame(FrameType.REQUEST, FunctionId.SEND_DATA, b"\x01"), "SendDataCallback: needs 2 payload bytes"),
        (Frame(FrameType.REQUEST, FunctionId.SEND_DATA, b"\x01\x09"), "TxStatus"),
        (Frame(FrameType.REQUEST, FunctionId.APPLICATION_COMMAND_HANDLER, b"\x00\x02\x05\x25"), "for data"),
        (Frame(FrameType.REQUEST, FunctionId.APPLICATION_COMMAND_HANDLER, b"\x00\x02\x00"), "empty"),
        (Frame(FrameType.RESPONSE, FunctionId.MEMORY_GET_ID, b"\x01\x02"), "MemoryGetId"),
    ],
)
def test_malformed_payloads_name_the_problem(frame: Frame, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        parse_frame(frame)


@given(st.sampled_from(sorted(_REGISTRY)), st.binary(max_size=64))
@settings(max_examples=1500, deadline=None)
def test_fuzz_every_incoming_parser_raises_only_protocol_error(key: tuple[int, int], payload: bytes) -> None:
    frame_type, function = key
    try:
        message = parse_frame(Frame(FrameType(frame_type), function, payload))
    except ProtocolError:
        return
    assert isinstance(message, Message)
    # whatever parsed serialises again without error (the emulator relies on it)
    assert message.to_frame().function == function


@given(st.sampled_from(sorted(_HOST_REGISTRY)), st.binary(max_size=64))
@settings(max_examples=800, deadline=None)
def test_fuzz_every_host_request_parser_raises_only_protocol_error(function: int, payload: bytes) -> None:
    try:
        request = parse_host_frame(Frame(FrameType.REQUEST, function, payload))
    except ProtocolError:
        return
    assert isinstance(request, Message)
    assert request.to_frame().function == function
