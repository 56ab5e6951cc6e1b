"""The BLE radio through the real bleak BlueZ backend and bthome-ble, against BlueZ's D-Bus API.

Peer: python-dbusmock's bluez5 template (plus tests/ble/bluez_template.py) on a private system bus.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import dbus
import pytest
from ble_helpers import Recorder
from bluez_peer import BlueZPeer, drop_bleak_manager

from hub_core.errors import DeliveryFailed, DeliveryTimeout, RadioUnavailable
from hub_core.model import Command, DeviceAdded, StateChanged, ble_device_id
from radios.base import RadioState
from radios.ble.bthome import BTHOME_UUID
from radios.ble.gatt import SWITCH_SERVICE
from radios.ble.keys import WrongKey
from radios.ble.radio import BleRadio

pytestmark = pytest.mark.peer

VECTORS = json.loads(Path(__file__).with_name("vectors.json").read_text())
MAC = VECTORS["mac"]
DEVICE = ble_device_id(MAC)
SWITCH = "C0:FF:EE:00:00:07"


@pytest.fixture
def peer() -> Iterator[BlueZPeer]:
    bluez = BlueZPeer()
    try:
        bluez.start_bluez()
        bluez.add_adapter()
        yield bluez
    finally:
        bluez.close()


@pytest.fixture
async def radio(peer: BlueZPeer, tmp_path: Path) -> AsyncIterator[tuple[BleRadio, Recorder]]:
    recorder = Recorder()
    ble = BleRadio(recorder.context(tmp_path), "hci0", poll_interval=0.1, command_timeout=2.0)
    try:
        await ble.start()
        yield ble, recorder
        await ble.stop()
    finally:
        await drop_bleak_manager()


def added(device: str, **fields: object):
    def match(event: object) -> bool:
        return (
            isinstance(event, DeviceAdded)
            and event.device.id == device
            and all(getattr(event.device, k) == v for k, v in fields.items())
        )

    return match


async def test_passive_scan_hears_a_plain_bthome_sensor_during_inclusion(radio, peer: BlueZPeer) -> None:
    ble, rec = radio
    assert ble.scanning_mode == "passive"
    await ble.set_inclusion(30)
    vector = VECTORS["plain"][0]
    peer.advertise(MAC, "ATC climate", {BTHOME_UUID: bytes.fromhex(vector["data"])}, [BTHOME_UUID])
    joined = await rec.wait_for(added(DEVICE))
    assert joined.device.state == pytest.approx(vector["attributes"])
    assert joined.device.name == "ATC climate"
    await ble.set_inclusion(0)
    stranger = "A4:C1:38:99:99:99"
    peer.advertise(stranger, "stranger", {BTHOME_UUID: bytes.fromhex(vector["data"])}, [BTHOME_UUID])
    vector = VECTORS["plain"][1]
    peer.advertise(MAC, "ATC climate", {BTHOME_UUID: bytes.fromhex(vector["data"])}, [BTHOME_UUID])
    # signals from bluetoothd arrive in order: once this reading is in, the stranger was heard
    await rec.wait_for(lambda e: isinstance(e, DeviceAdded) and "illuminance" in e.device.capabilities)
    assert ble.ignored == 1 and ble.counters()["ignored"] == 1
    assert not any(isinstance(e, DeviceAdded) and e.device.id == ble_device_id(stranger) for e in rec.events)


async def test_encrypted_sensor_needs_key_wrong_key_refused_right_key_decrypts(
    radio, peer: BlueZPeer, tmp_path: Path
) -> None:
    ble, rec = radio
    await ble.set_inclusion(30)
    first, second, _ = VECTORS["encrypted"]
    peer.advertise(MAC, "door", {BTHOME_UUID: bytes.fromhex(first["data"])}, [BTHOME_UUID])
    joined = await rec.wait_for(added(DEVICE, needs_key=True))
    assert joined.device.state == {}
    with pytest.raises(WrongKey):
        await ble.set_bindkey(DEVICE, bytes.fromhex(VECTORS["other_key"]))
    await ble.set_bindkey(DEVICE, bytes.fromhex(VECTORS["key"]))
    keyed = await rec.wait_for(added(DEVICE, needs_key=False))
    assert keyed.device.state == pytest.approx(first["attributes"])
    assert (tmp_path / "ble-keys.json").stat().st_mode & 0o777 == 0o600
    peer.advertise(MAC, "door", {BTHOME_UUID: bytes.fromhex(second["data"])}, [BTHOME_UUID])
    await rec.wait_for(lambda e: rec.state[DEVICE].get("battery") == 80)  # a new capability: re-announced
    # a replayed older packet is refused
    peer.advertise(MAC, "door", {BTHOME_UUID: bytes.fromhex(first["data"])}, [BTHOME_UUID])
    peer.advertise(MAC, "door", {BTHOME_UUID: bytes.fromhex(second["data"])}, [BTHOME_UUID])
    vector = VECTORS["encrypted"][2]
    peer.advertise(MAC, "door", {BTHOME_UUID: bytes.fromhex(vector["data"])}, [BTHOME_UUID])
    await rec.wait_for(lambda e: rec.state[DEVICE].get("contact") == "open")
    assert ble.refused.get("replay", 0) >= 1


async def switch_joined(ble: BleRadio, rec: Recorder, peer: BlueZPeer) -> str:
    await ble.set_inclusion(30)
    path = peer.advertise(SWITCH, "lamp", {}, [SWITCH_SERVICE])
    peer.add_gatt_switch(SWITCH)
    await rec.wait_for(added(ble_device_id(SWITCH)))
    return path


async def test_gatt_switch_write_and_notify(radio, peer: BlueZPeer) -> None:
    ble, rec = radio
    path = await switch_joined(ble, rec, peer)
    device = ble_device_id(SWITCH)
    await ble.execute(Command(device, "on"))
    assert rec.state[device]["switch"] == "on" and int(peer.control.SwitchState(path)) == 1
    await ble.execute(Command(device, "toggle"))
    assert rec.state[device]["switch"] == "off" and int(peer.control.SwitchState(path)) == 0
    peer.control.PressSwitch(path, 1)  # pressed by hand: a notification on the open link
    await rec.wait_for(lambda e: isinstance(e, StateChanged) and e.device == device and e.value == "on")
    assert int(peer.control.SwitchWrites(path)) == 2

    # the link closes (idle); a change meanwhile is not notified, a refresh reads it
    await ble.close_links()
    peer.control.PressSwitch(path, 0)
    await ble.execute(Command(device, "refresh"))
    assert rec.state[device]["switch"] == "off"
    state_char = peer.conn.get_object("org.bluez", path + "/service0010/char0011")
    assert len(dbus.Interface(state_char, "org.freedesktop.DBus.Mock").GetMethodCalls("ReadValue")) >= 1


async def test_gatt_switch_that_does_not_answer_is_a_timeout(radio, peer: BlueZPeer) -> None:
    ble, rec = radio
    path = await switch_joined(ble, rec, peer)
    peer.control.SetSwitchResponsive(path, False)
    ble.command_timeout = 0.5
    with pytest.raises(DeliveryTimeout, match="did not confirm"):
        await ble.execute(Command(ble_device_id(SWITCH), "on"))


async def test_adapter_removed_then_back_and_powered_off_then_on(radio, peer: BlueZPeer) -> None:
    ble, rec = radio
    path = await switch_joined(ble, rec, peer)
    device = ble_device_id(SWITCH)
    peer.remove_adapter()
    await asyncio.wait_for(ble.recovering.wait(), 5)
    with pytest.raises(RadioUnavailable):
        await ble.execute(Command(device, "on"))
    peer.add_adapter()
    await asyncio.wait_for(ble.running.wait(), 5)
    assert ble.state is RadioState.RUNNING and ble.recoveries == 1
    # the adapter came back empty: the switch is heard again before it can be reached
    path = peer.advertise(SWITCH, "lamp", {}, [SWITCH_SERVICE])
    peer.add_gatt_switch(SWITCH)
    await ble.execute(Command(device, "on"))
    assert int(peer.control.SwitchState(path)) == 1
    peer.set_powered(False)
    await asyncio.wait_for(ble.recovering.wait(), 5)
    peer.set_powered(True)
    await asyncio.wait_for(ble.running.wait(), 5)
    assert ble.recoveries == 2


async def test_bluez_restart_is_recovered(radio, peer: BlueZPeer) -> None:
    ble, rec = radio
    peer.stop_bluez()
    await asyncio.wait_for(ble.recovering.wait(), 5)
    peer.start_bluez()
    peer.add_adapter()
    await asyncio.wait_for(ble.running.wait(), 5)
    await ble.set_inclusion(30)
    vector = VECTORS["plain"][0]
    peer.advertise(MAC, "ATC climate", {BTHOME_UUID: bytes.fromhex(vector["data"])}, [BTHOME_UUID])
    await rec.wait_for(added(DEVICE))


async def test_start_without_adapter_is_radio_unavailable(peer: BlueZPeer, tmp_path: Path) -> None:
    peer.remove_adapter()
    ble = BleRadio(Recorder().context(tmp_path), "hci0")
    try:
        with pytest.raises(RadioUnavailable, match="hci0"):
            await ble.start()
        await ble.stop()
    finally:
        await drop_bleak_manager()


async def test_active_scan_when_bluez_has_no_advertisement_monitors(tmp_path: Path) -> None:
    bluez = BlueZPeer()
    try:
        bluez.start_bluez({"enable_monitor_api": False})
        bluez.add_adapter()
        rec = Recorder()
        ble = BleRadio(rec.context(tmp_path), "hci0", poll_interval=0.1)
        await ble.start()
        try:
            assert ble.scanning_mode == "active"
            await ble.set_inclusion(30)
            vector = VECTORS["plain"][0]
            bluez.advertise(MAC, "ATC", {BTHOME_UUID: bytes.fromhex(vector["data"])}, [BTHOME_UUID])
            await rec.wait_for(added(DEVICE))
        finally:
            await ble.stop()
            await drop_bleak_manager()
    finally:
        bluez.close()


async def test_gatt_switch_gone_from_bluez_is_a_clear_command_error(radio, peer: BlueZPeer) -> None:
    ble, rec = radio
    path = await switch_joined(ble, rec, peer)
    adapter = dbus.Interface(peer.conn.get_object("org.bluez", "/org/bluez/hci0"), "org.bluez.Adapter1")
    adapter.RemoveDevice(path)  # bluetoothd forgot it (out of range for long)
    ble.command_timeout = 1.0
    with pytest.raises((DeliveryFailed, DeliveryTimeout), match=ble_device_id(SWITCH)):
        await ble.execute(Command(ble_device_id(SWITCH), "on"))
    assert ble.state is RadioState.RUNNING
