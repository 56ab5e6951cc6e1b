"""The BLE radio over the simulated air (bleak backends `SimScanner`/`SimClient`), with bthome-ble."""

from __future__ import annotations

import asyncio
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from ble_helpers import Recorder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub_core.errors import DeliveryTimeout, InvalidCommand, RadioUnavailable, UnknownDevice
from hub_core.model import (
    CAPABILITIES,
    ButtonPressed,
    Command,
    Device,
    DeviceAdded,
    DeviceOnline,
    Protocol,
    StateChanged,
    ble_device_id,
)
from radios.base import RadioContext, RadioState
from radios.ble.bthome import BTHOME_UUID
from radios.ble.gatt import SWITCH_SERVICE
from radios.ble.keys import WrongKey
from radios.ble.radio import BleRadio
from radios.sim.ble_air import SimAdapterWatch, SimAir, SimSwitch, bthome_service_data
from radios.sim.ble_radio import sim_backends

KEY = bytes.fromhex("00112233445566778899aabbccddeeff")
PLAIN = "A4:C1:38:11:22:33"
SECRET = "A4:C1:38:44:55:66"
SWITCH = "C0:FF:EE:00:00:09"


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[BleRadio, SimAir, Recorder]]:
    air = SimAir()
    recorder = Recorder()
    radio = BleRadio(
        recorder.context(tmp_path),
        "sim",
        watch=SimAdapterWatch(air),
        backends=sim_backends(air),
        poll_interval=0.05,
        command_timeout=0.5,
    )
    await radio.start()
    yield radio, air, recorder
    await radio.stop()


def added(device: str):
    return lambda e: isinstance(e, DeviceAdded) and e.device.id == device


async def test_unknown_devices_are_ignored_outside_inclusion(world) -> None:
    radio, air, rec = world
    air.advertise_bthome(PLAIN, "t", bthome_service_data([("temperature", 20.0)]))
    assert radio.ignored == 1 and rec.events == []


async def test_plain_sensor_joins_and_reports(world) -> None:
    radio, air, rec = world
    await radio.set_inclusion(60)
    air.advertise_bthome(
        PLAIN, "Kitchen", bthome_service_data([("packet_id", 1), ("temperature", 20.5), ("battery", 90)])
    )
    joined = await rec.wait_for(added(ble_device_id(PLAIN)))
    assert joined.device.id == "ble-a4c138112233"
    assert set(joined.device.capabilities) == {"temperature", "battery"}
    assert joined.device.state == {"temperature": 20.5, "battery": 90}
    await radio.set_inclusion(0)
    air.advertise_bthome(
        PLAIN, "Kitchen", bthome_service_data([("packet_id", 1), ("temperature", 30.0)])
    )  # duplicate
    air.advertise_bthome(PLAIN, "Kitchen", bthome_service_data([("packet_id", 2), ("temperature", 21.0)]))
    changes = [e for e in rec.events if isinstance(e, StateChanged)]
    assert [(c.attribute, c.value) for c in changes] == [("temperature", 21.0)]
    air.advertise_bthome(PLAIN, "Kitchen", bthome_service_data([("packet_id", 3), ("button", 1)]))
    again = [e for e in rec.events if isinstance(e, DeviceAdded)][-1]
    assert "button" in again.device.capabilities  # a new capability re-announces the device
    assert any(isinstance(e, ButtonPressed) and e.button == 1 and e.action == "pressed" for e in rec.events)


async def test_encrypted_sensor_needs_key_then_decrypts(world, tmp_path: Path) -> None:
    radio, air, rec = world
    device = ble_device_id(SECRET)
    await radio.set_inclusion(60)
    air.advertise_bthome(
        SECRET, "Door", bthome_service_data([("contact", 1)], key=KEY, counter=5, mac=SECRET)
    )
    joined = await rec.wait_for(added(device))
    assert joined.device.needs_key and joined.device.to_json()["needs_key"] is True
    assert joined.device.state == {}
    with pytest.raises(WrongKey):
        await radio.set_bindkey(device, bytes(16))
    assert not (tmp_path / "ble-keys.json").exists()
    await radio.set_bindkey(device, KEY)
    assert stat.S_IMODE((tmp_path / "ble-keys.json").stat().st_mode) == 0o600
    keyed = await rec.wait_for(lambda e: added(device)(e) and not e.device.needs_key)
    assert keyed.device.state == {"contact": "open"}
    # the same counter again is a replay; a higher one is news
    air.advertise_bthome(
        SECRET, "Door", bthome_service_data([("contact", 0)], key=KEY, counter=5, mac=SECRET)
    )
    assert radio.refused.get("replay") == 1
    air.advertise_bthome(
        SECRET, "Door", bthome_service_data([("contact", 0)], key=KEY, counter=6, mac=SECRET)
    )
    await rec.wait_for(lambda e: isinstance(e, StateChanged) and e.value == "closed")


