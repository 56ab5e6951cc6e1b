"""Binary Sensor, Multilevel Sensor, Meter and Battery command classes (SDS13781).

Numbers travel as precision/scale/size + signed value (base.parse_scaled). Sensor, meter and scale
numbers are kept as plain ints because devices send types this table does not name.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any, ClassVar

from hub_core.errors import ProtocolError
from radios.zwave.cc.base import (
    CCCommand,
    CommandClass,
    Scaled,
    check_byte,
    encode_bitmask,
    encode_scaled,
    need,
    parse_bitmask,
    parse_scaled,
    register,
)
from radios.zwave.schema import U8, Bitmask, Bits, Custom, Flag, Optional, Part, Reader

__all__ = [
    "BATTERY_LOW",
    "BatteryCommand",
    "BatteryGet",
    "BatteryReport",
    "BinarySensorCommand",
    "BinarySensorGet",
    "BinarySensorReport",
    "BinarySensorSupportedGet",
    "BinarySensorSupportedReport",
    "BinarySensorType",
    "ElectricScale",
    "IlluminanceScale",
    "MeterCommand",
    "MeterGet",
    "MeterReport",
    "MeterSupportedGet",
    "MeterSupportedReport",
    "MeterType",
    "MultilevelSensorCommand",
    "MultilevelSensorGet",
    "MultilevelSensorReport",
    "MultilevelSensorSupportedScaleGet",
    "MultilevelSensorSupportedScaleReport",
    "MultilevelSensorSupportedSensorGet",
    "MultilevelSensorSupportedSensorReport",
    "SensorType",
    "TemperatureScale",
]


class BinarySensorType(IntEnum):
    """Binary Sensor types."""

    GENERAL_PURPOSE = 0x01
    SMOKE = 0x02
    CO = 0x03
    CO2 = 0x04
    HEAT = 0x05
    WATER = 0x06
    FREEZE = 0x07
    TAMPER = 0x08
    AUX = 0x09
    DOOR_WINDOW = 0x0A
    TILT = 0x0B
    MOTION = 0x0C
    GLASS_BREAK = 0x0D
    ANY = 0xFF


class SensorType(IntEnum):
    """Multilevel Sensor types this hub maps (the spec defines many more)."""

    AIR_TEMPERATURE = 0x01
    GENERAL_PURPOSE = 0x02
    ILLUMINANCE = 0x03
    POWER = 0x04
    HUMIDITY = 0x05


class TemperatureScale(IntEnum):
    """Scales of air temperature (and of thermostat setpoints)."""

    CELSIUS = 0
    FAHRENHEIT = 1


class IlluminanceScale(IntEnum):
    """Scales of illuminance."""

    PERCENT = 0
    LUX = 1


class MeterType(IntEnum):
    """Meter types."""

    ELECTRIC = 0x01
    GAS = 0x02
    WATER = 0x03
    HEATING = 0x04
    COOLING = 0x05


class ElectricScale(IntEnum):
    """Electric meter scales."""

    KWH = 0
    KVAH = 1
    W = 2
    PULSE = 3
    V = 4
    A = 5
    POWER_FACTOR = 6
    KVAR = 7
    KVARH = 8


class BinarySensorCommand(IntEnum):
    """Binary Sensor CC commands."""

    SUPPORTED_GET = 0x01
    GET = 0x02
    REPORT = 0x03
    SUPPORTED_REPORT = 0x04


class MultilevelSensorCommand(IntEnum):
    """Multilevel Sensor CC commands."""

    SUPPORTED_SENSOR_GET = 0x01
    SUPPORTED_SENSOR_REPORT = 0x02
    SUPPORTED_SCALE_GET = 0x03
    GET = 0x04
    REPORT = 0x05
    SUPPORTED_SCALE_REPORT = 0x06


class MeterCommand(IntEnum):
    """Meter CC commands."""

    GET = 0x01
    REPORT = 0x02
    SUPPORTED_GET = 0x03
    SUPPORTED_REPORT = 0x04
    RESET = 0x05


class BatteryCommand(IntEnum):
    """Battery CC commands."""

    GET = 0x02
    REPORT = 0x03


#: Battery Report level meaning "battery low" (SDS13781 Battery Report).
BATTERY_LOW = 0xFF


# --- Binary Sensor ------------------------------------------------------------------------------


@register
@dataclass(frozen=True, slots=True)
class BinarySensorSupportedReport(CCCommand):
    """Binary Sensor Supported Report: bitmask of types, bit 0 of byte 0 = type 0 (reserved)."""

    cc: ClassVar[int] = CommandClass.BINARY_SENSOR
    command: ClassVar[int] = BinarySensorCommand.SUPPORTED_REPORT
    types: tuple[int, ...]

    schema = (Bitmask("types", 0, drop_zero=True),)


@register
@dataclass(frozen=True, slots=True)
class BinarySensorSupportedGet(CCCommand):
    """Binary Sensor Supported Get (v2)."""

    cc: ClassVar[int] = CommandClass.BINARY_SENSOR
    command: ClassVar[int] = BinarySensorCommand.SUPPORTED_GET
    report = BinarySensorSupportedReport


@register
@dataclass(frozen=True, slots=True)
class BinarySensorReport(CCCommand):
    """Binary Sensor Report: value (0x00 idle, 0xFF detected) [, sensor type (v2)]."""

    cc: ClassVar[int] = CommandClass.BINARY_SENSOR
    command: ClassVar[int] = BinarySensorCommand.REPORT
    value: int
    sensor_type: int | None = None

    schema = (U8("value"), Optional(U8("sensor_type")))

    @property
    def detected(self) -> bool:
        """Any non-zero value means an event is detected."""
        return self.value != 0


@register
@dataclass(frozen=True, slots=True)
class BinarySensorGet(CCCommand):
    """Binary Sensor Get [sensor type (v2)]; answered by a report of that type (or of any, for ANY)."""

    cc: ClassVar[int] = CommandClass.BINARY_SENSOR
    command: ClassVar[int] = BinarySensorCommand.GET
    sensor_type: int | None = None

    schema = (Optional(U8("sensor_type")),)
    report = BinarySensorReport

    def answered_by(self, report: CCCommand) -> bool:
        """A report of the asked type; a Get for ANY takes whichever type comes."""
        if not isinstance(report, BinarySensorReport):
            return False
        if self.sensor_type is None or report.sensor_type is None:
            return True
        return self.sensor_type in (report.sensor_type, BinarySensorType.ANY)


# --- Multilevel Sensor --------------------------------------------------------------------------


@register
@dataclass(frozen=True, slots=True)
class MultilevelSensorSupportedSensorReport(CCCommand):
    """Supported Sensor Report: bitmask of sensor types, bit 0 of byte 0 = type 1."""

    cc: ClassVar[int] = CommandClass.MULTILEVEL_SENSOR
    command: ClassVar[int] = MultilevelSensorCommand.SUPPORTED_SENSOR_REPORT
    types: tuple[int, ...]

    schema = (Bitmask("types", 1),)


@register
@dataclass(frozen=True, slots=True)
class MultilevelSensorSupportedSensorGet(CCCommand):
    """Multilevel Sensor Supported Sensor Get (v5)."""

    cc: ClassVar[int] = CommandClass.MULTILEVEL_SENSOR
    command: ClassVar[int] = MultilevelSensorCommand.SUPPORTED_SENSOR_GET
    report = MultilevelSensorSupportedSensorReport


def _read_scales(r: Reader, values: dict[str, Any]) -> None:
    values["scales"] = parse_bitmask(bytes((r.byte("scales") & 0x0F,)), 0)


def _write_scales(obj: Any, out: bytearray) -> None:
    if any(not 0 <= s <= 3 for s in obj.scales):
        raise ValueError(f"sensor scales must be 0..3: {obj.scales}")
    out += encode_bitmask(obj.scales, 0)


@register
@dataclass(frozen=True, slots=True)
class MultilevelSensorSupportedScaleReport(CCCommand):
    """Supported Scale Report: sensor type, scale bitmask in the low 4 bits (bit 0 = scale 0)."""

    cc: ClassVar[int] = CommandClass.MULTILEVEL_SENSOR
    command: ClassVar[int] = MultilevelSensorCommand.SUPPORTED_SCALE_REPORT
    sensor_type: int
    scales: tuple[int, ...]

    schema = (U8("sensor_type"), Custom(_read_scales, _write_scales))


@register
@dataclass(frozen=True, slots=True)
class MultilevelSensorSupportedScaleGet(CCCommand):
    """Supported Scale Get: sensor type."""

    cc: ClassVar[int] = CommandClass.MULTILEVEL_SENSOR
    command: ClassVar[int] = MultilevelSensorCommand.SUPPORTED_SCALE_GET
    sensor_type: int

    schema = (U8("sensor_type"),)
    report = MultilevelSensorSupportedScaleReport
    matches = ("sensor_type",)


@register
@dataclass(frozen=True, slots=True)
class MultilevelSensorReport(CCCommand):
    """Multilevel Sensor Report: sensor type, precision|scale|size, value."""

    cc: ClassVar[int] = CommandClass.MULTILEVEL_SENSOR
    command: ClassVar[int] = MultilevelSensorCommand.REPORT
    sensor_type: int
    scale: int
    value: float
    precision: int | None = None
    size: int | None = None

    schema = (U8("sensor_type"), Scaled())


@register
@dataclass(frozen=True, slots=True)
class MultilevelSensorGet(CCCommand):
    """Multilevel Sensor Get [sensor type, scale<<3 (v5)]."""

    cc: ClassVar[int] = CommandClass.MULTILEVEL_SENSOR
    command: ClassVar[int] = MultilevelSensorCommand.GET
    sensor_type: int | None = None
    scale: int = 0

    schema = (Optional(U8("sensor_type"), Bits(Part("scale", 3, 2))),)
    report = MultilevelSensorReport
    matches = ("sensor_type",)


# --- Meter -------------------------------------------------------------------------------------
# Meter's scale is split over the byte before the value (bit 2), the value's own scale bits
# (bits 0-1) and, for scales >= 7, a trailing "scale 2" byte (SDS13781 Meter CC v4); irregular
# enough to be written out as one codec per command.


def _read_meter_get(r: Reader, values: dict[str, Any]) -> None:
    if not r.remaining:
        return
    head = r.byte("scale")
    scale = (head >> 3) & 0b111
    if scale == 7 and r.remaining:
        scale += r.byte("scale 2")
    values["scale"], values["rate_type"] = scale, head >> 6


def _write_meter_get(obj: Any, out: bytearray) -> None:
    if obj.scale is None:
        return
    check_byte(obj.rate_type, "rate type", 3)
    check_byte(obj.scale, "scale", 7 + 0xFF)
    out.append((obj.rate_type << 6) | (min(obj.scale, 7) << 3))
    if obj.scale >= 7:
        out.append(obj.scale - 7)


def _read_meter_report(r: Reader, values: dict[str, Any]) -> None:
    head = r.byte("meter type")
    need(r.data, 2, r.what)
    scaled, end = parse_scaled(r.data, r.pos, r.what)
    r.pos = end
    scale = (head >> 7) << 2 | scaled.scale
    delta: int | None = None
    previous: float | None = None
    if r.remaining >= 2:
        delta = int.from_bytes(r.take(2, "delta time"), "big")
        if delta:
            raw = int.from_bytes(r.take(scaled.size, "previous value"), "big", signed=True)
            previous = raw / 10**scaled.precision if scaled.precision else float(raw)
    if scale == 7:
        if delta is None or not r.remaining:
            raise ProtocolError(f"{r.what}: scale 7 needs a scale 2 byte")
        scale += r.byte("scale 2")
    values.update(
        meter_type=head & 0x1F,
        scale=scale,
        value=scaled.value,
        rate_type=(head >> 5) & 0b11,
        delta_time=delta,
        previous=previous,
        precision=scaled.precision,
        size=scaled.size,
    )


def _write_meter_report(obj: Any, out: bytearray) -> None:
    check_byte(obj.meter_type, "meter type", 0x1F)
    check_byte(obj.rate_type, "rate type", 3)
    check_byte(obj.scale, "scale", 7 + 0xFF)
    scale1 = min(obj.scale, 7)
    value = encode_scaled(obj.value, scale1 & 0b11, obj.precision, obj.size)
    out += bytes(((scale1 >> 2) << 7 | obj.rate_type << 5 | obj.meter_type,)) + value
    delta = obj.delta_time
    if delta is None and obj.scale < 7:
        return
    delta = delta or 0
    check_byte(delta, "delta time", 0xFFFF)
    out += delta.to_bytes(2, "big")
    if delta:
        precision, size = value[0] >> 5, value[0] & 0b111
        previous = round((obj.previous or 0.0) * 10**precision)
        out += previous.to_bytes(size, "big", signed=True)
    if obj.scale >= 7:
        out.append(obj.scale - 7)


def _read_meter_scales(r: Reader, values: dict[str, Any]) -> None:
    low = r.byte("scales")
    scales = parse_bitmask(bytes((low & 0x7F,)), 0)
    if low & 0x80:
        count = r.byte("scale bitmask length")
        scales += tuple(7 + s for s in parse_bitmask(r.take(count, "scales 7+"), 0))
    values["scales"] = scales


def _write_meter_scales(obj: Any, out: bytearray) -> None:
    low = encode_bitmask([s for s in obj.scales if s < 7], 0)[0]
    high = [s - 7 for s in obj.scales if s >= 7]
    if not high:
        out.append(low)
        return
    extra = encode_bitmask(high, 0)
    out += bytes((0x80 | low, len(extra))) + extra


@register
@dataclass(frozen=True, slots=True)
class MeterReport(CCCommand):
    """Meter Report: scale bit 2|rate|type, precision|scale|size, value [, delta, previous] [, scale 2]."""

    cc: ClassVar[int] = CommandClass.METER
    command: ClassVar[int] = MeterCommand.REPORT
    meter_type: int
    scale: int
    value: float
    rate_type: int = 0
    delta_time: int | None = None  # seconds since the previous value (v2+)
    previous: float | None = None
    precision: int | None = None
    size: int | None = None

    schema = (Custom(_read_meter_report, _write_meter_report),)


@register
@dataclass(frozen=True, slots=True)
class MeterGet(CCCommand):
    """Meter Get [rate type<<6 | scale<<3 (v2-4) [, scale 2 (v4, scale >= 7)]]."""

    cc: ClassVar[int] = CommandClass.METER
    command: ClassVar[int] = MeterCommand.GET
    scale: int | None = None
    rate_type: int = 0

    schema = (Custom(_read_meter_get, _write_meter_get),)
    report = MeterReport
    matches = ("scale",)


@register
@dataclass(frozen=True, slots=True)
class MeterSupportedReport(CCCommand):
    """Meter Supported Report: reset|rate types|meter type, more-scales|scales 0-6 [, count, scales 7...]."""

    cc: ClassVar[int] = CommandClass.METER
    command: ClassVar[int] = MeterCommand.SUPPORTED_REPORT
    meter_type: int
    scales: tuple[int, ...]
    supports_reset: bool = False
    rate_types: int = 0  # bit 0 consumed, bit 1 produced (v4)

    schema = (
        Bits(Flag("supports_reset", 0x80), Part("rate_types", 5, 2), Part("meter_type", 0, 5)),
        Custom(_read_meter_scales, _write_meter_scales),
    )


@register
@dataclass(frozen=True, slots=True)
class MeterSupportedGet(CCCommand):
    """Meter Supported Get (v2)."""

    cc: ClassVar[int] = CommandClass.METER
    command: ClassVar[int] = MeterCommand.SUPPORTED_GET
    report = MeterSupportedReport


# --- Battery -----------------------------------------------------------------------------------


@register
@dataclass(frozen=True, slots=True)
class BatteryReport(CCCommand):
    """Battery Report: level 0-100 % or 0xFF (battery low); v2 status bytes are not modelled."""

    cc: ClassVar[int] = CommandClass.BATTERY
    command: ClassVar[int] = BatteryCommand.REPORT
    level: int

    schema = (U8("level"),)

    @property
    def is_low(self) -> bool:
        """The device signals a low battery."""
        return self.level == BATTERY_LOW


@register
@dataclass(frozen=True, slots=True)
class BatteryGet(CCCommand):
    """Battery Get."""

    cc: ClassVar[int] = CommandClass.BATTERY
    command: ClassVar[int] = BatteryCommand.GET
    report = BatteryReport
