"""Nodes and the network: protocol info, node info, inclusion, exclusion, failed nodes."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import IntEnum, IntFlag
from typing import Any, ClassVar, Self

from radios.zwave.frame import FrameType
from radios.zwave.messages.base import (
    FunctionId,
    Message,
    Request,
    incoming,
    incoming_variant,
    need,
    outgoing,
)
from radios.zwave.schema import (
    U8,
    U32,
    Bits,
    Bool,
    Custom,
    Enum,
    Field,
    Flag,
    Optional,
    Reader,
    Reserved,
    Schema,
)
from radios.zwave.transaction import Completion


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """A node information frame (NIF): device classes and the command classes it supports."""

    basic: int
    generic: int
    specific: int
    command_classes: tuple[int, ...]

    def to_bytes(self) -> bytes:
        """basic, generic, specific, CCs (without the length byte)."""
        return bytes((self.basic, self.generic, self.specific, *self.command_classes))

    @classmethod
    def from_bytes(cls, data: bytes) -> NodeInfo:
        """Parse basic, generic, specific, CCs; a CC list marker (0xEF) ends the supported list."""
        need(data, 3, "node information frame")
        ccs = data[3:]
        mark = ccs.find(b"\xef")
        if mark >= 0:
            ccs = ccs[:mark]
        return cls(data[0], data[1], data[2], tuple(ccs))


class NodeInfoField(Field):
    """A length byte and a NIF (`info`); absent, or shorter than the three class bytes, is None."""

    def read(self, r: Reader, values: dict[str, Any]) -> None:
        length = r.byte("node info length") if r.remaining else 0
        if length >= 3:
            values["info"] = NodeInfo.from_bytes(r.take(length, "node info"))

    def write(self, obj: Any, out: bytearray) -> None:
        nif = obj.info.to_bytes() if obj.info is not None else b""
        out.append(len(nif))
        out += nif


def _read_callback(r: Reader, values: dict[str, Any]) -> None:
    # A request parsed back (emulators): callback id 0 is the final STOP that gets no callback.
    values["callback"] = values["session_id"] != 0


def _write_nothing(obj: Any, out: bytearray) -> None:
    return


# --- node protocol info ---------------------------------------------------------------------


@outgoing
@dataclass(frozen=True, slots=True)
class GetNodeProtocolInfoRequest(Request):
    """Ask what the controller knows about a node: listening, routing, device class."""

    function: ClassVar[FunctionId] = FunctionId.GET_NODE_PROTOCOL_INFO
    expects_response: ClassVar[bool] = True
    node_id: int

    schema = (U8("node_id"),)


@incoming
@dataclass(frozen=True, slots=True)
class GetNodeProtocolInfoResponse(Message):
    """Protocol facts about a node; generic class 0 means the controller does not know the node."""

    function: ClassVar[FunctionId] = FunctionId.GET_NODE_PROTOCOL_INFO
    frame_type: ClassVar[FrameType] = FrameType.RESPONSE
    listening: bool
    routing: bool
    frequent_listening: bool
    basic: int
    generic: int
    specific: int

    # capability byte: listening|routing|speed bits (0x13 written: 40k/100k, as real sticks report);
    # security byte: FLiRS 250/1000 ms bits (we write 1000 ms); a reserved byte; the device classes.
    schema = (
        Bits(Flag("listening", 0x80), Flag("routing", 0x40), fixed=0x13),
        Bits(Flag("frequent_listening", 0x60, 0x20)),
        Reserved(),
        U8("basic"),
        U8("generic"),
        U8("specific"),
    )


# --- node information ------------------------------------------------------------------------


@outgoing
@dataclass(frozen=True, slots=True)
class RequestNodeInfoRequest(Request):
    """Ask a node for its NIF; it arrives as ApplicationUpdate(NODE_INFO_RECEIVED)."""

    function: ClassVar[FunctionId] = FunctionId.REQUEST_NODE_INFO
    expects_response: ClassVar[bool] = True
    node_id: int

    @property
    def completion(self) -> Completion:
        """The stick is busy until the node's NIF arrives, or the notice that it did not."""
        return Completion(
            FunctionId.APPLICATION_UPDATE,
            (
                bytes((UpdateState.NODE_INFO_RECEIVED, self.node_id)),
                bytes((UpdateState.NODE_INFO_REQ_FAILED,)),
            ),
        )

    schema = (U8("node_id"),)


@incoming
@dataclass(frozen=True, slots=True)
class RequestNodeInfoResponse(Message):
    """Whether the controller sent the request."""

    function: ClassVar[FunctionId] = FunctionId.REQUEST_NODE_INFO
    frame_type: ClassVar[FrameType] = FrameType.RESPONSE
    sent: bool

    schema = (Bool("sent"),)


