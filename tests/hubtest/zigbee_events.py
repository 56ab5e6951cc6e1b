"""Helpers for driving a ZigbeeRadio over the simulated air from tests and the demo.

`EventLog` is a RadioContext event sink that lets a caller await a matching event instead of
sleeping; `FakeClock` is a monotonic clock moved by hand (availability without waiting).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hub_core.model import DeviceAdded, DeviceEvent
from radios.sim.zigbee_device import SimZigbeeDevice
from radios.sim.zigbee_zcl import eui64
from radios.sim.znp.server import ZnpEmulator


class EventLog:
    """Collects a radio's events and lets a test await one that matches."""

    def __init__(self) -> None:
        self.events: list[DeviceEvent] = []
        self._waiters: list[tuple[Callable[[DeviceEvent], bool], asyncio.Future[DeviceEvent]]] = []

    def __call__(self, event: DeviceEvent) -> None:
        self.events.append(event)
        keep = []
        for predicate, future in self._waiters:
            if future.done():
                continue
            if predicate(event):
                future.set_result(event)
            else:
                keep.append((predicate, future))
        self._waiters = keep

    async def wait(self, predicate: Callable[[DeviceEvent], bool], timeout: float = 10.0) -> DeviceEvent:
        """The first event from now on (or already logged since `clear`) matching `predicate`."""
        for event in self.events:
            if predicate(event):
                return event
        future: asyncio.Future[DeviceEvent] = asyncio.get_running_loop().create_future()
        self._waiters.append((predicate, future))
        async with asyncio.timeout(timeout):
            return await future

    async def next(self, predicate: Callable[[DeviceEvent], bool], timeout: float = 10.0) -> DeviceEvent:
        """The next event from now on matching `predicate` (ignores what is already logged)."""
        future: asyncio.Future[DeviceEvent] = asyncio.get_running_loop().create_future()
        self._waiters.append((predicate, future))
        async with asyncio.timeout(timeout):
            return await future

    async def added(self, count: int, timeout: float = 10.0) -> dict[str, Any]:
        """Wait until `count` distinct devices were announced; return id -> Device."""
        async with asyncio.timeout(timeout):
            while True:
                devices: dict[str, Any] = {
                    e.device.id: e.device for e in self.events if isinstance(e, DeviceAdded)
                }
                if len(devices) >= count:
                    return devices
                await self.next(lambda e: isinstance(e, DeviceAdded), timeout)

    def of(self, kind: type, **fields: Any) -> list[Any]:
        """Logged events of `kind` whose attributes equal `fields`."""
        return [
            e
            for e in self.events
            if isinstance(e, kind) and all(getattr(e, k) == v for k, v in fields.items())
        ]

    def clear(self) -> None:
        """Forget logged events."""
        self.events.clear()


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds


class ZnpStick:
    """An emulated ZNP stick on a loopback port, restartable on the same port (unplug/replug)."""

    def __init__(self, state: Path) -> None:
        from radios.sim.zigbee_household import default_household

        self.state = state
        self.household = default_household()
        self.emulator = ZnpEmulator(state, household=self.household)
        self.port = 0

    async def plug(self) -> str:
        """Listen (again, on the same port); return the `socket://` URL."""
        url = await self.emulator.start("127.0.0.1", self.port)
        assert self.emulator.address is not None
        self.port = self.emulator.address[1]
        return url

    async def unplug(self) -> None:
        """Drop the host and stop listening; the NV is kept (a later `plug` finds it)."""
        await self.emulator.stop()

    async def replug(self) -> str:
        """The same stick, its firmware rebooted from the saved state, on the same port."""
        await self.emulator.stop()
        self.emulator = ZnpEmulator(self.state, household=self.household)
        return await self.plug()

    async def replace(self, hardware_ieee: str = "00:12:4b:00:99:99:99:99") -> str:
        """Unplug this stick and plug a new, blank one (its own factory address) on the same port.

        The household stays in range and on the network it joined, as real devices would.
        """
        memberships = dict(self.emulator.air.memberships)
        await self.emulator.stop()
        self.state.unlink()
        self.emulator = ZnpEmulator(self.state, household=self.household, hardware_ieee=hardware_ieee)
        self.emulator.air.remember(memberships)
        return await self.plug()

    def leave(self, device: SimZigbeeDevice) -> None:
        """`device` leaves the network by itself."""
        self.emulator.air.leave(device)

    def device(self, ieee: str) -> SimZigbeeDevice:
        """A household device by IEEE address."""
        return self.emulator.air.devices[eui64(ieee)]
