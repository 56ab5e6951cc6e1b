"""The hub core: the device registry in memory, event intake from radios, and command dispatch.

Rules of this file: `ingest` is the hot path. It updates the in-memory registry and publishes to the
bus (whose inline handlers include the rules engine) and does nothing else: no disk, no JSON, no
logging on success. Persistence happens in `StatePersister`, a bus subscriber, off that path.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from hub_agent.store import Database
from hub_agent.store.devices import remove_device, save_device, save_state
from hub_core.bus import EventBus, Overflow
from hub_core.errors import DeliveryTimeout, RadioUnavailable, UnknownDevice
from hub_core.model import (
    ButtonPressed,
    Command,
    CommandResult,
    Device,
    DeviceAdded,
    DeviceEvent,
    DeviceId,
    DeviceOnline,
    DeviceRemoved,
    InclusionUpdate,
    Protocol,
    StateChanged,
    Value,
    check_attribute,
    make_command,
)
from radios.base import Radio, RadioState

log = logging.getLogger(__name__)

#: How long a command may wait for the radio's delivery confirmation (CONTRACT: 504 after this).
COMMAND_TIMEOUT = 10.0
#: State reports held for devices not yet announced (a report during the interview); oldest dropped.
MAX_EARLY_DEVICES = 256
MAX_EARLY_ATTRIBUTES = 32


class Hub:
    """Devices and their state in memory, the radios that serve them, and the event bus."""

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self.radios: dict[Protocol, Radio] = {}
        self._devices: dict[DeviceId, Device] = {}
        # Reports that arrived before their device's DeviceAdded, folded into the announcement.
        self._early: dict[DeviceId, dict[str, Value]] = {}
        self.early_dropped = 0
        self.events_in = 0
        self.events_rejected = 0
        self.commands_ok = 0
        self.commands_failed = 0

    # --- the registry -------------------------------------------------------------------------

    def restore(self, devices: Iterable[Device]) -> None:
        """Load devices and last known state from the store, before any radio starts."""
        for device in devices:
            self._devices[device.id] = device

    def device(self, device_id: str) -> Device | None:
        """The device with this id, or None."""
        return self._devices.get(DeviceId(device_id))

    def devices(self) -> list[Device]:
        """Every known device, sorted by id."""
        return [self._devices[key] for key in sorted(self._devices)]

    def state_of(self, device_id: DeviceId) -> Mapping[str, Value]:
        """The device's last known state (what radios read through `RadioContext.state_of`)."""
        device = self._devices.get(device_id)
        if device is not None:
            return device.state
        return self._early.get(device_id, {})

    # --- events in (hot path) -------------------------------------------------------------------

    def ingest(self, event: DeviceEvent) -> None:
        """Apply a radio's event to the registry and publish it; invalid events are counted, dropped."""
        self.events_in += 1
        applied = self._apply(event)
        if applied is not None:
            self.bus.publish(applied)

    def _apply(self, event: DeviceEvent) -> DeviceEvent | None:
        if isinstance(event, StateChanged):
            device = self._devices.get(event.device)
            try:
                value = check_attribute(event.attribute, event.value)
            except ValueError as exc:
                return self._reject(event, str(exc))
            if device is None:
                self._hold_early(event.device, event.attribute, value)
                return None
            previous = device.state.get(event.attribute)
            if previous == value and type(previous) is type(value):
                # A repeated report (a Set's confirming Get, a sensor's periodic reading) is not a
                # change: nothing to publish, but hearing the device proves it is there.
                if not device.online:
                    self._devices[event.device] = replace(device, online=True)
                    return DeviceOnline(event.device, True, event.ts)
                return None
            self._devices[event.device] = replace(
                device, state={**device.state, event.attribute: value}, online=True
            )
            return replace(event, value=value, previous=previous)
        if isinstance(event, DeviceAdded):
            known = self._devices.get(event.device.id)
            device = event.device
            early = self._early.pop(device.id, None)
            if early:
                # The announcement's own values are the newer ones; early reports fill the gaps.
                device = replace(device, state={**early, **device.state})
                event = replace(event, device=device)
            if known is None:
                self._devices[device.id] = device
                return event
            self._devices[device.id] = replace(device, state={**known.state, **device.state})
            if replace(known, state={}) != replace(device, state={}):
                return replace(event, device=self._devices[device.id])
            # A radio re-announcing a device we know (e.g. at every start) is not news; fresh
            # values in the announcement are, and go out as ordinary state changes.
            for attribute, value in device.state.items():
                if known.state.get(attribute) != value:
                    self.bus.publish(
                        StateChanged(device.id, attribute, value, event.ts, known.state.get(attribute))
                    )
            return None
        if isinstance(event, DeviceRemoved):
            self._early.pop(event.device, None)
            if self._devices.pop(event.device, None) is None:
                return None
            return event
        if isinstance(event, DeviceOnline):
            device = self._devices.get(event.device)
            if device is None:
                return self._reject(event, "unknown device")
            if device.online == event.online:
                return None
            self._devices[event.device] = replace(device, online=event.online)
            return event
        if isinstance(event, ButtonPressed):
            if event.device not in self._devices:
                return self._reject(event, "unknown device")
            return event
        if isinstance(event, InclusionUpdate):
            return event  # about a device still joining: the registry may not know it yet
        return self._reject(event, "unknown event type")

    def _hold_early(self, device: DeviceId, attribute: str, value: Value) -> None:
        held = self._early.get(device)
        if held is None:
            if len(self._early) >= MAX_EARLY_DEVICES:
                del self._early[next(iter(self._early))]
                self.early_dropped += 1
            held = self._early[device] = {}
        if attribute in held or len(held) < MAX_EARLY_ATTRIBUTES:
            held[attribute] = value
        else:
            self.early_dropped += 1

    def _reject(self, event: object, why: str) -> DeviceEvent | None:
        self.events_rejected += 1
        log.warning("dropping radio event %r: %s", event, why)
        return None

    # --- commands out -------------------------------------------------------------------------

    async def execute(
        self, device_id: str, name: object, args: object = None, *, timeout: float = COMMAND_TIMEOUT
    ) -> CommandResult:
        """Validate and send a command from outside (LAN, cloud); raise a CommandError on failure."""
        device = self._devices.get(DeviceId(device_id))
        if device is None:
            raise UnknownDevice(f"no device {device_id!r}", device=device_id)
        return await self.send(make_command(device, name, args), timeout=timeout)

    async def send(self, command: Command, *, timeout: float = COMMAND_TIMEOUT) -> CommandResult:
        """Send an already validated command through its radio; ok result or a CommandError."""
        started = time.perf_counter()
        device = self._devices.get(command.device)
        if device is None:
            raise UnknownDevice(f"no device {command.device!r}", device=command.device)
        try:
            radio = self.radio_for(device.protocol)
        except RadioUnavailable as exc:
            self.commands_failed += 1
            raise RadioUnavailable(str(exc), device=command.device) from None
        try:
            async with asyncio.timeout(timeout):
                await radio.execute(command)
        except TimeoutError:
            self.commands_failed += 1
            raise DeliveryTimeout(
                f"{command.device} did not confirm {command.name!r} within {timeout:g} s",
                device=command.device,
            ) from None
        except BaseException:
            self.commands_failed += 1
            raise
        self.commands_ok += 1
        return CommandResult("ok", (time.perf_counter() - started) * 1000)

    async def send_together(self, commands: Sequence[Command], *, timeout: float = COMMAND_TIMEOUT) -> None:
        """Send validated commands as one scene: one `execute_group` per radio, all radios at once.

        Returns when every command is confirmed; otherwise raises the first CommandError.
        """
        by_radio: dict[Protocol, list[Command]] = defaultdict(list)
        for command in commands:
            device = self._devices.get(command.device)
            if device is None:
                raise UnknownDevice(f"no device {command.device!r}", device=command.device)
            by_radio[device.protocol].append(command)
        results = await asyncio.gather(
            *(self._send_group(protocol, group, timeout) for protocol, group in by_radio.items()),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _send_group(self, protocol: Protocol, commands: list[Command], timeout: float) -> None:
        try:
            radio = self.radio_for(protocol)
            async with asyncio.timeout(timeout):
                await radio.execute_group(commands)
        except TimeoutError:
            self.commands_failed += len(commands)
            raise DeliveryTimeout(
                f"{', '.join(c.device for c in commands)} did not confirm within {timeout:g} s",
                device=commands[0].device,
            ) from None
        except BaseException:
            self.commands_failed += len(commands)
            raise
        self.commands_ok += len(commands)

    def radio_for(self, protocol: Protocol) -> Radio:
        """The running radio for `protocol`; raise RadioUnavailable if it is absent or down."""
        radio = self.radios.get(protocol)
        if radio is None or radio.state is not RadioState.RUNNING:
            why = "not configured" if radio is None else radio.state.value
            raise RadioUnavailable(f"the {protocol.value} radio is {why}")
        return radio

    async def set_inclusion(self, protocol: Protocol, seconds: float) -> None:
        """Open (seconds > 0) or close (0) inclusion on one radio."""
        await self.radio_for(protocol).set_inclusion(seconds)

    async def remove_device(self, device_id: str) -> None:
        """Ask the device's radio to remove it from its network."""
        device = self._devices.get(DeviceId(device_id))
        if device is None:
            raise UnknownDevice(f"no device {device_id!r}", device=device_id)
        await self.radio_for(device.protocol).remove_device(device.id)


class StatePersister:
    """Writes device descriptions and state changes to the store, off the hot path."""

    name = "store"

    def __init__(self, bus: EventBus, db: Database) -> None:
        self._subscription = bus.subscribe("store", maxsize=20_000, overflow=Overflow.DROP_OLDEST)
        self._db = db

    async def run(self) -> None:
        """Write every event's effect until cancelled."""
        try:
            async for event in self._subscription:
                if isinstance(event, StateChanged):
                    self._db.submit_nowait(save_state(event.device, event.attribute, event.value, event.ts))
                elif isinstance(event, DeviceAdded):
                    self._db.submit_nowait(save_device(event.device))
                    for attribute, value in event.device.state.items():
                        self._db.submit_nowait(save_state(event.device.id, attribute, value, event.ts))
                elif isinstance(event, DeviceRemoved):
                    self._db.submit_nowait(remove_device(event.device))
        finally:
            self._subscription.close()