class UpdateState(IntEnum):
    """ApplicationUpdate status byte."""

    SUC_ID = 0x10
    DELETE_DONE = 0x20
    NEW_ID_ASSIGNED = 0x40
    ROUTING_PENDING = 0x80
    NODE_INFO_REQ_FAILED = 0x81
    NODE_INFO_REQ_DONE = 0x82
    NODE_INFO_RECEIVED = 0x84
    SMART_START_HOME_ID = 0x85  # a SmartStart node asks to be included (SmartStartRequest)
    SMART_START_NODE_INFO = 0x86  # an included SmartStart node powered up
    SMART_START_HOME_ID_LR = 0x87  # the same over Z-Wave Long Range (not handled: classic Z-Wave only)


@incoming
@dataclass(frozen=True, slots=True)
class ApplicationUpdate(Message):
    """Unsolicited: a node's NIF arrived (it woke up, or we asked), or a request for one failed."""

    function: ClassVar[FunctionId] = FunctionId.APPLICATION_UPDATE
    state: int
    node_id: int
    info: NodeInfo | None = None

    schema = (U8("state"), U8("node_id"), NodeInfoField())


def _read_smart_start_info(r: Reader, values: dict[str, Any]) -> None:
    # Length, basic, generic, specific, CCs. zwave-js reads the length as the CC list's; taking at
    # most that many of the bytes after the classes also reads a length that counts the classes.
    length = r.byte("node info length")
    classes = r.take(3, "device classes")
    values["info"] = NodeInfo.from_bytes(classes + r.rest()[:length])


def _write_smart_start_info(obj: Any, out: bytearray) -> None:
    info = obj.info
    out.append(len(info.command_classes))
    out += info.to_bytes()


@incoming_variant(UpdateState.SMART_START_HOME_ID)
@dataclass(frozen=True, slots=True)
class SmartStartRequest(Message):
    """Unsolicited, in SmartStart listen mode: a node not in any network asks to be included.

    `nwi_home_id` is derived from the node's DSK (bytes 8-11, top two bits set, lowest bit cleared);
    the host looks it up in its provisioning list. 8-bit node ids (the source node id is 0)."""

    function: ClassVar[FunctionId] = FunctionId.APPLICATION_UPDATE
    state: int
    node_id: int
    rx_status: int
    nwi_home_id: int
    info: NodeInfo

    schema = (
        U8("state"),
        U8("node_id"),
        U8("rx_status"),
        U32("nwi_home_id"),
        Custom(_read_smart_start_info, _write_smart_start_info),
    )


# --- inclusion / exclusion -------------------------------------------------------------------


class AddRemoveMode(IntFlag):
    """AddNodeToNetwork / RemoveNodeFromNetwork mode byte (low nibble: the mode; high bits: flags)."""

    ANY = 0x01
    STOP = 0x05
    SMART_START_DSK = 0x08  # include the SmartStart node with these home ids (AddNodeDskToNetworkRequest)
    SMART_START_LISTEN = 0x09  # report SmartStart inclusion requests (SmartStartRequest); no callback
    NETWORK_WIDE = 0x40
    HIGH_POWER = 0x80


class AddNodeStatus(IntEnum):
    """AddNodeToNetwork callback status."""

    LEARN_READY = 0x01
    NODE_FOUND = 0x02
    ADDING_SLAVE = 0x03
    ADDING_CONTROLLER = 0x04
    PROTOCOL_DONE = 0x05
    DONE = 0x06
    FAILED = 0x07


class RemoveNodeStatus(IntEnum):
    """RemoveNodeFromNetwork callback status."""

    LEARN_READY = 0x01
    NODE_FOUND = 0x02
    REMOVING_SLAVE = 0x03
    REMOVING_CONTROLLER = 0x04
    DONE = 0x06
    FAILED = 0x07


@dataclass(frozen=True, slots=True)
class _AddRemoveRequest(Request):
    """Shared shape of the inclusion / exclusion requests: mode and session (the callback id)."""

    mode: AddRemoveMode
    session_id: int = 0
    #: False for the final STOP that the controller does not answer (callback id 0).
    callback: bool = True

    @property
    def wants_callback(self) -> bool:
        return self.callback

    @property
    def callback_id(self) -> int | None:
        return self.session_id or None

    def with_callback_id(self, callback_id: int) -> Self:
        return dataclasses.replace(self, session_id=callback_id)

    schema: ClassVar[Schema] = (
        Enum("mode", AddRemoveMode),
        U8("session_id"),
        Custom(_read_callback, _write_nothing),
    )


