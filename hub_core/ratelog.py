"""Log lines rate-limited per cause, so no input can make the hub write more than a bounded amount of log.

Rules of this file: a *cause* is a constant string chosen in the code (`"lan.bad_request"`), never
text from the network, so the number of causes is bounded by the source. For each cause the first
`burst` lines of an interval are written; the rest are only counted, and one summary line says how
many were held back once the interval is over (at the next occurrence or at `flush()`). Every
occurrence is counted in `counts` (exported by `/metrics` as `hub_log_events_total{cause}`), so a
flood stays visible without filling the flash. Worst case per logger: `(burst + 1) * causes` lines
per interval.

    from hub_core import ratelog
    ratelog.log(log, "lan.bad_request", logging.INFO, "LAN API: malformed request from %s: %s", peer, why)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

#: Default budget: 5 lines per cause per minute, then one summary.
INTERVAL = 60.0
BURST = 5
#: More distinct causes than this is a programming error (a cause built from input); they share one.
MAX_CAUSES = 256
OVERFLOW_CAUSE = "other"


@dataclass(slots=True)
class _Window:
    logger: logging.Logger
    level: int
    started: float
    written: int = 0
    held: int = 0


class LogLimiter:
    """Per-cause budgets and counters; one per process (`LIMITER`), tests make their own."""

    def __init__(
        self,
        *,
        interval: float = INTERVAL,
        burst: int = BURST,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        self.burst = burst
        self.clock = clock
        #: cause -> every occurrence ever (written or held back)
        self.counts: dict[str, int] = {}
        #: cause -> occurrences held back (not written) ever
        self.suppressed: dict[str, int] = {}
        self._windows: dict[str, _Window] = {}

    def log(
        self, logger: logging.Logger, cause: str, level: int, msg: str, *args: object, exc_info: bool = False
    ) -> bool:
        """Count one occurrence of `cause`; write `msg % args` if within budget. True if written."""
        if cause not in self.counts and len(self.counts) >= MAX_CAUSES:
            cause = OVERFLOW_CAUSE
        self.counts[cause] = self.counts.get(cause, 0) + 1
        now = self.clock()
        window = self._windows.get(cause)
        if window is not None and now - window.started >= self.interval:
            self._summarise(cause, window, now)
            window = None
        if window is None:
            window = self._windows[cause] = _Window(logger, level, now)
        if window.written < self.burst:
            window.written += 1
            if logger.isEnabledFor(level):
                logger.log(level, msg, *args, exc_info=exc_info)
            return True
        window.held += 1
        self.suppressed[cause] = self.suppressed.get(cause, 0) + 1
        return False

    def flush(self) -> int:
        """Write the summary of every interval that is over; returns how many summaries were written."""
        now = self.clock()
        done = [c for c, w in self._windows.items() if now - w.started >= self.interval]
        written = 0
        for cause in done:
            written += self._summarise(cause, self._windows[cause], now)
        return written

    def _summarise(self, cause: str, window: _Window, now: float) -> int:
        del self._windows[cause]
        if not window.held:
            return 0
        window.logger.log(
            window.level,
            "%d more %r lines held back in the last %.0f s (rate limit %d per %.0f s)",
            window.held,
            cause,
            now - window.started,
            self.burst,
            self.interval,
        )
        return 1


#: The process's limiter; `/metrics` exports its counters.
LIMITER = LogLimiter()


def log(
    logger: logging.Logger, cause: str, level: int, msg: str, *args: object, exc_info: bool = False
) -> bool:
    """`LIMITER.log(...)`: write within the cause's budget, count always."""
    return LIMITER.log(logger, cause, level, msg, *args, exc_info=exc_info)
