"""Which Serial API request goes next on the one-at-a-time link: a pure, sans-I/O scheduler.

Rules of this file: no asyncio, no clock. Requests are `Job`s; `push` queues one (and may coalesce
or merge it), `pop` says which goes next. The order is (priority, arrival): nothing of lower priority
goes ahead of a queued higher one, and jobs of one priority leave in arrival order, so the jobs of
one node never overtake each other within a priority. The priorities (issue 16):

    CONTROLLER  start-up, recovery, inclusion, failed nodes: the stick itself
    USER        user and rule commands: the hot path
    REPLY       Supervision / S2 replies a node waits for
    WAKE_UP     a sleeping node's queue while it is awake
    VERIFY      the Get that confirms a Set nobody confirmed otherwise
    POLL        interview, refreshes, polling

Coalescing: a USER job with the `key` (device, property) of a queued, not yet started USER job
replaces it; the replaced job's caller gets the newer job's outcome. Merging: a VERIFY or POLL job
with the key of a queued job of the same kind is that job (one Get answers both). Background never
starves: a job passed over by `AGE_AFTER` pops moves up one priority, but never above USER.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable
from dataclasses import dataclass, field
from enum import IntEnum

#: Pops a queued job may be passed over before it moves up one priority (starvation-freedom).
AGE_AFTER = 16
#: Queued jobs at most (callers beyond it are refused: the link is hopelessly behind).
MAX_QUEUED = 1024


class Priority(IntEnum):
    """Lower goes first."""

    CONTROLLER = 0
    USER = 1
    REPLY = 2
    WAKE_UP = 3
    VERIFY = 4
    POLL = 5


class QueueFull(RuntimeError):
    """`push` refused a job: MAX_QUEUED jobs are waiting already."""


@dataclass(eq=False, slots=True)
class Job:
    """One request waiting for the link; `key` enables coalescing (USER) or merging (VERIFY, POLL)."""

    priority: Priority
    node_id: int | None = None
    key: Hashable | None = None
    label: str = ""
    seq: int = 0
    #: The priority it waits at now (raised by ageing).
    current: Priority = Priority.POLL
    passed: int = 0
    #: Jobs this one stands for (coalesced older USER jobs, merged VERIFY/POLL duplicates).
    absorbed: list[Job] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Pushed:
    """What `push` did: `job` runs (the pushed one, or the queued one it merged into)."""

    job: Job
    merged: bool = False
    superseded: Job | None = None


class LinkScheduler:
    """The queue of jobs waiting for the link."""

    def __init__(self, *, age_after: int = AGE_AFTER, max_queued: int = MAX_QUEUED) -> None:
        self.age_after = age_after
        self.max_queued = max_queued
        self._queued: list[Job] = []
        self._seq = itertools.count()
        self.coalesced = 0
        self.merged = 0

    def __len__(self) -> int:
        return len(self._queued)

    def queued(self) -> list[Job]:
        """The queued jobs in the order they would leave."""
        return sorted(self._queued, key=lambda j: (j.current, j.seq))

    def push(self, job: Job) -> Pushed:
        """Queue `job`; coalesce a USER job with a queued one of its key, merge VERIFY/POLL duplicates."""
        if job.key is not None:
            for queued in self._queued:
                if queued.key != job.key or queued.priority != job.priority:
                    continue
                if job.priority in (Priority.VERIFY, Priority.POLL):
                    queued.absorbed.append(job)
                    self.merged += 1
                    return Pushed(queued, merged=True)
                if job.priority is Priority.USER:
                    # The newer command replaces the older one; it keeps the older one's place in line
                    # (seq), so coalescing never delays what was asked first.
                    self._queued.remove(queued)
                    job.seq, job.current, job.passed = queued.seq, queued.current, queued.passed
                    job.absorbed.extend((queued, *queued.absorbed))
                    queued.absorbed.clear()
                    self._queued.append(job)
                    self.coalesced += 1
                    return Pushed(job, superseded=queued)
        if len(self._queued) >= self.max_queued:
            raise QueueFull(
                f"{len(self._queued)} Serial API requests queued; refusing {job.label or 'one more'}"
            )
        job.seq = next(self._seq)
        job.current = job.priority
        job.passed = 0
        self._queued.append(job)
        return Pushed(job)

    def cancel(self, job: Job) -> bool:
        """Drop a queued job (its caller gave up); False if it is not queued (running or done)."""
        if job in self._queued:
            self._queued.remove(job)
            return True
        return False

    def pop(self) -> Job | None:
        """The job that goes next (removed from the queue), or None if nothing waits."""
        if not self._queued:
            return None
        chosen = min(self._queued, key=lambda j: (j.current, j.seq))
        self._queued.remove(chosen)
        for job in self._queued:
            if job.seq < chosen.seq:  # overtaken by a later, more urgent job
                job.passed += 1
                if job.passed >= self.age_after and job.current > Priority.USER:
                    job.current = Priority(job.current - 1)
                    job.passed = 0
        return chosen
