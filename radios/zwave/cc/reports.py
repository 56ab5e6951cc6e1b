"""Reports -> canonical events (CONTRACT section 4).

Rules of this file: pure functions, no I/O, no state. `report_to_events` turns one decapsulated
report into canonical events; unmapped or out-of-range values give no event (logged at debug).
"""

from __future__ import annotations

import logging

from hub_core.model import ButtonPressed, DeviceEvent, DeviceId, StateChanged, Value
from radios.zwave.cc.base import CCCommand, CommandClass
from radios.zwave.cc.capabilities import NodeCapabilities, notification_attributes
from radios.zwave.cc.lock import (
    DoorLockMode,
    DoorLockOperationReport,
)
from radios.zwave.cc.notification import (
    AccessControlEvent,
    HomeSecurityEvent,
    NotificationEvent,
    NotificationReport,
    NotificationType,
    WaterEvent,
)
from radios.zwave.cc.scene import (
    CentralSceneNotification,
)
from radios.zwave.cc.sensor import (
    BATTERY_LOW,
    BatteryReport,
    BinarySensorReport,
    BinarySensorType,
    ElectricScale,
    IlluminanceScale,
    MeterReport,
    MeterType,
    MultilevelSensorReport,
    SensorType,
)
from radios.zwave.cc.switch import (
    BasicReport,
    BasicSet,
    BinarySwitchReport,
    MultilevelSwitchReport,
    SwitchValue,
)
from radios.zwave.cc.thermostat import (
    SetpointType,
    ThermostatModeReport,
    ThermostatSetpointReport,
)
from radios.zwave.cc.transport import (
    SupervisionGet,
)
from radios.zwave.cc.values import (
    KEY_ACTIONS,
    LEAK_EVENTS,
    LOCKED_EVENTS,
    MODE_NAMES,
    MOTION_EVENTS,
    UNLOCKED_EVENTS,
    to_celsius,
    zwave_to_level,
)

log = logging.getLogger(__name__)

# --- reports -> events ---------------------------------------------------------------------------


def report_to_events(device_id: str, cmd: CCCommand, caps: NodeCapabilities) -> list[DeviceEvent]:
    """Canonical events for one decapsulated report from `device_id` (Supervision is unwrapped here)."""
    device = DeviceId(device_id)
    if isinstance(cmd, SupervisionGet):
        cmd = cmd.inner
    values = _report_values(cmd, caps)
    if values is None:
        return _button(device, cmd)
    return [StateChanged(device, attribute, value) for attribute, value in values]


def _switch_values(value: int, with_level: bool) -> list[tuple[str, Value]] | None:
    if value == SwitchValue.UNKNOWN:
        return []
    level = zwave_to_level(value)
    if level is None:
        log.debug("ignoring switch value 0x%02x (reserved)", value)
        return []
    out: list[tuple[str, Value]] = [("switch", "on" if level else "off")]
    if with_level and value != SwitchValue.ON:  # 0xFF says "on" without telling the level
        out.append(("level", level))
    return out


def _report_values(cmd: CCCommand, caps: NodeCapabilities) -> list[tuple[str, Value]] | None:
    """(attribute, value) pairs of a report, or None if `cmd` is not a state report."""
    match cmd:
        case BinarySwitchReport(current=current):
            return _switch_values(current, with_level=False)
        case MultilevelSwitchReport(current=current):
            return _switch_values(current, with_level=True)
        case BasicReport(current=current) | BasicSet(value=current):
            if isinstance(cmd, BasicSet) and not _is_actuator(caps):
                log.debug("ignoring Basic Set from a non-switch node")
                return []
            return _switch_values(current, with_level=caps.supports(CommandClass.MULTILEVEL_SWITCH))
        case BinarySensorReport(value=value, sensor_type=sensor_type):
            return _binary_sensor(value, sensor_type, caps)
        case MultilevelSensorReport(sensor_type=t, scale=scale, value=value):
            return _sensor(t, scale, value)
        case MeterReport(meter_type=MeterType.ELECTRIC, scale=ElectricScale.KWH, value=value) if value >= 0:
            return [("energy", value)]
        case MeterReport(meter_type=MeterType.ELECTRIC, scale=ElectricScale.W, value=value):
            return [("power", value)]
        case MeterReport():
            return []
        case NotificationReport():
            return _notification(cmd, caps)
        case DoorLockOperationReport(mode=mode):
            if mode == DoorLockMode.SECURED:
                return [("lock", "locked")]
            if mode == DoorLockMode.UNKNOWN:
                return []
            return [("lock", "unlocked")]
        case BatteryReport(level=level):
            if level == BATTERY_LOW:
                return [("battery", 0)]  # "low": the device gives no figure, so report empty
            if level > 100:
                log.debug("ignoring battery level %d (out of range)", level)
                return []
            return [("battery", level)]
        case ThermostatModeReport(mode=mode):
            name = MODE_NAMES.get(mode)
            return [("thermostat_mode", name)] if name else []
        case ThermostatSetpointReport(setpoint_type=SetpointType.HEATING, scale=scale, value=value):
            celsius = to_celsius(value, scale)
            return [("heating_setpoint", celsius)] if celsius is not None and -50 <= celsius <= 100 else []
        case ThermostatSetpointReport():
            return []
    return None


