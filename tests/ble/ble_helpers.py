"""BLE test helpers: a RadioContext that records what the radio emits and folds state."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from pathlib import Path

from hub_core.model import DeviceAdded, DeviceEvent, DeviceId, StateChanged, Value
from radios.base import RadioContext


class Recorder:
    """Collects events; `wait_for(predicate)` awaits the first event matching it."""

    def __init__(self) -> None:
        self.events: list[DeviceEvent] = []
        self.state: dict[DeviceId, dict[str, Value]] = {}
        self._waiters: list[tuple[Callable[[DeviceEvent], bool], asyncio.Future[DeviceEvent]]] = []

    def emit(self, event: DeviceEvent) -> None:
        self.events.append(event)
        if isinstance(event, StateChanged):
            self.state.setdefault(event.device, {})[event.attribute] = event.value
        elif isinstance(event, DeviceAdded):
            self.state.setdefault(event.device.id, {}).update(event.device.state)
        for predicate, future in list(self._waiters):
            if not future.done() and predicate(event):
                future.set_result(event)

    def state_of(self, device: DeviceId) -> Mapping[str, Value]:
        return self.state.get(device, {})

    async def wait_for(self, predicate: Callable[[DeviceEvent], bool], timeout: float = 10.0) -> DeviceEvent:
        for event in self.events:
            if predicate(event):
                return event
        future: asyncio.Future[DeviceEvent] = asyncio.get_running_loop().create_future()
        entry = (predicate, future)
        self._waiters.append(entry)
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self._waiters.remove(entry)

    def context(self, data_dir: Path) -> RadioContext:
        return RadioContext(data_dir=data_dir, emit=self.emit, state_reader=self.state_of)
