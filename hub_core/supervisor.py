"""Supervision of the agent's parts: each runs as a task; one that crashes is restarted with back-off.

A part's `run()` is meant to work until cancelled. If it raises (or returns), the crash is logged with the
part's name and it is started again after 1 s, 2 s, 4 s ... up to `cap`; the delay resets once a run has
lasted `stable` seconds. The agent itself stays up: one broken part never takes local control down.

An expected failure (a `HubError`, or an `OSError` such as a missing serial port) is one log line that
says what is wrong; its traceback goes to DEBUG only. Anything else is a bug and is logged with its
traceback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from hub_core.errors import HubError

log = logging.getLogger(__name__)


@dataclass(slots=True)
class PartStatus:
    """What the supervisor knows about one part (for metrics and `info`)."""

    name: str
    restarts: int = 0
    last_error: str | None = None
    running: bool = False


class Supervisor:
    """Starts parts, restarts crashed ones, and stops them all in reverse start order."""

    def __init__(self, *, first_delay: float = 1.0, cap: float = 60.0, stable: float = 60.0) -> None:
        self.first_delay = first_delay
        self.cap = cap
        self.stable = stable
        self.status: dict[str, PartStatus] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        """Run `run()` under supervision as the part called `name`."""
        if name in self._tasks:
            raise ValueError(f"part {name!r} is already supervised")
        self.status[name] = PartStatus(name)
        self._tasks[name] = asyncio.get_running_loop().create_task(self._supervise(name, run), name=name)

    async def _supervise(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        loop = asyncio.get_running_loop()
        status = self.status[name]
        delay = self.first_delay
        while True:
            started = loop.time()
            status.running = True
            try:
                await run()
                status.last_error = "returned"
                log.error("part %s stopped by itself; restarting in %.1f s", name, delay)
            except asyncio.CancelledError:
                status.running = False
                raise
            except (HubError, OSError) as exc:
                status.last_error = str(exc)
                log.error("%s failed: %s (retrying in %.0f s)", name, exc, delay)
                log.debug("%s failure details", name, exc_info=exc)
            except Exception as exc:
                status.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("part %s crashed; restarting in %.1f s", name, delay)
            status.running = False
            status.restarts += 1
            if loop.time() - started >= self.stable:
                delay = self.first_delay
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.cap)

    async def stop(self, timeout: float = 4.0) -> None:
        """Cancel every part, newest first, within `timeout` in all.

        Each part gets an equal share of what is left of the budget when its turn comes, so time a
        quick part did not need goes to the slower ones (a radio closing its stick) instead of being lost.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        for name in reversed(list(self._tasks)):
            task = self._tasks.pop(name)
            task.cancel()
            share = max(0.05, (deadline - loop.time()) / (len(self._tasks) + 1))
            try:
                async with asyncio.timeout(share):
                    await asyncio.gather(task, return_exceptions=True)
            except TimeoutError:
                log.error("part %s did not stop in time; abandoning it", name)
