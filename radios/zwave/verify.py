"""Confirming a Set without extra traffic where possible (issue 16, item 2).

Rules of this file: a Set the node confirmed through Supervision needs no Get (its implied report is
the new state). Otherwise the node usually reports by itself (lifeline): we wait `delay` for a report
that answers the confirming Get, and only if none comes send the Get, at VERIFY priority, so it never
goes ahead of a queued user or rule command. A Multilevel Switch Set with a duration is verified after
the transition. One pending verification per (node, end point, Get): duplicates are dropped here and
Gets already waiting for the link merge in the scheduler.
"""

from __future__ import annotations

import asyncio
import logging

from hub_core.errors import RadioUnavailable
from hub_core.tasks import TaskGroup
from radios.zwave.cc import CCCommand
from radios.zwave.link import NodeLink
from radios.zwave.scheduler import Priority

log = logging.getLogger(__name__)

#: How long a Set waits for the node's own report before we ask (seconds). A node on the lifeline
#: reports within tens of milliseconds of its ACK, a routed one within a few hundred.
VERIFY_DELAY = 0.5


class Verifier:
    """Background confirmation of Sets; counts Gets sent and Gets saved."""

    def __init__(self, link: NodeLink, tasks: TaskGroup, delay: float = VERIFY_DELAY) -> None:
        self._link = link
        self._tasks = tasks
        self.delay = delay
        self.gets_sent = 0
        self.gets_saved = 0
        self._pending: set[tuple[int, int, bytes]] = set()

    def confirmed(self, gets: list[CCCommand]) -> None:
        """The Sets were confirmed otherwise (Supervision): these Gets are not needed."""
        self.gets_saved += len(gets)

    def schedule(self, node_id: int, endpoint: int, gets: list[CCCommand], transition: float = 0.0) -> None:
        """Verify each Get's state after `transition` seconds plus the report delay."""
        for get in gets:
            key = (node_id, endpoint, get.to_bytes())
            if key in self._pending:
                self.gets_saved += 1  # one verification answers both Sets
                continue
            self._pending.add(key)
            self._tasks.spawn(self._verify(key, get, transition + self.delay), f"verify node {node_id}")

    async def _verify(self, key: tuple[int, int, bytes], get: CCCommand, after: float) -> None:
        node_id, endpoint, _ = key
        try:
            future = self._link.correlator.expect_report(node_id, endpoint, get)
            try:
                async with asyncio.timeout(after):
                    await future
                self.gets_saved += 1  # the node reported by itself
                return
            except TimeoutError:
                pass
            finally:
                self._link.correlator.forget(future)
            self.gets_sent += 1
            await self._link.query(node_id, get, endpoint, Priority.VERIFY)
        except RadioUnavailable as exc:
            log.info("zwave: could not verify %r on node %d: %s", get, node_id, exc)
        finally:
            self._pending.discard(key)
