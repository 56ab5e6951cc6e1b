"""Is the Bluetooth adapter there and powered? Asked of BlueZ over the D-Bus system bus.

`probe()` answers with a token naming the adapter's current incarnation (BlueZ's bus name), so a
BlueZ restart between two probes is noticed as a change even though the adapter is present both times.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Protocol

from dbus_fast import BusType, Message, MessageType
from dbus_fast.aio import MessageBus

log = logging.getLogger(__name__)

BLUEZ = "org.bluez"
ADAPTER_IFACE = "org.bluez.Adapter1"


class AdapterWatch(Protocol):
    """Where the radio asks whether its adapter is usable."""

    async def probe(self) -> str | None:
        """A token for the adapter's current incarnation if present and powered, else None."""

    async def close(self) -> None:
        """Release what probing holds (a bus connection)."""


class BlueZAdapterWatch:
    """Probes `/org/bluez/<adapter>`'s Powered property and BlueZ's unique bus name."""

    def __init__(self, adapter: str) -> None:
        self.adapter = adapter
        self.path = f"/org/bluez/{adapter}"
        self._bus: MessageBus | None = None
        self.last_problem = ""

    async def probe(self) -> str | None:
        """See AdapterWatch.probe; never raises (problems are kept in `last_problem`)."""
        try:
            bus = await self._connected()
            owner = await bus.call(
                Message(
                    destination="org.freedesktop.DBus",
                    path="/org/freedesktop/DBus",
                    interface="org.freedesktop.DBus",
                    member="GetNameOwner",
                    signature="s",
                    body=[BLUEZ],
                )
            )
            if owner is None or owner.message_type == MessageType.ERROR:
                self.last_problem = "BlueZ (bluetoothd) is not running on the system bus"
                return None
            powered = await bus.call(
                Message(
                    destination=BLUEZ,
                    path=self.path,
                    interface="org.freedesktop.DBus.Properties",
                    member="Get",
                    signature="ss",
                    body=[ADAPTER_IFACE, "Powered"],
                )
            )
            if powered is None or powered.message_type == MessageType.ERROR:
                self.last_problem = f"BlueZ has no adapter {self.adapter}"
                return None
            if not powered.body[0].value:
                self.last_problem = f"adapter {self.adapter} is powered off"
                return None
            self.last_problem = ""
            return f"{owner.body[0]}{self.path}"
        except (OSError, EOFError, ValueError) as exc:
            self.last_problem = f"cannot reach the D-Bus system bus ({exc})"
            await self.close()
            return None

    async def close(self) -> None:
        """Disconnect from the system bus."""
        bus, self._bus = self._bus, None
        if bus is not None:
            bus.disconnect()
            with contextlib.suppress(Exception):
                await bus.wait_for_disconnect()  # type: ignore[no-untyped-call]  # dbus-fast leaves it unannotated

    async def _connected(self) -> MessageBus:
        if self._bus is None or not self._bus.connected:
            self._bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
        return self._bus
