"""Device availability from radio silence: a pure tracker the adapter feeds with "heard" and clock ticks.

Rules of this file: no clock of its own (every call takes `now`, in monotonic seconds), no I/O.
A device is offline once it has not been heard from for `factor` times its expected interval
(the longest maximum reporting interval configured on it) plus `grace`; it is online again the
moment anything arrives from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class _Entry:
    timeout: float
    last_heard: float
    online: bool = True


@dataclass(slots=True)
class AvailabilityTracker:
    """Tracks last-heard times; `heard` and `check` return the devices whose online state changed."""

    factor: float = 2.0
    grace: float = 300.0
    _entries: dict[str, _Entry] = field(default_factory=dict)

    def track(self, device: str, expected_interval: float | None, now: float) -> None:
        """Watch `device` (expected to be heard every `expected_interval` s; None = never times out)."""
        timeout = float("inf") if expected_interval is None else expected_interval * self.factor + self.grace
        entry = self._entries.get(device)
        if entry is None:
            self._entries[device] = _Entry(timeout, now)
        else:
            entry.timeout = timeout

    def forget(self, device: str) -> None:
        """Stop watching `device`."""
        self._entries.pop(device, None)

    def heard(self, device: str, now: float) -> bool:
        """Something arrived from `device`; True if that brings it back online."""
        entry = self._entries.get(device)
        if entry is None:
            return False
        entry.last_heard = now
        if entry.online:
            return False
        entry.online = True
        return True

    def lost(self, device: str) -> bool:
        """The network says `device` left; True if that takes it offline."""
        entry = self._entries.get(device)
        if entry is None or not entry.online:
            return False
        entry.online = False
        return True

    def restart(self, now: float) -> None:
        """Forget silence so far (after the radio itself was down, nobody could be heard)."""
        for entry in self._entries.values():
            entry.last_heard = max(entry.last_heard, now)

    def check(self, now: float) -> list[str]:
        """Devices that just went offline, in tracking order."""
        gone = []
        for device, entry in self._entries.items():
            if entry.online and now - entry.last_heard > entry.timeout:
                entry.online = False
                gone.append(device)
        return gone

    def is_online(self, device: str) -> bool:
        """The current verdict for `device` (True for untracked devices)."""
        entry = self._entries.get(device)
        return True if entry is None else entry.online
