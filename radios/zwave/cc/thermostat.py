"""Thermostat Mode and Thermostat Setpoint command classes (SDS13781)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar

from radios.zwave.cc.base import CCCommand, CommandClass, Scaled, register
from radios.zwave.schema import Bitmask, Bits, Part

__all__ = [
    "SetpointType",
    "ThermostatMode",
    "ThermostatModeCommand",
    "ThermostatModeGet",
    "ThermostatModeReport",
    "ThermostatModeSet",
    "ThermostatModeSupportedGet",
    "ThermostatModeSupportedReport",
    "ThermostatSetpointCommand",
    "ThermostatSetpointGet",
    "ThermostatSetpointReport",
    "ThermostatSetpointSet",
    "ThermostatSetpointSupportedGet",
    "ThermostatSetpointSupportedReport",
]


class ThermostatModeCommand(IntEnum):
    """Thermostat Mode CC commands."""

    SET = 0x01
    GET = 0x02
    REPORT = 0x03
    SUPPORTED_GET = 0x04
    SUPPORTED_REPORT = 0x05


class ThermostatMode(IntEnum):
    """Thermostat modes (5 bits)."""

    OFF = 0x00
    HEAT = 0x01
    COOL = 0x02
    AUTO = 0x03
    AUXILIARY = 0x04
    RESUME = 0x05
    FAN = 0x06
    FURNACE = 0x07
    DRY = 0x08
    MOIST = 0x09
    AUTO_CHANGEOVER = 0x0A
    ENERGY_HEAT = 0x0B
    ENERGY_COOL = 0x0C
    AWAY = 0x0D
    FULL_POWER = 0x0F
    MANUFACTURER_SPECIFIC = 0x1F


class ThermostatSetpointCommand(IntEnum):
    """Thermostat Setpoint CC commands."""

    SET = 0x01
    GET = 0x02
    REPORT = 0x03
    SUPPORTED_GET = 0x04
    SUPPORTED_REPORT = 0x05


class SetpointType(IntEnum):
    """Setpoint types (4 bits)."""

    NOT_SUPPORTED = 0x00
    HEATING = 0x01
    COOLING = 0x02
    FURNACE = 0x07
    DRY_AIR = 0x08
    MOIST_AIR = 0x09
    AUTO_CHANGEOVER = 0x0A
    ENERGY_HEATING = 0x0B
    ENERGY_COOLING = 0x0C
    AWAY_HEATING = 0x0D


@register
@dataclass(frozen=True, slots=True)
class ThermostatModeSet(CCCommand):
    """Mode Set: mode(5)."""

    cc: ClassVar[int] = CommandClass.THERMOSTAT_MODE
    command: ClassVar[int] = ThermostatModeCommand.SET
    mode: int

    schema = (Bits(Part("mode", 0, 5)),)

    def implied_report(self) -> CCCommand:
        """Carried out, the thermostat is in `mode`."""
        return ThermostatModeReport(self.mode)


@register
@dataclass(frozen=True, slots=True)
class ThermostatModeReport(CCCommand):
    """Mode Report: mode(5)."""

    cc: ClassVar[int] = CommandClass.THERMOSTAT_MODE
    command: ClassVar[int] = ThermostatModeCommand.REPORT
    mode: int

    schema = (Bits(Part("mode", 0, 5)),)


@register
@dataclass(frozen=True, slots=True)
class ThermostatModeGet(CCCommand):
    """Mode Get."""

    cc: ClassVar[int] = CommandClass.THERMOSTAT_MODE
    command: ClassVar[int] = ThermostatModeCommand.GET
    report = ThermostatModeReport


@register
@dataclass(frozen=True, slots=True)
class ThermostatModeSupportedReport(CCCommand):
    """Supported Report: bitmask of modes (bit 0 of byte 0 = mode 0, off)."""

    cc: ClassVar[int] = CommandClass.THERMOSTAT_MODE
    command: ClassVar[int] = ThermostatModeCommand.SUPPORTED_REPORT
    modes: tuple[int, ...]

    schema = (Bitmask("modes", 0),)


@register
@dataclass(frozen=True, slots=True)
class ThermostatModeSupportedGet(CCCommand):
    """Supported Get."""

    cc: ClassVar[int] = CommandClass.THERMOSTAT_MODE
    command: ClassVar[int] = ThermostatModeCommand.SUPPORTED_GET
    report = ThermostatModeSupportedReport


@dataclass(frozen=True, slots=True)
class _SetpointValue(CCCommand):
    """setpoint type(4), precision|scale|size, value."""

    setpoint_type: int
    scale: int
    value: float
    precision: int | None = None
    size: int | None = None

    schema = (Bits(Part("setpoint_type", 0, 4)), Scaled())


@register
@dataclass(frozen=True, slots=True)
class ThermostatSetpointSet(_SetpointValue):
    """Setpoint Set: type, value."""

    cc: ClassVar[int] = CommandClass.THERMOSTAT_SETPOINT
    command: ClassVar[int] = ThermostatSetpointCommand.SET

    def implied_report(self) -> CCCommand:
        """Carried out, the setpoint is `value`."""
        return ThermostatSetpointReport(self.setpoint_type, self.scale, self.value, self.precision, self.size)


@register
@dataclass(frozen=True, slots=True)
class ThermostatSetpointReport(_SetpointValue):
    """Setpoint Report: type (0 = the asked type is not supported), value."""

    cc: ClassVar[int] = CommandClass.THERMOSTAT_SETPOINT
    command: ClassVar[int] = ThermostatSetpointCommand.REPORT


@register
@dataclass(frozen=True, slots=True)
class ThermostatSetpointGet(CCCommand):
    """Setpoint Get: type(4)."""

    cc: ClassVar[int] = CommandClass.THERMOSTAT_SETPOINT
    command: ClassVar[int] = ThermostatSetpointCommand.GET
    setpoint_type: int

    schema = (Bits(Part("setpoint_type", 0, 4)),)
    report = ThermostatSetpointReport

    def answered_by(self, report: CCCommand) -> bool:
        """A report of the asked type, or of type 0 (the node does not support the asked one)."""
        if not isinstance(report, ThermostatSetpointReport):
            return False
        return report.setpoint_type in (self.setpoint_type, SetpointType.NOT_SUPPORTED)


@register
@dataclass(frozen=True, slots=True)
class ThermostatSetpointSupportedReport(CCCommand):
    """Supported Report: bitmask of setpoint types (bit 0 of byte 0 = type 0, unused)."""

    cc: ClassVar[int] = CommandClass.THERMOSTAT_SETPOINT
    command: ClassVar[int] = ThermostatSetpointCommand.SUPPORTED_REPORT
    types: tuple[int, ...]

    schema = (Bitmask("types", 0, drop_zero=True),)


@register
@dataclass(frozen=True, slots=True)
class ThermostatSetpointSupportedGet(CCCommand):
    """Supported Get."""

    cc: ClassVar[int] = CommandClass.THERMOSTAT_SETPOINT
    command: ClassVar[int] = ThermostatSetpointCommand.SUPPORTED_GET
    report = ThermostatSetpointSupportedReport
