"""Zigbee clusters <-> canonical capabilities (CONTRACT section 4), as pure functions over plain data.

Rules of this file: no zigpy objects, no I/O. A device is described by `DeviceShape` (its server
clusters with their cached attribute values by zigpy attribute name, and its client cluster ids).
Converters never raise: a value that is out of range, of the wrong type or marked invalid by the ZCL
spec (e.g. 0x8000 for a signed measurement) maps to nothing, so a misbehaving device cannot crash
the adapter. Unit conversions cite the ZCL 8 spec (07-5123) section of each cluster.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from hub_core.model import Command, Value, check_attribute


class ClusterId(IntEnum):
    """The ZCL clusters this adapter maps."""

    BASIC = 0x0000
    POWER_CONFIGURATION = 0x0001
    GROUPS = 0x0004
    ON_OFF = 0x0006
    LEVEL_CONTROL = 0x0008
    DOOR_LOCK = 0x0101
    THERMOSTAT = 0x0201
    COLOR_CONTROL = 0x0300
    ILLUMINANCE = 0x0400
    TEMPERATURE = 0x0402
    HUMIDITY = 0x0405
    OCCUPANCY = 0x0406
    IAS_ZONE = 0x0500
    METERING = 0x0702
    ELECTRICAL_MEASUREMENT = 0x0B04


class ZoneType(IntEnum):
    """IAS Zone types we map (ZCL 8.2.2.2.1.3)."""

    MOTION = 0x000D
    CONTACT = 0x0015
    WATER = 0x002A


@dataclass(frozen=True, slots=True)
class DeviceShape:
    """What the mapping needs to know about a device: clusters and cached attribute values."""

    #: server cluster id -> {zigpy attribute name: raw value}
    server: Mapping[int, Mapping[str, Any]] = field(default_factory=dict)
    #: client (output) cluster ids
    client: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class Report:
    """Reporting configuration for one attribute: (min s, max s, reportable change in raw units)."""

    attribute: str
    min_interval: int
    max_interval: int
    change: int = 1


#: Attribute reporting configured at interview (ZCL 2.5.7); intervals follow common device defaults.
REPORTING: dict[int, tuple[Report, ...]] = {
    ClusterId.POWER_CONFIGURATION: (Report("battery_percentage_remaining", 3600, 21600, 2),),
    ClusterId.ON_OFF: (Report("on_off", 0, 900),),
    ClusterId.LEVEL_CONTROL: (Report("current_level", 1, 900),),
    ClusterId.COLOR_CONTROL: (Report("color_temperature", 1, 900),),
    ClusterId.TEMPERATURE: (Report("measured_value", 30, 3600, 10),),
    ClusterId.HUMIDITY: (Report("measured_value", 30, 3600, 100),),
    ClusterId.ILLUMINANCE: (Report("measured_value", 10, 3600, 500),),
    ClusterId.OCCUPANCY: (Report("occupancy", 0, 3600),),
    ClusterId.DOOR_LOCK: (Report("lock_state", 0, 3600),),
    ClusterId.THERMOSTAT: (
        Report("local_temperature", 30, 900, 10),
        Report("occupied_heating_setpoint", 0, 900, 10),
        Report("system_mode", 0, 900),
    ),
    ClusterId.ELECTRICAL_MEASUREMENT: (Report("active_power", 5, 900, 10),),
    ClusterId.METERING: (Report("current_summ_delivered", 30, 900, 10),),
}

#: Attributes read once at interview because conversions need them (they never change).
STATIC_ATTRIBUTES: dict[int, tuple[str, ...]] = {
    ClusterId.IAS_ZONE: ("zone_type", "zone_status", "zone_state"),
    ClusterId.ELECTRICAL_MEASUREMENT: ("ac_power_multiplier", "ac_power_divisor"),
    ClusterId.METERING: ("multiplier", "divisor"),
}

#: Commands a group cast can carry for all members at once.
GROUPABLE_COMMANDS = frozenset({"on", "off", "toggle", "set_level", "set_color_temp"})


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value):
        return None
    return float(value)


def _hundredths(invalid: int) -> Callable[[Any, Mapping[str, Any]], Value | None]:
    def convert(value: Any, _: Mapping[str, Any]) -> Value | None:
        number = _number(value)
        if number is None or number == invalid:
            return None
        return round(number / 100, 2)

    return convert


def _on_off(value: Any, _: Mapping[str, Any]) -> Value | None:
    if isinstance(value, bool) or value in (0, 1):
        return "on" if value else "off"
    return None


def _level(value: Any, _: Mapping[str, Any]) -> Value | None:
    number = _number(value)
    if number is None or not 0 <= number <= 254:  # ZCL 3.10.2.3.1: 0xFF is undefined
        return None
    return round(number * 100 / 254)


def _mireds(value: Any, _: Mapping[str, Any]) -> Value | None:
    number = _number(value)
    if number is None or not 1 <= number < 0xFFFF:  # ZCL 5.2.2.2.1.9
        return None
    kelvin = round(1_000_000 / number)
    return kelvin if 1000 <= kelvin <= 10000 else None


def _illuminance(value: Any, _: Mapping[str, Any]) -> Value | None:
    number = _number(value)
    if number is None or not 0 <= number < 0xFFFF:  # ZCL 4.2.2.2.1.1: 10000*log10(lux)+1
        return None
    return 0.0 if number == 0 else round(10 ** ((number - 1) / 10000), 1)


def _bit0(on: str, off: str) -> Callable[[Any, Mapping[str, Any]], Value | None]:
    def convert(value: Any, _: Mapping[str, Any]) -> Value | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return None
        return on if value & 0x01 else off

    return convert


def _battery(value: Any, _: Mapping[str, Any]) -> Value | None:
    number = _number(value)
    if number is None or not 0 <= number <= 200:  # ZCL 3.3.2.2.3.1: half-percent units, 0xFF invalid
        return None
    return round(number / 2)


def _scaled(
    multiplier: str, divisor: str, scale: float, digits: int
) -> Callable[[Any, Mapping[str, Any]], Value | None]:
    def convert(value: Any, cache: Mapping[str, Any]) -> Value | None:
        number = _number(value)
        mul = _number(cache.get(multiplier, 1)) or 1.0
        div = _number(cache.get(divisor, 1)) or 1.0
        if number is None:
            return None
        return round(number * mul / div * scale, digits)

    return convert


def _active_power(value: Any, cache: Mapping[str, Any]) -> Value | None:
    if _number(value) == -0x8000:  # ZCL 4.9.2.2.5: invalid
        return None
    return _scaled("ac_power_multiplier", "ac_power_divisor", 1.0, 1)(value, cache)


def _energy(value: Any, cache: Mapping[str, Any]) -> Value | None:
    converted = _scaled("multiplier", "divisor", 1.0, 3)(value, cache)
    return converted if converted is None or float(converted) >= 0 else None


_LOCK_STATES = {0: "jammed", 1: "locked", 2: "unlocked"}  # ZCL 7.3.2.2.1: 0 = not fully locked
_SYSTEM_MODES = {0: "off", 1: "auto", 3: "cool", 4: "heat"}  # ZCL 6.3.2.2.2.17
_MODE_VALUES = {name: value for value, name in _SYSTEM_MODES.items()}


def _lock(value: Any, _: Mapping[str, Any]) -> Value | None:
    return _LOCK_STATES.get(value) if isinstance(value, int) and not isinstance(value, bool) else None


def _mode(value: Any, _: Mapping[str, Any]) -> Value | None:
    return _SYSTEM_MODES.get(value) if isinstance(value, int) and not isinstance(value, bool) else None


_ZONE_ATTRIBUTES = {
    ZoneType.MOTION: ("motion", "active", "inactive"),
    ZoneType.CONTACT: ("contact", "open", "closed"),
    ZoneType.WATER: ("water", "wet", "dry"),
}


def zone_capability(zone_type: Any) -> str | None:
    """The attribute an IAS zone of this type reports, or None for unmapped zone types."""
    if not isinstance(zone_type, int) or isinstance(zone_type, bool):
        return None
    try:
        return _ZONE_ATTRIBUTES[ZoneType(zone_type)][0]
    except ValueError:
        return None


def zone_state(zone_type: Any, zone_status: Any) -> tuple[str, str] | None:
    """(attribute, value) for an IAS zone status (alarm 1 bit, ZCL 8.2.2.2.1.4), or None."""
    if (
        zone_capability(zone_type) is None
        or isinstance(zone_status, bool)
        or not isinstance(zone_status, int)
    ):
        return None
    attribute, alarm, normal = _ZONE_ATTRIBUTES[ZoneType(zone_type)]
    return attribute, alarm if zone_status & 0x0001 else normal


#: (cluster id, zigpy attribute name) -> (our attribute, converter)
ATTRIBUTE_MAP: dict[tuple[int, str], tuple[str, Callable[[Any, Mapping[str, Any]], Value | None]]] = {
    (ClusterId.ON_OFF, "on_off"): ("switch", _on_off),
    (ClusterId.LEVEL_CONTROL, "current_level"): ("level", _level),
    (ClusterId.COLOR_CONTROL, "color_temperature"): ("color_temp", _mireds),
    (ClusterId.TEMPERATURE, "measured_value"): ("temperature", _hundredths(-0x8000)),
    (ClusterId.HUMIDITY, "measured_value"): ("humidity", _hundredths(0xFFFF)),
    (ClusterId.ILLUMINANCE, "measured_value"): ("illuminance", _illuminance),
    (ClusterId.OCCUPANCY, "occupancy"): ("motion", _bit0("active", "inactive")),
    (ClusterId.POWER_CONFIGURATION, "battery_percentage_remaining"): ("battery", _battery),
    (ClusterId.ELECTRICAL_MEASUREMENT, "active_power"): ("power", _active_power),
    (ClusterId.METERING, "current_summ_delivered"): ("energy", _energy),
    (ClusterId.DOOR_LOCK, "lock_state"): ("lock", _lock),
    (ClusterId.THERMOSTAT, "local_temperature"): ("temperature", _hundredths(-0x8000)),
    (ClusterId.THERMOSTAT, "occupied_heating_setpoint"): ("heating_setpoint", _hundredths(-0x8000)),
    (ClusterId.THERMOSTAT, "system_mode"): ("thermostat_mode", _mode),
}


def capabilities(shape: DeviceShape) -> tuple[str, ...]:
    """The canonical capabilities of a device with this shape, in a stable order."""
    found: list[str] = []
    for (cluster_id, _), (attribute, _) in ATTRIBUTE_MAP.items():
        if cluster_id in shape.server and attribute not in found:
            found.append(attribute)
    zone = shape.server.get(ClusterId.IAS_ZONE)
    if zone is not None:
        zone_attribute = zone_capability(zone.get("zone_type"))
        if zone_attribute is not None and zone_attribute not in found:
            found.append(zone_attribute)
    if ClusterId.ON_OFF not in shape.server and shape.client & {ClusterId.ON_OFF, ClusterId.LEVEL_CONTROL}:
        found.append("button")
    return tuple(found)


def convert(
    cluster_id: int, attribute: str | None, value: Any, cache: Mapping[str, Any]
) -> tuple[str, Value] | None:
    """(our attribute, value) for a reported/read ZCL attribute, or None if it maps to nothing."""
    if attribute is None:
        return None
    if cluster_id == ClusterId.IAS_ZONE and attribute == "zone_status":
        return zone_state(cache.get("zone_type"), value)
    entry = ATTRIBUTE_MAP.get((cluster_id, attribute))
    if entry is None:
        return None
    try:
        converted = entry[1](value, cache)
        if converted is None:
            return None
        # Within what the canonical model allows (e.g. a setpoint of 327 degC is a device bug).
        return entry[0], check_attribute(entry[0], converted)
    except (ArithmeticError, TypeError, ValueError):
        return None


def state(shape: DeviceShape) -> dict[str, Value]:
    """Every canonical attribute value the cached ZCL attributes give."""
    out: dict[str, Value] = {}
    for cluster_id, cache in shape.server.items():
        for name, value in cache.items():
            mapped = convert(cluster_id, name, value, cache)
            if mapped is not None:
                out[mapped[0]] = mapped[1]
    return out


def expected_interval(shape: DeviceShape) -> int | None:
    """The longest maximum reporting interval configured on the device, or None if it never reports."""
    intervals = [r.max_interval for cid in shape.server for r in REPORTING.get(cid, ())]
    return max(intervals) if intervals else None


# --- button events from remotes ---------------------------------------------------------------


def button_event(cluster_id: int, command: str, args: Any, last_held: int) -> tuple[int, str] | None:
    """(button, action) for a command a remote sent, or None; button 1 is on/up, 2 is off/down."""
    if cluster_id == ClusterId.ON_OFF:
        return {"on": (1, "pressed"), "off": (2, "pressed"), "toggle": (1, "pressed")}.get(command)
    if cluster_id != ClusterId.LEVEL_CONTROL:
        return None
    if command in ("move", "move_with_on_off", "step", "step_with_on_off"):
        mode = getattr(args, "move_mode", None)
        if mode is None:
            mode = getattr(args, "step_mode", 0)
        button = 2 if mode == 1 else 1  # ZCL 3.10.2.4.2.1: 0 up, 1 down
        return button, "held" if command.startswith("move") else "pressed"
    if command in ("stop", "stop_with_on_off"):
        return last_held, "released"
    return None


# --- canonical commands -> ZCL requests -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ZclRequest:
    """One ZCL request: a cluster command, an attribute write or an attribute read."""

    cluster_id: int
    kind: str  # "command" | "write" | "read"
    name: str = ""
    args: Mapping[str, Any] = field(default_factory=dict)
    attributes: tuple[str, ...] = ()


def _tenths(command: Command) -> int:
    duration = command.args.get("duration", 0)
    return max(0, min(0xFFFE, round(float(duration) * 10)))


def plan(command: Command, shape: DeviceShape) -> list[ZclRequest]:
    """The ZCL requests that carry out `command` on a device of this shape (ValueError if none)."""
    name = command.name
    if name in ("on", "off", "toggle") and ClusterId.ON_OFF in shape.server:
        return [ZclRequest(ClusterId.ON_OFF, "command", name)]
    if name == "set_level" and ClusterId.LEVEL_CONTROL in shape.server:
        level = round(float(command.args["level"]) * 254 / 100)
        args = {"level": level, "transition_time": _tenths(command)}
        return [ZclRequest(ClusterId.LEVEL_CONTROL, "command", "move_to_level_with_on_off", args)]
    if name == "set_color_temp" and ClusterId.COLOR_CONTROL in shape.server:
        mireds = round(1_000_000 / float(command.args["kelvin"]))
        args = {"color_temp_mireds": mireds, "transition_time": _tenths(command)}
        return [ZclRequest(ClusterId.COLOR_CONTROL, "command", "move_to_color_temp", args)]
    if name in ("lock", "unlock") and ClusterId.DOOR_LOCK in shape.server:
        return [ZclRequest(ClusterId.DOOR_LOCK, "command", f"{name}_door")]
    if name == "set_heating_setpoint" and ClusterId.THERMOSTAT in shape.server:
        value = round(float(command.args["value"]) * 100)
        return [ZclRequest(ClusterId.THERMOSTAT, "write", args={"occupied_heating_setpoint": value})]
    if name == "set_thermostat_mode" and ClusterId.THERMOSTAT in shape.server:
        mode = _MODE_VALUES[str(command.args["mode"])]
        return [ZclRequest(ClusterId.THERMOSTAT, "write", args={"system_mode": mode})]
    if name == "refresh":
        reads = []
        for cluster_id in shape.server:
            names = tuple(r.attribute for r in REPORTING.get(cluster_id, ()))
            if cluster_id == ClusterId.IAS_ZONE:
                names = ("zone_status",)
            if names:
                reads.append(ZclRequest(cluster_id, "read", attributes=names))
        return reads
    raise ValueError(f"no Zigbee cluster carries {name!r} on this device")
