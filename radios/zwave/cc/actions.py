"""Canonical commands -> the CC commands to send, and the Gets that ask a device for its state.

Rules of this file: pure functions, no I/O, no state. `command_to_ccs` returns Sets first, then the
Gets whose reports confirm the new state; a command the device cannot do raises `InvalidCommand`
before anything is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from hub_core.errors import InvalidCommand
from hub_core.model import Command, Value
from radios.zwave.cc.base import CCCommand, CommandClass, encode_duration
from radios.zwave.cc.capabilities import NodeCapabilities, notification_attributes
from radios.zwave.cc.lock import (
    DoorLockMode,
    DoorLockOperationGet,
    DoorLockOperationSet,
)
from radios.zwave.cc.notification import (
    NotificationEvent,
    NotificationGet,
)
from radios.zwave.cc.sensor import (
    BatteryGet,
    BinarySensorGet,
    ElectricScale,
    MeterGet,
    MeterType,
    MultilevelSensorGet,
    TemperatureScale,
)
from radios.zwave.cc.switch import (
    BasicGet,
    BasicSet,
    BinarySwitchGet,
    BinarySwitchSet,
    MultilevelSwitchGet,
    MultilevelSwitchSet,
    SwitchValue,
)
from radios.zwave.cc.thermostat import (
    SetpointType,
    ThermostatModeGet,
    ThermostatModeSet,
    ThermostatSetpointGet,
    ThermostatSetpointSet,
)
from radios.zwave.cc.values import (
    THERMOSTAT_MODES,
    level_to_zwave,
    preferred_scale,
)

log = logging.getLogger(__name__)

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
                MultilevelSensorGet(t, preferred_scale(t, s)) for t, s in sorted(caps.sensor_scales.items())
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