async def test_key_for_unknown_or_plain_device_is_refused(world) -> None:
    radio, air, rec = world
    with pytest.raises(UnknownDevice):
        await radio.set_bindkey(ble_device_id("00:00:00:00:00:01"), KEY)
    switch = SimSwitch(SWITCH, "Lamp")
    air.add_switch(switch)
    await radio.set_inclusion(60)
    air.advertise_switch(switch)
    await rec.wait_for(added(ble_device_id(SWITCH)))
    with pytest.raises(InvalidCommand):
        await radio.set_bindkey(ble_device_id(SWITCH), KEY)


async def test_gatt_switch_on_off_toggle_and_its_own_button(world) -> None:
    radio, air, rec = world
    switch = SimSwitch(SWITCH, "Lamp")
    air.add_switch(switch)
    await radio.set_inclusion(60)
    air.advertise_switch(switch)
    device = ble_device_id(SWITCH)
    joined = await rec.wait_for(added(device))
    assert joined.device.capabilities == ("switch",)
    await radio.execute(Command(device, "on"))
    assert switch.on and rec.state[device]["switch"] == "on"
    await radio.execute(Command(device, "toggle"))
    assert not switch.on and rec.state[device]["switch"] == "off"
    switch.set(True)  # pressed by hand while the link is open
    assert rec.state[device]["switch"] == "on"
    with pytest.raises(InvalidCommand):
        await radio.execute(Command(device, "set_level", {"level": 5}))


async def test_gatt_switch_that_never_confirms_times_out(world) -> None:
    radio, air, _ = world
    switch = SimSwitch(SWITCH, "Lamp", responsive=False)
    air.add_switch(switch)
    await radio.set_inclusion(60)
    air.advertise_switch(switch)
    with pytest.raises(DeliveryTimeout):
        await radio.execute(Command(ble_device_id(SWITCH), "on"))
    assert switch.writes == 1


async def test_adapter_off_fails_commands_then_recovers(world) -> None:
    radio, air, rec = world
    switch = SimSwitch(SWITCH, "Lamp")
    air.add_switch(switch)
    await radio.set_inclusion(60)
    air.advertise_switch(switch)
    device = ble_device_id(SWITCH)
    await rec.wait_for(added(device))
    air.set_powered(False)
    await asyncio.wait_for(radio.recovering.wait(), 5)  # the supervisor notices within one poll
    assert radio.state is RadioState.RECOVERING
    with pytest.raises(RadioUnavailable):
        await radio.execute(Command(device, "on"))
    air.set_powered(True)
    await asyncio.wait_for(radio.running.wait(), 5)
    assert radio.recoveries == 1
    await radio.execute(Command(device, "on"))
    assert switch.on


async def test_adapter_lost_during_a_command_is_radio_unavailable(world) -> None:
    radio, air, _ = world
    switch = SimSwitch(SWITCH, "Lamp", responsive=False)
    air.add_switch(switch)
    await radio.set_inclusion(60)
    air.advertise_switch(switch)
    radio.command_timeout = 30  # the adapter's loss, not the timeout, must end the command
    command = asyncio.create_task(radio.execute(Command(ble_device_id(SWITCH), "on")))
    await switch.written.wait()  # the write is on the air; the device will never answer
    air.set_powered(False)
    with pytest.raises(RadioUnavailable, match="went away"):
        await command


async def test_silent_device_goes_offline_and_back_online(world) -> None:
    radio, air, rec = world
    radio.min_silence = 0.2
    await radio.set_inclusion(60)
    air.advertise_bthome(PLAIN, "t", bthome_service_data([("packet_id", 1), ("temperature", 20.0)]))
    device = ble_device_id(PLAIN)
    await rec.wait_for(added(device))
    # a second advertisement gives the radio the device's interval (until then it waits 10 min)
    air.advertise_bthome(PLAIN, "t", bthome_service_data([("packet_id", 2), ("temperature", 20.1)]))
    await rec.wait_for(lambda e: isinstance(e, DeviceOnline) and e.device == device and not e.online)
    air.advertise_bthome(PLAIN, "t", bthome_service_data([("packet_id", 3), ("temperature", 20.5)]))
    await rec.wait_for(lambda e: isinstance(e, DeviceOnline) and e.device == device and e.online)


