"""The rules engine's sense of time, injectable so tests run on a fake clock and never sleep.

Rules of this file: wall time (`now()`) is what schedules and pending delays are expressed in,
because they must survive a restart; `monotonic()` is for rates (runaway detection), which must not
jump when NTP fixes the wall clock.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Protocol

#: The longest real sleep in one go; a hub without a real-time clock often has its wall clock
#: corrected by NTP after boot, so a long sleep is split and the remaining time re-read.
_MAX_NAP = 30.0


class Clock(Protocol):
    """Wall time, monotonic time, and sleeping until a wall time."""

    def now(self) -> float:
        """Wall-clock time as a POSIX timestamp."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary start that never go backwards."""

    async def sleep_until(self, when: float) -> None:
        """Return once `now() >= when` (at once if it already is)."""


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        """`time.time()`."""
        return time.time()

    def monotonic(self) -> float:
        """`time.monotonic()`."""
        return time.monotonic()

    async def sleep_until(self, when: float) -> None:
        """Sleep in naps of at most 30 s, re-reading the wall clock after each."""
        while True:
            remaining = when - time.time()
            if remaining <= 0:
                return
            await asyncio.sleep(min(remaining, _MAX_NAP))


class ManualClock:
    """A clock that moves only when told to (`advance`, `set`); for tests and simulations."""

    def __init__(self, start: float = 1_790_000_000.0) -> None:
        self._now = start
        self._mono = 1000.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._changed: asyncio.Event | None = None

    def now(self) -> float:
        """The current fake wall time."""
        return self._now

    def monotonic(self) -> float:
        """The current fake monotonic time."""
        return self._mono

    async def sleep_until(self, when: float) -> None:
        """Park until the fake time reaches `when`."""
        if when <= self._now:
            await asyncio.sleep(0)  # still a suspension point, like a real zero sleep
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (when, next(self._seq), future))
        self._notify()
        await future

    @property
    def sleeping(self) -> int:
        """How many sleepers are parked (cancelled ones excluded)."""
        return sum(1 for _, _, f in self._sleepers if not f.done())

    def next_wakeup(self) -> float | None:
        """The earliest time a parked sleeper waits for, or None."""
        self._prune()
        return self._sleepers[0][0] if self._sleepers else None

    async def wait_for_sleepers(self, count: int = 1) -> None:
        """Return once at least `count` sleepers are parked (a test's way to await quiescence)."""
        while self.sleeping < count:
            if self._changed is None:
                self._changed = asyncio.Event()
            self._changed.clear()
            await self._changed.wait()

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking each sleeper at its own time, in order, letting it run."""
        await self.set(self._now + seconds)

    async def set(self, when: float) -> None:
        """Move wall time to `when` (forwards), waking sleepers in time order on the way."""
        while True:
            self._prune()
            if not self._sleepers or self._sleepers[0][0] > when:
                break
            due, _, future = heapq.heappop(self._sleepers)
            self._mono += max(0.0, due - self._now)
            self._now = max(self._now, due)
            future.set_result(None)
            await _settle()
        self._mono += max(0.0, when - self._now)
        self._now = max(self._now, when)
        await _settle()

    def _prune(self) -> None:
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()


async def _settle(turns: int = 20) -> None:
    """Let woken tasks run their synchronous steps (loop turns, not real time)."""
    for _ in range(turns):
        await asyncio.sleep(0)
