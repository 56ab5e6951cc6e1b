"""dbusmock template: python-dbusmock's `bluez5` BlueZ, plus what the BLE tests need on org.bluez.Mock.

- `Advertise(adapter, address, name, service_data, uuids)`: a device (created on first use, with
  correctly typed ServiceData, which bluez5's AddDevice gets wrong) advertises: its ServiceData, UUIDs
  and RSSI change with one PropertiesChanged, as bluetoothd reports an advertisement.
- `AddGattSwitch(adapter, address)`: the device gets the hub's GATT switch profile (GattService1 and
  two GattCharacteristic1 objects); a write to the control characteristic sets the state and notifies
  it (if `SetSwitchResponsive(address, false)`, writes are taken but never answered). Connect sets
  Connected and ServicesResolved, as bluetoothd does once discovery ends.
- `SetPowered(adapter, powered)`: the adapter's Powered property.
Loaded by path (tests/ble/peer.py); runs inside the dbusmock process, not in the test.
"""

from __future__ import annotations

import dbus
from dbusmock import OBJECT_MANAGER_IFACE, mockobject
from dbusmock.templates import bluez5
from dbusmock.templates.bluez5 import *  # noqa: F403  (the template's D-Bus methods must be module symbols)

BUS_NAME = "org.bluez"
MAIN_OBJ = "/"
SYSTEM_BUS = True
IS_OBJECT_MANAGER = True

MOCK = "org.bluez.Mock"
DEVICE_IFACE = "org.bluez.Device1"
ADAPTER_IFACE = "org.bluez.Adapter1"
SERVICE_IFACE = "org.bluez.GattService1"
CHAR_IFACE = "org.bluez.GattCharacteristic1"
SWITCH_SERVICE = "4d2b0001-8b3a-4c1e-9a57-3c0d2f5e7a10"
SWITCH_STATE = "4d2b0002-8b3a-4c1e-9a57-3c0d2f5e7a10"
SWITCH_CONTROL = "4d2b0003-8b3a-4c1e-9a57-3c0d2f5e7a10"


def load(mock, parameters):
    bluez5.load(mock, parameters)


def _device_path(adapter, address):
    return f"/org/bluez/{adapter}/dev_{address.replace(':', '_').upper()}"


def _emit_added(path, iface, props):
    mockobject.objects["/"].EmitSignal(
        OBJECT_MANAGER_IFACE, "InterfacesAdded", "oa{sa{sv}}", [dbus.ObjectPath(path), {iface: props}]
    )


def _changed(obj, iface, props):
    obj.props[iface].update(props)
    obj.EmitSignal(
        dbus.PROPERTIES_IFACE, "PropertiesChanged", "sa{sv}as", [iface, props, dbus.Array([], "s")]
    )


def _connect(device):
    _changed(device, DEVICE_IFACE, {"Connected": dbus.Boolean(True), "ServicesResolved": dbus.Boolean(True)})


def _disconnect(device):
    _changed(
        device, DEVICE_IFACE, {"Connected": dbus.Boolean(False), "ServicesResolved": dbus.Boolean(False)}
    )


@dbus.service.method(MOCK, in_signature="sssa{sv}as", out_signature="s")
def Advertise(self, adapter, address, name, service_data, uuids):
    path = _device_path(adapter, address)
    typed = dbus.Dictionary(
        {
            str(k): dbus.Array([dbus.Byte(b) for b in bytes(v)], signature="y")
            for k, v in service_data.items()
        },
        signature="sv",
    )
    if path not in mockobject.objects:
        props = {
            "Address": dbus.String(address),
            "AddressType": dbus.String("public"),
            "Name": dbus.String(name),
            "Alias": dbus.String(name),
            "Adapter": dbus.ObjectPath(f"/org/bluez/{adapter}"),
            "Paired": dbus.Boolean(False),
            "Connected": dbus.Boolean(False),
            "ServicesResolved": dbus.Boolean(False),
            "Trusted": dbus.Boolean(False),
            "Blocked": dbus.Boolean(False),
            "RSSI": dbus.Int16(-60),
            "UUIDs": dbus.Array([str(u) for u in uuids], signature="s"),
            "ServiceData": typed,
            "ManufacturerData": dbus.Dictionary({}, signature="qv"),
        }
        self.AddObject(
            path,
            DEVICE_IFACE,
            props,
            [
                ("Connect", "", "", _connect),
                ("Disconnect", "", "", _disconnect),
            ],
        )
        _emit_added(path, DEVICE_IFACE, props)
        return path
    device = mockobject.objects[path]
    rssi = -60 if int(device.props[DEVICE_IFACE]["RSSI"]) != -60 else -61  # a fresh reading each time
    _changed(
        device,
        DEVICE_IFACE,
        {
            "RSSI": dbus.Int16(rssi),
            "UUIDs": dbus.Array([str(u) for u in uuids], signature="s"),
            "ServiceData": typed,
        },
    )
    return path


