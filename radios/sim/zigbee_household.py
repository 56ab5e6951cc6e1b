"""The default simulated Zigbee household: what joins when inclusion opens on `radio = "sim"`.

Values are raw ZCL units (hundredths of a degree, half-percent battery, mireds, ...), as on the air.
"""

from __future__ import annotations

from typing import Any

import zigpy.profiles.zha as zha
import zigpy.types as _t
from zigpy.zcl.clusters import (
    closures,
    general,
    homeautomation,
    hvac,
    lighting,
    measurement,
    security,
    smartenergy,
)

from radios.sim.zigbee_device import SimZigbeeDevice
from radios.sim.zigbee_zcl import SimCluster, SimEndpoint

t: Any = _t  # zigpy's constructors are partly unannotated
DT = zha.DeviceType
ZT: Any = security.IasZone.ZoneType

#: IEEE addresses of the household, for tests and the demo
PLUG = "00:15:8d:00:02:00:00:01"
BULB_1 = "00:15:8d:00:02:00:00:02"
BULB_2 = "00:15:8d:00:02:00:00:03"
CLIMATE = "00:15:8d:00:02:00:00:04"
CONTACT = "00:15:8d:00:02:00:00:05"
MOTION = "00:15:8d:00:02:00:00:06"
PIR = "00:15:8d:00:02:00:00:07"
LEAK = "00:15:8d:00:02:00:00:08"
LOCK = "00:15:8d:00:02:00:00:09"
REMOTE = "00:15:8d:00:02:00:00:0a"
THERMOSTAT = "00:15:8d:00:02:00:00:0b"


def _c(cls: Any, **attrs: object) -> tuple[int, SimCluster]:
    ids = {cls.attributes_by_name[name].id: value for name, value in attrs.items()}
    return cls.cluster_id, SimCluster(cls, ids)


def _battery(percent: int) -> tuple[int, SimCluster]:
    return _c(general.PowerConfiguration, battery_percentage_remaining=percent * 2, battery_voltage=30)


def _ias(zone_type: Any) -> tuple[int, SimCluster]:
    return _c(
        security.IasZone,
        zone_state=security.IasZone.ZoneState.Not_enrolled,
        zone_type=zone_type,
        zone_status=0,
    )


def bulb(ieee: str, nwk: int, name: str) -> SimZigbeeDevice:
    """A dimmable colour-temperature bulb."""
    server = dict(
        [
            _c(general.Basic),
            _c(general.Identify, identify_time=0),
            _c(general.Groups, name_support=0),
            _c(general.Scenes, count=0),
            _c(general.OnOff, on_off=t.Bool.false),
            _c(general.LevelControl, current_level=254, remaining_time=0),
            _c(lighting.Color, color_temperature=370, color_mode=lighting.Color.ColorMode.Color_temperature),
        ]
    )
    return SimZigbeeDevice(
        ieee, nwk, name, "SIM-CT-BULB", [SimEndpoint(1, DT.COLOR_TEMPERATURE_LIGHT, server)]
    )


