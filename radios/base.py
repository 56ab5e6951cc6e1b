"""The one narrow interface every radio adapter implements, and what the hub hands it.

A radio turns its protocol's traffic into canonical `DeviceEvent`s (passed to `RadioContext.emit`,
synchronously, from the event loop) and carries out canonical `Command`s. Everything protocol-specific
(framing, interview, recovery from a reset stick) stays behind this interface.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from hub_agent.model import Command, Device, DeviceEvent, DeviceId, Protocol

EventSink = Callable[[DeviceEvent], None]


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

    async def remove_device(self, device: DeviceId) -> None:
        """Remove `device` from the network; the radio emits DeviceRemoved when it is gone."""
        raise NotImplementedError(f"{self.protocol.value} radio cannot remove devices")
