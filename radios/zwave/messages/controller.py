"""Controller start-up messages: version, capabilities, ids, init data, soft reset."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntFlag
from typing import Any, ClassVar

from radios.zwave.frame import FrameType
from radios.zwave.messages.base import FunctionId, Message, Request, incoming, outgoing
from radios.zwave.schema import (
    U8,
    U16,
    U32,
    Bitmask,
    Bool,
    Custom,
    Enum,
    MaskLength,
    Optional,
    Reader,
    Text,
    Trailer,
)
from radios.zwave.transaction import Completion

NODE_BITMASK_LENGTH = 29  # 232 classic nodes
#: Node ids as a bitmask (bit 0 of byte 0 = node 1) after its length byte (INS12350 InitData).
_NODE_IDS = Bitmask("node_ids", 1, required=False, min_bytes=NODE_BITMASK_LENGTH, maximum=232)


def _read_version(r: Reader, values: dict[str, Any]) -> None:
    values["firmware_version"] = f"{r.byte('firmware major')}.{r.byte('firmware minor')}"


def _write_version(obj: Any, out: bytearray) -> None:
    major, _, minor = obj.firmware_version.partition(".")
    out += bytes((int(major), int(minor or 0)))


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

    schema = (Text("version"), U8("library_type"))


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

    schema = (
        Custom(_read_version, _write_version),
        U16("manufacturer_id"),
        U16("product_type"),
        U16("product_id"),
        Bitmask("supported_functions", 1, required=False, min_bytes=32, limit=32),
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

    schema = (U32("home_id"), U8("node_id"))


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

    schema = (
        U8("api_version"),
        U8("capabilities"),
        MaskLength(_NODE_IDS, width=8),
        _NODE_IDS,
        Optional(U8("chip_type")),
        Optional(U8("chip_version")),
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

    schema = (Enum("capabilities", ControllerCapability),)


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

    # reason, watchdog; we write device option mask, generic, specific, CC list length (0) for emulators
    schema = (U8("wakeup_reason"), Bool("watchdog_started"), Trailer(bytes((0x01, 0x02, 0x01, 0x00))))
