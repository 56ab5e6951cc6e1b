"""GATT devices: the hub's BLE switch profile, connected on demand through bleak-retry-connector.

The profile (documented in docs for device makers; simulated in radios/sim/ble_air.py):
- service `SWITCH_SERVICE`, advertised in the device's service UUIDs (that is how inclusion knows it);
- characteristic `SWITCH_STATE` (read, notify): one byte, 0 = off, 1 = on; notified on every change,
  including presses of the device's own button;
- characteristic `SWITCH_CONTROL` (write with response): one byte, 0 = off, 1 = on.
A write counts as delivered once the device notifies the new state. The connection stays open for
`idle` seconds after the last command, so the device's own state changes arrive meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bleak import BleakClient
from bleak.exc import BleakError

from hub_core.errors import DeliveryFailed
from hub_core.model import DeviceId
from hub_core.tasks import TaskGroup

log = logging.getLogger(__name__)

SWITCH_SERVICE = "4d2b0001-8b3a-4c1e-9a57-3c0d2f5e7a10"
SWITCH_STATE = "4d2b0002-8b3a-4c1e-9a57-3c0d2f5e7a10"
SWITCH_CONTROL = "4d2b0003-8b3a-4c1e-9a57-3c0d2f5e7a10"
SWITCH_MODEL = "BLE switch (hub GATT profile)"
#: seconds a connection stays open after the last command
IDLE_SECONDS = 30.0

Connect = Callable[[Callable[[BleakClient], None]], Awaitable[BleakClient]]


class GattSwitch:
    """One switch: connects when a command needs it, confirms by notification, disconnects when idle."""

    def __init__(
        self,
        device: DeviceId,
        connect: Connect,
        on_state: Callable[[DeviceId, bool], None],
        tasks: TaskGroup,
        *,
        idle: float = IDLE_SECONDS,
    ) -> None:
        self.device = device
        self._connect = connect
        self._on_state = on_state
        self._tasks = tasks
        self._idle = idle
        self._client: BleakClient | None = None
        self._lock = asyncio.Lock()
        self._waiter: asyncio.Future[bool] | None = None
        self._idle_timer: asyncio.TimerHandle | None = None

    @property
    def connected(self) -> bool:
        """True while a connection is open."""
        return self._client is not None and self._client.is_connected

    async def set(self, on: bool) -> None:
        """Switch on or off; return once the device notified the new state.

        Raises DeliveryFailed when the device refuses or reports the other state; bleak's errors and
        TimeoutError propagate for the radio to translate (the caller bounds the time).
        """
        async with self._lock:
            self._cancel_idle()
            try:
                client = await self._ensure()
                loop = asyncio.get_running_loop()
                self._waiter = loop.create_future()
                await client.write_gatt_char(SWITCH_CONTROL, bytes([1 if on else 0]), response=True)
                reported = await self._waiter
            except BaseException:
                # a half-done exchange leaves the link in doubt: start clean next time
                await self._drop()
                raise
            finally:
                self._waiter = None
            self._arm_idle()
        if reported != on:
            raise DeliveryFailed(
                f"{self.device} reports {'on' if reported else 'off'} after being switched "
                f"{'on' if on else 'off'}",
                device=self.device,
            )

    async def read(self) -> bool:
        """Read the state characteristic (the `refresh` command); report it and return it."""
        async with self._lock:
            self._cancel_idle()
            try:
                client = await self._ensure()
                data = await client.read_gatt_char(SWITCH_STATE)
            except BaseException:
                await self._drop()
                raise
            self._arm_idle()
        if len(data) != 1 or data[0] not in (0, 1):
            raise DeliveryFailed(
                f"{self.device}: switch state {bytes(data).hex()} is not 00/01", device=self.device
            )
        self._on_state(self.device, data[0] == 1)
        return data[0] == 1

    def abort(self, why: str) -> None:
        """Fail a command waiting for its confirmation now (the adapter went away)."""
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(DeliveryFailed(f"{self.device}: {why}", device=self.device))

    async def close(self) -> None:
        """Disconnect (if connected) and forget the connection."""
        self._cancel_idle()
        async with self._lock:
            await self._drop()

    async def _ensure(self) -> BleakClient:
        if self._client is not None and self._client.is_connected:
            return self._client
        await self._drop()
        client = await self._connect(self._disconnected)
        try:
            await client.start_notify(SWITCH_STATE, self._notified)
        except BaseException:
            with contextlib.suppress(BleakError, OSError, EOFError, TimeoutError):
                await client.disconnect()
            raise
        self._client = client
        return client

    def _notified(self, _char: Any, data: bytearray) -> None:
        if len(data) != 1 or data[0] not in (0, 1):
            log.warning("%s: switch state notification %s is not 00/01; ignored", self.device, data.hex())
            return
        on = data[0] == 1
        self._on_state(self.device, on)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(on)

    def _disconnected(self, client: BleakClient) -> None:
        if client is self._client:
            log.debug("%s: disconnected", self.device)
            self._client = None
            if self._waiter is not None and not self._waiter.done():
                self._waiter.set_exception(DeliveryFailed(f"{self.device} disconnected", device=self.device))

    async def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(BleakError, OSError, EOFError, TimeoutError):
                await client.disconnect()

    def _arm_idle(self) -> None:
        loop = asyncio.get_running_loop()
        self._idle_timer = loop.call_later(self._idle, self._idle_close)

    def _cancel_idle(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None

    def _idle_close(self) -> None:
        self._idle_timer = None
        self._tasks.spawn(self.close(), f"idle disconnect {self.device}")