async def test_a_reported_again_advertisement_is_not_a_second_button_press(world) -> None:
    radio, air, rec = world
    await radio.set_inclusion(60)
    data = bthome_service_data([("button", 1)])  # no packet id: only the bytes tell repeats apart
    air.advertise_bthome(PLAIN, "b", data)
    air.advertise_bthome(PLAIN, "b", data)  # BlueZ re-reports with each RSSI change
    assert sum(isinstance(e, ButtonPressed) for e in rec.events) == 1


async def test_keys_survive_a_restart(tmp_path: Path) -> None:
    air = SimAir()
    device = ble_device_id(SECRET)
    first = Recorder()
    radio = BleRadio(first.context(tmp_path), "sim", watch=SimAdapterWatch(air), backends=sim_backends(air))
    await radio.start()
    await radio.set_inclusion(60)
    air.advertise_bthome(
        SECRET, "Door", bthome_service_data([("contact", 1)], key=KEY, counter=1, mac=SECRET)
    )
    await radio.set_bindkey(device, KEY)
    joined = [e for e in first.events if isinstance(e, DeviceAdded)][-1].device
    await radio.stop()
    assert not joined.needs_key

    second = Recorder()
    ctx = RadioContext(tmp_path, second.emit, known_devices={device: joined}, state_reader=second.state_of)
    again = BleRadio(ctx, "sim", watch=SimAdapterWatch(air), backends=sim_backends(air))
    await again.start()
    try:
        air.advertise_bthome(
            SECRET, "Door", bthome_service_data([("contact", 0)], key=KEY, counter=2, mac=SECRET)
        )
        await second.wait_for(lambda e: isinstance(e, StateChanged) and e.value == "closed")
    finally:
        await again.stop()


@pytest.mark.parametrize("name", ["", "hci", "hci0/../x", "wlan0", "hci0 "])
def test_adapter_names_other_than_hci_n_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="not a BlueZ adapter name"):
        BleRadio(Recorder().context(tmp_path), name)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    info=st.sampled_from([b"", b"\x40", b"\x41", b"\x44", b"\x45", b"\x20"]),
    body=st.binary(max_size=40),
    name=st.one_of(st.none(), st.text(max_size=40)),
    switch=st.booleans(),
)
async def test_fuzz_advertisements_never_raise_into_bleak(
    tmp_path: Path, info: bytes, body: bytes, name: str | None, switch: bool
) -> None:
    air = SimAir()
    rec = Recorder()
    radio = BleRadio(rec.context(tmp_path), "sim", watch=SimAdapterWatch(air), backends=sim_backends(air))
    await radio.start()
    try:
        await radio.set_inclusion(60)
        uuids = [SWITCH_SERVICE] if switch else []
        air.advertise(PLAIN, name, service_data={BTHOME_UUID: info + body}, service_uuids=uuids)
        air.advertise(PLAIN, name, service_data={BTHOME_UUID: body + info}, service_uuids=uuids)
        for event in rec.events:
            if isinstance(event, DeviceAdded):
                assert event.device.id == ble_device_id(PLAIN)
                assert set(event.device.capabilities) <= CAPABILITIES
    finally:
        await radio.stop()


async def test_a_remembered_device_never_heard_again_goes_offline(tmp_path: Path) -> None:
    air = SimAir()
    rec = Recorder()
    device = ble_device_id(PLAIN)
    known = Device(
        device, Protocol.BLE, "Kitchen", "BTHome", "BTHome v2 sensor", capabilities=("temperature",)
    )
    ctx = RadioContext(tmp_path, rec.emit, known_devices={device: known}, state_reader=rec.state_of)
    radio = BleRadio(
        ctx,
        "sim",
        watch=SimAdapterWatch(air),
        backends=sim_backends(air),
        poll_interval=0.05,
        min_silence=0.1,
        unknown_silence=0.2,
    )
    await radio.start()
    try:
        assert any(isinstance(e, DeviceAdded) and e.device.id == device for e in rec.events)
        await rec.wait_for(lambda e: isinstance(e, DeviceOnline) and e.device == device and not e.online)
    finally:
        await radio.stop()
