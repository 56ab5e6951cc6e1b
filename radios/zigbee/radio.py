"""The Zigbee radio: a thin adapter over zigpy's ControllerApplication (CONTRACT sections 3-5).

zigpy does ZDO, ZCL, the interview, the device database and network backups. This adapter turns
zigpy's devices and events into canonical ones (`events`, through the pure `mapping`), configures
binding and attribute reporting after the interview (`configure`), coalesces commands for devices
that share a group into one group cast (`groupcast`), and recovers in-process from a lost or reset
stick: the application is rebuilt from the database (no re-interview) with `Backoff`, while commands
fail with RadioUnavailable. Every task it starts belongs to its `TaskGroup`; zigpy is started and
stopped through its public API (`new`, `startup`, `shutdown`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sqlite3
import time
from collections.abc import Callable, Coroutine, Iterable, Sequence
from pathlib import Path
from typing import Any

import zigpy.application
import zigpy.backups
import zigpy.device
import zigpy.types as zt

from hub_core.backoff import Backoff
from hub_core.errors import CommandError, InvalidCommand, RadioUnavailable, UnknownDevice
from hub_core.model import Command, Device, DeviceAdded, DeviceId, DeviceRemoved, Protocol
from hub_core.tasks import TaskGroup
from radios.base import Radio, RadioContext, RadioState
from radios.zigbee import mapping
from radios.zigbee.backup import BACKUP_FILE, write_backup
from radios.zigbee.configure import cluster_or_none, configure_device, shape_of
from radios.zigbee.delivery import as_command_error, send_requests, zigbee_device
from radios.zigbee.events import DeviceEvents, device_id_of, ieee_of
from radios.zigbee.groupcast import GroupCaster
from radios.zigbee.mapping import ClusterId
from radios.zigbee.settings import ZigbeeSection
from radios.zigbee.stack import application_class, zigpy_config
from radios.zigbee.storage import adopt_backup_file, quarantine_database, secure_database

log = logging.getLogger(__name__)

__all__ = ["ZigbeeRadio", "device_id_of", "ieee_of"]

SHUTDOWN_TIMEOUT = 10.0
App = zigpy.application.ControllerApplication


class _AppListener:
    """zigpy's application events, forwarded to the radio (zigpy calls methods by event name)."""

    def __init__(self, radio: ZigbeeRadio, app: App) -> None:
        self._radio = radio
        self._app = app

    def device_initialized(self, device: zigpy.device.Device) -> None:
        self._radio._on_initialized(self._app, device)

    def device_removed(self, device: zigpy.device.Device) -> None:
        self._radio._on_removed(device)

    def device_left(self, device: zigpy.device.Device) -> None:
        self._radio.events.left(device.ieee)

    def handle_message(self, device: zigpy.device.Device, *_: Any) -> None:
        self._radio.events.heard(device.ieee)

    def connection_lost(self, exc: Exception) -> None:
        self._radio._on_connection_lost(self._app, exc)

    def network_backup_created(self, backup: zigpy.backups.NetworkBackup) -> None:
        self._radio._on_backup(backup)


