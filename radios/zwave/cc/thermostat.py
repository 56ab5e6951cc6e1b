"""Thermostat Mode and Thermostat Setpoint command classes (SDS13781)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, Self

from radios.zwave.cc.base import (
    CCCommand,
    CommandClass,
    check_byte,
    encode_bitmask,
    encode_scaled,
    need,
    parse_bitmask,
    parse_scaled,
    register,
)

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
    """Mode Set: mode in the low 5 bits."""

    cc: ClassVar[int] = CommandClass.THERMOSTAT_MODE
    command: ClassVar[int] = ThermostatModeCommand.SET
    mode: int

    def to_payload(self) -> bytes:
        check_byte(self.mode, "thermostat mode", 0x1F)
        return bytes((self.mode,))

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 1, cls.__name__)
        return cls(payload[0] & 0x1F)


@register
@dataclass(frozen=True, slots=True)
class ThermostatModeGet(CCCommand):
    """Mode Get."""

    cc: ClassVar[int] = CommandClass.THERMOSTAT_MODE
    command: ClassVar[int] = ThermostatModeCommand.GET


@register
@dataclass(frozen=True, slots=True)
class ThermostatModeReport(CCCommand):
    """Mode Report: mode in the low 5 bits (manufacturer data of mode 0x1F is not modelled)."""

    cc: ClassVar[int] = CommandClass.THERMOSTAT_MODE
    command: ClassVar[int] = ThermostatModeCommand.REPORT
    mode: int

    def to_payload(self) -> bytes:
        check_byte(self.mode, "thermostat mode", 0x1F)
        return bytes((self.mode,))

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 1, cls.__name__)
        return cls(payload[0] & 0x1F)


@register
@dataclass(frozen=True, slots=True)
class ThermostatModeSupportedGet(CCCommand):
    """Supported Get."""

    cc: ClassVar[int] = CommandClass.THERMOSTAT_MODE
    command: ClassVar[int] = ThermostatModeCommand.SUPPORTED_GET


@register
@dataclass(frozen=True, slots=True)
class ThermostatModeSupportedReport(CCCommand):
    """Supported Report: bitmask of modes, bit 0 of byte 0 = Off."""

    cc: ClassVar[int] = CommandClass.THERMOSTAT_MODE
    command: ClassVar[int] = ThermostatModeCommand.SUPPORTED_REPORT
    modes: tuple[int, ...]

    def to_payload(self) -> bytes:
        return encode_bitmask(self.modes, 0)

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 1, cls.__name__)
        return cls(parse_bitmask(payload, 0))


@dataclass(frozen=True, slots=True)
class _SetpointValue(CCCommand):
    """Shared layout of Setpoint Set and Report: type (low 4 bits), precision|scale|size, value."""

    setpoint_type: int
    scale: int
    value: float
    precision: int | None = None
    size: int | None = None

    def to_payload(self) -> bytes:
        check_byte(self.setpoint_type, "setpoint type", 0x0F)
        return bytes((self.setpoint_type,)) + encode_scaled(self.value, self.scale, self.precision, self.size)

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 2, cls.__name__)
        scaled, _ = parse_scaled(payload, 1, cls.__name__)
        return cls(payload[0] & 0x0F, scaled.scale, scaled.value, scaled.precision, scaled.size)


@register
@dataclass(frozen=True, slots=True)
class ThermostatSetpointSet(_SetpointValue):
    """Setpoint Set: type (low 4 bits), precision|scale|size, value."""

    cc: ClassVar[int] = CommandClass.THERMOSTAT_SETPOINT
    command: ClassVar[int] = ThermostatSetpointCommand.SET


@register
@dataclass(frozen=True, slots=True)
class ThermostatSetpointGet(CCCommand):
    """Setpoint Get: type (low 4 bits)."""

    cc: ClassVar[int] = CommandClass.THERMOSTAT_SETPOINT
    command: ClassVar[int] = ThermostatSetpointCommand.GET
    setpoint_type: int

    def to_payload(self) -> bytes:
        check_byte(self.setpoint_type, "setpoint type", 0x0F)
        return bytes((self.setpoint_type,))

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 1, cls.__name__)
        return cls(payload[0] & 0x0F)


@register
@dataclass(frozen=True, slots=True)
class ThermostatSetpointReport(_SetpointValue):
    """Setpoint Report: type (low 4 bits), precision|scale|size, value."""

    cc: ClassVar[int] = CommandClass.THERMOSTAT_SETPOINT
    command: ClassVar[int] = ThermostatSetpointCommand.REPORT


@register
@dataclass(frozen=True, slots=True)
class ThermostatSetpointSupportedGet(CCCommand):
    """Setpoint Supported Get."""

    cc: ClassVar[int] = CommandClass.THERMOSTAT_SETPOINT
    command: ClassVar[int] = ThermostatSetpointCommand.SUPPORTED_GET


@register
@dataclass(frozen=True, slots=True)
class ThermostatSetpointSupportedReport(CCCommand):
    """Supported Report: bitmask, bit n = type n (heating 1 and cooling 2 agree in both interpretations)."""

    cc: ClassVar[int] = CommandClass.THERMOSTAT_SETPOINT
    command: ClassVar[int] = ThermostatSetpointCommand.SUPPORTED_REPORT
    types: tuple[int, ...]

    def to_payload(self) -> bytes:
        return encode_bitmask(self.types, 0)

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 1, cls.__name__)
        return cls(tuple(t for t in parse_bitmask(payload, 0) if t != 0))
