"""Join, interview and configuration of the simulated household; every mapped cluster's reports."""

from __future__ import annotations

from typing import Any

import pytest
import zigpy.zcl.foundation as foundation
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

from hub_core.model import ButtonPressed, DeviceAdded, DeviceOnline, DeviceRemoved, StateChanged
from hubtest.zigbee_events import EventLog, ZnpStick
from radios.base import RadioState
from radios.sim import zigbee_household as hh
from radios.sim.zigbee_air import SimulatedAir
from radios.zigbee.radio import ZigbeeRadio, device_id_of, ieee_of

HOUSEHOLD_SIZE = 11

RadioFactory = Any
Household = tuple[ZigbeeRadio, EventLog, SimulatedAir]
AnyHousehold = tuple[ZigbeeRadio, EventLog, SimulatedAir | ZnpStick]


def did(ieee: str) -> str:
    return "zigbee-" + ieee.replace(":", "")


async def test_network_starts_empty_and_forms_on_the_configured_channel(
    make_radio: RadioFactory, air: SimulatedAir
) -> None:
    radio, log = await make_radio()
    assert radio.state is RadioState.RUNNING
    assert log.events == []
    assert air.nvram is not None
    network, node = air.nvram
    assert network.channel == 20
    assert node.ieee == air.stick_ieee
    assert not air.household_joined


async def test_inclusion_lets_the_household_join_with_descriptions(household: Household) -> None:
    _radio, log, _air = household
    devices = await log.added(HOUSEHOLD_SIZE)
    expected = {
        hh.PLUG: (
            "Coffee plug",
            ("switch", "power", "energy"),
            {"switch": "off", "power": 0.0, "energy": 1.25},
        ),
        hh.BULB_1: (
            "Lounge bulb 1",
            ("switch", "level", "color_temp"),
            {"switch": "off", "level": 100, "color_temp": 2703},
        ),
        hh.CLIMATE: (
            "Kitchen climate",
            ("temperature", "humidity", "battery"),
            {"temperature": 21.5, "humidity": 45.0, "battery": 95},
        ),
        hh.CONTACT: ("Back door", ("battery", "contact"), {"contact": "closed", "battery": 92}),
        hh.MOTION: (
            "Hall motion",
            ("illuminance", "motion", "battery"),
            {"motion": "inactive", "illuminance": 120.0, "battery": 87},
        ),
        hh.PIR: ("Garage PIR", ("battery", "motion"), {"motion": "inactive", "battery": 90}),
        hh.LEAK: ("Boiler leak", ("battery", "water"), {"water": "dry", "battery": 99}),
        hh.LOCK: ("Front door lock", ("battery", "lock"), {"lock": "locked", "battery": 76}),
        hh.REMOTE: ("Lounge remote", ("battery", "button"), {"battery": 80}),
        hh.THERMOSTAT: (
            "Thermostat",
            ("temperature", "heating_setpoint", "thermostat_mode"),
            {"temperature": 20.0, "heating_setpoint": 20.0, "thermostat_mode": "heat"},
        ),
    }
    for ieee, (name, caps, state) in expected.items():
        device = devices[did(ieee)]
        assert device.name == name
        assert device.manufacturer == "hub-agent sim"
        assert set(device.capabilities) == set(caps), name
        assert dict(device.state) == state, name
    assert devices[did(hh.PLUG)].model == "SIM-PLUG-M"


async def test_interview_binds_and_configures_reporting(household: Household) -> None:
    _, _, air = household
    plug = air.device(hh.PLUG)
    assert {(1, general.OnOff.cluster_id), (1, smartenergy.Metering.cluster_id)} <= plug.bindings
    reporting = plug.cluster(homeautomation.ElectricalMeasurement).reporting
    assert reporting[homeautomation.ElectricalMeasurement.AttributeDefs.active_power.id] == (5, 900)
    battery = air.device(hh.CLIMATE).cluster(general.PowerConfiguration).reporting
    assert battery[general.PowerConfiguration.AttributeDefs.battery_percentage_remaining.id] == (3600, 21600)
    # IAS zones are enrolled with the coordinator as CIE; remotes' output clusters are bound to it.
    contact = air.device(hh.CONTACT).cluster(security.IasZone)
    assert contact.attributes[security.IasZone.AttributeDefs.cie_addr.id] == air.stick_ieee
    assert (1, general.OnOff.cluster_id) in air.device(hh.REMOTE).bindings


@pytest.mark.parametrize(
    ("ieee", "cluster", "attribute", "raw", "ours", "value"),
    [
        (hh.PLUG, general.OnOff, "on_off", 1, "switch", "on"),
        (hh.PLUG, homeautomation.ElectricalMeasurement, "active_power", 1234, "power", 123.4),
        (hh.PLUG, smartenergy.Metering, "current_summ_delivered", 2500, "energy", 2.5),
        (hh.BULB_1, general.LevelControl, "current_level", 127, "level", 50),
        (hh.BULB_1, lighting.Color, "color_temperature", 250, "color_temp", 4000),
        (hh.CLIMATE, measurement.TemperatureMeasurement, "measured_value", -550, "temperature", -5.5),
        (hh.CLIMATE, measurement.RelativeHumidity, "measured_value", 6150, "humidity", 61.5),
        (hh.CLIMATE, general.PowerConfiguration, "battery_percentage_remaining", 41, "battery", 20),
        (hh.MOTION, measurement.OccupancySensing, "occupancy", 1, "motion", "active"),
        (hh.MOTION, measurement.IlluminanceMeasurement, "measured_value", 30001, "illuminance", 1000.0),
        (hh.LOCK, closures.DoorLock, "lock_state", 2, "lock", "unlocked"),
        (hh.LOCK, closures.DoorLock, "lock_state", 0, "lock", "jammed"),
        (hh.THERMOSTAT, hvac.Thermostat, "local_temperature", 2275, "temperature", 22.75),
        (hh.THERMOSTAT, hvac.Thermostat, "occupied_heating_setpoint", 1850, "heating_setpoint", 18.5),
        (hh.THERMOSTAT, hvac.Thermostat, "system_mode", 0, "thermostat_mode", "off"),
    ],
)
async def test_attribute_reports_become_state(
    any_household: AnyHousehold, ieee: str, cluster: type, attribute: str, raw: int, ours: str, value: object
) -> None:
    _, log, air = any_household
    air.device(ieee).set_attribute(cluster, attribute, raw)
    event = await log.next(
        lambda e: isinstance(e, StateChanged) and e.device == did(ieee) and e.attribute == ours
    )
    assert isinstance(event, StateChanged)
    assert event.value == value


