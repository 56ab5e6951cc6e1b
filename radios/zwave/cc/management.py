"""Management CCs: Configuration, Version, Manufacturer Specific, Wake Up, Association (SDS13781)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any, ClassVar

from hub_core.errors import ProtocolError
from radios.zwave.cc.base import CCCommand, CommandClass, check_byte, register
from radios.zwave.schema import U8, U16, U24, ByteList, Custom, Field, Reader

__all__ = [
    "LIFELINE_GROUP",
    "AssociationCommand",
    "AssociationGet",
    "AssociationRemove",
    "AssociationReport",
    "AssociationSet",
    "AssociationSupportedGroupingsGet",
    "AssociationSupportedGroupingsReport",
    "ConfigurationCommand",
    "ConfigurationGet",
    "ConfigurationReport",
    "ConfigurationSet",
    "ManufacturerSpecificCommand",
    "ManufacturerSpecificGet",
    "ManufacturerSpecificReport",
    "VersionCommand",
    "VersionCommandClassGet",
    "VersionCommandClassReport",
    "VersionGet",
    "VersionReport",
    "WakeUpCommand",
    "WakeUpIntervalCapabilitiesGet",
    "WakeUpIntervalCapabilitiesReport",
    "WakeUpIntervalGet",
    "WakeUpIntervalReport",
    "WakeUpIntervalSet",
    "WakeUpNoMoreInformation",
    "WakeUpNotification",
]


class ConfigurationCommand(IntEnum):
    """Configuration CC commands."""

    SET = 0x04
    GET = 0x05
    REPORT = 0x06


class VersionCommand(IntEnum):
    """Version CC commands."""

    GET = 0x11
    REPORT = 0x12
    COMMAND_CLASS_GET = 0x13
    COMMAND_CLASS_REPORT = 0x14


class ManufacturerSpecificCommand(IntEnum):
    """Manufacturer Specific CC commands."""

    GET = 0x04
    REPORT = 0x05


class WakeUpCommand(IntEnum):
    """Wake Up CC commands."""

    INTERVAL_SET = 0x04
    INTERVAL_GET = 0x05
    INTERVAL_REPORT = 0x06
    NOTIFICATION = 0x07
    NO_MORE_INFORMATION = 0x08
    INTERVAL_CAPABILITIES_GET = 0x09
    INTERVAL_CAPABILITIES_REPORT = 0x0A


class AssociationCommand(IntEnum):
    """Association CC commands."""

    SET = 0x01
    GET = 0x02
    REPORT = 0x03
    REMOVE = 0x04
    SUPPORTED_GROUPINGS_GET = 0x05
    SUPPORTED_GROUPINGS_REPORT = 0x06


#: Association group 1 is the lifeline: where a node sends its unsolicited reports.
LIFELINE_GROUP = 1
_SIZES = (1, 2, 4)


class ParamValue(Field):
    """Configuration's [default flag|]size(3) byte and a signed value of that size (v1-v3).

    With `default_flag` (Set), a set flag means "restore the default": `value` is None on the wire
    as zeros. Values are signed on the wire; unsigned spellings are accepted when writing.
    """

    def __init__(self, *, default_flag: bool = False) -> None:
        self.default_flag = default_flag

    def read(self, r: Reader, values: dict[str, Any]) -> None:
        head = r.byte("value size")
        size = head & 0b111
        if size not in _SIZES:
            raise ProtocolError(f"{r.what}: value size must be 1, 2 or 4, not {size}")
        values["size"] = size
        if self.default_flag and head & 0x80:
            values["value"] = None
            return
        values["value"] = int.from_bytes(r.take(size, "value"), "big", signed=True)

    def write(self, obj: Any, out: bytearray) -> None:
        size, value = obj.size, obj.value
        if size not in _SIZES:
            raise ValueError(f"configuration value size must be 1, 2 or 4, not {size}")
        if value is None:
            out += bytes((0x80 | size,)) + bytes(size)
            return
        low, high = -(1 << (8 * size - 1)), (1 << (8 * size)) - 1
        if not low <= value <= high:
            raise ValueError(f"configuration value {value} does not fit in {size} bytes")
        if value >= 1 << (8 * size - 1):
            value -= 1 << (8 * size)
        out += bytes((size,)) + value.to_bytes(size, "big", signed=True)


# --- Configuration -----------------------------------------------------------------------------


@register
@dataclass(frozen=True, slots=True)
class ConfigurationSet(CCCommand):
    """Configuration Set: parameter, default flag|size(3), value; value None restores the default."""

    cc: ClassVar[int] = CommandClass.CONFIGURATION
    command: ClassVar[int] = ConfigurationCommand.SET
    parameter: int
    value: int | None
    size: int = 1

    schema = (U8("parameter"), ParamValue(default_flag=True))


@register
@dataclass(frozen=True, slots=True)
class ConfigurationReport(CCCommand):
    """Configuration Report: parameter, size(3), value."""

    cc: ClassVar[int] = CommandClass.CONFIGURATION
    command: ClassVar[int] = ConfigurationCommand.REPORT
    parameter: int
    value: int
    size: int = 1

    schema = (U8("parameter"), ParamValue())


@register
@dataclass(frozen=True, slots=True)
class ConfigurationGet(CCCommand):
    """Configuration Get: parameter."""

    cc: ClassVar[int] = CommandClass.CONFIGURATION
    command: ClassVar[int] = ConfigurationCommand.GET
    parameter: int

    schema = (U8("parameter"),)
    report = ConfigurationReport
    matches = ("parameter",)


# --- Version -----------------------------------------------------------------------------------


def _read_firmware(r: Reader, values: dict[str, Any]) -> None:
    firmware = [(r.byte("firmware major"), r.byte("firmware minor"))]
    hardware = None
    if r.remaining >= 2:
        hardware, count = r.byte("hardware version"), r.byte("firmware target count")
        data = r.take(2 * count, "firmware targets")
        firmware += [(data[2 * i], data[2 * i + 1]) for i in range(count)]
    values["firmware_versions"], values["hardware_version"] = tuple(firmware), hardware


def _write_firmware(obj: Any, out: bytearray) -> None:
    if not obj.firmware_versions:
        raise ValueError("a Version Report needs firmware 0's version")
    numbers = [*obj.firmware_versions[0]]
    extra = obj.firmware_versions[1:]
    if obj.hardware_version is not None:
        numbers += [obj.hardware_version, len(extra)]
        numbers += [n for pair in extra for n in pair]
    for n in numbers:
        check_byte(n, "version number")
    out += bytes(numbers)


def _read_protocol(r: Reader, values: dict[str, Any]) -> None:
    values["protocol_version"] = (r.byte("protocol major"), r.byte("protocol minor"))


def _write_protocol(obj: Any, out: bytearray) -> None:
    for n in obj.protocol_version:
        check_byte(n, "version number")
    out += bytes(obj.protocol_version)


@register
@dataclass(frozen=True, slots=True)
class VersionReport(CCCommand):
    """Version Report: library type, protocol version, firmware 0 [, hardware, targets, firmware 1..n]."""

    cc: ClassVar[int] = CommandClass.VERSION
    command: ClassVar[int] = VersionCommand.REPORT
    library_type: int
    protocol_version: tuple[int, int]
    firmware_versions: tuple[tuple[int, int], ...]
    hardware_version: int | None = None

    schema = (
        U8("library_type"),
        Custom(_read_protocol, _write_protocol),
        Custom(_read_firmware, _write_firmware),
    )

    @property
    def firmware(self) -> str:
        """Firmware 0 as `major.minor`."""
        major, minor = self.firmware_versions[0] if self.firmware_versions else (0, 0)
        return f"{major}.{minor}"


@register
@dataclass(frozen=True, slots=True)
class VersionGet(CCCommand):
    """Version Get."""

    cc: ClassVar[int] = CommandClass.VERSION
    command: ClassVar[int] = VersionCommand.GET
    report = VersionReport


@register
@dataclass(frozen=True, slots=True)
class VersionCommandClassReport(CCCommand):
    """Command Class Report: requested CC, its version (0: not supported)."""

    cc: ClassVar[int] = CommandClass.VERSION
    command: ClassVar[int] = VersionCommand.COMMAND_CLASS_REPORT
    requested_cc: int
    version: int

    schema = (U8("requested_cc"), U8("version"))


@register
@dataclass(frozen=True, slots=True)
class VersionCommandClassGet(CCCommand):
    """Command Class Get: the CC whose version is asked."""

    cc: ClassVar[int] = CommandClass.VERSION
    command: ClassVar[int] = VersionCommand.COMMAND_CLASS_GET
    requested_cc: int

    schema = (U8("requested_cc"),)
    report = VersionCommandClassReport
    matches = ("requested_cc",)


# --- Manufacturer Specific ---------------------------------------------------------------------


@register
@dataclass(frozen=True, slots=True)
class ManufacturerSpecificReport(CCCommand):
    """Manufacturer Specific Report: manufacturer id, product type, product id (16 bits each)."""

    cc: ClassVar[int] = CommandClass.MANUFACTURER_SPECIFIC
    command: ClassVar[int] = ManufacturerSpecificCommand.REPORT
    manufacturer_id: int
    product_type: int
    product_id: int

    schema = (U16("manufacturer_id"), U16("product_type"), U16("product_id"))


@register
@dataclass(frozen=True, slots=True)
class ManufacturerSpecificGet(CCCommand):
    """Manufacturer Specific Get."""

    cc: ClassVar[int] = CommandClass.MANUFACTURER_SPECIFIC
    command: ClassVar[int] = ManufacturerSpecificCommand.GET
    report = ManufacturerSpecificReport


# --- Wake Up -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _WakeUpInterval(CCCommand):
    """seconds(24), node id: the interval and where to send the Wake Up Notification."""

    seconds: int
    node_id: int

    schema = (U24("seconds"), U8("node_id"))


@register
@dataclass(frozen=True, slots=True)
class WakeUpIntervalSet(_WakeUpInterval):
    """Wake Up Interval Set: seconds, node id."""

    cc: ClassVar[int] = CommandClass.WAKE_UP
    command: ClassVar[int] = WakeUpCommand.INTERVAL_SET


@register
@dataclass(frozen=True, slots=True)
class WakeUpIntervalReport(_WakeUpInterval):
    """Wake Up Interval Report: seconds, node id."""

    cc: ClassVar[int] = CommandClass.WAKE_UP
    command: ClassVar[int] = WakeUpCommand.INTERVAL_REPORT


@register
@dataclass(frozen=True, slots=True)
class WakeUpIntervalGet(CCCommand):
    """Wake Up Interval Get."""

    cc: ClassVar[int] = CommandClass.WAKE_UP
    command: ClassVar[int] = WakeUpCommand.INTERVAL_GET
    report = WakeUpIntervalReport


@register
@dataclass(frozen=True, slots=True)
class WakeUpNotification(CCCommand):
    """Wake Up Notification: the node is awake and listening."""

    cc: ClassVar[int] = CommandClass.WAKE_UP
    command: ClassVar[int] = WakeUpCommand.NOTIFICATION


@register
@dataclass(frozen=True, slots=True)
class WakeUpNoMoreInformation(CCCommand):
    """Wake Up No More Information: the node may go back to sleep."""

    cc: ClassVar[int] = CommandClass.WAKE_UP
    command: ClassVar[int] = WakeUpCommand.NO_MORE_INFORMATION


@register
@dataclass(frozen=True, slots=True)
class WakeUpIntervalCapabilitiesReport(CCCommand):
    """Interval Capabilities Report: minimum, maximum, default, step (24 bits each, seconds)."""

    cc: ClassVar[int] = CommandClass.WAKE_UP
    command: ClassVar[int] = WakeUpCommand.INTERVAL_CAPABILITIES_REPORT
    minimum: int
    maximum: int
    default: int
    step: int

    schema = (U24("minimum"), U24("maximum"), U24("default"), U24("step"))


@register
@dataclass(frozen=True, slots=True)
class WakeUpIntervalCapabilitiesGet(CCCommand):
    """Interval Capabilities Get (v2)."""

    cc: ClassVar[int] = CommandClass.WAKE_UP
    command: ClassVar[int] = WakeUpCommand.INTERVAL_CAPABILITIES_GET
    report = WakeUpIntervalCapabilitiesReport


# --- Association -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _GroupNodes(CCCommand):
    """group, node ids..."""

    group: int
    nodes: tuple[int, ...] = ()

    schema = (U8("group"), ByteList("nodes"))


@register
@dataclass(frozen=True, slots=True)
class AssociationSet(_GroupNodes):
    """Association Set: group, nodes to add."""

    cc: ClassVar[int] = CommandClass.ASSOCIATION
    command: ClassVar[int] = AssociationCommand.SET


@register
@dataclass(frozen=True, slots=True)
class AssociationRemove(_GroupNodes):
    """Association Remove: group, nodes to remove."""

    cc: ClassVar[int] = CommandClass.ASSOCIATION
    command: ClassVar[int] = AssociationCommand.REMOVE


@register
@dataclass(frozen=True, slots=True)
class AssociationReport(CCCommand):
    """Association Report: group, max nodes, reports to follow, node ids."""

    cc: ClassVar[int] = CommandClass.ASSOCIATION
    command: ClassVar[int] = AssociationCommand.REPORT
    group: int
    max_nodes: int
    nodes: tuple[int, ...] = ()
    reports_to_follow: int = 0

    schema = (U8("group"), U8("max_nodes"), U8("reports_to_follow"), ByteList("nodes"))


@register
@dataclass(frozen=True, slots=True)
class AssociationGet(CCCommand):
    """Association Get: group."""

    cc: ClassVar[int] = CommandClass.ASSOCIATION
    command: ClassVar[int] = AssociationCommand.GET
    group: int

    schema = (U8("group"),)
    report = AssociationReport
    matches = ("group",)


@register
@dataclass(frozen=True, slots=True)
class AssociationSupportedGroupingsReport(CCCommand):
    """Supported Groupings Report: number of groups."""

    cc: ClassVar[int] = CommandClass.ASSOCIATION
    command: ClassVar[int] = AssociationCommand.SUPPORTED_GROUPINGS_REPORT
    groups: int

    schema = (U8("groups"),)


@register
@dataclass(frozen=True, slots=True)
class AssociationSupportedGroupingsGet(CCCommand):
    """Supported Groupings Get."""

    cc: ClassVar[int] = CommandClass.ASSOCIATION
    command: ClassVar[int] = AssociationCommand.SUPPORTED_GROUPINGS_GET
    report = AssociationSupportedGroupingsReport
