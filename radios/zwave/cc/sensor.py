"""Binary Sensor, Multilevel Sensor, Meter and Battery command classes (SDS13781).

Numbers travel as precision/scale/size + signed value (base.parse_scaled). Sensor, meter and scale
numbers are kept as plain ints because devices send types this table does not name.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, Self

from hub_core.errors import ProtocolError
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
class BinarySensorSupportedGet(CCCommand):
    """Binary Sensor Supported Get (v2)."""

    cc: ClassVar[int] = CommandClass.BINARY_SENSOR
    command: ClassVar[int] = BinarySensorCommand.SUPPORTED_GET


@register
@dataclass(frozen=True, slots=True)
class BinarySensorSupportedReport(CCCommand):
    """Binary Sensor Supported Report: bitmask of types, bit 0 of byte 0 = type 0 (reserved)."""

    cc: ClassVar[int] = CommandClass.BINARY_SENSOR
    command: ClassVar[int] = BinarySensorCommand.SUPPORTED_REPORT
    types: tuple[int, ...]

    def to_payload(self) -> bytes:
        return encode_bitmask(self.types, 0)

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 1, cls.__name__)
        return cls(tuple(t for t in parse_bitmask(payload, 0) if t != 0))


@register
@dataclass(frozen=True, slots=True)
class BinarySensorGet(CCCommand):
    """Binary Sensor Get [sensor type (v2)]."""

    cc: ClassVar[int] = CommandClass.BINARY_SENSOR
    command: ClassVar[int] = BinarySensorCommand.GET
    sensor_type: int | None = None

    def to_payload(self) -> bytes:
        if self.sensor_type is None:
            return b""
        check_byte(self.sensor_type, "sensor type")
        return bytes((self.sensor_type,))

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        return cls(payload[0] if payload else None)


@register
@dataclass(frozen=True, slots=True)
class BinarySensorReport(CCCommand):
    """Binary Sensor Report: value (0x00 idle, 0xFF detected) [, sensor type (v2)]."""

    cc: ClassVar[int] = CommandClass.BINARY_SENSOR
    command: ClassVar[int] = BinarySensorCommand.REPORT
    value: int
    sensor_type: int | None = None

    @property
    def detected(self) -> bool:
        """Any non-zero value means an event is detected."""
        return self.value != 0

    def to_payload(self) -> bytes:
        check_byte(self.value, "value")
        if self.sensor_type is None:
            return bytes((self.value,))
        check_byte(self.sensor_type, "sensor type")
        return bytes((self.value, self.sensor_type))

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 1, cls.__name__)
        return cls(payload[0], payload[1] if len(payload) >= 2 else None)


# --- Multilevel Sensor --------------------------------------------------------------------------


@register
@dataclass(frozen=True, slots=True)
class MultilevelSensorSupportedSensorGet(CCCommand):
    """Multilevel Sensor Supported Sensor Get (v5)."""

    cc: ClassVar[int] = CommandClass.MULTILEVEL_SENSOR
    command: ClassVar[int] = MultilevelSensorCommand.SUPPORTED_SENSOR_GET


@register
@dataclass(frozen=True, slots=True)
class MultilevelSensorSupportedSensorReport(CCCommand):
    """Supported Sensor Report: bitmask of sensor types, bit 0 of byte 0 = type 1."""

    cc: ClassVar[int] = CommandClass.MULTILEVEL_SENSOR
    command: ClassVar[int] = MultilevelSensorCommand.SUPPORTED_SENSOR_REPORT
    types: tuple[int, ...]

    def to_payload(self) -> bytes:
        return encode_bitmask(self.types, 1)

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 1, cls.__name__)
        return cls(parse_bitmask(payload, 1))


@register
@dataclass(frozen=True, slots=True)
class MultilevelSensorSupportedScaleGet(CCCommand):
    """Supported Scale Get: sensor type."""

    cc: ClassVar[int] = CommandClass.MULTILEVEL_SENSOR
    command: ClassVar[int] = MultilevelSensorCommand.SUPPORTED_SCALE_GET
    sensor_type: int

    def to_payload(self) -> bytes:
        check_byte(self.sensor_type, "sensor type")
        return bytes((self.sensor_type,))

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 1, cls.__name__)
        return cls(payload[0])


@register
@dataclass(frozen=True, slots=True)
class MultilevelSensorSupportedScaleReport(CCCommand):
    """Supported Scale Report: sensor type, scale bitmask in the low 4 bits (bit 0 = scale 0)."""

    cc: ClassVar[int] = CommandClass.MULTILEVEL_SENSOR
    command: ClassVar[int] = MultilevelSensorCommand.SUPPORTED_SCALE_REPORT
    sensor_type: int
    scales: tuple[int, ...]

    def to_payload(self) -> bytes:
        check_byte(self.sensor_type, "sensor type")
        if any(not 0 <= s <= 3 for s in self.scales):
            raise ValueError(f"sensor scales must be 0..3: {self.scales}")
        return bytes((self.sensor_type,)) + encode_bitmask(self.scales, 0)

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 2, cls.__name__)
        return cls(payload[0], parse_bitmask(bytes((payload[1] & 0x0F,)), 0))


@register
@dataclass(frozen=True, slots=True)
class MultilevelSensorGet(CCCommand):
    """Multilevel Sensor Get [sensor type, scale<<3 (v5)]."""

    cc: ClassVar[int] = CommandClass.MULTILEVEL_SENSOR
    command: ClassVar[int] = MultilevelSensorCommand.GET
    sensor_type: int | None = None
    scale: int = 0

    def to_payload(self) -> bytes:
        if self.sensor_type is None:
            return b""
        check_byte(self.sensor_type, "sensor type")
        check_byte(self.scale, "scale", 3)
        return bytes((self.sensor_type, self.scale << 3))

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        if len(payload) < 2:
            return cls()
        return cls(payload[0], (payload[1] >> 3) & 0b11)


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

    def to_payload(self) -> bytes:
        check_byte(self.sensor_type, "sensor type")
        return bytes((self.sensor_type,)) + encode_scaled(self.value, self.scale, self.precision, self.size)

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 2, cls.__name__)
        scaled, _ = parse_scaled(payload, 1, cls.__name__)
        return cls(payload[0], scaled.scale, scaled.value, scaled.precision, scaled.size)


# --- Meter -------------------------------------------------------------------------------------


@register
@dataclass(frozen=True, slots=True)
class MeterGet(CCCommand):
    """Meter Get [rate type<<6 | scale<<3 (v2-4) [, scale 2 (v4, scale >= 7)]]."""

    cc: ClassVar[int] = CommandClass.METER
    command: ClassVar[int] = MeterCommand.GET
    scale: int | None = None
    rate_type: int = 0

    def to_payload(self) -> bytes:
        if self.scale is None:
            return b""
        check_byte(self.rate_type, "rate type", 3)
        check_byte(self.scale, "scale", 7 + 0xFF)
        head = (self.rate_type << 6) | (min(self.scale, 7) << 3)
        if self.scale >= 7:
            return bytes((head, self.scale - 7))
        return bytes((head,))

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        if not payload:
            return cls()
        scale = (payload[0] >> 3) & 0b111
        if scale == 7 and len(payload) >= 2:
            scale += payload[1]
        return cls(scale, payload[0] >> 6)


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

    def to_payload(self) -> bytes:
        check_byte(self.meter_type, "meter type", 0x1F)
        check_byte(self.rate_type, "rate type", 3)
        check_byte(self.scale, "scale", 7 + 0xFF)
        scale1 = min(self.scale, 7)
        value = encode_scaled(self.value, scale1 & 0b11, self.precision, self.size)
        out = bytes(((scale1 >> 2) << 7 | self.rate_type << 5 | self.meter_type,)) + value
        delta = self.delta_time
        if delta is None and self.scale < 7:
            return out
        delta = delta or 0
        check_byte(delta, "delta time", 0xFFFF)
        out += delta.to_bytes(2, "big")
        if delta:
            precision, size = value[0] >> 5, value[0] & 0b111
            previous = round((self.previous or 0.0) * 10**precision)
            out += previous.to_bytes(size, "big", signed=True)
        if self.scale >= 7:
            out += bytes((self.scale - 7,))
        return out

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 2, cls.__name__)
        scaled, end = parse_scaled(payload, 1, cls.__name__)
        scale = (payload[0] >> 7) << 2 | scaled.scale
        delta: int | None = None
        previous: float | None = None
        if len(payload) >= end + 2:
            delta = int.from_bytes(payload[end : end + 2], "big")
            end += 2
            if delta:
                need(payload, end + scaled.size, f"{cls.__name__} previous value")
                raw = int.from_bytes(payload[end : end + scaled.size], "big", signed=True)
                previous = raw / 10**scaled.precision if scaled.precision else float(raw)
                end += scaled.size
        if scale == 7:
            if delta is None or len(payload) <= end:
                raise ProtocolError(f"{cls.__name__}: scale 7 needs a scale 2 byte")
            scale += payload[end]
        return cls(
            payload[0] & 0x1F,
            scale,
            scaled.value,
            (payload[0] >> 5) & 0b11,
            delta,
            previous,
            scaled.precision,
            scaled.size,
        )


@register
@dataclass(frozen=True, slots=True)
class MeterSupportedGet(CCCommand):
    """Meter Supported Get (v2)."""

    cc: ClassVar[int] = CommandClass.METER
    command: ClassVar[int] = MeterCommand.SUPPORTED_GET


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

    def to_payload(self) -> bytes:
        check_byte(self.meter_type, "meter type", 0x1F)
        check_byte(self.rate_types, "rate types", 3)
        head = bytes(((0x80 if self.supports_reset else 0) | self.rate_types << 5 | self.meter_type,))
        low = encode_bitmask([s for s in self.scales if s < 7], 0)[0]
        high = [s - 7 for s in self.scales if s >= 7]
        if not high:
            return head + bytes((low,))
        extra = encode_bitmask(high, 0)
        return head + bytes((0x80 | low, len(extra))) + extra

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 2, cls.__name__)
        scales = parse_bitmask(bytes((payload[1] & 0x7F,)), 0)
        if payload[1] & 0x80:
            need(payload, 3, cls.__name__)
            count = payload[2]
            need(payload, 3 + count, cls.__name__)
            scales += tuple(7 + s for s in parse_bitmask(payload[3 : 3 + count], 0))
        return cls(payload[0] & 0x1F, scales, bool(payload[0] & 0x80), (payload[0] >> 5) & 0b11)


# --- Battery -----------------------------------------------------------------------------------


@register
@dataclass(frozen=True, slots=True)
class BatteryGet(CCCommand):
    """Battery Get."""

    cc: ClassVar[int] = CommandClass.BATTERY
    command: ClassVar[int] = BatteryCommand.GET


@register
@dataclass(frozen=True, slots=True)
class BatteryReport(CCCommand):
    """Battery Report: level 0-100 % or 0xFF (battery low); v2 status bytes are not modelled."""

    cc: ClassVar[int] = CommandClass.BATTERY
    command: ClassVar[int] = BatteryCommand.REPORT
    level: int

    @property
    def is_low(self) -> bool:
        """The device signals a low battery."""
        return self.level == BATTERY_LOW

    def to_payload(self) -> bytes:
        check_byte(self.level, "battery level")
        return bytes((self.level,))

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 1, cls.__name__)
        return cls(payload[0])