def default_household() -> list[SimZigbeeDevice]:
    """A plug with metering, two CT bulbs, climate, contact, motion, PIR, leak, lock, remote, thermostat."""
    plug = SimZigbeeDevice(
        PLUG,
        0x1A01,
        "Coffee plug",
        "SIM-PLUG-M",
        [
            SimEndpoint(
                1,
                DT.SMART_PLUG,
                dict(
                    [
                        _c(general.Basic),
                        _c(general.Groups, name_support=0),
                        _c(general.OnOff, on_off=t.Bool.false),
                        _c(
                            homeautomation.ElectricalMeasurement,
                            active_power=0,
                            ac_power_multiplier=1,
                            ac_power_divisor=10,
                        ),
                        _c(smartenergy.Metering, current_summ_delivered=1250, multiplier=1, divisor=1000),
                    ]
                ),
            )
        ],
    )
    climate = SimZigbeeDevice(
        CLIMATE,
        0x1A04,
        "Kitchen climate",
        "SIM-TH",
        [
            SimEndpoint(
                1,
                DT.TEMPERATURE_SENSOR,
                dict(
                    [
                        _c(general.Basic),
                        _battery(95),
                        _c(measurement.TemperatureMeasurement, measured_value=2150),
                        _c(measurement.RelativeHumidity, measured_value=4500),
                    ]
                ),
            )
        ],
        mains=False,
    )

    def ias(ieee: str, nwk: int, name: str, model: str, zone: Any, battery: int) -> SimZigbeeDevice:
        server = dict([_c(general.Basic), _battery(battery), _ias(zone)])
        return SimZigbeeDevice(ieee, nwk, name, model, [SimEndpoint(1, DT.IAS_ZONE, server)], mains=False)

    motion = SimZigbeeDevice(
        MOTION,
        0x1A06,
        "Hall motion",
        "SIM-OCC",
        [
            SimEndpoint(
                1,
                DT.OCCUPANCY_SENSOR,
                dict(
                    [
                        _c(general.Basic),
                        _battery(87),
                        _c(measurement.OccupancySensing, occupancy=0),
                        _c(measurement.IlluminanceMeasurement, measured_value=20792),  # 120 lx
                    ]
                ),
            )
        ],
        mains=False,
    )
    lock = SimZigbeeDevice(
        LOCK,
        0x1A09,
        "Front door lock",
        "SIM-LOCK",
        [
            SimEndpoint(
                1,
                DT.DOOR_LOCK,
                dict(
                    [
                        _c(general.Basic),
                        _battery(76),
                        _c(closures.DoorLock, lock_state=closures.DoorLock.LockState.Locked, lock_type=0),
                    ]
                ),
            )
        ],
        mains=False,
    )
    remote = SimZigbeeDevice(
        REMOTE,
        0x1A0A,
        "Lounge remote",
        "SIM-REMOTE",
        [
            SimEndpoint(
                1,
                DT.NON_COLOR_CONTROLLER,
                dict([_c(general.Basic), _battery(80)]),
                client=(general.OnOff.cluster_id, general.LevelControl.cluster_id),
            )
        ],
        mains=False,
    )
    thermostat = SimZigbeeDevice(
        THERMOSTAT,
        0x1A0B,
        "Thermostat",
        "SIM-TRV",
        [
            SimEndpoint(
                1,
                DT.THERMOSTAT,
                dict(
                    [
                        _c(general.Basic),
                        _c(
                            hvac.Thermostat,
                            local_temperature=2000,
                            occupied_heating_setpoint=2000,
                            system_mode=hvac.Thermostat.SystemMode.Heat,
                        ),
                    ]
                ),
            )
        ],
    )
    return [
        plug,
        bulb(BULB_1, 0x1A02, "Lounge bulb 1"),
        bulb(BULB_2, 0x1A03, "Lounge bulb 2"),
        climate,
        ias(CONTACT, 0x1A05, "Back door", "SIM-CONTACT", ZT.Contact_Switch, 92),
        motion,
        ias(PIR, 0x1A07, "Garage PIR", "SIM-PIR", ZT.Motion_Sensor, 90),
        ias(LEAK, 0x1A08, "Boiler leak", "SIM-LEAK", ZT.Water_Sensor, 99),
        lock,
        remote,
        thermostat,
    ]


def many_devices(count: int) -> list[SimZigbeeDevice]:
    """`count` devices cycling through the household's kinds, each with its own address (benchmarks)."""
    out: list[SimZigbeeDevice] = []
    while len(out) < count:
        for device in default_household():
            if len(out) == count:
                break
            number = len(out) + 1
            device.ieee = t.EUI64.convert(f"00:15:8d:00:03:00:{number >> 8:02x}:{number & 0xFF:02x}")
            device.nwk = t.NWK(0x2000 + number)
            device.name = f"{device.name} {number}"
            out.append(device)
    return out
