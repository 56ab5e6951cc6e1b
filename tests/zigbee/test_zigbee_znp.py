"""The production path: ZigbeeRadio over the real zigpy-znp over our emulated Z-Stack coordinator.

Formation on a blank stick, joining and interview, commands and reports, a restart from the
database without a re-interview, a replaced stick restored from the backup, and recovery in-process
from an unplugged stick, a coordinator that resets by itself and a stuck data confirm.
"""

from __future__ import annotations

import asyncio
import logging
import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import zigpy.zdo.types as zdo_t
from zigpy.zcl.clusters import general, measurement

from hub_core.errors import DeliveryTimeout, RadioUnavailable
from hub_core.model import Command, DeviceAdded, DeviceId, StateChanged
from hubtest.zigbee_events import EventLog, ZnpStick
from radios.base import RadioState
from radios.sim import zigbee_household as hh
from radios.sim.znp import nv as nvm
from radios.sim.znp.frames import Subsystem
from radios.zigbee.radio import ZigbeeRadio

HOUSEHOLD_SIZE = 11
RadioFactory = Callable[..., Any]

Household = tuple[ZigbeeRadio, EventLog, ZnpStick]
NODE_DESC = int(zdo_t.ZDOCmd.Node_Desc_req)


def did(ieee: str) -> DeviceId:
    return DeviceId("zigbee-" + ieee.replace(":", ""))


async def state(log: EventLog, ieee: str, attribute: str) -> object:
    event = await log.next(
        lambda e: isinstance(e, StateChanged) and e.device == did(ieee) and e.attribute == attribute
    )
    assert isinstance(event, StateChanged)
    return event.value


async def test_a_blank_stick_forms_the_configured_network_and_the_household_joins(
    znp_household: Household,
) -> None:
    radio, log, stick = znp_household
    network = stick.emulator.coordinator.nv.network()
    assert network is not None and network.channel == 20
    assert radio.app is not None and radio.app.state.network_info.pan_id == network.pan_id
    devices = await log.added(HOUSEHOLD_SIZE)
    assert devices[did(hh.BULB_1)].capabilities == ("switch", "level", "color_temp")
    assert "power" in devices[did(hh.PLUG)].capabilities
    assert stick.emulator.coordinator.unhandled == {}


async def test_commands_with_transitions_and_reports(znp_household: Household) -> None:
    radio, log, stick = znp_household
    bulb = stick.device(hh.BULB_1)
    reported = asyncio.ensure_future(state(log, hh.BULB_1, "level"))
    await radio.execute(Command(did(hh.BULB_1), "set_level", {"level": 50, "duration": 2.5}))
    name, args = bulb.received[-1][2:]
    assert name == "move_to_level_with_on_off" and (args.level, args.transition_time) == (127, 25)
    assert await reported == 50
    climate = stick.device(hh.CLIMATE)
    reported = asyncio.ensure_future(state(log, hh.CLIMATE, "temperature"))
    climate.set_attribute(measurement.TemperatureMeasurement, "measured_value", 2345)
    assert await reported == 23.45


async def test_a_scene_on_grouped_bulbs_is_one_group_cast(znp_household: Household) -> None:
    radio, _, stick = znp_household
    await radio.create_group("Lounge", [did(hh.BULB_1), did(hh.BULB_2)])
    casts_before = stick.emulator.coordinator.requests
    await radio.execute_group([Command(did(b), "off", {}) for b in (hh.BULB_1, hh.BULB_2)])
    for bulb in (hh.BULB_1, hh.BULB_2):
        assert not stick.device(bulb).get_attribute(general.OnOff, "on_off")
    # one AF data request for both bulbs (group cast), not one each
    assert stick.emulator.coordinator.requests - casts_before == 1


