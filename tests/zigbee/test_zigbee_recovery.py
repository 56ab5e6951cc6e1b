"""Persistence and recovery: restart from zigpy's database, stick reset/unplug, replacement stick, backups."""

from __future__ import annotations

import asyncio
import json
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from zigpy.zcl.clusters import general, measurement

from hub_agent import cli
from hub_agent.commands import zigbee_tool as tool
from hub_agent.config import load_config
from hub_core.errors import RadioUnavailable
from hub_core.model import Command, DeviceAdded, DeviceId, DeviceRemoved, StateChanged
from hubtest.zigbee_events import EventLog
from radios.base import RadioContext, RadioState
from radios.sim import zigbee_household as hh
from radios.sim.zigbee_air import SimulatedAir
from radios.zigbee.backup import BACKUP_FILE, BackupError, read_backup
from radios.zigbee.radio import ZigbeeRadio

Household = tuple[ZigbeeRadio, EventLog, SimulatedAir]
RadioFactory = Any
INTERVIEW = {0x0002, 0x0004, 0x0005}  # ZDO Node_Desc_req, Simple_Desc_req, Active_EP_req


def did(ieee: str) -> DeviceId:
    return DeviceId("zigbee-" + ieee.replace(":", ""))


def interview_frames(air: SimulatedAir) -> list[int]:
    return [f.cluster_id for f in air.frames if f.is_zdo and f.cluster_id in INTERVIEW]


async def test_restart_loads_devices_from_the_database_without_reinterview(
    household: Household, make_radio: RadioFactory
) -> None:
    radio, log, air = household
    before = await log.added(11)
    group = await radio.create_group("Lounge", [did(hh.BULB_1), did(hh.BULB_2)])
    await radio.stop()
    air.frames.clear()

    radio2, log2 = await make_radio()
    after = await log2.added(11)
    assert interview_frames(air) == []
    for device_id, device in before.items():
        assert after[device_id].capabilities == device.capabilities
        assert after[device_id].name == device.name
        assert dict(after[device_id].state) == dict(device.state)
    assert radio2.groups()[group] == {did(hh.BULB_1), did(hh.BULB_2)}
    await radio2.execute(Command(did(hh.PLUG), "on"))
    air.device(hh.CLIMATE).set_attribute(measurement.RelativeHumidity, "measured_value", 5000)
    event = await log2.next(lambda e: isinstance(e, StateChanged) and e.attribute == "humidity")
    assert isinstance(event, StateChanged) and event.value == 50.0


async def test_stick_reset_mid_command_recovers_in_process(household: Household) -> None:
    radio, log, air = household
    plug = air.device(hh.PLUG)
    plug.silent = True  # the command goes out, its confirmation never comes back
    sent = air.wait_for_frame(lambda f: f.cluster_id == general.OnOff.cluster_id)
    command = asyncio.ensure_future(radio.execute(Command(did(hh.PLUG), "on")))
    await asyncio.wait_for(sent, 5)
    air.reset_radio()
    with pytest.raises(RadioUnavailable, match="recovering"):
        await asyncio.wait_for(command, 2)  # fails fast, not after zigpy's 5 s reply timeout
    assert radio.state in (RadioState.RECOVERING, RadioState.RUNNING)
    await asyncio.wait_for(radio.wait_for_state(RadioState.RUNNING), 5)
    assert radio.recoveries == 1
    plug.silent = False
    air.frames.clear()
    log.clear()
    await radio.execute(Command(did(hh.PLUG), "on"))
    assert interview_frames(air) == []
    assert not log.of(DeviceRemoved)
    plug.set_attribute(general.OnOff, "on_off", 0)
    event = await log.next(lambda e: isinstance(e, StateChanged) and e.device == did(hh.PLUG))
    assert isinstance(event, StateChanged) and event.value == "off"


async def test_unplugged_stick_fails_commands_clearly_and_comes_back(household: Household) -> None:
    radio, _, air = household
    attempts = air.attach_attempts
    air.unplug()
    assert radio.state is RadioState.RECOVERING
    with pytest.raises(RadioUnavailable, match=r"the zigbee stick sim://\S+ is recovering"):
        await radio.execute(Command(did(hh.PLUG), "on"))
    with pytest.raises(RadioUnavailable):
        await radio.set_inclusion(30)
    # The radio keeps trying with back-off (0.01..0.05 s in tests) while the stick is out.
    await asyncio.wait_for(air.wait_for_attach_attempts(attempts + 3), 5)
    assert radio.state is RadioState.RECOVERING
    air.replug()
    await asyncio.wait_for(radio.wait_for_state(RadioState.RUNNING), 5)
    await radio.execute(Command(did(hh.PLUG), "on"))


