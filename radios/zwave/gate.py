"""The asyncio side of the link scheduler: callers wait here for their turn on the Serial API link.

Rules of this file: the order is `scheduler.LinkScheduler`'s, never decided here. One job holds the
link at a time; when it ends (result, error or cancellation) the next is popped. A caller whose job
was coalesced into a newer one or merged into a queued duplicate does not send anything: it gets the
outcome of the job that ran for it. A caller that gives up while queued leaves the queue (a job that
stood for others hands that over to the first of them).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from hub_core.errors import RadioUnavailable
from radios.zwave.scheduler import Job, LinkScheduler, QueueFull

T = TypeVar("T")
_GO = object()


class Abandoned(RadioUnavailable):
    """The request that was to run for this one was cancelled by its own caller."""


class LinkGate:
    """Hands out turns on the link in the scheduler's order."""

    def __init__(self, scheduler: LinkScheduler | None = None) -> None:
        self.scheduler = scheduler or LinkScheduler()
        self._waiters: dict[Job, asyncio.Future[Any]] = {}
        self._holder: Job | None = None

    @property
    def holder(self) -> Job | None:
        """The job holding the link now."""
        return self._holder

    async def run(self, job: Job, work: Callable[[], Awaitable[T]]) -> T:
        """Wait for `job`'s turn and run `work`; or return the outcome of the job that ran for it."""
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        try:
            self.scheduler.push(job)
        except QueueFull as exc:
            raise RadioUnavailable(f"the Z-Wave link is saturated: {exc}") from None
        self._waiters[job] = waiter
        self._next()
        try:
            outcome = await waiter
        except asyncio.CancelledError:
            self._give_up(job, waiter)
            raise
        if outcome is not _GO:
            return cast(T, outcome)
        try:
            result = await work()
        except BaseException as exc:
            self._finish(job, None, exc)
            raise
        self._finish(job, result, None)
        return result

    def _next(self) -> None:
        while self._holder is None:
            job = self.scheduler.pop()
            if job is None:
                return
            waiter = self._waiters.pop(job, None)
            if waiter is None or waiter.done():
                continue  # its caller left meanwhile
            self._holder = job
            waiter.set_result(_GO)

    def _finish(self, job: Job, result: object, exc: BaseException | None) -> None:
        for other in job.absorbed:
            waiter = self._waiters.pop(other, None)
            if waiter is None or waiter.done():
                continue
            if exc is None:
                waiter.set_result(result)
            elif isinstance(exc, asyncio.CancelledError):
                waiter.set_exception(
                    Abandoned(f"{job.label or 'the request'} that stood for this one was abandoned")
                )
            else:
                waiter.set_exception(exc)
        job.absorbed.clear()
        if self._holder is job:
            self._holder = None
        self._next()

    def _give_up(self, job: Job, waiter: asyncio.Future[Any]) -> None:
        self._waiters.pop(job, None)
        if self.scheduler.cancel(job):
            if job.absorbed:
                # The others still want it: the first of them takes its place in line.
                heir, *rest = job.absorbed
                job.absorbed.clear()
                heir.absorbed.extend(rest)
                self.scheduler.push(heir)
        elif waiter.done() and not waiter.cancelled() and waiter.result() is _GO:
            self._finish(job, None, asyncio.CancelledError())  # it got the link, never used it
        elif self._holder is not job:
            # Absorbed into another job: drop it from that job's list, nobody needs its outcome.
            for queued in self.scheduler.queued():
                if job in queued.absorbed:
                    queued.absorbed.remove(job)
        self._next()
