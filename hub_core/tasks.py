"""Tasks a part owns: started by name, bounded in number, failures logged, all cancelled on close.

Rules of this file: a part never creates a bare `asyncio.Task` it could lose track of; it asks its
`TaskGroup` to `spawn` one. The group keeps a strong reference until the task ends (asyncio keeps only
weak ones), logs an unexpected exception once with the task's name, and `close()` cancels and awaits
everything still running, so a stopped part leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class TooManyTasks(RuntimeError):
    """`spawn` was refused because the group already runs its limit of tasks."""


class TaskGroup:
    """A bounded set of background tasks owned by one part (not asyncio.TaskGroup: no fail-fast)."""

    def __init__(self, owner: str, *, limit: int = 10_000) -> None:
        self.owner = owner
        self.limit = limit
        self.failed = 0
        self._tasks: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run `coro` as a task named `owner: name`; raise TooManyTasks (closing `coro`) at the limit."""
        if len(self._tasks) >= self.limit:
            coro.close()
            raise TooManyTasks(f"{self.owner}: {len(self._tasks)} tasks running, refusing {name}")
        task = asyncio.get_running_loop().create_task(coro, name=f"{self.owner}: {name}")
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self.failed += 1
            log.error("%s failed: %s: %s", task.get_name(), type(exc).__name__, exc, exc_info=exc)

    async def settle(self) -> None:
        """Wait until every task (including ones spawned meanwhile) has ended."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        """Cancel every task and wait for them to end; the group can be used again afterwards."""
        while self._tasks:
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