async def test_stop_during_recovery_is_clean(household: Household) -> None:
    radio, _, air = household
    air.unplug()
    await asyncio.wait_for(air.wait_for_attach_attempts(air.attach_attempts + 1), 5)
    await radio.stop()
    assert radio.state is RadioState.STOPPED
    await radio.stop()  # twice is fine


async def test_backup_file_is_written_private_and_complete(household: Household, tmp_path: Path) -> None:
    _, _, air = household
    path = tmp_path / BACKUP_FILE
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    backup = read_backup(path)
    assert air.nvram is not None
    network, node = air.nvram
    assert backup.network_info.network_key.key == network.network_key.key
    assert backup.network_info.channel == 20
    assert backup.node_info.ieee == node.ieee


async def test_replacement_stick_gets_the_network_back_from_the_database(
    household: Household, make_radio: RadioFactory
) -> None:
    radio, _, air = household
    assert air.nvram is not None
    old_network, old_node = air.nvram
    await radio.stop()
    air.replace_stick()
    assert air.nvram is None
    radio2, log2 = await make_radio()
    assert air.nvram is not None
    network, node = air.nvram
    assert (network.pan_id, network.extended_pan_id, network.channel) == (
        old_network.pan_id,
        old_network.extended_pan_id,
        old_network.channel,
    )
    assert network.network_key.key == old_network.network_key.key
    assert network.network_key.tx_counter > old_network.network_key.tx_counter
    assert node.ieee == old_node.ieee  # the coordinator address moves to the new stick
    await log2.added(11)
    await radio2.execute(Command(did(hh.BULB_1), "on"))


def write_config(tmp_path: Path, data_dir: Path) -> Path:
    config = tmp_path / "hub.toml"
    config.write_text(
        f'[hub]\ndata_dir = "{data_dir}"\n[zigbee]\nradio = "sim"\nchannel = 25\n', encoding="utf-8"
    )
    return config


async def test_restore_command_moves_a_network_to_a_new_hub(
    tmp_path: Path, air_for: Callable[[Path], SimulatedAir]
) -> None:
    old_dir = tmp_path / "old"
    old_dir.mkdir()
    old_config = write_config(old_dir, old_dir)
    # Form a network on the old hub, then take a backup with the tool.
    section = load_config(old_config).zigbee
    assert section is not None
    radio = ZigbeeRadio(section, RadioContext(old_dir, EventLog()))
    await radio.start()
    await radio.stop()
    backup, path = await tool.take_backup(section, old_dir)
    assert path == old_dir / BACKUP_FILE
    assert backup.network_info.channel == 25

    # A new hub (empty data dir) with its own blank stick: restore, then start.
    new_dir = tmp_path / "new"
    new_dir.mkdir()
    new_air = air_for(new_dir)
    assert new_air.nvram is None
    new_config = write_config(new_dir, new_dir)
    new_section = load_config(new_config).zigbee
    assert new_section is not None
    restored = await tool.restore_backup(new_section, new_dir, path)
    assert new_air.nvram is not None
    assert new_air.nvram[0].network_key.key == backup.network_info.network_key.key
    assert new_air.nvram[1].ieee == backup.node_info.ieee
    assert restored.network_info.pan_id == backup.network_info.pan_id
    section = load_config(new_config).zigbee
    assert section is not None
    radio = ZigbeeRadio(section, RadioContext(new_dir, EventLog()))
    await radio.start()
    try:
        assert radio.app.state.network_info.pan_id == backup.network_info.pan_id
    finally:
        await radio.stop()
    air_for(old_dir)  # forget the old hub's stick too


