"""The link's sense of time and its reconnect back-off.

Rules of this file: `Backoff` is pure (its randomness is injected); `Clock` is the one place the
link reads time or sleeps, so tests can run the link on a faster clock instead of waiting.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Protocol


class Clock(Protocol):
    """Wall time, monotonic time and sleeping, as the link sees them."""

    def time(self) -> float:
        """POSIX wall-clock time (for `expires_at` and certificate validity)."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin, never going backwards (for intervals)."""

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of this clock's time."""


class SystemClock:
    """The real clock."""

    def time(self) -> float:
        """POSIX wall-clock time."""
        return time.time()

    def monotonic(self) -> float:
        """The event loop's monotonic clock."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """asyncio.sleep."""
        await asyncio.sleep(seconds)


class Backoff:
    """Exponential back-off with full jitter: attempt n waits uniform(0, min(cap, base * 2**n))."""

    def __init__(self, base: float = 1.0, cap: float = 60.0, rng: random.Random | None = None) -> None:
        if base <= 0 or cap < base:
            raise ValueError(f"need 0 < base <= cap, got base={base} cap={cap}")
        self.base = base
        self.cap = cap
        self.attempt = 0
        # Jitter is not security sensitive; it only spreads a fleet's reconnects apart.
        self._rng = rng or random.Random()  # noqa: S311

    def ceiling(self) -> float:
        """The upper bound of the next delay."""
        return min(self.cap, self.base * 2.0 ** min(self.attempt, 62))

    def next_delay(self) -> float:
        """The delay before the next attempt; each call counts one more failure."""
        delay = self._rng.uniform(0.0, self.ceiling())
        self.attempt += 1
        return delay

    def reset(self) -> None:
        """Start again from `base` (after a connection stayed up for a stable period)."""
        self.attempt = 0
