"""Command classes <-> the canonical model (CONTRACT section 4), and what an interview asks.

Rules of this file: pure functions, no I/O, no state. `report_to_events` turns one decapsulated
report into canonical events (unmapped or out-of-range values give no event, logged at debug);
`command_to_ccs` turns a canonical command into the CC commands to send, Sets first, then the Gets
whose reports confirm the new state; `interview_queries`/`interview_follow_ups` drive an interview.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from hub_core.errors import InvalidCommand
from hub_core.model import ButtonPressed, Command, DeviceEvent, DeviceId, StateChanged, Value
from radios.zwave.cc.base import CCCommand, CommandClass, encode_duration
from radios.zwave.cc.capabilities import NodeCapabilities, notification_attributes
from radios.zwave.cc.lock import (
    DoorLockMode,
    DoorLockOperationGet,
    DoorLockOperationReport,
    DoorLockOperationSet,
)
from radios.zwave.cc.management import (
    LIFELINE_GROUP,
    AssociationGet,
    AssociationReport,
    AssociationSupportedGroupingsGet,
    AssociationSupportedGroupingsReport,
    ConfigurationGet,
    ConfigurationReport,
    ManufacturerSpecificGet,
    ManufacturerSpecificReport,
    VersionCommandClassGet,
    VersionCommandClassReport,
    VersionGet,
    VersionReport,
    WakeUpIntervalCapabilitiesGet,
    WakeUpIntervalCapabilitiesReport,
    WakeUpIntervalGet,
    WakeUpIntervalReport,
)
from radios.zwave.cc.notification import (
    AccessControlEvent,
    HomeSecurityEvent,
    NotificationEvent,
    NotificationEventSupportedGet,
    NotificationEventSupportedReport,
    NotificationGet,
    NotificationReport,
    NotificationSupportedGet,
    NotificationSupportedReport,
    NotificationType,
    WaterEvent,
)
from radios.zwave.cc.scene import (
    CentralSceneNotification,
    CentralSceneSupportedGet,
    CentralSceneSupportedReport,
    KeyAttribute,
)
from radios.zwave.cc.sensor import (
    BATTERY_LOW,
    BatteryGet,
    BatteryReport,
    BinarySensorGet,
    BinarySensorReport,
    BinarySensorSupportedGet,
    BinarySensorSupportedReport,
    BinarySensorType,
    ElectricScale,
    IlluminanceScale,
    MeterGet,
    MeterReport,
    MeterSupportedGet,
    MeterSupportedReport,
    MeterType,
    MultilevelSensorGet,
    MultilevelSensorReport,
    MultilevelSensorSupportedScaleGet,
    MultilevelSensorSupportedScaleReport,
    MultilevelSensorSupportedSensorGet,
    MultilevelSensorSupportedSensorReport,
    SensorType,
    TemperatureScale,
)
from radios.zwave.cc.switch import (
    BasicGet,
    BasicReport,
    BasicSet,
    BinarySwitchGet,
    BinarySwitchReport,
    BinarySwitchSet,
    MultilevelSwitchGet,
    MultilevelSwitchReport,
    MultilevelSwitchSet,
    SwitchValue,
)
from radios.zwave.cc.thermostat import (
    SetpointType,
    ThermostatMode,
    ThermostatModeGet,
    ThermostatModeReport,
    ThermostatModeSet,
    ThermostatModeSupportedGet,
    ThermostatModeSupportedReport,
    ThermostatSetpointGet,
    ThermostatSetpointReport,
    ThermostatSetpointSet,
    ThermostatSetpointSupportedGet,
    ThermostatSetpointSupportedReport,
)
from radios.zwave.cc.transport import (
    MultiChannelCapabilityGet,
    MultiChannelCapabilityReport,
    MultiChannelEndPointGet,
    MultiChannelEndPointReport,
    SupervisionGet,
    SupervisionReport,
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


def _celsius(value: float, scale: int) -> float | None:
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
_MODE_NAMES = {v: k for k, v in THERMOSTAT_MODES.items()}
_KEY_ACTIONS = {
    KeyAttribute.PRESSED_1X: "pressed",
    KeyAttribute.RELEASED: "released",
    KeyAttribute.HELD_DOWN: "held",
    KeyAttribute.PRESSED_2X: "double",
}
_LOCKED_EVENTS = frozenset(
    {
        AccessControlEvent.MANUAL_LOCK,
        AccessControlEvent.RF_LOCK,
        AccessControlEvent.KEYPAD_LOCK,
        AccessControlEvent.AUTO_LOCK,
    }
)
_UNLOCKED_EVENTS = frozenset(
    {AccessControlEvent.MANUAL_UNLOCK, AccessControlEvent.RF_UNLOCK, AccessControlEvent.KEYPAD_UNLOCK}
)
_MOTION_EVENTS = frozenset({HomeSecurityEvent.MOTION, HomeSecurityEvent.MOTION_LOCATION})
_LEAK_EVENTS = frozenset({WaterEvent.LEAK, WaterEvent.LEAK_LOCATION})


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
            name = _MODE_NAMES.get(mode)
            return [("thermostat_mode", name)] if name else []
        case ThermostatSetpointReport(setpoint_type=SetpointType.HEATING, scale=scale, value=value):
            celsius = _celsius(value, scale)
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
        celsius = _celsius(value, scale)
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
        if event in _LOCKED_EVENTS:
            return [("lock", "locked")]
        if event in _UNLOCKED_EVENTS:
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
        if event in _MOTION_EVENTS:
            return [("motion", "active")]
        if event == HomeSecurityEvent.IDLE and (cleared is None or cleared in _MOTION_EVENTS):
            return [("motion", "inactive")]
        return []
    if ntype == NotificationType.WATER:
        if event in _LEAK_EVENTS:
            return [("water", "wet")]
        if event == WaterEvent.IDLE and (cleared is None or cleared in _LEAK_EVENTS):
            return [("water", "dry")]
    return []


def _button(device: DeviceId, cmd: CCCommand) -> list[DeviceEvent]:
    if isinstance(cmd, CentralSceneNotification):
        action = _KEY_ACTIONS.get(cmd.key_attribute)  # type: ignore[call-overload]
        if action is None:
            log.debug("%s: no canonical action for key attribute %d", device, cmd.key_attribute)
            return []
        return [ButtonPressed(device, cmd.scene, action)]
    return []


# --- commands -> CCs ---------------------------------------------------------------------------


def _require(caps: NodeCapabilities, command: Command, *ccs: CommandClass) -> CommandClass:
    for cc in ccs:
        if caps.supports(cc):
            return cc
    names = " or ".join(cc.name.replace("_", " ").title() for cc in ccs)
    raise InvalidCommand(
        f"{command.device} cannot {command.name!r}: it has no {names} command class", device=command.device
    )


def _number(command: Command, key: str) -> float:
    value = command.args.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidCommand(f"{command.name} needs a numeric {key!r}, not {value!r}", device=command.device)
    return value


def _switch(command: Command, caps: NodeCapabilities, on: bool) -> list[CCCommand]:
    cc = _require(
        caps, command, CommandClass.MULTILEVEL_SWITCH, CommandClass.BINARY_SWITCH, CommandClass.BASIC
    )
    value = SwitchValue.ON if on else SwitchValue.OFF
    if cc == CommandClass.MULTILEVEL_SWITCH:
        return [MultilevelSwitchSet(value), MultilevelSwitchGet()]
    if cc == CommandClass.BINARY_SWITCH:
        return [BinarySwitchSet(value), BinarySwitchGet()]
    return [BasicSet(value), BasicGet()]


def command_to_ccs(
    command: Command, caps: NodeCapabilities, state: Mapping[str, Value] | None = None
) -> list[CCCommand]:
    """CC commands that carry out `command` (Sets, then confirming Gets); raises InvalidCommand."""
    name = command.name
    if name in ("on", "off"):
        return _switch(command, caps, name == "on")
    if name == "toggle":
        return _switch(command, caps, (state or {}).get("switch") != "on")
    if name == "set_level":
        _require(caps, command, CommandClass.MULTILEVEL_SWITCH)
        level = level_to_zwave(int(_number(command, "level")))
        duration = None
        if "duration" in command.args and caps.version(CommandClass.MULTILEVEL_SWITCH) >= 2:
            seconds = _number(command, "duration")
            if seconds < 0:
                raise InvalidCommand(f"duration must not be negative, not {seconds}", device=command.device)
            duration = encode_duration(seconds)
        return [MultilevelSwitchSet(level, duration), MultilevelSwitchGet()]
    if name in ("lock", "unlock"):
        _require(caps, command, CommandClass.DOOR_LOCK)
        mode = DoorLockMode.SECURED if name == "lock" else DoorLockMode.UNSECURED
        return [DoorLockOperationSet(mode), DoorLockOperationGet()]
    if name == "set_heating_setpoint":
        _require(caps, command, CommandClass.THERMOSTAT_SETPOINT)
        value = _number(command, "value")
        return [
            ThermostatSetpointSet(SetpointType.HEATING, TemperatureScale.CELSIUS, round(value, 2)),
            ThermostatSetpointGet(SetpointType.HEATING),
        ]
    if name == "set_thermostat_mode":
        _require(caps, command, CommandClass.THERMOSTAT_MODE)
        wanted = THERMOSTAT_MODES.get(str(command.args.get("mode")))
        if wanted is None:
            raise InvalidCommand(
                f"set_thermostat_mode: mode must be one of {', '.join(THERMOSTAT_MODES)}",
                device=command.device,
            )
        if caps.thermostat_modes and wanted not in caps.thermostat_modes:
            raise InvalidCommand(
                f"{command.device} does not support thermostat mode {command.args['mode']!r}",
                device=command.device,
            )
        return [ThermostatModeSet(wanted), ThermostatModeGet()]
    if name == "refresh":
        return state_queries(caps)
    raise InvalidCommand(f"{command.device} does not support {name!r} over Z-Wave", device=command.device)


def state_queries(caps: NodeCapabilities) -> list[CCCommand]:
    """The Gets whose reports give every canonical attribute of a node or end point."""
    out: list[CCCommand] = []
    if caps.supports(CommandClass.MULTILEVEL_SWITCH):
        out.append(MultilevelSwitchGet())
    elif caps.supports(CommandClass.BINARY_SWITCH):
        out.append(BinarySwitchGet())
    if caps.supports(CommandClass.BINARY_SENSOR):
        if caps.version(CommandClass.BINARY_SENSOR) >= 2 and caps.binary_sensor_types:
            out += [BinarySensorGet(t) for t in caps.binary_sensor_types]
        else:
            out.append(BinarySensorGet())
    if caps.supports(CommandClass.MULTILEVEL_SENSOR):
        if caps.version(CommandClass.MULTILEVEL_SENSOR) >= 5 and caps.sensor_scales:
            out += [
                MultilevelSensorGet(t, _preferred_scale(t, s)) for t, s in sorted(caps.sensor_scales.items())
            ]
        else:
            out.append(MultilevelSensorGet())
    if caps.supports(CommandClass.METER):
        if caps.version(CommandClass.METER) >= 2:
            scales = caps.meter_scales.get(MeterType.ELECTRIC, ())
            out += [MeterGet(s) for s in (ElectricScale.KWH, ElectricScale.W) if s in scales]
        else:
            out.append(MeterGet())
    out += _notification_queries(caps)
    if caps.supports(CommandClass.DOOR_LOCK):
        out.append(DoorLockOperationGet())
    if caps.supports(CommandClass.BATTERY):
        out.append(BatteryGet())
    if caps.supports(CommandClass.THERMOSTAT_MODE):
        out.append(ThermostatModeGet())
    if caps.supports(CommandClass.THERMOSTAT_SETPOINT):
        out.append(ThermostatSetpointGet(SetpointType.HEATING))
    return out


def _notification_queries(caps: NodeCapabilities) -> list[CCCommand]:
    """Notification Gets for the types that give canonical state, so it is known before the first event."""
    version = caps.version(CommandClass.NOTIFICATION)
    if version < 2:
        return []  # V1 alarms are manufacturer specific: nothing canonical to ask for
    out: list[CCCommand] = []
    for ntype in sorted(caps.notification_events):
        attributes = notification_attributes(caps, ntype)
        if caps.supports(CommandClass.DOOR_LOCK):
            # Door Lock Operation Get (asked after this) tells the bolt; a lock event may be stale.
            attributes -= {"lock"}
        if attributes:
            # v3+: event 0x00 asks for the type's pending state; the v2 Get has no event field.
            event = NotificationEvent.IDLE if version >= 3 else None
            out.append(NotificationGet(0, ntype, event))
    return out


def _preferred_scale(sensor_type: int, scales: tuple[int, ...]) -> int:
    preferred = {SensorType.AIR_TEMPERATURE: 0, SensorType.ILLUMINANCE: 1, SensorType.HUMIDITY: 0}
    want = preferred.get(sensor_type, 0)  # type: ignore[call-overload]
    return want if not scales or want in scales else scales[0]


# --- interview -------------------------------------------------------------------------------


def interview_queries(cc: int, version: int, caps: NodeCapabilities) -> list[CCCommand]:
    """The Gets an interview sends for `cc` at `version` (follow-ups come from `interview_follow_ups`)."""
    match cc:
        case CommandClass.VERSION:
            return [VersionGet(), *(VersionCommandClassGet(c) for c in sorted(caps.ccs) if c <= 0xFF)]
        case CommandClass.MANUFACTURER_SPECIFIC:
            return [ManufacturerSpecificGet()]
        case CommandClass.BINARY_SWITCH:
            return [BinarySwitchGet()]
        case CommandClass.MULTILEVEL_SWITCH:
            return [MultilevelSwitchGet()]
        case CommandClass.BINARY_SENSOR:
            return [BinarySensorSupportedGet()] if version >= 2 else [BinarySensorGet()]
        case CommandClass.MULTILEVEL_SENSOR:
            return [MultilevelSensorSupportedSensorGet()] if version >= 5 else [MultilevelSensorGet()]
        case CommandClass.METER:
            return [MeterSupportedGet()] if version >= 2 else [MeterGet()]
        case CommandClass.NOTIFICATION:
            return [NotificationSupportedGet()] if version >= 2 else []
        case CommandClass.DOOR_LOCK:
            return [DoorLockOperationGet()]
        case CommandClass.BATTERY:
            return [BatteryGet()]
        case CommandClass.THERMOSTAT_MODE:
            return [ThermostatModeSupportedGet(), ThermostatModeGet()]
        case CommandClass.THERMOSTAT_SETPOINT:
            return [ThermostatSetpointSupportedGet()]
        case CommandClass.CENTRAL_SCENE:
            return [CentralSceneSupportedGet()]
        case CommandClass.MULTI_CHANNEL:
            return [MultiChannelEndPointGet()] if version >= 3 else []
        case CommandClass.WAKE_UP:
            return (
                [WakeUpIntervalCapabilitiesGet(), WakeUpIntervalGet()]
                if version >= 2
                else [WakeUpIntervalGet()]
            )
        case CommandClass.ASSOCIATION:
            return [AssociationSupportedGroupingsGet(), AssociationGet(LIFELINE_GROUP)]
    return []


def interview_follow_ups(report: CCCommand, caps: NodeCapabilities) -> list[CCCommand]:
    """Further Gets a report asks for (per sensor type, meter scale, notification type, end point)."""
    match report:
        case BinarySensorSupportedReport(types=types):
            return [BinarySensorGet(t) for t in types]
        case MultilevelSensorSupportedSensorReport(types=types):
            return [MultilevelSensorSupportedScaleGet(t) for t in types]
        case MultilevelSensorSupportedScaleReport(sensor_type=t, scales=scales):
            return [MultilevelSensorGet(t, _preferred_scale(t, scales))]
        case MeterSupportedReport(meter_type=MeterType.ELECTRIC, scales=scales):
            return [MeterGet(s) for s in (ElectricScale.KWH, ElectricScale.W) if s in scales]
        case NotificationSupportedReport(types=types):
            if caps.version(CommandClass.NOTIFICATION) >= 3:
                return [NotificationEventSupportedGet(t) for t in types]
            return []
        case ThermostatSetpointSupportedReport(types=types):
            return [ThermostatSetpointGet(t) for t in types if t == SetpointType.HEATING]
        case MultiChannelEndPointReport(endpoints=n):
            return [MultiChannelCapabilityGet(ep) for ep in range(1, n + 1)]
    return []


#: Which report answers which Get.
RESPONSES: dict[type[CCCommand], type[CCCommand]] = {
    BasicGet: BasicReport,
    BinarySwitchGet: BinarySwitchReport,
    MultilevelSwitchGet: MultilevelSwitchReport,
    BinarySensorSupportedGet: BinarySensorSupportedReport,
    BinarySensorGet: BinarySensorReport,
    MultilevelSensorSupportedSensorGet: MultilevelSensorSupportedSensorReport,
    MultilevelSensorSupportedScaleGet: MultilevelSensorSupportedScaleReport,
    MultilevelSensorGet: MultilevelSensorReport,
    MeterGet: MeterReport,
    MeterSupportedGet: MeterSupportedReport,
    BatteryGet: BatteryReport,
    NotificationSupportedGet: NotificationSupportedReport,
    NotificationEventSupportedGet: NotificationEventSupportedReport,
    NotificationGet: NotificationReport,
    DoorLockOperationGet: DoorLockOperationReport,
    ThermostatModeGet: ThermostatModeReport,
    ThermostatModeSupportedGet: ThermostatModeSupportedReport,
    ThermostatSetpointGet: ThermostatSetpointReport,
    ThermostatSetpointSupportedGet: ThermostatSetpointSupportedReport,
    CentralSceneSupportedGet: CentralSceneSupportedReport,
    SupervisionGet: SupervisionReport,
    MultiChannelEndPointGet: MultiChannelEndPointReport,
    MultiChannelCapabilityGet: MultiChannelCapabilityReport,
    ConfigurationGet: ConfigurationReport,
    VersionGet: VersionReport,
    VersionCommandClassGet: VersionCommandClassReport,
    ManufacturerSpecificGet: ManufacturerSpecificReport,
    WakeUpIntervalGet: WakeUpIntervalReport,
    WakeUpIntervalCapabilitiesGet: WakeUpIntervalCapabilitiesReport,
    AssociationGet: AssociationReport,
    AssociationSupportedGroupingsGet: AssociationSupportedGroupingsReport,
}


def expected_response(request: CCCommand) -> type[CCCommand] | None:
    """The report class that answers `request`, or None if it expects none (a Set)."""
    return RESPONSES.get(type(request))


def answers(request: CCCommand, report: CCCommand) -> bool:
    """`report` is the answer to `request` (same kind, and the same type/parameter/group where asked)."""
    if RESPONSES.get(type(request)) is not type(report):
        return False
    match request, report:
        case BinarySensorGet(sensor_type=int(t)), BinarySensorReport(sensor_type=int(r)):
            return t in (r, BinarySensorType.ANY)
        case MultilevelSensorGet(sensor_type=int(t)), MultilevelSensorReport(sensor_type=r):
            return t == r
        case MultilevelSensorSupportedScaleGet(sensor_type=t), MultilevelSensorSupportedScaleReport(
            sensor_type=r
        ):
            return t == r
        case MeterGet(scale=int(s)), MeterReport(scale=r):
            return s == r
        case NotificationEventSupportedGet(notification_type=t), NotificationEventSupportedReport(
            notification_type=r
        ):
            return t == r
        case NotificationGet(notification_type=int(t)), NotificationReport(notification_type=r):
            return t in (r, 0xFF)  # 0xFF: "the first pending of any type" (v2)
        case ThermostatSetpointGet(setpoint_type=t), ThermostatSetpointReport(setpoint_type=r):
            return t == r or r == SetpointType.NOT_SUPPORTED
        case SupervisionGet(session_id=s), SupervisionReport(session_id=r):
            return s == r
        case MultiChannelCapabilityGet(endpoint=e), MultiChannelCapabilityReport(endpoint=r):
            return e == r
        case ConfigurationGet(parameter=p), ConfigurationReport(parameter=r):
            return p == r
        case VersionCommandClassGet(requested_cc=c), VersionCommandClassReport(requested_cc=r):
            return c == r
        case AssociationGet(group=g), AssociationReport(group=r):
            return g == r
    return True
