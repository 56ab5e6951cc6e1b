"""In-process recovery when the stick vanishes (unplugged, link lost) or restarts by itself.

Rules of this file: one recovery at a time, a task of the radio's group. It closes the old
controller and calls `connect` again after each `hub_core.backoff.Backoff` delay until it succeeds or
the radio stops. A jammed stick (SendData without callback) is the controller's own business
(`Controller._unjam`: SendDataAbort, then soft reset); only when that fails does the link drop here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from hub_core.backoff import Backoff
from hub_core.errors import RadioUnavailable
from hub_core.tasks import TaskGroup

log = logging.getLogger(__name__)

#: Reconnect back-off: full jitter over 0.2 s doubling up to 30 s.
RECONNECT_BASE = 0.2
RECONNECT_CAP = 30.0


class Recovery:
    """Reconnects the radio with back-off; `reconnects` counts the successful ones."""

    def __init__(
        self,
        tasks: TaskGroup,
        *,
        connect: Callable[[], Awaitable[None]],
        disconnect: Callable[[], Awaitable[None]],
        recovering: Callable[[], None],
        recovered: Callable[[], None],
        backoff: Backoff | None = None,
    ) -> None:
        self._tasks = tasks
        self._connect = connect
        self._disconnect = disconnect
        self._recovering = recovering
        self._recovered = recovered
        self.backoff = backoff or Backoff(RECONNECT_BASE, RECONNECT_CAP)
        self.reconnects = 0
        self.stopping = False
        self._task: asyncio.Task[None] | None = None

    @property
    def active(self) -> bool:
        """True while a recovery runs."""
        return self._task is not None and not self._task.done()

    def begin(self, why: str) -> None:
        """Start recovering (unless already); commands fail with RadioUnavailable meanwhile."""
        if self.stopping:
            return
        self._recovering()
        if self.active:
            return
        log.warning("zwave: %s; reconnecting", why)
        self._task = self._tasks.spawn(self._run(), "recovery")

    async def close(self) -> None:
        """Stop recovering (the radio stops); safe to call twice."""
        self.stopping = True
        await self._tasks.close()

    async def _run(self) -> None:
        await self._disconnect()
        self.backoff.reset()
        attempt = 0
        while not self.stopping:
            await asyncio.sleep(self.backoff.next_delay())
            attempt += 1
            try:
                await self._connect()
            except (RadioUnavailable, OSError) as exc:
                # Not there yet, or not answering yet (TransactionFailed, ControllerReset): try again.
                log.info("zwave: reconnect attempt %d failed: %s", attempt, exc)
                continue
            self.reconnects += 1
            log.info("zwave: controller back after %d attempt(s)", attempt)
            self._recovered()
            return