class ZigbeeRadio(Radio):
    """Zigbee through zigpy: pairing, interview, capabilities, groups, backups and recovery."""

    protocol = Protocol.ZIGBEE

    def __init__(
        self,
        section: ZigbeeSection,
        ctx: RadioContext,
        *,
        clock: Callable[[], float] = time.monotonic,
        backoff_initial: float = 0.5,
        # Reopening a stick is cheap; a short cap brings it back within 5 s of its return.
        backoff_cap: float = 4.0,
        availability_interval: float = 60.0,
        app_class: type[App] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(ctx)
        self.section = section
        self._app_class: type[App] = app_class if app_class is not None else application_class(section.radio)
        self._config = zigpy_config(section, ctx.data_dir)
        self._clock = clock
        self._backoff = Backoff(backoff_initial, backoff_cap, rng)
        self._availability_interval = availability_interval
        self.app: App | None = None
        self.events = DeviceEvents(ctx.emit, clock)
        self.availability = self.events.availability
        self.recoveries = 0
        self._tasks = TaskGroup("zigbee")
        self._groupcast = GroupCaster(lambda: self.app, self._guard, self._tasks)
        self._outage: asyncio.Future[None] | None = None
        self._recovery: asyncio.Task[None] | None = None
        self._state_waiters: list[tuple[RadioState, asyncio.Future[None]]] = []
        self._stopping = False
        #: devices whose post-interview configuration is running; redone after a recovery
        self._configuring: dict[zt.EUI64, asyncio.Task[None]] = {}

    @property
    def stick(self) -> str:
        """The configured stick, as error messages name it."""
        return f"the zigbee stick {self._config['device']['path']}"

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the stick, form or resume the network, announce known devices; raise if impossible."""
        self._stopping = False
        self._set_state(RadioState.STARTING)
        try:
            await self._open()
        except BaseException:
            self._set_state(RadioState.STOPPED)
            raise
        self._set_state(RadioState.RUNNING)
        self._tasks.spawn(self._watch_availability(), "availability")

    async def stop(self) -> None:
        """Close the application and cancel everything we started; safe to call twice."""
        self._stopping = True
        await self._tasks.close()
        self._recovery = None
        self._configuring.clear()
        self._fail_outage(RadioUnavailable("the zigbee radio stopped"))
        await self._close()
        self._set_state(RadioState.STOPPED)

    async def wait_for_state(self, state: RadioState) -> None:
        """Return once the radio is in `state` (for callers that must await recovery)."""
        if self.state is state:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._state_waiters.append((state, future))
        await future

    async def wait_configured(self) -> None:
        """Return once no device's post-interview configuration is running."""
        while pending := [task for task in self._configuring.values() if not task.done()]:
            await asyncio.wait(pending)  # unlike gather, a cancelled caller leaves them running

    def _set_state(self, state: RadioState) -> None:
        if state is not self.state:
            log.info("zigbee radio %s -> %s", self.state.value, state.value)
        self.state = state
        keep = []
        for wanted, future in self._state_waiters:
            if wanted is state and not future.done():
                future.set_result(None)
            elif not future.done():
                keep.append((wanted, future))
        self._state_waiters = keep

    async def _open(self) -> None:
        database = Path(self._config["database_path"])
        secure_database(database)
        try:
            app = await self._app_class.new(self._config, start_radio=False)
        except sqlite3.DatabaseError as exc:
            quarantine_database(database, exc)
            secure_database(database)
            app = await self._app_class.new(self._config, start_radio=False)
        adopt_backup_file(app, self.ctx.data_dir)
        try:
            await app.startup(auto_form=True)
        except BaseException:
            with contextlib.suppress(Exception):
                await app.shutdown(db=True)
            await _let_cancellations_land()
            raise
        listener = _AppListener(self, app)
        app.add_listener(listener)
        app.backups.add_listener(listener)
        self.app = app
        self._outage = asyncio.get_running_loop().create_future()
        self.availability.restart(self._clock())
        latest = app.backups.most_recent_backup()
        if latest is not None:
            self._on_backup(latest)
        coordinator = app.state.node_info.ieee
        for device in list(app.devices.values()):
            if (
                isinstance(device, zigpy.device.Device)
                and device.ieee != coordinator
                and device.is_initialized
            ):
                self.events.attach(device)
                self._announce(device)
        log.info(
            "zigbee network up: channel %s, pan 0x%04x, %d device(s)",
            app.state.network_info.channel,
            app.state.network_info.pan_id,
            len(app.devices) - 1,
        )

    async def _close(self) -> None:
        app, self.app = self.app, None
        self.events.detach_all()
        if app is not None:
            try:
                # A wedged serial port must not wedge recovery: bound the radio library's shutdown.
                async with asyncio.timeout(SHUTDOWN_TIMEOUT):
                    await app.shutdown(db=True)
            except Exception:  # a dying stick may fail to close; the database still closes
                log.warning("zigbee application did not shut down cleanly", exc_info=True)
            await _let_cancellations_land()

    # --- recovery ------------------------------------------------------------------------------

    def _on_connection_lost(self, app: App, exc: Exception) -> None:
        if app is not self.app or self._stopping or self.state is RadioState.RECOVERING:
            return
        log.warning("%s was lost (%s); recovering in-process", self.stick, exc)
        self._set_state(RadioState.RECOVERING)
        # A configuration cut short by the outage is redone once the stick is back.
        for task in self._configuring.values():
            task.cancel()
        self._fail_outage(RadioUnavailable(f"{self.stick} is recovering: {exc}"))
        self._recovery = self._tasks.spawn(self._recover(), "recovery")

    def _fail_outage(self, exc: CommandError) -> None:
        outage, self._outage = self._outage, None
        if outage is not None and not outage.done():
            outage.set_exception(exc)
            outage.exception()  # mark retrieved: nobody may be waiting on it
        self._groupcast.fail_all(str(exc))

    async def _recover(self) -> None:
        """Rebuild the application from the database until the stick answers, with full-jitter back-off."""
        await self._close()
        self._backoff.reset()
        attempt = 0
        while True:
            attempt += 1
            try:
                await self._open()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure to reopen is retried
                wait = self._backoff.next_delay()
                log.warning("zigbee recovery attempt %d failed (%s); retrying in %.2f s", attempt, exc, wait)
                await asyncio.sleep(wait)
                continue
            break
        self.recoveries += 1
        self._recovery = None
        self._set_state(RadioState.RUNNING)
        for ieee in [i for i, task in self._configuring.items() if task.cancelled()]:
            device = self.app.devices.get(ieee) if self.app is not None else None
            if isinstance(device, zigpy.device.Device):
                self._configuring[ieee] = self._tasks.spawn(self._configure(device), f"configure {ieee}")
        log.info("zigbee radio recovered after %d attempt(s)", attempt)

    # --- devices -------------------------------------------------------------------------------

    def counters(self) -> dict[str, int]:
        """In-process recoveries of the stick."""
        return {"recoveries": self.recoveries}

    def check_availability(self) -> list[DeviceId]:
        """Mark devices silent for too long offline (emits DeviceOnline(False)); returns them."""
        return self.events.check_availability()

    async def _watch_availability(self) -> None:
        while True:
            await asyncio.sleep(self._availability_interval)
            if self.state is RadioState.RUNNING:
                self.check_availability()

    def _on_initialized(self, app: App, device: zigpy.device.Device) -> None:
        if app is not self.app or device.ieee == app.state.node_info.ieee:
            return
        self.events.attach(device)
        self._configuring[device.ieee] = self._tasks.spawn(
            self._configure(device), f"configure {device.ieee}"
        )

    def _on_removed(self, device: zigpy.device.Device) -> None:
        configuring = self._configuring.pop(device.ieee, None)
        if configuring is not None:
            configuring.cancel()
        if self.events.detach(device.ieee):
            self.availability.forget(device_id_of(device.ieee))
            self.ctx.emit(DeviceRemoved(device_id_of(device.ieee)))

    async def _configure(self, device: zigpy.device.Device) -> None:
        """Configure a freshly interviewed device (see `configure.configure_device`), then announce it."""
        assert self.app is not None
        # LOW: zigpy's request queues let every user or rule command (HIGH, see _guard) pass the
        # binds, reporting set-up and reads of devices that are still joining, and cap LOW at half
        # the coordinator's concurrency, so a household joining never fills the stick.
        async with self.app.request_priority(zt.PacketPriority.LOW):
            await configure_device(device, self.app.state.node_info.ieee)
        self.events.track(device)
        self._configuring.pop(device.ieee, None)
        self._announce(device)

    def _announce(self, device: zigpy.device.Device) -> None:
        shape = shape_of(device)
        model = str(device.model or "")
        basic = cluster_or_none(device, ClusterId.BASIC)
        location = basic.get("location_desc") if basic is not None else None
        name = str(location).strip() if location else f"{model or 'Zigbee device'} {str(device.ieee)[-5:]}"
        self.ctx.emit(
            DeviceAdded(
                Device(
                    id=device_id_of(device.ieee),
                    protocol=Protocol.ZIGBEE,
                    name=name,
                    manufacturer=str(device.manufacturer or ""),
                    model=model,
                    capabilities=mapping.capabilities(shape),
                    state=mapping.state(shape),
                )
            )
        )

    # --- inclusion and removal -----------------------------------------------------------------

    async def set_inclusion(self, seconds: float) -> None:
        """Permit joining for `seconds` (0 closes); new devices arrive as DeviceAdded after interview."""
        app = self._running_app()
        seconds = max(0, min(254, round(seconds)))  # ZDO Mgmt_Permit_Joining: 0xFF would mean forever
        await self._guard(app.permit(seconds), None)

    async def remove_device(self, device: DeviceId) -> None:
        """Ask the device to leave and forget it; DeviceRemoved follows."""
        app = self._running_app()
        ieee = self._known_ieee(device)
        await self._guard(app.remove(ieee), device)

    # --- groups --------------------------------------------------------------------------------

    async def create_group(self, name: str, devices: Iterable[str], group_id: int | None = None) -> int:
        """Put `devices` in one Zigbee group (ZCL Groups 'add' on each); return the group id."""
        app = self._running_app()
        members = [self._known_ieee(d) for d in devices]
        if group_id is None:
            used = set(app.groups)
            group_id = next(g for g in range(0x0001, 0xFFF8) if g not in used)
        for ieee in members:
            await self._guard(zigbee_device(app, ieee).add_to_group(group_id, name), device_id_of(ieee))
        return group_id

    def groups(self) -> dict[int, set[DeviceId]]:
        """Group id -> member device ids, as zigpy knows them."""
        if self.app is None:
            return {}
        return {
            gid: {device_id_of(ieee) for ieee, _ in group.members} for gid, group in self.app.groups.items()
        }

    # --- commands ------------------------------------------------------------------------------

    def _running_app(self) -> App:
        if self.state is not RadioState.RUNNING or self.app is None:
            raise RadioUnavailable(f"{self.stick} is {self.state.value}")
        return self.app

    def _known_ieee(self, device: str) -> zt.EUI64:
        try:
            ieee = ieee_of(device)
        except ValueError:
            raise UnknownDevice(f"{device!r} is not a Zigbee device id", device=device) from None
        if self.app is None or ieee not in self.app.devices:
            raise UnknownDevice(f"the zigbee network has no device {device}", device=device)
        return ieee

    async def execute(self, command: Command) -> None:
        """Send `command`; return when the device's response confirms it, else raise a CommandError."""
        app = self._running_app()
        ieee = self._known_ieee(command.device)
        device = zigbee_device(app, ieee)
        try:
            requests = mapping.plan(command, shape_of(device))
        except ValueError as exc:
            raise InvalidCommand(f"{command.device}: {exc}", device=command.device) from None
        if command.name in mapping.GROUPABLE_COMMANDS and self._groupcast.group_ids(ieee):
            await self._groupcast.send(command, ieee)
            return
        await self._guard(send_requests(device, requests, command), command.device)

    async def execute_group(self, commands: Sequence[Command]) -> None:
        """Send commands together (a scene): one group cast per fully commanded group, the rest
        unicast; return when all are confirmed, else raise the first CommandError."""
        # Started in the same loop turn (as the base class does), the groupable ones meet in one
        # batch (see GroupCaster).
        await super().execute_group(commands)

    async def _guard(self, coro: Coroutine[Any, Any, Any], device: str | None) -> Any:
        """Run `coro` (something a user or rule asked for) at HIGH priority, failing fast with
        RadioUnavailable if the stick is lost meanwhile."""
        outage = self._outage
        task = asyncio.ensure_future(_at_priority(self.app, zt.PacketPriority.HIGH, coro))
        if outage is None:
            await _cancel(task)
            raise RadioUnavailable(f"{self.stick} is {self.state.value}", device=device)
        try:
            await asyncio.wait({task, outage}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            await _cancel(task)
            raise
        if not task.done():
            await _cancel(task)
            raise RadioUnavailable(f"{self.stick} went down: {outage.exception()}", device=device)
        try:
            return task.result()
        except Exception as exc:  # zigpy's and the radio library's failures, as CommandErrors
            raise as_command_error(exc, device) from None

    # --- backups -------------------------------------------------------------------------------

    def _on_backup(self, backup: zigpy.backups.NetworkBackup) -> None:
        path = self.ctx.data_dir / BACKUP_FILE
        try:
            write_backup(backup, path)
        except Exception as exc:  # a failed backup file must not stop the radio
            log.error("cannot write zigbee network backup %s: %r", path, exc)
            return
        log.info("zigbee network backup written to %s", path)

    async def backup_now(self) -> zigpy.backups.NetworkBackup:
        """Take a network backup now (also written to data_dir); returns zigpy's NetworkBackup."""
        app = self._running_app()
        backup: zigpy.backups.NetworkBackup = await self._guard(
            app.backups.create_backup(load_devices=True), None
        )
        return backup


async def _at_priority(app: App | None, priority: int, coro: Coroutine[Any, Any, Any]) -> Any:
    """Await `coro` with zigpy's request priority set for every request it makes."""
    if app is None:
        return await coro
    async with app.request_priority(priority):
        return await coro


async def _cancel(task: asyncio.Future[Any]) -> None:
    task.cancel()
    with contextlib.suppress(BaseException):
        await task


async def _let_cancellations_land() -> None:
    """Give the tasks zigpy cancels in `shutdown()` (without awaiting them) a few turns to end."""
    for _ in range(5):
        await asyncio.sleep(0)