@dbus.service.method(MOCK, in_signature="ss", out_signature="")
def AddGattSwitch(self, adapter, address):
    device_path = _device_path(adapter, address)
    service_path = device_path + "/service0010"
    service_props = {
        "UUID": dbus.String(SWITCH_SERVICE),
        "Device": dbus.ObjectPath(device_path),
        "Primary": dbus.Boolean(True),
    }
    self.AddObject(service_path, SERVICE_IFACE, service_props, [])
    _emit_added(service_path, SERVICE_IFACE, service_props)
    for handle, uuid, flags in ((0x11, SWITCH_STATE, ["read", "notify"]), (0x13, SWITCH_CONTROL, ["write"])):
        char_path = f"{service_path}/char{handle:04x}"
        props = {
            "UUID": dbus.String(uuid),
            "Service": dbus.ObjectPath(service_path),
            "Value": dbus.Array([dbus.Byte(0)], signature="y"),
            "Flags": dbus.Array(flags, signature="s"),
            "Notifying": dbus.Boolean(False),
        }
        self.AddObject(
            char_path,
            CHAR_IFACE,
            props,
            [
                ("ReadValue", "a{sv}", "ay", _read),
                ("WriteValue", "aya{sv}", "", _write),
                ("StartNotify", "", "", _start_notify),
                ("StopNotify", "", "", _stop_notify),
            ],
        )
        _emit_added(char_path, CHAR_IFACE, props)
    mockobject.objects[device_path].responsive = True
    mockobject.objects[device_path].writes = 0


def _read(char, _options):
    return char.props[CHAR_IFACE]["Value"]


def _start_notify(char):
    _changed(char, CHAR_IFACE, {"Notifying": dbus.Boolean(True)})


def _stop_notify(char):
    _changed(char, CHAR_IFACE, {"Notifying": dbus.Boolean(False)})


def _write(char, value, _options):
    service_path = str(char.props[CHAR_IFACE]["Service"])
    device = mockobject.objects[service_path.rsplit("/", 1)[0]]
    device.writes += 1
    if len(value) != 1 or int(value[0]) not in (0, 1):
        raise dbus.exceptions.DBusException("bad value", name="org.bluez.Error.InvalidValueLength")
    if not device.responsive:
        return
    state = mockobject.objects[service_path + "/char0011"]
    _changed(state, CHAR_IFACE, {"Value": dbus.Array([dbus.Byte(int(value[0]))], signature="y")})


@dbus.service.method(MOCK, in_signature="sb", out_signature="")
def SetSwitchResponsive(self, device_path, responsive):
    mockobject.objects[device_path].responsive = bool(responsive)


@dbus.service.method(MOCK, in_signature="s", out_signature="i")
def SwitchWrites(self, device_path):
    return int(mockobject.objects[device_path].writes)


@dbus.service.method(MOCK, in_signature="s", out_signature="y")
def SwitchState(self, device_path):
    return dbus.Byte(
        int(mockobject.objects[device_path + "/service0010/char0011"].props[CHAR_IFACE]["Value"][0])
    )


@dbus.service.method(MOCK, in_signature="sy", out_signature="")
def PressSwitch(self, device_path, value):
    state = mockobject.objects[device_path + "/service0010/char0011"]
    _changed(state, CHAR_IFACE, {"Value": dbus.Array([dbus.Byte(int(value))], signature="y")})


@dbus.service.method(MOCK, in_signature="sb", out_signature="")
def SetPowered(self, adapter, powered):
    _changed(mockobject.objects[f"/org/bluez/{adapter}"], ADAPTER_IFACE, {"Powered": dbus.Boolean(powered)})
