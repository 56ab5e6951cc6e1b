"""Nodes and the network: protocol info, node info, inclusion, exclusion, failed nodes."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import IntEnum, IntFlag
from typing import ClassVar, Self

from radios.zwave.frame import FrameType
from radios.zwave.messages.base import FunctionId, Message, Request, incoming, need, outgoing
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


# --- node protocol info ---------------------------------------------------------------------


@outgoing
@dataclass(frozen=True, slots=True)
class GetNodeProtocolInfoRequest(Request):
    """Ask what the controller knows about a node: listening, routing, device class."""

    function: ClassVar[FunctionId] = FunctionId.GET_NODE_PROTOCOL_INFO
    expects_response: ClassVar[bool] = True
    node_id: int

    def to_payload(self) -> bytes:
        return bytes((self.node_id,))

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 1, "GetNodeProtocolInfo request")
        return cls(payload[0])


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

    def to_payload(self) -> bytes:
        capability = (0x80 if self.listening else 0) | (0x40 if self.routing else 0) | 0x13
        security = 0x20 if self.frequent_listening else 0  # FLiRS 1000 ms
        return bytes((capability, security, 0, self.basic, self.generic, self.specific))

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 6, "GetNodeProtocolInfo response")
        return cls(
            listening=bool(payload[0] & 0x80),
            routing=bool(payload[0] & 0x40),
            frequent_listening=bool(payload[1] & 0x60),
            basic=payload[3],
            generic=payload[4],
            specific=payload[5],
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

    def to_payload(self) -> bytes:
        return bytes((self.node_id,))

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 1, "RequestNodeInfo request")
        return cls(payload[0])


@incoming
@dataclass(frozen=True, slots=True)
class RequestNodeInfoResponse(Message):
    """Whether the controller sent the request."""

    function: ClassVar[FunctionId] = FunctionId.REQUEST_NODE_INFO
    frame_type: ClassVar[FrameType] = FrameType.RESPONSE
    sent: bool

    def to_payload(self) -> bytes:
        return bytes((int(self.sent),))

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 1, "RequestNodeInfo response")
        return cls(payload[0] != 0)


class UpdateState(IntEnum):
    """ApplicationUpdate status byte."""

    SUC_ID = 0x10
    DELETE_DONE = 0x20
    NEW_ID_ASSIGNED = 0x40
    ROUTING_PENDING = 0x80
    NODE_INFO_REQ_FAILED = 0x81
    NODE_INFO_REQ_DONE = 0x82
    NODE_INFO_RECEIVED = 0x84


@incoming
@dataclass(frozen=True, slots=True)
class ApplicationUpdate(Message):
    """Unsolicited: a node's NIF arrived (it woke up, or we asked), or a request for one failed."""

    function: ClassVar[FunctionId] = FunctionId.APPLICATION_UPDATE
    state: int
    node_id: int
    info: NodeInfo | None = None

    def to_payload(self) -> bytes:
        nif = self.info.to_bytes() if self.info is not None else b""
        return bytes((self.state, self.node_id, len(nif))) + nif

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 2, "ApplicationUpdate")
        length = payload[2] if len(payload) > 2 else 0
        info = None
        if length >= 3:
            need(payload, 3 + length, "ApplicationUpdate node info")
            info = NodeInfo.from_bytes(payload[3 : 3 + length])
        return cls(payload[0], payload[1], info)


# --- inclusion / exclusion -------------------------------------------------------------------


class AddRemoveMode(IntFlag):
    """AddNodeToNetwork / RemoveNodeFromNetwork mode byte."""

    ANY = 0x01
    STOP = 0x05
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

    def to_payload(self) -> bytes:
        return bytes((int(self.mode), self.session_id))

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 2, cls.__name__)
        return cls(AddRemoveMode(payload[0]), payload[1], payload[1] != 0)


@outgoing
@dataclass(frozen=True, slots=True)
class AddNodeToNetworkRequest(_AddRemoveRequest):
    """Start (mode ANY) or stop (mode STOP) inclusion; progress arrives as callbacks."""

    function: ClassVar[FunctionId] = FunctionId.ADD_NODE_TO_NETWORK


@dataclass(frozen=True, slots=True)
class _AddRemoveCallback(Message):
    """Shared shape of the inclusion / exclusion callbacks: session, status, node, NIF."""

    session_id: int
    status: int
    node_id: int = 0
    info: NodeInfo | None = None

    def to_payload(self) -> bytes:
        nif = self.info.to_bytes() if self.info is not None else b""
        return bytes((self.session_id, self.status, self.node_id, len(nif))) + nif

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 2, f"{cls.__name__}")
        node_id = payload[2] if len(payload) > 2 else 0
        length = payload[3] if len(payload) > 3 else 0
        info = None
        if length >= 3:
            need(payload, 4 + length, f"{cls.__name__} node info")
            info = NodeInfo.from_bytes(payload[4 : 4 + length])
        return cls(payload[0], payload[1], node_id, info)


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

    def to_payload(self) -> bytes:
        return bytes((self.node_id,))

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 1, "IsFailedNode request")
        return cls(payload[0])


@incoming
@dataclass(frozen=True, slots=True)
class IsFailedNodeResponse(Message):
    """True if the node is on the failed list."""

    function: ClassVar[FunctionId] = FunctionId.IS_FAILED_NODE
    frame_type: ClassVar[FrameType] = FrameType.RESPONSE
    failed: bool

    def to_payload(self) -> bytes:
        return bytes((int(self.failed),))

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 1, "IsFailedNode response")
        return cls(payload[0] != 0)


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

    def to_payload(self) -> bytes:
        return bytes((self.node_id, self.session_id))

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 2, "RemoveFailedNode request")
        return cls(payload[0], payload[1])


@incoming
@dataclass(frozen=True, slots=True)
class RemoveFailedNodeResponse(Message):
    """0 = the removal started; otherwise bits saying why not."""

    function: ClassVar[FunctionId] = FunctionId.REMOVE_FAILED_NODE
    frame_type: ClassVar[FrameType] = FrameType.RESPONSE
    result: int

    def to_payload(self) -> bytes:
        return bytes((self.result,))

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 1, "RemoveFailedNode response")
        return cls(payload[0])


@incoming
@dataclass(frozen=True, slots=True)
class RemoveFailedNodeCallback(Message):
    """The outcome of a RemoveFailedNode."""

    function: ClassVar[FunctionId] = FunctionId.REMOVE_FAILED_NODE
    session_id: int
    status: int

    def to_payload(self) -> bytes:
        return bytes((self.session_id, self.status))

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 2, "RemoveFailedNode callback")
        return cls(payload[0], payload[1])
