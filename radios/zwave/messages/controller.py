"""Controller start-up messages: version, capabilities, ids, init data, soft reset."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntFlag
from typing import ClassVar, Self

from hub_core.errors import ProtocolError
from radios.zwave.frame import FrameType
from radios.zwave.messages.base import (
    FunctionId,
    Message,
    Request,
    incoming,
    need,
    node_bitmask,
    outgoing,
    to_node_bitmask,
)
from radios.zwave.transaction import Completion

NODE_BITMASK_LENGTH = 29  # 232 classic nodes


@outgoing
@dataclass(frozen=True, slots=True)
class GetControllerVersionRequest(Request):
    """Ask for the protocol version string and library type."""

    function: ClassVar[FunctionId] = FunctionId.GET_CONTROLLER_VERSION
    expects_response: ClassVar[bool] = True


@incoming
@dataclass(frozen=True, slots=True)
class GetControllerVersionResponse(Message):
    """`Z-Wave x.yy` and the library type (1 = static controller, 7 = bridge ...)."""

    function: ClassVar[FunctionId] = FunctionId.GET_CONTROLLER_VERSION
    frame_type: ClassVar[FrameType] = FrameType.RESPONSE
    version: str
    library_type: int

    def to_payload(self) -> bytes:
        return self.version.encode("ascii", "replace") + b"\x00" + bytes((self.library_type,))

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        end = payload.find(b"\x00")
        if end < 0 or end + 1 >= len(payload):
            raise ProtocolError("GetControllerVersion response: no NUL-terminated version and library type")
        return cls(payload[:end].decode("ascii", "replace"), payload[end + 1])


@outgoing
@dataclass(frozen=True, slots=True)
class GetSerialApiCapabilitiesRequest(Request):
    """Ask which functions the stick supports and who made it."""

    function: ClassVar[FunctionId] = FunctionId.GET_SERIAL_API_CAPABILITIES
    expects_response: ClassVar[bool] = True


@incoming
@dataclass(frozen=True, slots=True)
class GetSerialApiCapabilitiesResponse(Message):
    """Firmware version, manufacturer/product ids and the supported function ids."""

    function: ClassVar[FunctionId] = FunctionId.GET_SERIAL_API_CAPABILITIES
    frame_type: ClassVar[FrameType] = FrameType.RESPONSE
    firmware_version: str
    manufacturer_id: int
    product_type: int
    product_id: int
    supported_functions: tuple[int, ...]

    def to_payload(self) -> bytes:
        major, _, minor = self.firmware_version.partition(".")
        mask = bytearray(32)
        for function in self.supported_functions:
            mask[(function - 1) // 8] |= 1 << ((function - 1) % 8)
        return (
            bytes((int(major), int(minor or 0)))
            + self.manufacturer_id.to_bytes(2, "big")
            + self.product_type.to_bytes(2, "big")
            + self.product_id.to_bytes(2, "big")
            + bytes(mask)
        )

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 8, "GetSerialApiCapabilities response")
        return cls(
            f"{payload[0]}.{payload[1]}",
            int.from_bytes(payload[2:4], "big"),
            int.from_bytes(payload[4:6], "big"),
            int.from_bytes(payload[6:8], "big"),
            node_bitmask(payload[8:40]),
        )


@outgoing
@dataclass(frozen=True, slots=True)
class MemoryGetIdRequest(Request):
    """Ask for the home id and the controller's own node id (GetControllerId)."""

    function: ClassVar[FunctionId] = FunctionId.MEMORY_GET_ID
    expects_response: ClassVar[bool] = True


@incoming
@dataclass(frozen=True, slots=True)
class MemoryGetIdResponse(Message):
    """The network's home id and the controller's node id."""

    function: ClassVar[FunctionId] = FunctionId.MEMORY_GET_ID
    frame_type: ClassVar[FrameType] = FrameType.RESPONSE
    home_id: int
    node_id: int

    def to_payload(self) -> bytes:
        return self.home_id.to_bytes(4, "big") + bytes((self.node_id,))

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 5, "MemoryGetId response")
        return cls(int.from_bytes(payload[:4], "big"), payload[4])


