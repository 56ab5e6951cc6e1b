"""Helpers for tests and benchmarks of the Z-Wave stack: an event log that can be awaited.

Rules of this file: nothing here sleeps to wait; waiting is on futures resolved by `emit`. Events
also go through a real `Hub`, which holds reports that come before their device's announcement and
answers `state_of` (pass `log.state_of` as the `RadioContext.state_reader`), as in production.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from hub_agent.hub import Hub
from hub_core.bus import EventBus
from hub_core.model import DeviceAdded, DeviceEvent, DeviceId, StateChanged, Value


@dataclass(slots=True)
class EventLog:
    """A `RadioContext.emit` sink that keeps every event and lets a test await one."""

    events: list[DeviceEvent] = field(default_factory=list)
    _waiters: list[tuple[Callable[[DeviceEvent], bool], asyncio.Future[DeviceEvent]]] = field(
        default_factory=list
    )

    hub: Hub = field(default_factory=lambda: Hub(EventBus()))

    def __call__(self, event: DeviceEvent) -> None:
        self.hub.ingest(event)
        if isinstance(event, DeviceAdded):
            # As the hub has it: reports that came before the announcement folded in.
            device = self.hub.device(event.device.id)
            if device is not None:
                event = replace(event, device=device)
        self.events.append(event)
        for entry in list(self._waiters):
            predicate, future = entry
            if not future.done() and predicate(event):
                future.set_result(event)
                self._waiters.remove(entry)

    def state_of(self, device: DeviceId) -> Mapping[str, Value]:
        """The hub's last known state of `device` (a `RadioContext.state_reader`)."""
        return self.hub.state_of(device)

    def mark(self) -> int:
        """A position in the log; pass it as `since` to wait only for later events."""
        return len(self.events)

    async def wait_for(
        self, predicate: Callable[[DeviceEvent], bool], *, since: int = 0, timeout: float = 5.0
    ) -> DeviceEvent:
        """The first event from position `since` on that matches, awaiting it if need be."""
        for event in self.events[since:]:
            if predicate(event):
                return event
        future: asyncio.Future[DeviceEvent] = asyncio.get_running_loop().create_future()
        entry = (predicate, future)
        self._waiters.append(entry)
        try:
            async with asyncio.timeout(timeout):
                return await future
        finally:
            if entry in self._waiters:
                self._waiters.remove(entry)

    async def state(
        self, device: str, attribute: str, value: Value, *, since: int = 0, timeout: float = 5.0
    ) -> StateChanged:
        """Await `device`'s `attribute` being reported as `value`."""
        event = await self.wait_for(
            lambda e: (
                isinstance(e, StateChanged)
                and e.device == device
                and e.attribute == attribute
                and e.value == value
            ),
            since=since,
            timeout=timeout,
        )
        assert isinstance(event, StateChanged)
        return event

    async def added(self, device: str, *, since: int = 0, timeout: float = 10.0) -> DeviceAdded:
        """Await the DeviceAdded of `device`."""
        event = await self.wait_for(
            lambda e: isinstance(e, DeviceAdded) and e.device.id == device, since=since, timeout=timeout
        )
        assert isinstance(event, DeviceAdded)
        return event

    def of(self, kind: type[DeviceEvent], device: str | None = None) -> list[DeviceEvent]:
        """Every logged event of a type (and device)."""
        out = [e for e in self.events if isinstance(e, kind)]
        if device is not None:
            out = [e for e in out if (e.device.id if isinstance(e, DeviceAdded) else e.device) == device]
        return out