@pytest.mark.parametrize(
    ("ieee", "attribute", "alarm", "normal"),
    [
        (hh.CONTACT, "contact", "open", "closed"),
        (hh.PIR, "motion", "active", "inactive"),
        (hh.LEAK, "water", "wet", "dry"),
    ],
)
async def test_ias_zone_notifications(
    any_household: AnyHousehold, ieee: str, attribute: str, alarm: str, normal: str
) -> None:
    _, log, air = any_household
    for tripped, value in ((True, alarm), (False, normal)):
        air.device(ieee).zone_alarm(tripped)
        event = await log.next(lambda e: isinstance(e, StateChanged) and e.device == did(ieee))
        assert isinstance(event, StateChanged)
        assert (event.attribute, event.value) == (attribute, value)


@pytest.mark.parametrize(
    ("command", "kwargs", "button", "action"),
    [
        ("on", {}, 1, "pressed"),
        ("off", {}, 2, "pressed"),
        ("toggle", {}, 1, "pressed"),
        ("step", {"step_mode": 1, "step_size": 20, "transition_time": 3}, 2, "pressed"),
        ("move", {"move_mode": 1, "rate": 50}, 2, "held"),
    ],
)
async def test_remote_commands_become_button_events(
    any_household: AnyHousehold, command: str, kwargs: dict[str, int], button: int, action: str
) -> None:
    _, log, air = any_household
    air.device(hh.REMOTE).press(command, **kwargs)
    event = await log.next(lambda e: isinstance(e, ButtonPressed))
    assert isinstance(event, ButtonPressed)
    assert (event.device, event.button, event.action) == (did(hh.REMOTE), button, action)


async def test_hold_then_release_names_the_held_button(any_household: AnyHousehold) -> None:
    _, log, air = any_household
    remote = air.device(hh.REMOTE)
    remote.press("move_with_on_off", move_mode=1, rate=40)
    await log.next(lambda e: isinstance(e, ButtonPressed) and e.action == "held")
    remote.press("stop")
    event = await log.next(lambda e: isinstance(e, ButtonPressed) and e.action == "released")
    assert isinstance(event, ButtonPressed)
    assert event.button == 2


async def test_remove_device_sends_leave_and_emits_removed(household: Household) -> None:
    radio, log, air = household
    await radio.remove_device(did(hh.LEAK))
    event = await log.wait(lambda e: isinstance(e, DeviceRemoved))
    assert isinstance(event, DeviceRemoved)
    assert event.device == did(hh.LEAK)
    leave = [f for f in air.frames if f.is_zdo and f.cluster_id == 0x0034]
    assert leave, "no ZDO Mgmt_Leave_req was sent"


async def test_device_leaving_by_itself_goes_offline(any_household: AnyHousehold) -> None:
    _, log, air = any_household
    air.leave(air.device(hh.PIR))
    event = await log.wait(lambda e: isinstance(e, DeviceOnline))
    assert event == DeviceOnline(did(hh.PIR), False, event.ts)


async def test_inclusion_closes(household: Household) -> None:
    radio, _, air = household
    await radio.set_inclusion(0)
    assert air.permit_joining is False
    permit = [f for f in air.frames if f.is_zdo and f.cluster_id == 0x0036]
    assert permit, "no ZDO Mgmt_Permit_Joining_req broadcast"


def test_device_ids_round_trip() -> None:
    ieee = ieee_of("zigbee-00158d0002000001")
    assert device_id_of(ieee) == "zigbee-00158d0002000001"
    with pytest.raises(ValueError, match="not a Zigbee device id"):
        ieee_of("zwave-2")
    assert foundation.Status.SUCCESS == 0
    assert DeviceAdded  # the event type the join tests wait for


async def test_a_device_that_left_comes_back_online_when_heard(household: Household) -> None:
    _, log, air = household
    pir = air.device(hh.PIR)
    air.leave(pir)
    await log.wait(lambda e: isinstance(e, DeviceOnline) and not e.online)
    offline_at = len(log.events)
    back_online = log.next(lambda e: isinstance(e, DeviceOnline) and e.device == did(hh.PIR))
    air.permit_joining = True
    air.join(pir)  # rejoins: zigpy re-initialises (hearing it), we reconfigure and announce again
    event = await back_online
    assert isinstance(event, DeviceOnline) and event.online
    await log.next(lambda e: isinstance(e, DeviceAdded) and e.device.id == did(hh.PIR))
    online = [e for e in log.events[offline_at:] if isinstance(e, DeviceOnline) and e.device == did(hh.PIR)]
    assert [e.online for e in online] == [True]
