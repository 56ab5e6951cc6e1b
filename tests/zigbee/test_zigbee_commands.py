"""Commands: what goes on the air, delivery confirmation and its failures, and group casts."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from zigpy.types import PacketPriority
from zigpy.zcl.clusters import closures, general, hvac, lighting, measurement
from zigpy.zcl.foundation import GeneralCommand
from zigpy.zdo.types import ZDOCmd

from hub_core.errors import DeliveryFailed, InvalidCommand, UnknownDevice
from hub_core.model import Command, DeviceId, StateChanged
from hubtest.zigbee_events import EventLog
from radios.sim import zigbee_household as hh
from radios.sim.zigbee_air import SentFrame, SimulatedAir
from radios.zigbee.radio import ZigbeeRadio

Household = tuple[ZigbeeRadio, EventLog, SimulatedAir]
CONFIGURE_REPORTING = GeneralCommand.Configure_Reporting


def did(ieee: str) -> DeviceId:
    return DeviceId("zigbee-" + ieee.replace(":", ""))


def cmd(ieee: str, name: str, **args: Any) -> Command:
    return Command(did(ieee), name, args)


def frames_to(air: SimulatedAir, ieee: str, cluster_id: int) -> list[SentFrame]:
    nwk = air.device(ieee).nwk
    return [
        f
        for f in air.frames
        if f.cluster_id == cluster_id
        and not f.is_group
        and f.packet.dst is not None
        and f.packet.dst.address == nwk
    ]


async def state(log: EventLog, ieee: str, attribute: str) -> object:
    event = await log.wait(
        lambda e: isinstance(e, StateChanged) and e.device == did(ieee) and e.attribute == attribute
    )
    assert isinstance(event, StateChanged)
    return event.value


@pytest.mark.parametrize(("name", "expected"), [("on", True), ("off", False), ("toggle", True)])
async def test_on_off_commands_are_confirmed_and_reported(
    household: Household, name: str, expected: bool
) -> None:
    radio, log, air = household
    log.clear()
    await radio.execute(cmd(hh.PLUG, name))
    assert bool(air.device(hh.PLUG).get_attribute(general.OnOff, "on_off")) is expected
    assert await state(log, hh.PLUG, "switch") == ("on" if expected else "off")
    parsed = frames_to(air, hh.PLUG, general.OnOff.cluster_id)[-1].zcl()
    assert parsed is not None
    assert parsed[0].command_id == general.OnOff.commands_by_name[name].id


async def test_set_level_carries_the_transition(household: Household) -> None:
    radio, log, air = household
    log.clear()
    await radio.execute(cmd(hh.BULB_1, "set_level", level=50, duration=2.5))
    parsed = frames_to(air, hh.BULB_1, general.LevelControl.cluster_id)[-1].zcl()
    assert parsed is not None
    header, body = parsed
    assert header.command_id == general.LevelControl.commands_by_name["move_to_level_with_on_off"].id
    assert (body.level, body.transition_time) == (127, 25)
    assert await state(log, hh.BULB_1, "level") == 50
    assert await state(log, hh.BULB_1, "switch") == "on"


async def test_set_color_temp_carries_mireds_and_transition(household: Household) -> None:
    radio, log, air = household
    log.clear()
    await radio.execute(cmd(hh.BULB_2, "set_color_temp", kelvin=4000, duration=1))
    parsed = frames_to(air, hh.BULB_2, lighting.Color.cluster_id)[-1].zcl()
    assert parsed is not None
    assert (parsed[1].color_temp_mireds, parsed[1].transition_time) == (250, 10)
    assert await state(log, hh.BULB_2, "color_temp") == 4000


async def test_lock_and_unlock(household: Household) -> None:
    radio, log, _ = household
    log.clear()
    await radio.execute(cmd(hh.LOCK, "unlock"))
    assert await state(log, hh.LOCK, "lock") == "unlocked"
    log.clear()
    await radio.execute(cmd(hh.LOCK, "lock"))
    assert await state(log, hh.LOCK, "lock") == "locked"


async def test_a_jammed_lock_refuses_with_a_clear_error(household: Household) -> None:
    radio, _, air = household
    air.device(hh.LOCK).set_attribute(
        closures.DoorLock, "lock_state", closures.DoorLock.LockState.Not_fully_locked
    )
    with pytest.raises(DeliveryFailed, match="refused 'unlock': FAILURE"):
        await radio.execute(cmd(hh.LOCK, "unlock"))


async def test_thermostat_setpoint_and_mode_are_written(household: Household) -> None:
    radio, log, air = household
    log.clear()
    await radio.execute(cmd(hh.THERMOSTAT, "set_heating_setpoint", value=21.5))
    assert air.device(hh.THERMOSTAT).get_attribute(hvac.Thermostat, "occupied_heating_setpoint") == 2150
    assert await state(log, hh.THERMOSTAT, "heating_setpoint") == 21.5
    await radio.execute(cmd(hh.THERMOSTAT, "set_thermostat_mode", mode="cool"))
    assert (
        air.device(hh.THERMOSTAT).get_attribute(hvac.Thermostat, "system_mode")
        == hvac.Thermostat.SystemMode.Cool
    )
    assert await state(log, hh.THERMOSTAT, "thermostat_mode") == "cool"


async def test_refresh_reads_current_values(household: Household) -> None:
    radio, log, air = household
    air.device(hh.CLIMATE).set_attribute(
        measurement.TemperatureMeasurement, "measured_value", 1999, report=False
    )
    log.clear()
    await radio.execute(cmd(hh.CLIMATE, "refresh"))
    assert await state(log, hh.CLIMATE, "temperature") == 19.99


async def test_unreachable_device_fails_delivery(household: Household) -> None:
    radio, _, air = household
    air.device(hh.PLUG).reachable = False
    with pytest.raises(DeliveryFailed, match="zigbee-00158d0002000001: not delivered"):
        await radio.execute(cmd(hh.PLUG, "on"))


async def test_bad_commands_name_the_problem(household: Household) -> None:
    radio, _, _ = household
    with pytest.raises(InvalidCommand, match="no Zigbee cluster carries 'set_level'"):
        await radio.execute(cmd(hh.PLUG, "set_level", level=10))
    with pytest.raises(UnknownDevice, match="no device zigbee-00158d00020000ff"):
        await radio.execute(Command(DeviceId("zigbee-00158d00020000ff"), "on"))


async def test_commands_for_grouped_bulbs_go_out_as_one_group_cast(household: Household) -> None:
    radio, log, air = household
    group = await radio.create_group("Lounge", [did(hh.BULB_1), did(hh.BULB_2)])
    assert radio.groups()[group] == {did(hh.BULB_1), did(hh.BULB_2)}
    air.frames.clear()
    log.clear()
    await asyncio.gather(
        radio.execute(cmd(hh.BULB_1, "set_level", level=20, duration=1)),
        radio.execute(cmd(hh.BULB_2, "set_level", level=20, duration=1)),
    )
    level_frames = [f for f in air.frames if f.cluster_id == general.LevelControl.cluster_id]
    assert len(level_frames) == 1
    frame = level_frames[0]
    assert frame.is_group
    assert frame.packet.dst is not None and frame.packet.dst.address == group
    parsed = frame.zcl()
    assert parsed is not None and (parsed[1].level, parsed[1].transition_time) == (51, 10)
    assert await state(log, hh.BULB_1, "level") == 20
    assert await state(log, hh.BULB_2, "level") == 20


async def test_a_group_covers_only_its_members(household: Household) -> None:
    radio, _, air = household
    await radio.create_group("Lounge", [did(hh.BULB_1), did(hh.BULB_2)])
    air.frames.clear()
    # Bulb 1 with the plug: the group is not fully commanded, so each device gets a unicast.
    await asyncio.gather(radio.execute(cmd(hh.BULB_1, "on")), radio.execute(cmd(hh.PLUG, "on")))
    on_frames = [f for f in air.frames if f.cluster_id == general.OnOff.cluster_id]
    assert len(on_frames) == 2
    assert not any(f.is_group for f in on_frames)
    assert bool(air.device(hh.BULB_1).get_attribute(general.OnOff, "on_off"))
    assert not bool(air.device(hh.BULB_2).get_attribute(general.OnOff, "on_off"))
    # Different arguments cannot share a cast either.
    air.frames.clear()
    await asyncio.gather(
        radio.execute(cmd(hh.BULB_1, "set_level", level=10)),
        radio.execute(cmd(hh.BULB_2, "set_level", level=90)),
    )
    assert [f.is_group for f in air.frames if f.cluster_id == general.LevelControl.cluster_id] == [
        False,
        False,
    ]


async def test_execute_group_raises_the_first_failure_after_sending_the_rest(household: Household) -> None:
    radio, _, air = household
    air.device(hh.PLUG).reachable = False
    air.frames.clear()
    with pytest.raises(DeliveryFailed, match="zigbee-00158d0002000001"):
        await radio.execute_group([cmd(hh.PLUG, "on"), cmd(hh.BULB_2, "on")])
    assert bool(air.device(hh.BULB_2).get_attribute(general.OnOff, "on_off"))


async def test_configuration_goes_at_low_priority_and_commands_at_high(household: Household) -> None:
    """zigpy's queues order requests by priority and cap LOW at half the stick's concurrency: set up
    this way, a household that is still joining never queues the user's command behind its binds."""
    radio, _, air = household
    binds = [f for f in air.frames if f.is_zdo and f.cluster_id == ZDOCmd.Bind_req]
    reporting = [
        f for f in air.frames if (z := f.zcl()) is not None and z[0].command_id == CONFIGURE_REPORTING
    ]
    assert binds and reporting
    assert {f.priority for f in binds + reporting} == {PacketPriority.LOW}
    air.frames.clear()
    await radio.execute(cmd(hh.PLUG, "on"))
    await radio.execute(cmd(hh.BULB_1, "refresh"))
    assert air.frames and {f.priority for f in air.frames} == {PacketPriority.HIGH}
