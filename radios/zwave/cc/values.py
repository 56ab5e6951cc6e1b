"""Value conversions between Z-Wave and the canonical model, and the name tables both directions use.

Rules of this file: pure functions and constant tables, no I/O.
"""

from __future__ import annotations

import logging

from radios.zwave.cc.notification import (
    AccessControlEvent,
    HomeSecurityEvent,
    WaterEvent,
)
from radios.zwave.cc.scene import (
    KeyAttribute,
)
from radios.zwave.cc.sensor import (
    SensorType,
    TemperatureScale,
)
from radios.zwave.cc.switch import (
    SwitchValue,
)
from radios.zwave.cc.thermostat import (
    ThermostatMode,
)

log = logging.getLogger(__name__)

# --- value conversions ---------------------------------------------------------------------------


def level_to_zwave(level: int) -> int:
    """Canonical level 0-100 % -> Multilevel Switch 0-99 (100 % is 99, the highest level)."""
    return min(max(level, 0), SwitchValue.MAX_LEVEL)


def zwave_to_level(value: int) -> int | None:
    """Multilevel Switch value -> 0-100 %: 99 and 0xFF are 100 %; None for unknown or invalid values."""
    if value == SwitchValue.ON or value == SwitchValue.MAX_LEVEL:
        return 100
    if 0 <= value < SwitchValue.MAX_LEVEL:
        return value
    return None


def fahrenheit_to_celsius(value: float) -> float:
    """degF -> degC, rounded to 2 decimals (the model's precision)."""
    return round((value - 32) * 5 / 9, 2)


def to_celsius(value: float, scale: int) -> float | None:
    if scale == TemperatureScale.CELSIUS:
        return value
    if scale == TemperatureScale.FAHRENHEIT:
        return fahrenheit_to_celsius(value)
    return None


THERMOSTAT_MODES: dict[str, int] = {
    "off": ThermostatMode.OFF,
    "heat": ThermostatMode.HEAT,
    "cool": ThermostatMode.COOL,
    "auto": ThermostatMode.AUTO,
}
MODE_NAMES = {v: k for k, v in THERMOSTAT_MODES.items()}
KEY_ACTIONS = {
    KeyAttribute.PRESSED_1X: "pressed",
    KeyAttribute.RELEASED: "released",
    KeyAttribute.HELD_DOWN: "held",
    KeyAttribute.PRESSED_2X: "double",
}
LOCKED_EVENTS = frozenset(
    {
        AccessControlEvent.MANUAL_LOCK,
        AccessControlEvent.RF_LOCK,
        AccessControlEvent.KEYPAD_LOCK,
        AccessControlEvent.AUTO_LOCK,
    }
)
UNLOCKED_EVENTS = frozenset(
    {AccessControlEvent.MANUAL_UNLOCK, AccessControlEvent.RF_UNLOCK, AccessControlEvent.KEYPAD_UNLOCK}
)
MOTION_EVENTS = frozenset({HomeSecurityEvent.MOTION, HomeSecurityEvent.MOTION_LOCATION})
LEAK_EVENTS = frozenset({WaterEvent.LEAK, WaterEvent.LEAK_LOCATION})


def preferred_scale(sensor_type: int, scales: tuple[int, ...]) -> int:
    preferred: dict[int, int] = {
        SensorType.AIR_TEMPERATURE: 0,
        SensorType.ILLUMINANCE: 1,
        SensorType.HUMIDITY: 0,
    }
    want = preferred.get(sensor_type, 0)
    return want if not scales or want in scales else scales[0]