def test_restore_command_reports_bad_backups_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"hello": 1}), encoding="utf-8")
    assert cli.main(["zigbee", "restore", "--config", str(config), "--backup", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("hub-agent: error: ") and "not a valid Zigbee network backup" in err
    assert err.count("\n") == 1
    with pytest.raises(BackupError, match="is not JSON"):
        bad.write_text("{", encoding="utf-8")
        read_backup(bad)
    assert cli.main(["zigbee", "restore", "--config", str(tmp_path / "missing.toml")]) == 2


async def test_announced_devices_carry_no_events_after_stop(household: Household) -> None:
    radio, log, air = household
    await radio.stop()
    log.clear()
    air.device(hh.PLUG).set_attribute(general.OnOff, "on_off", 1)
    await asyncio.sleep(0)  # one loop turn: the air would deliver now if anyone listened
    assert log.events == []
    assert not [e for e in log.events if isinstance(e, DeviceAdded)]


async def test_stop_fails_a_pending_grouped_command_instead_of_hanging(household: Household) -> None:
    radio, _, air = household
    await radio.create_group("Lounge", [did(hh.BULB_1), did(hh.BULB_2)])
    air.device(hh.BULB_1).silent = True  # unicast (group not fully commanded) that never gets answered
    sent = air.wait_for_frame(lambda f: f.cluster_id == general.OnOff.cluster_id)
    command = asyncio.ensure_future(radio.execute(Command(did(hh.BULB_1), "on")))
    await asyncio.wait_for(sent, 5)
    await radio.stop()
    with pytest.raises(RadioUnavailable):
        await asyncio.wait_for(command, 2)


async def test_backup_now_and_the_backup_command(
    household: Household,
    tmp_path: Path,
    air_for: Callable[[Path], SimulatedAir],
    capsys: pytest.CaptureFixture[str],
) -> None:
    radio, _, _ = household
    backup = await radio.backup_now()
    assert read_backup(tmp_path / BACKUP_FILE).network_info.pan_id == backup.network_info.pan_id
    await radio.stop()
    # The command-line tool on a config whose stick is the default simulated air.
    data_dir = tmp_path / "cli"
    data_dir.mkdir()
    air_for(data_dir)
    config = write_config(data_dir, data_dir)
    radio2 = ZigbeeRadio(
        load_config(config).zigbee or pytest.fail("no [zigbee]"), RadioContext(data_dir, EventLog())
    )
    await radio2.start()
    await radio2.stop()
    out = data_dir / "copy.json"
    argv = ["zigbee", "backup", "--config", str(config), "--out", str(out)]
    assert await asyncio.to_thread(cli.main, argv) == 0
    assert "backed up network on channel 25" in capsys.readouterr().out
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert read_backup(out).network_info.channel == 25


async def test_a_configuration_cut_short_by_a_reset_is_redone(
    make_radio: RadioFactory, air: SimulatedAir
) -> None:
    from radios.sim.zigbee_household import bulb

    radio, log = await make_radio()
    air.auto_household = False
    await radio.set_inclusion(60)
    lamp = bulb("00:15:8d:00:04:00:00:01", 0x3001, "Desk lamp")
    first_bind = air.wait_for_frame(lambda f: f.is_zdo and f.cluster_id == 0x0021)  # ZDO Bind_req
    air.join(lamp)
    await asyncio.wait_for(first_bind, 5)
    air.reset_radio()  # the post-interview configuration is cut short
    await asyncio.wait_for(radio.wait_for_state(RadioState.RUNNING), 5)
    await asyncio.wait_for(radio.wait_configured(), 5)
    added = [e for e in log.events if isinstance(e, DeviceAdded) and e.device.id == did(str(lamp.ieee))]
    assert added, "the lamp was never announced"
    event = added[-1]
    assert set(event.device.capabilities) == {"switch", "level", "color_temp"}
    assert (1, general.OnOff.cluster_id) in lamp.bindings
    assert lamp.cluster(general.LevelControl).reporting
    assert interview_frames(air).count(0x0002) == 1  # interviewed once; only configuration redone


async def test_an_unreadable_database_is_moved_aside_and_devices_come_back(
    household: Household, make_radio: RadioFactory, tmp_path: Path
) -> None:
    radio, _, air = household
    await radio.stop()
    for part in tmp_path.glob("zigbee.db*"):
        part.unlink()
    (tmp_path / "zigbee.db").write_bytes(b"not a database " * 200)
    radio2, log2 = await make_radio()
    assert radio2.state is RadioState.RUNNING
    assert list(tmp_path.glob("zigbee.db.corrupt-*"))
    assert not log2.of(DeviceAdded)  # zigpy knows no device now
    # A device that talks is looked up by address, interviewed and configured again.
    air.device(hh.CLIMATE).set_attribute(measurement.TemperatureMeasurement, "measured_value", 2222)
    event = await log2.wait(lambda e: isinstance(e, DeviceAdded) and e.device.id == did(hh.CLIMATE))
    assert isinstance(event, DeviceAdded) and event.device.state["temperature"] == 22.22


async def test_lost_database_and_new_stick_restore_from_the_backup_file(
    household: Household, make_radio: RadioFactory, tmp_path: Path
) -> None:
    radio, _, air = household
    assert air.nvram is not None
    old_network, old_node = air.nvram
    await radio.stop()
    for part in tmp_path.glob("zigbee.db*"):
        part.unlink()
    air.replace_stick()
    radio2, _ = await make_radio()
    assert radio2.state is RadioState.RUNNING
    assert air.nvram is not None
    assert air.nvram[0].network_key.key == old_network.network_key.key
    assert (air.nvram[0].pan_id, air.nvram[1].ieee) == (old_network.pan_id, old_node.ieee)
    await radio2.set_inclusion(0)  # the restored network is usable
