"""What an interview asks, as data: the Gets per CC and version, and the follow-ups a report asks for.

Rules of this file: pure functions, no I/O, no state. Which report answers a Get is declared on the
Get itself (`CCCommand.report`, `matches`, `answered_by`); `expected_response`/`answers` read it.
"""

from __future__ import annotations

import logging

from radios.zwave.cc.base import CCCommand, CommandClass
from radios.zwave.cc.capabilities import NodeCapabilities
from radios.zwave.cc.lock import (
    DoorLockOperationGet,
)
from radios.zwave.cc.management import (
    LIFELINE_GROUP,
    AssociationGet,
    AssociationSupportedGroupingsGet,
    ManufacturerSpecificGet,
    VersionCommandClassGet,
    VersionGet,
    WakeUpIntervalCapabilitiesGet,
    WakeUpIntervalGet,
)
from radios.zwave.cc.notification import (
    NotificationEventSupportedGet,
    NotificationSupportedGet,
    NotificationSupportedReport,
)
from radios.zwave.cc.scene import (
    CentralSceneSupportedGet,
)
from radios.zwave.cc.sensor import (
    BatteryGet,
    BinarySensorGet,
    BinarySensorSupportedGet,
    BinarySensorSupportedReport,
    ElectricScale,
    MeterGet,
    MeterSupportedGet,
    MeterSupportedReport,
    MeterType,
    MultilevelSensorGet,
    MultilevelSensorSupportedScaleGet,
    MultilevelSensorSupportedScaleReport,
    MultilevelSensorSupportedSensorGet,
    MultilevelSensorSupportedSensorReport,
)
from radios.zwave.cc.switch import (
    BinarySwitchGet,
    MultilevelSwitchGet,
)
from radios.zwave.cc.thermostat import (
    SetpointType,
    ThermostatModeGet,
    ThermostatModeSupportedGet,
    ThermostatSetpointGet,
    ThermostatSetpointSupportedGet,
    ThermostatSetpointSupportedReport,
)
from radios.zwave.cc.transport import (
    MultiChannelCapabilityGet,
    MultiChannelEndPointGet,
    MultiChannelEndPointReport,
)
from radios.zwave.cc.values import preferred_scale

log = logging.getLogger(__name__)

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
            return [MultilevelSensorGet(t, preferred_scale(t, scales))]
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


def expected_response(request: CCCommand) -> type[CCCommand] | None:
    """The report class that answers `request`, or None if it expects none (a Set)."""
    return type(request).report


def answers(request: CCCommand, report: CCCommand) -> bool:
    """`report` is the answer to `request` (its report class, repeating the type/parameter asked)."""
    return request.answered_by(report)
