"""The shape every Serial API message shares, the function ids, and frame -> message parsing.

Rules of this file: messages are frozen dataclasses; a class declares its function id, its frame type,
what it expects back (a response? a callback?) and its payload layout once, as `schema`
(radios/zwave/schema.py), which `to_payload`/`from_payload` read and write. `from_payload` raises
only ProtocolError.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, Self, TypeVar

from hub_core.errors import ProtocolError
from radios.zwave.frame import Frame, FrameType
from radios.zwave.schema import Schema, decode, encode
from radios.zwave.transaction import Completion


class FunctionId(IntEnum):
    """Serial API function ids (INS12350 / Z-Wave host API specification)."""

    GET_SERIAL_API_INIT_DATA = 0x02
    APPLICATION_COMMAND_HANDLER = 0x04
    GET_CONTROLLER_CAPABILITIES = 0x05
    GET_SERIAL_API_CAPABILITIES = 0x07
    SOFT_RESET = 0x08
    SERIAL_API_STARTED = 0x0A
    SEND_DATA = 0x13
    GET_CONTROLLER_VERSION = 0x15
    SEND_DATA_ABORT = 0x16
    MEMORY_GET_ID = 0x20
    GET_NODE_PROTOCOL_INFO = 0x41
    APPLICATION_UPDATE = 0x49
    ADD_NODE_TO_NETWORK = 0x4A
    REMOVE_NODE_FROM_NETWORK = 0x4B
    REQUEST_NODE_INFO = 0x60
    REMOVE_FAILED_NODE = 0x61
    IS_FAILED_NODE = 0x62


def need(payload: bytes, length: int, what: str) -> None:
    """Raise ProtocolError unless `payload` has at least `length` bytes."""
    if len(payload) < length:
        raise ProtocolError(f"{what}: payload of {len(payload)} bytes, need at least {length}")


class Message:
    """A Serial API message: one frame's function id, type and payload, as data."""

    __slots__ = ()
    function: ClassVar[FunctionId]
    frame_type: ClassVar[FrameType] = FrameType.REQUEST
    #: The payload layout after the function id, in wire order.
    schema: ClassVar[Schema] = ()

    def to_payload(self) -> bytes:
        """The payload bytes after the function id."""
        return encode(self, self.schema)

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        """Parse a payload; raise ProtocolError if it is malformed."""
        return decode(cls, cls.schema, payload, cls.__name__)

    def to_frame(self) -> Frame:
        """The whole frame."""
        return Frame(self.frame_type, self.function, self.to_payload())


class Request(Message):
    """A host -> controller request."""

    __slots__ = ()
    #: The controller answers with a response frame of the same function id.
    expects_response: ClassVar[bool] = False
    #: RetVal 0 means "accepted" (only RemoveFailedNode); otherwise non-zero means accepted.
    zero_is_accepted: ClassVar[bool] = False

    @property
    def wants_callback(self) -> bool:
        """True if the controller will send a callback (the driver then assigns a callback id)."""
        return False

    @property
    def callback_id(self) -> int | None:
        """The callback id this request carries, or None if it gets no callback."""
        return None

    @property
    def completion(self) -> Completion | None:
        """The unsolicited frame that ends this request (the stick is busy until then), if any."""
        return None

    def with_callback_id(self, callback_id: int) -> Self:
        """A copy carrying `callback_id` (requests without callbacks return themselves)."""
        return self


@dataclass(frozen=True, slots=True)
class UnknownMessage:
    """A frame whose function id (or type) we do not handle; kept for logging."""

    frame: Frame


_REGISTRY: dict[tuple[FrameType, int], type[Message]] = {}
_HOST_REGISTRY: dict[int, type[Request]] = {}
#: Frames one function id carries in several layouts, told apart by the first payload byte
#: (ApplicationUpdate: a NIF, or a SmartStart node's inclusion request).
_VARIANTS: dict[tuple[FrameType, int, int], type[Message]] = {}
_VARIANT_FUNCTIONS: set[int] = set()
M = TypeVar("M", bound=type[Message])
R = TypeVar("R", bound=type[Request])


def incoming(cls: M) -> M:
    """Class decorator: frames of this class's type and function id parse to this class."""
    _REGISTRY[(cls.frame_type, cls.function)] = cls
    return cls


def incoming_variant(first: int) -> Callable[[M], M]:
    """Class decorator: frames of this class's type and function id whose payload starts with `first`."""

    def register(cls: M) -> M:
        _VARIANTS[(cls.frame_type, cls.function, first)] = cls
        _VARIANT_FUNCTIONS.add(cls.function)
        return cls

    return register


def outgoing(cls: R) -> R:
    """Class decorator: host request frames of this function id parse to this class (for emulators)."""
    _HOST_REGISTRY[cls.function] = cls
    return cls


def parse_host_frame(frame: Frame) -> Request | UnknownMessage:
    """The request a host frame carries; raise ProtocolError if its payload is malformed."""
    cls = _HOST_REGISTRY.get(frame.function) if frame.type is FrameType.REQUEST else None
    if cls is None:
        return UnknownMessage(frame)
    return cls.from_payload(frame.payload)


def parse_frame(frame: Frame) -> Message | UnknownMessage:
    """The message a controller frame carries; raise ProtocolError if its payload is malformed."""
    cls = None
    if frame.function in _VARIANT_FUNCTIONS and frame.payload:
        cls = _VARIANTS.get((frame.type, frame.function, frame.payload[0]))
    cls = cls or _REGISTRY.get((frame.type, frame.function))
    if cls is None:
        return UnknownMessage(frame)
    return cls.from_payload(frame.payload)


def node_bitmask(data: bytes, offset: int = 1) -> tuple[int, ...]:
    """Node ids set in a bitmask where bit 0 of byte 0 is node `offset`."""
    return tuple(
        offset + index * 8 + bit for index, byte in enumerate(data) for bit in range(8) if byte & (1 << bit)
    )


def to_node_bitmask(nodes: tuple[int, ...] | list[int], length: int) -> bytes:
    """Inverse of `node_bitmask` (offset 1) into `length` bytes."""
    out = bytearray(length)
    for node in nodes:
        out[(node - 1) // 8] |= 1 << ((node - 1) % 8)
    return bytes(out)
