"""The Zigbee radio: a thin adapter over zigpy's ControllerApplication (CONTRACT sections 3-5).

zigpy does ZDO, ZCL, the interview, the device database and network backups. This adapter turns
zigpy's devices and events into canonical ones (through the pure `mapping`), configures binding and
attribute reporting after the interview, tracks availability, coalesces commands for devices that
share a group into one group cast, and recovers in-process from a lost or reset stick: the
application is rebuilt from the database (no re-interview), with back-off, while commands fail
with RadioUnavailable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sqlite3
import time
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zigpy.exceptions
import zigpy.types as zt
import zigpy.zcl.foundation as foundation

from hub_core.errors import (
    CommandError,
    DeliveryFailed,
    DeliveryTimeout,
    InvalidCommand,
    RadioUnavailable,
    UnknownDevice,
)
from hub_core.model import (
    ButtonPressed,
    Command,
    Device,
    DeviceAdded,
    DeviceId,
    DeviceOnline,
    DeviceRemoved,
    Protocol,
    StateChanged,
    zigbee_device_id,
)
from radios.base import Radio, RadioContext, RadioState
from radios.zigbee import mapping
from radios.zigbee.availability import AvailabilityTracker
from radios.zigbee.backup import BACKUP_FILE, BackupError, read_backup, write_backup
from radios.zigbee.configure import cache_of, cluster_or_none, configure_device, find_cluster, shape_of
from radios.zigbee.mapping import ClusterId
from radios.zigbee.settings import ZigbeeSection
from radios.zigbee.stack import application_class, zigpy_config

log = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT = 10.0
_HEX = frozenset("0123456789abcdef")


def device_id_of(ieee: zt.EUI64) -> DeviceId:
    """`zigbee-<16 hex>` for a zigpy IEEE address."""
    return zigbee_device_id(str(ieee))


def ieee_of(device: str) -> zt.EUI64:
    """The zigpy IEEE address in a `zigbee-...` device id; ValueError if it is not one."""
    hexdigits = device.removeprefix("zigbee-")
    if not device.startswith("zigbee-") or len(hexdigits) != 16 or not set(hexdigits) <= _HEX:
        raise ValueError(f"{device!r} is not a Zigbee device id (zigbee-<16 lowercase hex digits>)")
    return zt.EUI64.convert(":".join(hexdigits[i : i + 2] for i in range(0, 16, 2)))


@dataclass(slots=True)
class _Attached:
    """What we hooked into one zigpy device, so it can be unhooked."""

    unsubscribe: list[Callable[[], None]] = field(default_factory=list)
    last_held: int = 1
    #: DeviceAdded was emitted; until then values read during configuration go into its state only,
    #: since the hub drops events for devices it does not know yet.
    announced: bool = False


@dataclass(slots=True)
class _Pending:
    """A groupable command waiting for the end of this loop turn to be coalesced."""

    command: Command
    ieee: zt.EUI64
    future: asyncio.Future[None]


class _AppListener:
    """zigpy's application events, forwarded to the radio (zigpy calls methods by event name)."""

    def __init__(self, radio: ZigbeeRadio, app: Any) -> None:
        self._radio = radio
        self._app = app

    def device_initialized(self, device: Any) -> None:
        self._radio._on_initialized(self._app, device)

    def device_removed(self, device: Any) -> None:
        self._radio._on_removed(device)

    def device_left(self, device: Any) -> None:
        self._radio._on_left(device)

    def handle_message(self, device: Any, *_: Any) -> None:
        self._radio._on_heard(device)

    def connection_lost(self, exc: Exception) -> None:
        self._radio._on_connection_lost(self._app, exc)

    def network_backup_created(self, backup: Any) -> None:
        self._radio._on_backup(backup)


class _ClusterListener:
    """zigpy's legacy cluster command events (remote buttons, IAS zone notifications)."""

    def __init__(self, radio: ZigbeeRadio, ieee: zt.EUI64, cluster: Any) -> None:
        self._radio = radio
        self._ieee = ieee
        self._cluster = cluster

    def cluster_command(self, tsn: int, command_id: int, args: Any) -> None:
        self._radio._on_cluster_command(self._ieee, self._cluster, command_id, args)