def _is_actuator(caps: NodeCapabilities) -> bool:
    return caps.supports(CommandClass.BINARY_SWITCH) or caps.supports(CommandClass.MULTILEVEL_SWITCH)


def _binary_sensor(value: int, sensor_type: int | None, caps: NodeCapabilities) -> list[tuple[str, Value]]:
    if sensor_type in (None, BinarySensorType.GENERAL_PURPOSE, BinarySensorType.ANY):
        # A v1 report has no type: use the node's one known type, if it has exactly one.
        known = [t for t in caps.binary_sensor_types if t != BinarySensorType.GENERAL_PURPOSE]
        sensor_type = known[0] if len(known) == 1 else sensor_type
    detected = value != 0
    if sensor_type == BinarySensorType.MOTION:
        return [("motion", "active" if detected else "inactive")]
    if sensor_type == BinarySensorType.DOOR_WINDOW:
        return [("contact", "open" if detected else "closed")]
    if sensor_type == BinarySensorType.WATER:
        return [("water", "wet" if detected else "dry")]
    return []


def _sensor(sensor_type: int, scale: int, value: float) -> list[tuple[str, Value]]:
    if sensor_type == SensorType.AIR_TEMPERATURE:
        celsius = to_celsius(value, scale)
        return [("temperature", celsius)] if celsius is not None and celsius >= -273.15 else []
    if sensor_type == SensorType.HUMIDITY and scale == 0:
        return [("humidity", value)] if 0 <= value <= 100 else []
    if sensor_type == SensorType.ILLUMINANCE and scale == IlluminanceScale.LUX:
        return [("illuminance", value)] if value >= 0 else []
    if sensor_type == SensorType.POWER and scale == 0:
        return [("power", value)]
    return []


def _notification(report: NotificationReport, caps: NodeCapabilities) -> list[tuple[str, Value]]:
    ntype, event = report.notification_type, report.event
    if ntype is None or event is None:
        return []  # V1 alarm: its meaning is manufacturer specific
    cleared = report.params[0] if event == NotificationEvent.IDLE and report.params else None
    if event == NotificationEvent.UNKNOWN:
        # What a node answers a Get with when nothing of the type is pending: idle, as zwave-js reads it.
        event = NotificationEvent.IDLE
    if ntype == NotificationType.ACCESS_CONTROL:
        if event in LOCKED_EVENTS:
            return [("lock", "locked")]
        if event in UNLOCKED_EVENTS:
            return [("lock", "unlocked")]
        if event == AccessControlEvent.LOCK_JAMMED:
            return [("lock", "jammed")]
        if event == AccessControlEvent.WINDOW_DOOR_OPEN:
            return [("contact", "open")]
        if event == AccessControlEvent.WINDOW_DOOR_CLOSED:
            return [("contact", "closed")]
        if event == AccessControlEvent.IDLE and (
            cleared == AccessControlEvent.WINDOW_DOOR_OPEN
            # Idle without a parameter ends every state of the type; it says "closed" only where
            # Access Control is about a door (a lock's idle says nothing about its bolt).
            or (cleared is None and "contact" in notification_attributes(caps, ntype))
        ):
            return [("contact", "closed")]
        return []
    if ntype == NotificationType.HOME_SECURITY:
        if event in MOTION_EVENTS:
            return [("motion", "active")]
        if event == HomeSecurityEvent.IDLE and (cleared is None or cleared in MOTION_EVENTS):
            return [("motion", "inactive")]
        return []
    if ntype == NotificationType.WATER:
        if event in LEAK_EVENTS:
            return [("water", "wet")]
        if event == WaterEvent.IDLE and (cleared is None or cleared in LEAK_EVENTS):
            return [("water", "dry")]
    return []


def _button(device: DeviceId, cmd: CCCommand) -> list[DeviceEvent]:
    if isinstance(cmd, CentralSceneNotification):
        action = KEY_ACTIONS.get(cmd.key_attribute)  # type: ignore[call-overload]
        if action is None:
            log.debug("%s: no canonical action for key attribute %d", device, cmd.key_attribute)
            return []
        return [ButtonPressed(device, cmd.scene, action)]
    return []
