"""The link scheduler (radios/zwave/scheduler.py) as a pure unit: priority order, per-node order,
coalescing, merging and starvation-freedom, as hypothesis properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from radios.zwave.scheduler import MAX_QUEUED, Job, LinkScheduler, Priority, QueueFull

_priorities = st.sampled_from(list(Priority))
_jobs = st.lists(st.tuples(_priorities, st.integers(2, 6)), min_size=1, max_size=40)


def _drain(scheduler: LinkScheduler) -> list[Job]:
    out = []
    while (job := scheduler.pop()) is not None:
        out.append(job)
    return out


@given(_jobs)
def test_without_ageing_jobs_leave_by_priority_then_arrival(specs: list[tuple[Priority, int]]) -> None:
    scheduler = LinkScheduler(age_after=10**9)
    jobs = [scheduler.push(Job(p, node)).job for p, node in specs]
    out = _drain(scheduler)
    assert sorted(out, key=lambda j: (j.priority, jobs.index(j))) == out
    assert len(out) == len(jobs)


@given(_jobs, st.integers(1, 8))
def test_one_nodes_jobs_of_one_priority_never_overtake_each_other(
    specs: list[tuple[Priority, int]], age: int
) -> None:
    scheduler = LinkScheduler(age_after=age)
    jobs = [scheduler.push(Job(p, node)).job for p, node in specs]
    out = _drain(scheduler)
    for priority in Priority:
        for node in range(2, 7):
            mine = [j for j in jobs if j.priority is priority and j.node_id == node]
            assert [j for j in out if j in mine] == mine


@given(st.lists(st.tuples(st.booleans(), _priorities), max_size=60))
def test_interleaved_pushes_and_pops_never_pop_behind_a_more_urgent_queued_job(
    ops: list[tuple[bool, Priority]],
) -> None:
    scheduler = LinkScheduler(age_after=10**9)
    for push, priority in ops:
        if push:
            scheduler.push(Job(priority))
            continue
        waiting = [j.priority for j in scheduler.queued()]
        job = scheduler.pop()
        if job is not None:
            assert all(job.priority <= p for p in waiting)


@given(st.integers(1, 20), st.integers(0, 5))
def test_a_newer_user_command_to_the_same_property_replaces_the_queued_one(n: int, others: int) -> None:
    scheduler = LinkScheduler()
    first = scheduler.push(Job(Priority.USER, 3, key=("zwave-3", "level"))).job
    for i in range(others):
        scheduler.push(Job(Priority.USER, 4, key=(f"zwave-{4 + i}", "level")))
    last = first
    for _ in range(n):
        pushed = scheduler.push(Job(Priority.USER, 3, key=("zwave-3", "level")))
        assert pushed.superseded is last
        last = pushed.job
    out = _drain(scheduler)
    mine = [j for j in out if j.node_id == 3]
    assert mine == [last] and out[0] is last  # the newest, in the oldest one's place
    assert len(last.absorbed) == n  # every replaced caller gets this job's outcome
    assert scheduler.coalesced == n


def test_different_properties_of_one_device_are_not_coalesced() -> None:
    scheduler = LinkScheduler()
    scheduler.push(Job(Priority.USER, 3, key=("zwave-3", "level")))
    scheduler.push(Job(Priority.USER, 3, key=("zwave-3", "switch")))
    assert len(scheduler) == 2


@given(st.sampled_from([Priority.VERIFY, Priority.POLL]), st.integers(1, 10))
def test_duplicate_verify_and_poll_requests_merge(priority: Priority, n: int) -> None:
    scheduler = LinkScheduler()
    first = scheduler.push(Job(priority, 3, key=(3, 0, b"\x26\x02"))).job
    for _ in range(n):
        pushed = scheduler.push(Job(priority, 3, key=(3, 0, b"\x26\x02")))
        assert pushed.merged and pushed.job is first
    assert _drain(scheduler) == [first] and len(first.absorbed) == n


def test_a_started_job_is_not_coalesced_into() -> None:
    scheduler = LinkScheduler()
    running = scheduler.push(Job(Priority.USER, 3, key="k")).job
    assert scheduler.pop() is running
    newer = scheduler.push(Job(Priority.USER, 3, key="k"))
    assert newer.superseded is None and newer.job is not running


@settings(max_examples=50)
@given(
    st.integers(1, 12), st.sampled_from([Priority.REPLY, Priority.WAKE_UP, Priority.VERIFY, Priority.POLL])
)
def test_background_work_is_never_starved_by_a_stream_of_user_commands(age: int, priority: Priority) -> None:
    scheduler = LinkScheduler(age_after=age)
    background = scheduler.push(Job(priority, 9)).job
    scheduler.push(Job(Priority.USER, 2))
    bound = (priority - Priority.USER) * age + 2
    for _ in range(bound):
        scheduler.push(Job(Priority.USER, 2))  # a new user command arrives before every pop
        if scheduler.pop() is background:
            return
    pytest.fail(f"{priority.name} job still waiting after {bound} pops")


def test_controller_work_stays_ahead_of_aged_background_work() -> None:
    scheduler = LinkScheduler(age_after=1)
    poll = scheduler.push(Job(Priority.POLL)).job
    for _ in range(10):
        scheduler.push(Job(Priority.USER))
        scheduler.pop()
    controller = scheduler.push(Job(Priority.CONTROLLER)).job
    assert poll.current is Priority.USER
    assert scheduler.pop() is controller


def test_the_queue_is_bounded_and_cancel_drops_a_waiting_job() -> None:
    scheduler = LinkScheduler(max_queued=3)
    jobs = [scheduler.push(Job(Priority.POLL)).job for _ in range(3)]
    with pytest.raises(QueueFull, match="3 Serial API requests queued"):
        scheduler.push(Job(Priority.USER))
    assert scheduler.cancel(jobs[1]) and not scheduler.cancel(jobs[1])
    assert _drain(scheduler) == [jobs[0], jobs[2]]
    assert MAX_QUEUED >= 256
