"""Management CCs: Configuration, Version, Manufacturer Specific, Wake Up, Association (SDS13781)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, Self

from hub_core.errors import ProtocolError
from radios.zwave.cc.base import CCCommand, CommandClass, check_byte, need, register

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


def _check_param_value(value: int, size: int) -> None:
    if size not in _SIZES:
        raise ValueError(f"configuration value size must be 1, 2 or 4, not {size}")
    low, high = -(1 << (8 * size - 1)), (1 << (8 * size)) - 1
    if not low <= value <= high:
        raise ValueError(f"configuration value {value} does not fit in {size} bytes")


def _encode_param_value(value: int, size: int) -> bytes:
    # Values are signed on the wire (Configuration v1-v3); accept unsigned spellings too.
    if value >= 1 << (8 * size - 1):
        value -= 1 << (8 * size)
    return value.to_bytes(size, "big", signed=True)


def _u24(payload: bytes, offset: int) -> int:
    return int.from_bytes(payload[offset : offset + 3], "big")


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

    def to_payload(self) -> bytes:
        check_byte(self.parameter, "parameter number")
        if self.value is None:
            _check_param_value(0, self.size)
            return bytes((self.parameter, 0x80 | self.size)) + bytes(self.size)
        _check_param_value(self.value, self.size)
        return bytes((self.parameter, self.size)) + _encode_param_value(self.value, self.size)

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 2, cls.__name__)
        size = payload[1] & 0b111
        if size not in _SIZES:
            raise ProtocolError(f"{cls.__name__}: value size must be 1, 2 or 4, not {size}")
        if payload[1] & 0x80:
            return cls(payload[0], None, size)
        need(payload, 2 + size, cls.__name__)
        return cls(payload[0], int.from_bytes(payload[2 : 2 + size], "big", signed=True), size)


@register
@dataclass(frozen=True, slots=True)
class ConfigurationGet(CCCommand):
    """Configuration Get: parameter."""

    cc: ClassVar[int] = CommandClass.CONFIGURATION
    command: ClassVar[int] = ConfigurationCommand.GET
    parameter: int

    def to_payload(self) -> bytes:
        check_byte(self.parameter, "parameter number")
        return bytes((self.parameter,))

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 1, cls.__name__)
        return cls(payload[0])


@register
@dataclass(frozen=True, slots=True)
class ConfigurationReport(CCCommand):
    """Configuration Report: parameter, size(3), signed value."""

    cc: ClassVar[int] = CommandClass.CONFIGURATION
    command: ClassVar[int] = ConfigurationCommand.REPORT
    parameter: int
    value: int
    size: int = 1

    def to_payload(self) -> bytes:
        check_byte(self.parameter, "parameter number")
        _check_param_value(self.value, self.size)
        return bytes((self.parameter, self.size)) + _encode_param_value(self.value, self.size)

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 2, cls.__name__)
        size = payload[1] & 0b111
        if size not in _SIZES:
            raise ProtocolError(f"{cls.__name__}: value size must be 1, 2 or 4, not {size}")
        need(payload, 2 + size, cls.__name__)
        return cls(payload[0], int.from_bytes(payload[2 : 2 + size], "big", signed=True), size)


# --- Version -----------------------------------------------------------------------------------


@register
@dataclass(frozen=True, slots=True)
class VersionGet(CCCommand):
    """Version Get."""

    cc: ClassVar[int] = CommandClass.VERSION
    command: ClassVar[int] = VersionCommand.GET


@register
@dataclass(frozen=True, slots=True)
class VersionReport(CCCommand):
    """Version Report: library, protocol x.y, firmware 0 x.y [, hardware, n, firmware 1..n x.y (v2)]."""

    cc: ClassVar[int] = CommandClass.VERSION
    command: ClassVar[int] = VersionCommand.REPORT
    library_type: int
    protocol_version: tuple[int, int]
    firmware_versions: tuple[tuple[int, int], ...]
    hardware_version: int | None = None

    @property
    def firmware(self) -> str:
        """Firmware 0 as `major.minor`."""
        major, minor = self.firmware_versions[0] if self.firmware_versions else (0, 0)
        return f"{major}.{minor}"

    def to_payload(self) -> bytes:
        if not self.firmware_versions:
            raise ValueError("a Version Report needs firmware 0's version")
        numbers = [self.library_type, *self.protocol_version, *self.firmware_versions[0]]
        for n in numbers:
            check_byte(n, "version number")
        out = bytes(numbers)
        if self.hardware_version is None:
            return out
        check_byte(self.hardware_version, "hardware version")
        extra = self.firmware_versions[1:]
        check_byte(len(extra), "firmware target count")
        out += bytes((self.hardware_version, len(extra)))
        for major, minor in extra:
            check_byte(major, "version number")
            check_byte(minor, "version number")
            out += bytes((major, minor))
        return out

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 5, cls.__name__)
        firmware = [(payload[3], payload[4])]
        hardware = None
        if len(payload) >= 7:
            hardware, count = payload[5], payload[6]
            need(payload, 7 + 2 * count, f"{cls.__name__} firmware targets")
            firmware += [(payload[7 + 2 * i], payload[8 + 2 * i]) for i in range(count)]
        return cls(payload[0], (payload[1], payload[2]), tuple(firmware), hardware)


@register
@dataclass(frozen=True, slots=True)
class VersionCommandClassGet(CCCommand):
    """Command Class Get: the CC whose version is asked."""

    cc: ClassVar[int] = CommandClass.VERSION
    command: ClassVar[int] = VersionCommand.COMMAND_CLASS_GET
    requested_cc: int

    def to_payload(self) -> bytes:
        check_byte(self.requested_cc, "command class")
        return bytes((self.requested_cc,))

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 1, cls.__name__)
        return cls(payload[0])


@register
@dataclass(frozen=True, slots=True)
class VersionCommandClassReport(CCCommand):
    """Command Class Report: CC, version (0 = not supported)."""

    cc: ClassVar[int] = CommandClass.VERSION
    command: ClassVar[int] = VersionCommand.COMMAND_CLASS_REPORT
    requested_cc: int
    version: int

    def to_payload(self) -> bytes:
        check_byte(self.requested_cc, "command class")
        check_byte(self.version, "version")
        return bytes((self.requested_cc, self.version))

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 2, cls.__name__)
        return cls(payload[0], payload[1])


# --- Manufacturer Specific ---------------------------------------------------------------------


@register
@dataclass(frozen=True, slots=True)
class ManufacturerSpecificGet(CCCommand):
    """Manufacturer Specific Get."""

    cc: ClassVar[int] = CommandClass.MANUFACTURER_SPECIFIC
    command: ClassVar[int] = ManufacturerSpecificCommand.GET


@register
@dataclass(frozen=True, slots=True)
class ManufacturerSpecificReport(CCCommand):
    """Manufacturer Specific Report: manufacturer id, product type, product id (16 bits each)."""

    cc: ClassVar[int] = CommandClass.MANUFACTURER_SPECIFIC
    command: ClassVar[int] = ManufacturerSpecificCommand.REPORT
    manufacturer_id: int
    product_type: int
    product_id: int

    def to_payload(self) -> bytes:
        for name in ("manufacturer_id", "product_type", "product_id"):
            check_byte(getattr(self, name), name, 0xFFFF)
        return b"".join(
            v.to_bytes(2, "big") for v in (self.manufacturer_id, self.product_type, self.product_id)
        )

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 6, cls.__name__)
        return cls(
            int.from_bytes(payload[0:2], "big"),
            int.from_bytes(payload[2:4], "big"),
            int.from_bytes(payload[4:6], "big"),
        )


# --- Wake Up -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _WakeUpInterval(CCCommand):
    """Shared layout of Interval Set and Report: seconds (24 bits), node to notify."""

    seconds: int
    node_id: int

    def to_payload(self) -> bytes:
        check_byte(self.seconds, "wake up interval", 0xFFFFFF)
        check_byte(self.node_id, "node id")
        return self.seconds.to_bytes(3, "big") + bytes((self.node_id,))

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 4, cls.__name__)
        return cls(_u24(payload, 0), payload[3])


@register
@dataclass(frozen=True, slots=True)
class WakeUpIntervalSet(_WakeUpInterval):
    """Interval Set: seconds (24 bits), node to notify."""

    cc: ClassVar[int] = CommandClass.WAKE_UP
    command: ClassVar[int] = WakeUpCommand.INTERVAL_SET


@register
@dataclass(frozen=True, slots=True)
class WakeUpIntervalGet(CCCommand):
    """Interval Get."""

    cc: ClassVar[int] = CommandClass.WAKE_UP
    command: ClassVar[int] = WakeUpCommand.INTERVAL_GET


@register
@dataclass(frozen=True, slots=True)
class WakeUpIntervalReport(_WakeUpInterval):
    """Interval Report: seconds (24 bits), node notified."""

    cc: ClassVar[int] = CommandClass.WAKE_UP
    command: ClassVar[int] = WakeUpCommand.INTERVAL_REPORT


@register
@dataclass(frozen=True, slots=True)
class WakeUpNotification(CCCommand):
    """Wake Up Notification: the node is awake and listens until No More Information."""

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
class WakeUpIntervalCapabilitiesGet(CCCommand):
    """Interval Capabilities Get (v2)."""

    cc: ClassVar[int] = CommandClass.WAKE_UP
    command: ClassVar[int] = WakeUpCommand.INTERVAL_CAPABILITIES_GET


@register
@dataclass(frozen=True, slots=True)
class WakeUpIntervalCapabilitiesReport(CCCommand):
    """Interval Capabilities Report: minimum, maximum, default, step (24 bits each) [, v3 flags]."""

    cc: ClassVar[int] = CommandClass.WAKE_UP
    command: ClassVar[int] = WakeUpCommand.INTERVAL_CAPABILITIES_REPORT
    minimum: int
    maximum: int
    default: int
    step: int

    def to_payload(self) -> bytes:
        values = (self.minimum, self.maximum, self.default, self.step)
        for v in values:
            check_byte(v, "wake up interval", 0xFFFFFF)
        return b"".join(v.to_bytes(3, "big") for v in values)

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 12, cls.__name__)
        return cls(_u24(payload, 0), _u24(payload, 3), _u24(payload, 6), _u24(payload, 9))


# --- Association -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _GroupNodes(CCCommand):
    group: int
    nodes: tuple[int, ...] = ()

    def to_payload(self) -> bytes:
        check_byte(self.group, "group")
        for n in self.nodes:
            check_byte(n, "node id")
        return bytes((self.group, *self.nodes))

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 1, cls.__name__)
        return cls(payload[0], tuple(payload[1:]))


@register
@dataclass(frozen=True, slots=True)
class AssociationSet(_GroupNodes):
    """Association Set: group, node ids to add."""

    cc: ClassVar[int] = CommandClass.ASSOCIATION
    command: ClassVar[int] = AssociationCommand.SET


@register
@dataclass(frozen=True, slots=True)
class AssociationRemove(_GroupNodes):
    """Association Remove: group (0 = all), node ids (none = all)."""

    cc: ClassVar[int] = CommandClass.ASSOCIATION
    command: ClassVar[int] = AssociationCommand.REMOVE


@register
@dataclass(frozen=True, slots=True)
class AssociationGet(CCCommand):
    """Association Get: group."""

    cc: ClassVar[int] = CommandClass.ASSOCIATION
    command: ClassVar[int] = AssociationCommand.GET
    group: int

    def to_payload(self) -> bytes:
        check_byte(self.group, "group")
        return bytes((self.group,))

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 1, cls.__name__)
        return cls(payload[0])


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

    def to_payload(self) -> bytes:
        for v in (self.group, self.max_nodes, self.reports_to_follow, *self.nodes):
            check_byte(v, "association field")
        return bytes((self.group, self.max_nodes, self.reports_to_follow, *self.nodes))

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 3, cls.__name__)
        return cls(payload[0], payload[1], tuple(payload[3:]), payload[2])


@register
@dataclass(frozen=True, slots=True)
class AssociationSupportedGroupingsGet(CCCommand):
    """Supported Groupings Get."""

    cc: ClassVar[int] = CommandClass.ASSOCIATION
    command: ClassVar[int] = AssociationCommand.SUPPORTED_GROUPINGS_GET


@register
@dataclass(frozen=True, slots=True)
class AssociationSupportedGroupingsReport(CCCommand):
    """Supported Groupings Report: number of groups."""

    cc: ClassVar[int] = CommandClass.ASSOCIATION
    command: ClassVar[int] = AssociationCommand.SUPPORTED_GROUPINGS_REPORT
    groups: int

    def to_payload(self) -> bytes:
        check_byte(self.groups, "group count")
        return bytes((self.groups,))

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 1, cls.__name__)
        return cls(payload[0])
