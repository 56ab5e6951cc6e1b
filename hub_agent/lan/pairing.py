"""The pairing window (the hub's link button) and the failed-attempt limiter; both pure.

Rules of this file: no clock is read here; every method takes `now` (monotonic seconds) from the
caller, so tests step time by hand. State is small and bounded: the limiter tracks at most
`max_clients` addresses and forgets the least recently failing one first.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field

#: CONTRACT: `hub-agent pair` opens the window for 60 s.
DEFAULT_WINDOW = 60.0
MAX_WINDOW = 600.0


@dataclass(slots=True)
class PairingWindow:
    """Open for a while after the button is pressed; `POST /api/v1/pair` works only while open."""

    until: float = 0.0
    paired: int = 0

    def open(self, seconds: float, now: float) -> float:
        """Open (or extend, or with 0 close) the window; returns the seconds it stays open."""
        if not 0 <= seconds <= MAX_WINDOW:
            raise ValueError(f"seconds must be between 0 and {MAX_WINDOW:g}, not {seconds:g}")
        self.until = now + seconds
        return seconds

    def close(self) -> None:
        """Close the window now."""
        self.until = 0.0

    def is_open(self, now: float) -> bool:
        """Whether pairing is allowed at `now`."""
        return now < self.until

    def remaining(self, now: float) -> float:
        """Seconds left, 0 when closed."""
        return max(0.0, self.until - now)


@dataclass(slots=True)
class FailureLimiter:
    """At most `max_failures` failed attempts per client address in any `period` seconds."""

    max_failures: int = 10
    period: float = 60.0
    max_clients: int = 4096
    _failures: OrderedDict[str, deque[float]] = field(default_factory=OrderedDict)

    def retry_after(self, client: str, now: float) -> float:
        """0 if `client` may try now, else how many seconds until it may."""
        times = self._failures.get(client)
        if times is None:
            return 0.0
        self._expire(times, now)
        if not times:
            del self._failures[client]
            return 0.0
        if len(times) < self.max_failures:
            return 0.0
        return max(0.0, times[0] + self.period - now)

    def failed(self, client: str, now: float) -> None:
        """Record one failed attempt by `client`."""
        times = self._failures.pop(client, None)
        if times is None:
            times = deque()
        self._expire(times, now)
        times.append(now)
        while len(times) > self.max_failures:
            times.popleft()
        self._failures[client] = times  # most recent last
        while len(self._failures) > self.max_clients:
            self._failures.popitem(last=False)

    def _expire(self, times: deque[float], now: float) -> None:
        while times and times[0] <= now - self.period:
            times.popleft()

    def __len__(self) -> int:
        return len(self._failures)
