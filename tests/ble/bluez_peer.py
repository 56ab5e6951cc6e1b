"""The BlueZ peer for BLE tests: a private system bus with dbusmock BlueZ (tests/ble/bluez_template.py).

bleak (through dbus-fast) and our adapter probe find it through DBUS_SYSTEM_BUS_ADDRESS. The test
drives the mock through dbus-python calls on org.bluez.Mock (adapters, advertisements, GATT).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path
from typing import Any

import dbus
import dbus.bus
from dbusmock import BusType, PrivateDBus, SpawnedMock

TEMPLATE = str(Path(__file__).with_name("bluez_template.py"))
ENV = "DBUS_SYSTEM_BUS_ADDRESS"


class BlueZPeer:
    """One private system bus and one mock bluetoothd on it (restartable, like a real bluetoothd)."""

    def __init__(self) -> None:
        self._saved = os.environ.get(ENV)
        self.bus = PrivateDBus(BusType.SYSTEM)
        self.bus.start()  # sets DBUS_SYSTEM_BUS_ADDRESS for this process
        self.mock: SpawnedMock | None = None
        self.conn: Any = None

    def start_bluez(self, parameters: dict[str, Any] | None = None) -> None:
        """Start bluetoothd (the mock) with no adapters."""
        self.mock = SpawnedMock.spawn_with_template(
            TEMPLATE, parameters or {}, BusType.SYSTEM, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.conn = dbus.bus.BusConnection(self.bus.address)

    def stop_bluez(self) -> None:
        """bluetoothd exits (no InterfacesRemoved are sent, as in a crash)."""
        if self.mock is not None:
            self.mock.terminate()
            self.mock = None
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def close(self) -> None:
        """Stop everything and restore the environment."""
        self.stop_bluez()
        self.bus.stop()
        if self._saved is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = self._saved

    @property
    def control(self) -> Any:
        """org.bluez.Mock on the mock's root object."""
        return dbus.Interface(self.conn.get_object("org.bluez", "/"), "org.bluez.Mock")

    def add_adapter(self, name: str = "hci0") -> None:
        self.control.AddAdapter(name, "hub")

    def remove_adapter(self, name: str = "hci0") -> None:
        self.control.RemoveAdapterWithDevices(name)

    def set_powered(self, powered: bool, name: str = "hci0") -> None:
        self.control.SetPowered(name, powered)

    def advertise(
        self, address: str, name: str, service_data: dict[str, bytes], uuids: list[str], adapter: str = "hci0"
    ) -> str:
        data = dbus.Dictionary({k: dbus.ByteArray(v) for k, v in service_data.items()}, signature="sv")
        return str(self.control.Advertise(adapter, address, name, data, dbus.Array(uuids, signature="s")))

    def add_gatt_switch(self, address: str, adapter: str = "hci0") -> str:
        self.control.AddGattSwitch(adapter, address)
        return f"/org/bluez/{adapter}/dev_{address.replace(':', '_')}"


async def drop_bleak_manager() -> None:
    """End bleak's per-loop BlueZ manager (its bus and watcher task) so the test leaves nothing behind."""
    from bleak.backends.bluezdbus import manager

    instance = manager._global_instances.pop(asyncio.get_running_loop(), None)
    bus = getattr(instance, "_bus", None)
    if bus is not None:
        bus.disconnect()
        await bus.wait_for_disconnect()
    watchers = [t for t in asyncio.all_tasks() if "_monitor_bus_disconnect" in repr(t.get_coro())]
    await asyncio.gather(*watchers, return_exceptions=True)