@outgoing
@dataclass(frozen=True, slots=True)
class AddNodeToNetworkRequest(_AddRemoveRequest):
    """Start (mode ANY) or stop (mode STOP) inclusion; progress arrives as callbacks."""

    function: ClassVar[FunctionId] = FunctionId.ADD_NODE_TO_NETWORK


@dataclass(frozen=True, slots=True)
class AddNodeDskToNetworkRequest(_AddRemoveRequest):
    """Include the SmartStart node whose DSK gives these home ids; progress as AddNodeToNetwork's.

    NWI home id: DSK bytes 8-11 with the top two bits set and the lowest bit cleared; auth home id:
    DSK bytes 12-15 with the top two bits cleared and the lowest bit set (as zwave-js derives them)."""

    function: ClassVar[FunctionId] = FunctionId.ADD_NODE_TO_NETWORK
    nwi_home_id: int = 0
    auth_home_id: int = 0

    schema: ClassVar[Schema] = (
        Enum("mode", AddRemoveMode),
        U8("session_id"),
        U32("nwi_home_id"),
        U32("auth_home_id"),
    )


@dataclass(frozen=True, slots=True)
class _AddRemoveCallback(Message):
    """Shared shape of the inclusion / exclusion callbacks: session, status, node, NIF."""

    session_id: int
    status: int
    node_id: int = 0
    info: NodeInfo | None = None

    schema = (U8("session_id"), U8("status"), Optional(U8("node_id")), NodeInfoField())


@incoming
@dataclass(frozen=True, slots=True)
class AddNodeToNetworkCallback(_AddRemoveCallback):
    """Inclusion progress (status is an AddNodeStatus)."""

    function: ClassVar[FunctionId] = FunctionId.ADD_NODE_TO_NETWORK


@outgoing
@dataclass(frozen=True, slots=True)
class RemoveNodeFromNetworkRequest(_AddRemoveRequest):
    """Start (mode ANY) or stop (mode STOP) exclusion; progress arrives as callbacks."""

    function: ClassVar[FunctionId] = FunctionId.REMOVE_NODE_FROM_NETWORK


@incoming
@dataclass(frozen=True, slots=True)
class RemoveNodeFromNetworkCallback(_AddRemoveCallback):
    """Exclusion progress (status is a RemoveNodeStatus)."""

    function: ClassVar[FunctionId] = FunctionId.REMOVE_NODE_FROM_NETWORK


# --- failed nodes ----------------------------------------------------------------------------


@outgoing
@dataclass(frozen=True, slots=True)
class IsFailedNodeRequest(Request):
    """Ask whether the controller has marked a node as failed."""

    function: ClassVar[FunctionId] = FunctionId.IS_FAILED_NODE
    expects_response: ClassVar[bool] = True
    node_id: int

    schema = (U8("node_id"),)


@incoming
@dataclass(frozen=True, slots=True)
class IsFailedNodeResponse(Message):
    """True if the node is on the failed list."""

    function: ClassVar[FunctionId] = FunctionId.IS_FAILED_NODE
    frame_type: ClassVar[FrameType] = FrameType.RESPONSE
    failed: bool

    schema = (Bool("failed"),)


class RemoveFailedStatus(IntEnum):
    """RemoveFailedNode callback status."""

    NODE_OK = 0x00  # the node answered: it is not failed, so it was not removed
    NODE_REMOVED = 0x01
    NODE_NOT_REMOVED = 0x02


@outgoing
@dataclass(frozen=True, slots=True)
class RemoveFailedNodeRequest(Request):
    """Remove a node the controller considers failed."""

    function: ClassVar[FunctionId] = FunctionId.REMOVE_FAILED_NODE
    expects_response: ClassVar[bool] = True
    zero_is_accepted: ClassVar[bool] = True
    node_id: int
    session_id: int = 0

    @property
    def wants_callback(self) -> bool:
        return True

    @property
    def callback_id(self) -> int | None:
        return self.session_id or None

    def with_callback_id(self, callback_id: int) -> Self:
        return dataclasses.replace(self, session_id=callback_id)

    schema = (U8("node_id"), U8("session_id"))


@incoming
@dataclass(frozen=True, slots=True)
class RemoveFailedNodeResponse(Message):
    """0 = the removal started; otherwise bits saying why not."""

    function: ClassVar[FunctionId] = FunctionId.REMOVE_FAILED_NODE
    frame_type: ClassVar[FrameType] = FrameType.RESPONSE
    result: int

    schema = (U8("result"),)


@incoming
@dataclass(frozen=True, slots=True)
class RemoveFailedNodeCallback(Message):
    """The outcome of a RemoveFailedNode."""

    function: ClassVar[FunctionId] = FunctionId.REMOVE_FAILED_NODE
    session_id: int
    status: int

    schema = (U8("session_id"), U8("status"))
