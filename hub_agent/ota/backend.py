"""The one small interface both slot backends (dir, RAUC) implement, and what they report.

Semantics shared by both: `install` writes the bundle to the slot that is not booted, verifies it, and
only then makes it primary (a power cut before that leaves the booted slot primary); the next boot tries
the new slot; the agent then calls `mark_good` or `mark_bad` for the booted slot; a slot marked bad is
never booted again and the other one becomes primary.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from hub_agent.ota.versions import Version

#: install progress, 0-100
InstallProgress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class SlotInfo:
    """One slot as the backend sees it: `state` is good | bad | trial (booting, not yet proven)."""

    name: str
    state: str
    version: Version | None


@dataclass(frozen=True, slots=True)
class SlotStatus:
    """Which slot runs, which will boot next, and every slot's state."""

    booted: str
    primary: str | None
    slots: tuple[SlotInfo, ...]

    def slot(self, name: str) -> SlotInfo | None:
        """The named slot, if the backend has it."""
        return next((s for s in self.slots if s.name == name), None)

    @property
    def booted_slot(self) -> SlotInfo | None:
        """The slot we are running from."""
        return self.slot(self.booted)


class SlotBackend(Protocol):
    """A/B slots: dir (files, for development and tests) or rauc (the real hub)."""

    name: str
    #: whether `install` can move the downloaded bundle instead of copying it (same filesystem)
    moves_bundle: bool
    #: whether `reboot` restarts the machine (rauc) or only the agent (dir, whose boot step runs at start)
    reboots_machine: bool

    async def status(self) -> SlotStatus:
        """Booted slot, primary slot, every slot's state and version."""

    async def install(self, bundle: Path, version: Version, sha256: str, progress: InstallProgress) -> str:
        """Write the verified bundle to the inactive slot, verify, make it primary; returns the slot name."""

    async def mark_good(self) -> None:
        """The booted slot proved healthy: keep it."""

    async def mark_bad(self) -> None:
        """The booted slot failed: never boot it again; the other slot becomes primary."""

    async def reboot(self) -> None:
        """Boot the primary slot (dir: the agent exits with EXIT_REBOOT; rauc: the reboot command)."""

    async def close(self) -> None:
        """Release connections."""
