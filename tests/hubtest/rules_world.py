"""Test and benchmark helpers: a radio that records commands (the outermost edge), and a world.

Only the radio is fake: everything above it (Hub, EventBus, the SQLite store, the rules service)
is the production code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hub_agent.config import Config, HubSection, RulesSection
from hub_agent.hub import Hub
from hub_agent.rules.service import RulesService
from hub_agent.runtime import Runtime
from hub_agent.store import STORE_FILE, Database
from hub_core.bus import EventBus
from hub_core.clock import Clock
from hub_core.errors import DeliveryFailed
from hub_core.model import Command, Device, DeviceId, Protocol, Value
from radios.base import Radio, RadioContext, RadioState


class RecordingRadio(Radio):
    """A radio whose air is a list: it records commands and confirms them (or fails or holds them)."""

    def __init__(self, protocol: Protocol = Protocol.ZWAVE, data_dir: Path = Path(".")) -> None:
        super().__init__(RadioContext(data_dir=data_dir, emit=lambda event: None))
        self.protocol = protocol
        self.state = RadioState.RUNNING
        self.commands: list[Command] = []
        self.failing: set[str] = set()  # device ids whose commands fail
        self.hold = False  # keep confirmations back until release()
        self._held: list[asyncio.Future[None]] = []
        self._changed: asyncio.Event | None = None

    async def start(self) -> None:
        """Nothing to open."""
        self.state = RadioState.RUNNING

    async def stop(self) -> None:
        """Nothing to close."""
        self.state = RadioState.STOPPED

    async def execute(self, command: Command) -> None:
        """Record, then confirm (or fail for a device in `failing`)."""
        self.commands.append(command)
        if self._changed is not None:
            self._changed.set()
        if command.device in self.failing:
            raise DeliveryFailed(f"{command.device} did not answer", device=command.device)
        if self.hold:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._held.append(future)
            await future

    async def set_inclusion(self, seconds: float) -> None:
        """No inclusion on the recording air."""

    def release(self) -> None:
        """Confirm every held command."""
        for future in self._held:
            if not future.done():
                future.set_result(None)
        self._held.clear()

    async def wait_for(self, count: int) -> list[Command]:
        """Return once at least `count` commands were sent."""
        while len(self.commands) < count:
            if self._changed is None:
                self._changed = asyncio.Event()
            self._changed.clear()
            await self._changed.wait()
        return self.commands


class GroupRadio(RecordingRadio):
    """A recording radio that can send several commands as one group (e.g. a Zigbee group cast)."""

    def __init__(self, protocol: Protocol = Protocol.ZIGBEE) -> None:
        super().__init__(protocol)
        self.groups: list[list[Command]] = []

    async def execute_group(self, commands: Sequence[Command]) -> None:
        """Record the group as one transmission."""
        self.groups.append(list(commands))
        self.commands.extend(commands)
        if self._changed is not None:
            self._changed.set()


def device(device_id: str, *capabilities: str, **state: Value) -> Device:
    """A device with the given capabilities and state, protocol from its id."""
    protocol = Protocol(device_id.partition("-")[0])
    return Device(DeviceId(device_id), protocol, device_id, capabilities=capabilities, state=dict(state))


@dataclass
class World:
    """One hub: store, bus, hub core, recording radios and the rules service on a given clock."""

    runtime: Runtime
    service: RulesService
    radios: dict[Protocol, RecordingRadio]
    task: asyncio.Task[None] | None = None

    @property
    def hub(self) -> Hub:
        """The hub core."""
        return self.runtime.hub

    @property
    def bus(self) -> EventBus:
        """The event bus."""
        return self.runtime.bus

    async def start(self) -> None:
        """Run the service as the agent would (after `load()`)."""
        self.task = asyncio.get_running_loop().create_task(self.service.run())
        await asyncio.sleep(0)

    async def stop(self) -> None:
        """Cancel the service (pending delays stay stored) and close the store."""
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
            self.task = None
        self.service.close()
        await self.runtime.db.close()


def build_world(
    data_dir: Path,
    devices: Iterable[Device],
    clock: Clock,
    *,
    timezone: str = "UTC",
    latitude: float | None = None,
    longitude: float | None = None,
    rules: RulesSection | None = None,
    radios: Iterable[RecordingRadio] = (),
) -> World:
    """A world on a store in `data_dir`; `load()` has run, `run()` has not (call `start()`)."""
    config = Config(
        path=data_dir / "hub.toml",
        hub=HubSection(data_dir=data_dir, timezone=timezone, latitude=latitude, longitude=longitude),
        rules=rules or RulesSection(),
    )
    bus = EventBus()
    hub = Hub(bus)
    hub.restore(devices)
    by_protocol = {radio.protocol: radio for radio in radios}
    for protocol in Protocol:
        by_protocol.setdefault(protocol, RecordingRadio(protocol))
    hub.radios.update(by_protocol)
    db = Database(data_dir / STORE_FILE)
    runtime = Runtime(config=config, hub=hub, bus=bus, db=db, hub_id="hub-test", version="0", boot_id="boot")
    service = RulesService(runtime, clock)
    runtime.rules = service
    service.load()
    return World(runtime, service, by_protocol)