@outgoing
@dataclass(frozen=True, slots=True)
class GetSerialApiInitDataRequest(Request):
    """Ask for the API version, the controller role and the list of nodes in the network."""

    function: ClassVar[FunctionId] = FunctionId.GET_SERIAL_API_INIT_DATA
    expects_response: ClassVar[bool] = True


@incoming
@dataclass(frozen=True, slots=True)
class GetSerialApiInitDataResponse(Message):
    """API version, capability bits and the node ids the controller knows."""

    function: ClassVar[FunctionId] = FunctionId.GET_SERIAL_API_INIT_DATA
    frame_type: ClassVar[FrameType] = FrameType.RESPONSE
    api_version: int
    capabilities: int
    node_ids: tuple[int, ...]
    chip_type: int = 0
    chip_version: int = 0

    def to_payload(self) -> bytes:
        return (
            bytes((self.api_version, self.capabilities, NODE_BITMASK_LENGTH))
            + to_node_bitmask(self.node_ids, NODE_BITMASK_LENGTH)
            + bytes((self.chip_type, self.chip_version))
        )

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 3, "GetSerialApiInitData response")
        length = payload[2]
        need(payload, 3 + length, "GetSerialApiInitData response node list")
        rest = payload[3 + length :]
        return cls(
            payload[0],
            payload[1],
            node_bitmask(payload[3 : 3 + length]),
            rest[0] if rest else 0,
            rest[1] if len(rest) > 1 else 0,
        )


class ControllerCapability(IntFlag):
    """GetControllerCapabilities bits."""

    SECONDARY = 0x01
    OTHER_NETWORK = 0x02
    SIS_PRESENT = 0x04
    WAS_REAL_PRIMARY = 0x08
    SUC = 0x10


@outgoing
@dataclass(frozen=True, slots=True)
class GetControllerCapabilitiesRequest(Request):
    """Ask for the controller's role (primary, SUC, ...)."""

    function: ClassVar[FunctionId] = FunctionId.GET_CONTROLLER_CAPABILITIES
    expects_response: ClassVar[bool] = True


@incoming
@dataclass(frozen=True, slots=True)
class GetControllerCapabilitiesResponse(Message):
    """The controller's role bits."""

    function: ClassVar[FunctionId] = FunctionId.GET_CONTROLLER_CAPABILITIES
    frame_type: ClassVar[FrameType] = FrameType.RESPONSE
    capabilities: ControllerCapability

    def to_payload(self) -> bytes:
        return bytes((int(self.capabilities),))

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 1, "GetControllerCapabilities response")
        return cls(ControllerCapability(payload[0]))


@outgoing
@dataclass(frozen=True, slots=True)
class SoftResetRequest(Request):
    """Restart the stick's firmware (no response; 700/800 series announce SerialApiStarted)."""

    function: ClassVar[FunctionId] = FunctionId.SOFT_RESET

    @property
    def completion(self) -> Completion:
        """The restarted stick announces itself (500 series stay silent: the wait times out)."""
        return Completion(FunctionId.SERIAL_API_STARTED, (b"",))


@incoming
@dataclass(frozen=True, slots=True)
class SerialApiStarted(Message):
    """Unsolicited: the stick's firmware (re)started; `wakeup_reason` says why (0 = reset)."""

    function: ClassVar[FunctionId] = FunctionId.SERIAL_API_STARTED
    wakeup_reason: int
    watchdog_started: bool = False

    def to_payload(self) -> bytes:
        # reason, watchdog, device option mask, generic, specific, CC list length (0)
        return bytes((self.wakeup_reason, int(self.watchdog_started), 0x01, 0x02, 0x01, 0x00))

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 2, "SerialApiStarted")
        return cls(payload[0], bool(payload[1]))
