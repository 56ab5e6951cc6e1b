"""Wake-up queues: commands to a sleeping node wait for its wake-up; then it is sent back to sleep.

Rules of this file: a sleeping node hears us only between its Wake Up Notification (or NIF) and our
Wake Up No More Information (SDS13782 Wake Up CC). Commands hold the node awake while they run
(`async with queues.holding(node)`); when the last one ends and nothing else (an interview) `keeps`
it, No More Information goes out. Waiting is bounded by the caller's timeout, not here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from hub_core.errors import RadioUnavailable
from hub_core.tasks import TaskGroup
from radios.zwave.cc.management import WakeUpNoMoreInformation

log = logging.getLogger(__name__)

Sender = Callable[[int, WakeUpNoMoreInformation], Awaitable[bool]]


@dataclass(slots=True)
class _Sleeper:
    awake: asyncio.Event = field(default_factory=asyncio.Event)
    pending: int = 0


class WakeUpQueues:
    """Per sleeping node: whether it is awake now and how many commands wait for or use it."""

    def __init__(self, tasks: TaskGroup, send: Sender, keeps_awake: Callable[[int], bool]) -> None:
        self._tasks = tasks
        self._send = send
        #: True while something other than commands (the interview) still needs the node awake.
        self._keeps_awake = keeps_awake
        self._sleepers: dict[int, _Sleeper] = {}

    def _sleeper(self, node_id: int) -> _Sleeper:
        sleeper = self._sleepers.get(node_id)
        if sleeper is None:
            sleeper = self._sleepers[node_id] = _Sleeper()
        return sleeper

    def is_awake(self, node_id: int) -> bool:
        """True between the node's wake-up and our No More Information."""
        return self._sleeper(node_id).awake.is_set()

    def idle(self, node_id: int) -> bool:
        """True if no command waits for or uses the node."""
        return self._sleeper(node_id).pending <= 0

    def mark_awake(self, node_id: int) -> None:
        """The node can hear us now (it just joined or woke up)."""
        self._sleeper(node_id).awake.set()

    def forget(self, node_id: int) -> None:
        """The node left the network."""
        self._sleepers.pop(node_id, None)

    @asynccontextmanager
    async def holding(self, node_id: int, device: str) -> AsyncIterator[None]:
        """Wait until the node is awake and keep it awake for the block."""
        sleeper = self._sleeper(node_id)
        sleeper.pending += 1
        try:
            if not sleeper.awake.is_set():
                log.info("zwave: node %d is asleep; %s waits for its wake-up", node_id, device)
                await sleeper.awake.wait()
            yield
        finally:
            sleeper.pending -= 1
            if sleeper.pending <= 0 and sleeper.awake.is_set() and not self._keeps_awake(node_id):
                self._tasks.spawn(self.back_to_sleep(node_id), f"no more information node {node_id}")

    def woke_up(self, node_id: int, *, release: bool = True) -> None:
        """The node woke up: release waiting commands; with none and `release`, send it back to sleep."""
        log.info("zwave: node %d woke up", node_id)
        sleeper = self._sleeper(node_id)
        sleeper.awake.set()
        if release and sleeper.pending <= 0:
            self._tasks.spawn(self.back_to_sleep(node_id), f"no more information node {node_id}")

    async def back_to_sleep(self, node_id: int) -> None:
        """Send No More Information unless a command still needs the node."""
        sleeper = self._sleeper(node_id)
        await asyncio.sleep(0)  # let commands released by the wake-up enqueue first
        if sleeper.pending > 0 or not sleeper.awake.is_set():
            return
        sleeper.awake.clear()
        try:
            await self._send(node_id, WakeUpNoMoreInformation())
        except RadioUnavailable as exc:
            log.info("zwave: node %d: could not send No More Information: %s", node_id, exc)
