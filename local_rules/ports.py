"""What the rules runner needs from the process, as small protocols (the hub and the store fit them).

`local_rules` never imports `hub_agent`: the runner sends commands through a `CommandSink`, reads a
device's current state through it (for `wait`), and writes pending delays through a `PendingStore`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from hub_core.model import Command, Value

T = TypeVar("T")


class DeviceView(Protocol):
    """A device as the runner sees it: its last known state."""

    @property
    def state(self) -> Mapping[str, Value]:
        """Attribute -> last known value."""


class CommandSink(Protocol):
    """Where rule actions go: one command, a scene's commands together, and current state."""

    async def send(self, command: Command) -> object:
        """Deliver one command; raise a HubError when it is not confirmed."""

    async def send_together(self, commands: Sequence[Command]) -> None:
        """Deliver commands as one scene; raise the first HubError."""

    def device(self, device_id: str) -> DeviceView | None:
        """The device with this id, or None."""


class PendingStore(Protocol):
    """The durable store the runner keeps pending delays in (operations run on its writer)."""

    async def write(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        """Run `operation` and return once it is durable."""

    def submit_nowait(self, operation: Callable[[sqlite3.Connection], Any]) -> None:
        """Queue `operation` without waiting for it."""
