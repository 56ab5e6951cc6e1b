"""The pairing window (the hub's link button) and the failed-attempt limiter; both pure.

Rules of this file: no clock is read here; every method takes `now` (monotonic seconds) from the
caller, so tests step time by hand. State is small and bounded: the limiter tracks at most
`max_clients` addresses and forgets the least recently failing one first.

Why a code (docs/security.md): a window alone is a race that a LAN neighbour polling `POST /pair`
wins. Each press of the button draws a fresh CODE_DIGITS-digit code that only the person at the hub
sees (`hub-agent pair` prints it); the pair call must carry it. The window closes after the first
pairing (one token per press) and after MAX_WRONG_CODES wrong codes from anyone, so guessing from
many addresses gives at most MAX_WRONG_CODES tries in 10**CODE_DIGITS per press.
"""

from __future__ import annotations

import hmac
import secrets
from collections import OrderedDict, deque
from dataclasses import dataclass, field

#: CONTRACT: `hub-agent pair` opens the window for 60 s.
DEFAULT_WINDOW = 60.0
MAX_WINDOW = 600.0
CODE_DIGITS = 6
#: Wrong codes (from any address) that close the window: 5 in 10**6 is the best odds per press.
MAX_WRONG_CODES = 5


def new_code() -> str:
    """A fresh pairing code: CODE_DIGITS decimal digits from the OS's CSPRNG."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


@dataclass(slots=True)
class PairingWindow:
    """Open for a while after the button is pressed; `POST /api/v1/pair` works only while open."""

    until: float = 0.0
    paired: int = 0
    #: the code for the current window ("" while closed)
    code: str = ""
    wrong: int = 0

    def open(self, seconds: float, now: float, code: str | None = None) -> float:
        """Open (or extend with a new code, or with 0 close) the window; returns its seconds."""
        if not 0 <= seconds <= MAX_WINDOW:
            raise ValueError(f"seconds must be between 0 and {MAX_WINDOW:g}, not {seconds:g}")
        if seconds == 0:
            self.close()
            return 0.0
        self.until = now + seconds
        self.code = code if code is not None else new_code()
        self.wrong = 0
        return seconds

    def close(self) -> None:
        """Close the window now."""
        self.until = 0.0
        self.code = ""

    def check_code(self, presented: object, now: float) -> bool:
        """Whether `presented` is this window's code; a wrong one counts, and enough close it."""
        if not self.is_open(now) or not self.code:
            return False
        given = presented.encode("utf-8", "replace") if isinstance(presented, str) else b""
        if hmac.compare_digest(given, self.code.encode("ascii")):
            return True
        self.wrong += 1
        if self.wrong >= MAX_WRONG_CODES:
            self.close()
        return False

    def paired_one(self) -> None:
        """A token was issued: one per press, so the window closes."""
        self.paired += 1
        self.close()

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