class ZigbeeRadio(Radio):
    """Zigbee through zigpy: pairing, interview, capabilities, groups, backups and recovery."""

    protocol = Protocol.ZIGBEE

    def __init__(
        self,
        section: ZigbeeSection,
        ctx: RadioContext,
        *,
        clock: Callable[[], float] = time.monotonic,
        backoff_initial: float = 1.0,
        backoff_cap: float = 60.0,
        availability_interval: float = 60.0,
        app_class: type[Any] | None = None,
    ) -> None:
        super().__init__(ctx)
        self.section = section
        self._app_class = app_class if app_class is not None else application_class(section.radio)
        self._config = zigpy_config(section, ctx.data_dir)
        self._clock = clock
        self._backoff = (backoff_initial, backoff_cap)
        self._availability_interval = availability_interval
        self.app: Any = None
        self.availability = AvailabilityTracker()
        self.recoveries = 0
        self._attached: dict[zt.EUI64, _Attached] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._outage: asyncio.Future[None] | None = None
        self._recovery: asyncio.Task[None] | None = None
        self._watch: asyncio.Task[None] | None = None
        self._pending: list[_Pending] = []
        self._flush_scheduled = False
        self._state_waiters: list[tuple[RadioState, asyncio.Future[None]]] = []
        self._stopping = False
        #: devices whose post-interview configuration is running; redone after a recovery
        self._configuring: dict[zt.EUI64, asyncio.Task[None]] = {}

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
        self._watch = asyncio.create_task(self._watch_availability(), name="zigbee-availability")

    async def stop(self) -> None:
        """Close the application and cancel everything we started; safe to call twice."""
        self._stopping = True
        for task in [self._recovery, self._watch, *self._tasks]:
            if task is not None:
                task.cancel()
        for task in [self._recovery, self._watch, *self._tasks]:
            if task is not None:
                with contextlib.suppress(BaseException):
                    await task
        self._recovery = self._watch = None
        self._tasks.clear()
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
        app = self._app_class(self._config)
        try:
            await app._load_db()  # zigpy's own `new()` does this; we split it to close the DB on failure
        except sqlite3.DatabaseError as exc:
            self._quarantine_database(exc)
            app = self._app_class(self._config)
            await app._load_db()
        self._adopt_backup_file(app)
        try:
            await app.startup(auto_form=True)
        except BaseException:
            with contextlib.suppress(Exception):
                await app.shutdown(db=True)
            await _drain_zigpy_tasks()
            raise
        listener = _AppListener(self, app)
        app.add_listener(listener)
        app.backups.add_listener(listener)
        self.app = app
        self._outage = asyncio.get_running_loop().create_future()
        now = self._clock()
        self.availability.restart(now)
        latest = app.backups.most_recent_backup()
        if latest is not None:
            self._on_backup(latest)
        coordinator = app.state.node_info.ieee
        for device in list(app.devices.values()):
            if device.ieee != coordinator and getattr(device, "is_initialized", False):
                self._attach(device)
                self._announce(device)
        log.info(
            "zigbee network up: channel %s, pan 0x%04x, %d device(s)",
            app.state.network_info.channel,
            app.state.network_info.pan_id,
            len(self._attached),
        )

    def _quarantine_database(self, exc: Exception) -> None:
        """Move an unreadable zigbee.db aside so the radio can start with an empty one."""
        database = Path(self._config["database_path"])
        aside = database.with_name(f"{database.name}.corrupt-{int(time.time())}")
        for suffix in ("", "-wal", "-shm", "-journal"):
            part = database.with_name(database.name + suffix)
            if part.exists():
                part.rename(aside.with_name(aside.name + suffix))
        log.error(
            "zigbee database %s is unreadable (%s); moved to %s. Starting with an empty one: the "
            "network comes from the stick (or the backup file), devices reappear as they talk",
            database,
            exc,
            aside,
        )

    def _adopt_backup_file(self, app: Any) -> None:
        """With no backup in zigpy's database (it was lost), offer zigpy the backup file instead.

        zigpy restores its most recent backup onto a stick that has no network, so a lost database
        and a replaced stick together still bring the household's network back.
        """
        if app.backups.most_recent_backup() is not None:
            return
        path = self.ctx.data_dir / BACKUP_FILE
        if not path.exists():
            return
        try:
            backup = read_backup(path)
        except BackupError as exc:
            log.error("ignoring zigbee backup file: %s", exc)
            return
        app.backups.add_backup(backup)
        log.info("zigbee database has no network backup; using %s", path)

    async def _close(self) -> None:
        app, self.app = self.app, None
        for attached in self._attached.values():
            for unsubscribe in attached.unsubscribe:
                unsubscribe()
        self._attached.clear()
        if app is not None:
            try:
                # A wedged serial port must not wedge recovery: bound the radio library's shutdown.
                async with asyncio.timeout(SHUTDOWN_TIMEOUT):
                    await app.shutdown(db=True)
            except Exception:  # a dying stick may fail to close; the database still closes
                log.warning("zigbee application did not shut down cleanly", exc_info=True)
            await _drain_zigpy_tasks()

    # --- recovery ------------------------------------------------------------------------------

    def _on_connection_lost(self, app: Any, exc: Exception) -> None:
        if app is not self.app or self._stopping or self.state is RadioState.RECOVERING:
            return
        log.warning("zigbee stick lost (%s); recovering in-process", exc)
        self._set_state(RadioState.RECOVERING)
        # A configuration cut short by the outage is redone once the stick is back.
        for task in self._configuring.values():
            task.cancel()
        self._fail_outage(RadioUnavailable(f"the zigbee radio is recovering: {exc}"))
        self._recovery = asyncio.create_task(self._recover(), name="zigbee-recovery")

    def _fail_outage(self, exc: CommandError) -> None:
        outage, self._outage = self._outage, None
        if outage is not None and not outage.done():
            outage.set_exception(exc)
            outage.exception()  # mark retrieved: nobody may be waiting on it
        for pending in self._pending:
            if not pending.future.done():
                pending.future.set_exception(RadioUnavailable(str(exc), device=pending.command.device))
        self._pending.clear()

    async def _recover(self) -> None:
        """Rebuild the application from the database until the stick answers, with full-jitter back-off."""
        await self._close()
        delay = self._backoff[0]
        attempt = 0
        while True:
            attempt += 1
            try:
                await self._open()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure to reopen is retried
                wait = random.uniform(0, delay)  # noqa: S311 - jitter, not cryptography
                log.warning("zigbee recovery attempt %d failed (%s); retrying in %.2f s", attempt, exc, wait)
                await asyncio.sleep(wait)
                delay = min(self._backoff[1], delay * 2)
                continue
            break
        self.recoveries += 1
        self._recovery = None
        self._set_state(RadioState.RUNNING)
        for ieee in [i for i, task in self._configuring.items() if task.cancelled()]:
            device = self.app.devices.get(ieee) if self.app is not None else None
            if device is not None:
                self._configuring[ieee] = self._spawn(self._configure(device), f"zigbee-configure-{ieee}")
        log.info("zigbee radio recovered after %d attempt(s)", attempt)

    # --- devices -------------------------------------------------------------------------------

    def _attach(self, device: Any) -> None:
        old = self._attached.pop(device.ieee, None)
        if old is not None:
            for unsubscribe in old.unsubscribe:
                unsubscribe()
        attached = _Attached()
        for ep in device.non_zdo_endpoints:
            for cluster in ep.in_clusters.values():
                for event in ("attribute_report", "attribute_read", "attribute_updated"):
                    attached.unsubscribe.append(
                        cluster.on_event(event, self._attribute_handler(device.ieee, cluster))
                    )
                if cluster.cluster_id == ClusterId.IAS_ZONE:
                    attached.unsubscribe.append(
                        self._listen(cluster, _ClusterListener(self, device.ieee, cluster))
                    )
            for cluster in ep.out_clusters.values():
                if cluster.cluster_id in (ClusterId.ON_OFF, ClusterId.LEVEL_CONTROL):
                    attached.unsubscribe.append(
                        self._listen(cluster, _ClusterListener(self, device.ieee, cluster))
                    )
        self._attached[device.ieee] = attached
        shape = shape_of(device)
        self.availability.track(device_id_of(device.ieee), mapping.expected_interval(shape), self._clock())

    @staticmethod
    def _listen(cluster: Any, listener: _ClusterListener) -> Callable[[], None]:
        listener_id = cluster.add_listener(listener)

        def unsubscribe() -> None:
            cluster._listeners.pop(listener_id, None)

        return unsubscribe

    def _attribute_handler(self, ieee: zt.EUI64, cluster: Any) -> Callable[[Any], None]:
        def handler(event: Any) -> None:
            name = getattr(event, "attribute_name", None)
            value = getattr(event, "value", None)
            if not self._announced(ieee):
                return
            mapped = mapping.convert(cluster.cluster_id, name, value, cache_of(cluster))
            if mapped is not None:
                self.ctx.emit(StateChanged(device_id_of(ieee), mapped[0], mapped[1]))

        return handler

    def _announced(self, ieee: zt.EUI64) -> bool:
        attached = self._attached.get(ieee)
        return attached is not None and attached.announced

    def _on_cluster_command(self, ieee: zt.EUI64, cluster: Any, command_id: int, args: Any) -> None:
        device = device_id_of(ieee)
        if not self._announced(ieee):
            return
        try:
            if cluster.cluster_id == ClusterId.IAS_ZONE:
                if command_id == 0x00:  # Zone Status Change Notification, ZCL 8.2.2.4.1
                    zone = mapping.zone_state(
                        cache_of(cluster).get("zone_type"), getattr(args, "zone_status", None)
                    )
                    if zone is not None:
                        self.ctx.emit(StateChanged(device, zone[0], zone[1]))
                return
            command = cluster.server_commands[command_id].name
        except (KeyError, AttributeError):
            log.debug("ignoring unknown command 0x%02x from %s", command_id, device)
            return
        attached = self._attached.get(ieee)
        last_held = attached.last_held if attached is not None else 1
        event = mapping.button_event(cluster.cluster_id, command, args, last_held)
        if event is None:
            return
        if attached is not None and event[1] == "held":
            attached.last_held = event[0]
        self.ctx.emit(ButtonPressed(device, event[0], event[1]))

    def _on_heard(self, device: Any) -> None:
        if not self._announced(device.ieee):
            return
        device_id = device_id_of(device.ieee)
        if self.availability.heard(device_id, self._clock()):
            self.ctx.emit(DeviceOnline(device_id, True))

    def check_availability(self) -> list[DeviceId]:
        """Mark devices silent for too long offline (emits DeviceOnline(False)); returns them."""
        gone = [DeviceId(d) for d in self.availability.check(self._clock())]
        for device in gone:
            log.info("%s not heard from within its reporting interval; offline", device)
            self.ctx.emit(DeviceOnline(device, False))
        return gone

    async def _watch_availability(self) -> None:
        while True:
            await asyncio.sleep(self._availability_interval)
            if self.state is RadioState.RUNNING:
                self.check_availability()

    def _on_initialized(self, app: Any, device: Any) -> None:
        if app is not self.app or device.ieee == app.state.node_info.ieee:
            return
        self._attach(device)
        self._configuring[device.ieee] = self._spawn(
            self._configure(device), f"zigbee-configure-{device.ieee}"
        )

    def _on_removed(self, device: Any) -> None:
        configuring = self._configuring.pop(device.ieee, None)
        if configuring is not None:
            configuring.cancel()
        attached = self._attached.pop(device.ieee, None)
        if attached is None:
            return
        for unsubscribe in attached.unsubscribe:
            unsubscribe()
        self.availability.forget(device_id_of(device.ieee))
        self.ctx.emit(DeviceRemoved(device_id_of(device.ieee)))

    def _on_left(self, device: Any) -> None:
        device_id = device_id_of(device.ieee)
        if self._announced(device.ieee) and self.availability.lost(device_id):
            self.ctx.emit(DeviceOnline(device_id, False))

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _configure(self, device: Any) -> None:
        """Configure a freshly interviewed device (see `configure.configure_device`), then announce it."""
        await configure_device(device, self.app.state.node_info.ieee)
        self.availability.track(
            device_id_of(device.ieee), mapping.expected_interval(shape_of(device)), self._clock()
        )
        self._configuring.pop(device.ieee, None)
        self._announce(device)

    def _announce(self, device: Any) -> None:
        attached = self._attached.get(device.ieee)
        if attached is not None:
            attached.announced = True
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
            await self._guard(app.get_device(ieee).add_to_group(group_id, name), device_id_of(ieee))
        return group_id

    def groups(self) -> dict[int, set[DeviceId]]:
        """Group id -> member device ids, as zigpy knows them."""
        if self.app is None:
            return {}
        return {
            gid: {device_id_of(ieee) for ieee, _ in group.members} for gid, group in self.app.groups.items()
        }

    # --- commands ------------------------------------------------------------------------------

    def _running_app(self) -> Any:
        if self.state is not RadioState.RUNNING or self.app is None:
            raise RadioUnavailable(f"the zigbee radio is {self.state.value}")
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
        device = app.get_device(ieee)
        try:
            requests = mapping.plan(command, shape_of(device))
        except ValueError as exc:
            raise InvalidCommand(f"{command.device}: {exc}", device=command.device) from None
        if command.name in mapping.GROUPABLE_COMMANDS and self._group_ids(ieee):
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._pending.append(_Pending(command, ieee, future))
            if not self._flush_scheduled:
                # Commands issued together (a scene, a rule's parallel actions) reach us in the same
                # loop turn; flushing on the next turn lets one group cast cover them.
                self._flush_scheduled = True
                asyncio.get_running_loop().call_soon(self._flush_pending)
            await future
            return
        await self._guard(self._send(device, requests, command), command.device)

    async def execute_group(self, commands: Sequence[Command]) -> None:
        """Send commands together (a scene): one group cast per fully commanded group, the rest
        unicast; return when all are confirmed, else raise the first CommandError."""
        # Started in the same loop turn (as the base class does), the groupable ones meet in one
        # batch (see execute()).
        await super().execute_group(commands)

    async def _guard(self, coro: Coroutine[Any, Any, Any], device: str | None) -> Any:
        """Run `coro`, failing fast with RadioUnavailable if the stick is lost meanwhile."""
        outage = self._outage
        task = asyncio.ensure_future(coro)
        if outage is None:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            raise RadioUnavailable(f"the zigbee radio is {self.state.value}", device=device)
        try:
            await asyncio.wait({task, outage}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            raise
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            raise RadioUnavailable(f"the zigbee radio went down: {outage.exception()}", device=device)
        try:
            return task.result()
        except CommandError:
            raise
        except zigpy.exceptions.DeliveryError as exc:
            raise DeliveryFailed(f"{device or 'zigbee'}: not delivered ({exc})", device=device) from None
        except TimeoutError:
            raise DeliveryTimeout(
                f"{device or 'zigbee'}: no response from the device", device=device
            ) from None
        except zigpy.exceptions.ZigbeeException as exc:
            raise DeliveryFailed(f"{device or 'zigbee'}: {exc}", device=device) from None

    async def _send(self, device: Any, requests: list[mapping.ZclRequest], command: Command) -> None:
        for request in requests:
            cluster = find_cluster(device, request.cluster_id)
            if request.kind == "command":
                response = await cluster.command(_command_id(cluster, request.name), **request.args)
                _check_status(command, response)
            elif request.kind == "write":
                result = await cluster.write_attributes(dict(request.args))
                for records in result:
                    for record in records if isinstance(records, list) else [records]:
                        status = getattr(record, "status", foundation.Status.SUCCESS)
                        if status != foundation.Status.SUCCESS:
                            raise DeliveryFailed(
                                f"{command.device} refused {command.name!r}: {_status_name(status)}",
                                device=command.device,
                            )
            else:
                await cluster.read_attributes(list(request.attributes))

    def _group_ids(self, ieee: zt.EUI64) -> list[int]:
        if self.app is None:
            return []
        return [gid for gid, group in self.app.groups.items() if any(m[0] == ieee for m in group.members)]

    def _flush_pending(self) -> None:
        self._flush_scheduled = False
        pending, self._pending = self._pending, []
        by_command: dict[tuple[str, tuple[tuple[str, Any], ...]], list[_Pending]] = {}
        for item in pending:
            key = (item.command.name, tuple(sorted(item.command.args.items())))
            by_command.setdefault(key, []).append(item)
        for items in by_command.values():
            self._spawn(self._send_batch(items), "zigbee-group-send")

    async def _send_batch(self, items: list[_Pending]) -> None:
        """One group cast per group fully covered by these devices; unicast for the rest."""
        app = self.app
        remaining = {item.ieee: item for item in items}
        sends: list[Coroutine[Any, Any, None]] = []
        if app is not None:
            # Largest groups first, so one cast covers as many of the commanded devices as possible.
            for gid, group in sorted(app.groups.items(), key=lambda g: -len(g[1].members)):
                members = {m[0] for m in group.members}
                if len(members) >= 2 and members <= set(remaining):
                    covered = [remaining.pop(ieee) for ieee in members]
                    sends.append(self._send_group(gid, covered))
        for item in remaining.values():
            sends.append(self._send_single(item))
        try:
            await asyncio.gather(*sends)
        except asyncio.CancelledError:
            # The radio is stopping: nobody waiting for these commands may hang.
            for item in items:
                _settle(item.future, RadioUnavailable("the zigbee radio stopped", device=item.command.device))
            raise

    async def _send_group(self, group_id: int, items: list[_Pending]) -> None:
        command = items[0].command
        try:
            group = self.app.groups[group_id]
            requests = mapping.plan(command, shape_of(self.app.get_device(items[0].ieee)))
            for request in requests:
                cluster = group.endpoint[request.cluster_id]
                cast = cluster.command(_command_id(cluster, request.name), **request.args)
                await self._guard(cast, f"group 0x{group_id:04x}")
        except Exception as exc:  # handed to every waiting caller
            log.warning("group cast 0x%04x %s failed: %r", group_id, command.name, exc)
            for item in items:
                _settle(item.future, _as_command_error(exc, item.command.device))
            return
        log.debug("group cast 0x%04x %s covered %d device(s)", group_id, command.name, len(items))
        # A group cast is not acknowledged by its members (ZCL 2.5.12.2); the coordinator sending it
        # is the delivery confirmation we can have. Members report their new state as usual.
        for item in items:
            _settle(item.future, None)

    async def _send_single(self, item: _Pending) -> None:
        try:
            device = self._running_app().get_device(item.ieee)
            requests = mapping.plan(item.command, shape_of(device))
            await self._guard(self._send(device, requests, item.command), item.command.device)
        except Exception as exc:  # handed to the waiting caller
            _settle(item.future, _as_command_error(exc, item.command.device))
            return
        _settle(item.future, None)

    # --- backups -------------------------------------------------------------------------------

    def _on_backup(self, backup: Any) -> None:
        path = self.ctx.data_dir / BACKUP_FILE
        try:
            write_backup(backup, path)
        except Exception as exc:  # a failed backup file must not stop the radio
            log.error("cannot write zigbee network backup %s: %r", path, exc)
            return
        log.info("zigbee network backup written to %s", path)

    async def backup_now(self) -> Any:
        """Take a network backup now (also written to data_dir); returns zigpy's NetworkBackup."""
        app = self._running_app()
        return await self._guard(app.backups.create_backup(load_devices=True), None)


def _settle(future: asyncio.Future[None], exc: BaseException | None) -> None:
    if future.done():
        return
    if exc is None:
        future.set_result(None)
    else:
        future.set_exception(exc)


def _as_command_error(exc: BaseException, device: str) -> CommandError:
    if isinstance(exc, CommandError):
        return exc
    if isinstance(exc, TimeoutError):
        return DeliveryTimeout(f"{device}: no response from the device", device=device)
    return DeliveryFailed(f"{device}: {exc}", device=device)


def _status_name(status: Any) -> str:
    return getattr(status, "name", str(status))


def _check_status(command: Command, response: Any) -> None:
    status = getattr(response, "status", None)
    if status is not None and status != foundation.Status.SUCCESS:
        raise DeliveryFailed(
            f"{command.device} refused {command.name!r}: {_status_name(status)}", device=command.device
        )


def _command_id(cluster: Any, name: str) -> int:
    for command in cluster.server_commands.values():
        if command.name == name:
            return int(command.id)
    raise InvalidCommand(f"cluster 0x{cluster.cluster_id:04x} has no command {name!r}")


async def _drain_zigpy_tasks() -> None:
    """Cancel and await the tasks zigpy leaves behind on shutdown (it cancels without awaiting)."""
    current = asyncio.current_task()
    pending = [t for t in asyncio.all_tasks() if t is not current and not t.done() and _is_zigpy_task(t)]
    for task in pending:
        task.cancel()
    if pending:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await asyncio.wait(pending)


def _is_zigpy_task(task: asyncio.Task[Any]) -> bool:
    code = getattr(task.get_coro(), "cr_code", None)
    filename = getattr(code, "co_filename", "")
    return "/zigpy/" in filename or "/aiosqlite/" in filename
