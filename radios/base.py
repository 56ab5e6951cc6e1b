"""The one narrow interface every radio adapter implements, and what the hub hands it.

A radio turns its protocol's traffic into canonical `DeviceEvent`s (passed to `RadioContext.emit`,
synchronously, from the event loop) and carries out canonical `Command`s. Everything protocol-specific
(framing, interview, recovery from a reset stick) stays behind this interface.

The contract, in full:
- `emit` may be called at any time between `start()` being entered and `stop()` returning, only from
  the event loop's thread. `DeviceAdded` announces a device (again at every start is fine: the hub
  ignores an unchanged re-announcement). A `StateChanged` may come before its device's `DeviceAdded`
  (a report during the interview): the hub holds it (bounded) and folds it into the announcement.
  `DeviceOnline`, `ButtonPressed` for a device the hub does not know are dropped and counted.
- The hub, not the radio, owns last known state: `ctx.state_of(device)` reads it (e.g. for `toggle`).
  A radio keeps no shadow copy of device state and need not suppress repeated values.
- `execute` returns once the device confirmed delivery. It raises `RadioUnavailable` while the stick
  is gone or recovering, `UnknownDevice` for a device this radio does not serve, `InvalidCommand`
  (a `CommandError`) for a command or argument the device does not support, `DeliveryFailed` when
  the device did not acknowledge and `DeliveryTimeout` when no answer came in time. Nothing else.
- `start` raises `RadioUnavailable` (with the port and what to check) when the stick cannot be opened;
  the hub retries with back-off. Recovery from a stick that vanishes later is the radio's own job,
  in-process, with `hub_core.backoff.Backoff`; background tasks belong to a `hub_core.tasks.TaskGroup`.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from hub_core.errors import InvalidCommand
from hub_core.model import Command, Device, DeviceEvent, DeviceId, Protocol, Value

EventSink = Callable[[DeviceEvent], None]
StateReader = Callable[[DeviceId], Mapping[str, Value]]


class RadioState(StrEnum):
    """Where a radio is in its life; shown in `hub-agent info` and `/metrics`."""

    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    RECOVERING = "recovering"  # the stick vanished or reset; commands fail with RadioUnavailable


@dataclass(frozen=True, slots=True)
class RadioContext:
    """What the hub gives a radio: where to keep files, how to report events, what it knew before."""

    data_dir: Path
    emit: EventSink
    known_devices: Mapping[DeviceId, Device] = field(default_factory=dict)
    #: the hub's last known state of a device (empty if unknown); defaults to `known_devices` alone
    state_reader: StateReader | None = None

    def state_of(self, device: DeviceId) -> Mapping[str, Value]:
        """The last known state of `device` as the hub has it now (empty mapping if unknown)."""
        if self.state_reader is not None:
            return self.state_reader(device)
        known = self.known_devices.get(device)
        return known.state if known is not None else {}


class Radio(abc.ABC):
    """A radio adapter: start, stop, execute commands, open inclusion; events go to `ctx.emit`."""

    protocol: Protocol

    def __init__(self, ctx: RadioContext) -> None:
        self.ctx = ctx
        self.state = RadioState.STOPPED

    @abc.abstractmethod
    async def start(self) -> None:
        """Open the radio; return once commands can be executed. Raise if it cannot start."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Close the radio and cancel everything it started; safe to call twice."""

    @abc.abstractmethod
    async def execute(self, command: Command) -> None:
        """Send `command`; return when the device confirmed delivery, else raise a CommandError."""

    async def execute_group(self, commands: Sequence[Command]) -> None:
        """Send commands together (a scene); return when all are confirmed, else raise the first error.

        The default sends them concurrently; a radio that can group-cast (Zigbee) overrides it.
        """
        results = await asyncio.gather(*(self.execute(c) for c in commands), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    @abc.abstractmethod
    async def set_inclusion(self, seconds: float) -> None:
        """Let new devices join for `seconds` (0 closes inclusion); joins arrive as DeviceAdded."""

    def counters(self) -> dict[str, int]:
        """Running counts an installer reads on /metrics (name -> value since start); none by default."""
        return {}

    async def remove_device(self, device: DeviceId) -> None:
        """Remove `device` from the network; the radio emits DeviceRemoved when it is gone."""
        raise InvalidCommand(f"{self.protocol.value} radio cannot remove devices", device=device)