async def test_a_restart_resumes_from_the_database_without_interview(
    znp_household: Household, make_znp_radio: RadioFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    radio, _, stick = znp_household
    interviews = stick.emulator.air.zdo_requests[NODE_DESC]
    await radio.stop()
    await stick.replug()  # the stick rebooted with the hub (power cycle): its NV is kept
    caplog.clear()
    with caplog.at_level(logging.INFO):
        radio2, log2 = await make_znp_radio(tmp_path / "hub")
    assert len(await log2.added(HOUSEHOLD_SIZE)) == HOUSEHOLD_SIZE
    assert stick.emulator.air.zdo_requests[NODE_DESC] == 0 and interviews > 0
    assert not [r for r in caplog.records if "joined the network" in r.getMessage()]
    reported = asyncio.ensure_future(state(log2, hh.PLUG, "switch"))
    await radio2.execute(Command(did(hh.PLUG), "on", {}))
    assert await reported == "on"
    assert stat.S_IMODE((tmp_path / "hub" / "zigbee.db").stat().st_mode) == 0o600


async def test_an_unplugged_stick_fails_commands_naming_it_and_recovers_within_5_s(
    znp_household: Household,
) -> None:
    radio, log, stick = znp_household
    await stick.unplug()
    await asyncio.wait_for(radio.wait_for_state(RadioState.RECOVERING), 5)
    with pytest.raises(RadioUnavailable, match=re.escape(stick.emulator.url)):
        await radio.execute(Command(did(hh.PLUG), "on", {}))
    await stick.replug()
    await asyncio.wait_for(radio.wait_for_state(RadioState.RUNNING), 5)
    assert radio.recoveries == 1
    assert stick.emulator.air.zdo_requests[NODE_DESC] == 0  # the new stick object: no interview since
    reported = asyncio.ensure_future(state(log, hh.PLUG, "switch"))
    await radio.execute(Command(did(hh.PLUG), "on", {}))
    assert await reported == "on"


async def test_a_coordinator_that_resets_by_itself_is_brought_back_in_process(
    znp_household: Household,
) -> None:
    radio, log, stick = znp_household
    interviews = stick.emulator.air.zdo_requests[NODE_DESC]
    stick.emulator.reset()  # watchdog: no network, endpoints forgotten; the serial link stays
    await asyncio.wait_for(radio.wait_for_state(RadioState.RECOVERING), 5)
    await asyncio.wait_for(radio.wait_for_state(RadioState.RUNNING), 5)
    assert stick.emulator.air.network is not None and 1 in stick.emulator.air.endpoints
    # Reports reach the hub again (they would be dropped for an unregistered endpoint).
    reported = asyncio.ensure_future(state(log, hh.CLIMATE, "temperature"))
    stick.device(hh.CLIMATE).set_attribute(measurement.TemperatureMeasurement, "measured_value", 1999)
    assert await reported == 19.99
    assert stick.emulator.air.zdo_requests[NODE_DESC] == interviews


async def test_a_stuck_data_confirm_times_out_and_the_next_command_works(
    znp_household: Household, monkeypatch: pytest.MonkeyPatch
) -> None:
    import zigpy_znp.zigbee.application as znp_app

    # zigpy-znp waits 8 s for a data confirm; the test shortens the wait, not the behaviour.
    monkeypatch.setattr(znp_app, "DATA_CONFIRM_TIMEOUT", 0.3)
    radio, _log, stick = znp_household
    stick.emulator.air.stuck_confirms = True
    with pytest.raises(DeliveryTimeout):
        await radio.execute(Command(did(hh.PLUG), "on", {}))
    stick.emulator.air.stuck_confirms = False
    await radio.execute(Command(did(hh.PLUG), "off", {}))
    assert radio.state is RadioState.RUNNING


async def test_a_replaced_stick_gets_the_network_from_the_backup_and_devices_keep_working(
    znp_household: Household, make_znp_radio: RadioFactory, tmp_path: Path
) -> None:
    radio, _, stick = znp_household
    old = stick.emulator.coordinator.nv.network()
    await radio.backup_now()
    await radio.stop()
    await stick.replace()  # a new, blank stick: another factory address, empty NV
    radio2, log2 = await make_znp_radio(tmp_path / "hub")
    new = stick.emulator.coordinator.nv.network()
    assert new == old
    assert stick.emulator.coordinator.nv.get(nvm.Osal.EXTADDR) != stick.emulator.hardware().serialize()
    await log2.added(HOUSEHOLD_SIZE)
    reported = asyncio.ensure_future(state(log2, hh.PLUG, "switch"))
    await radio2.execute(Command(did(hh.PLUG), "on", {}))
    assert await reported == "on"


async def test_without_the_network_devices_of_another_network_stay_silent(
    make_znp_radio: RadioFactory, znp_stick: ZnpStick
) -> None:
    radio, log = await make_znp_radio()
    for device in znp_stick.household:
        znp_stick.emulator.air.memberships[device.ieee] = "another network"
        device.joined = True
    await radio.set_inclusion(1)
    assert not [e for e in log.events if isinstance(e, DeviceAdded)]


async def test_the_zigbee_command_backs_up_and_restores_onto_a_new_stick(
    znp_household: Household, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from hub_agent import cli

    radio, _, stick = znp_household
    old = stick.emulator.coordinator.nv.network()
    await radio.stop()
    config = tmp_path / "hub.toml"
    data_dir = tmp_path / "hub"
    config.write_text(
        f'[hub]\ndata_dir = "{data_dir}"\n'
        f'[zigbee]\nradio = "znp"\nport = "{stick.emulator.url}"\nchannel = 20\n',
        encoding="utf-8",
    )
    out = tmp_path / "backup.json"
    argv = ["zigbee", "backup", "--config", str(config), "--out", str(out)]
    assert await asyncio.to_thread(cli.main, argv) == 0, capsys.readouterr().err
    assert "backed up network on channel 20" in capsys.readouterr().out
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    await stick.replace()
    assert stick.emulator.coordinator.nv.network() is None
    argv = ["zigbee", "restore", "--config", str(config), "--backup", str(out)]
    assert await asyncio.to_thread(cli.main, argv) == 0, capsys.readouterr().err
    assert stick.emulator.coordinator.nv.network() == old


async def test_the_zigbee_command_names_a_stick_that_does_not_answer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from hub_agent import cli

    config = tmp_path / "hub.toml"
    config.write_text(
        f'[hub]\ndata_dir = "{tmp_path}"\n[zigbee]\nradio = "znp"\nport = "socket://127.0.0.1:9"\n',
        encoding="utf-8",
    )
    argv = ["zigbee", "backup", "--config", str(config)]
    assert await asyncio.to_thread(cli.main, argv) == 1
    err = capsys.readouterr().err
    assert (
        err.startswith("hub-agent: error: cannot open the zigbee stick socket://127.0.0.1:9")
        and err.count("\n") == 1
    )


async def test_a_reset_in_the_middle_of_a_command_fails_it_at_once_and_recovers(
    znp_household: Household,
) -> None:
    radio, _, stick = znp_household
    stick.emulator.air.stuck_confirms = True  # the command is in flight, waiting for its confirm
    arrived: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    plug = stick.device(hh.PLUG)
    stick.emulator.air.unicast_callbacks.append(
        lambda device, cluster: arrived.done() or device is not plug or arrived.set_result(None)
    )
    pending = asyncio.ensure_future(radio.execute(Command(did(hh.PLUG), "on", {})))
    await asyncio.wait_for(arrived, 5)
    stick.emulator.air.stuck_confirms = False
    stick.emulator.reset()
    with pytest.raises(RadioUnavailable):
        await asyncio.wait_for(pending, 5)  # not zigpy-znp's 8 s confirm timeout
    await asyncio.wait_for(radio.wait_for_state(RadioState.RUNNING), 5)
    await radio.execute(Command(did(hh.PLUG), "off", {}))


async def test_stopping_with_requests_queued_for_a_hung_stick_leaves_no_failed_task_behind(
    znp_household: Household, caplog: pytest.LogCaptureFixture
) -> None:
    import gc

    radio, _, stick = znp_household
    stick.emulator.coordinator.mute = True  # requests queue behind one that gets no answer
    on_the_wire: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    stick.emulator.coordinator.request_callbacks.append(
        lambda frame: on_the_wire.done() or frame.subsystem != Subsystem.AF or on_the_wire.set_result(None)
    )
    commands = [
        asyncio.ensure_future(radio.execute(Command(did(b), "on", {})))
        for b in (hh.BULB_1, hh.BULB_2, hh.PLUG)
    ]
    await asyncio.wait_for(on_the_wire, 5)  # the first request is on the wire; the others wait for the link
    for command in commands:
        command.cancel()  # callers give up; zigpy-znp's shielded requests stay queued
    await asyncio.gather(*commands, return_exceptions=True)
    with caplog.at_level(logging.ERROR):
        await radio.stop()
        gc.collect()
        await asyncio.sleep(0)
    assert not [r.getMessage() for r in caplog.records if "never retrieved" in r.getMessage()]
