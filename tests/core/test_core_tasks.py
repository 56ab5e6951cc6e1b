"""hub_core.tasks: owned tasks are bounded, their failures counted, and close() leaves nothing behind."""

from __future__ import annotations

import asyncio

import pytest

from hub_core.tasks import TaskGroup, TooManyTasks


async def test_close_cancels_every_running_task() -> None:
    group = TaskGroup("test")
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    task = group.spawn(forever(), "forever")
    await started.wait()
    await group.close()
    assert task.cancelled()
    assert len(group) == 0


async def test_a_failed_task_is_counted_and_forgotten(caplog: pytest.LogCaptureFixture) -> None:
    group = TaskGroup("test")

    async def boom() -> None:
        raise ValueError("bad byte")

    group.spawn(boom(), "boom")
    await group.settle()
    assert group.failed == 1
    assert len(group) == 0
    assert "test: boom failed: ValueError: bad byte" in caplog.text


async def test_spawn_beyond_the_limit_is_refused_and_the_coroutine_closed() -> None:
    group = TaskGroup("test", limit=1)
    gate = asyncio.Event()
    group.spawn(gate.wait(), "first")

    async def second() -> None:
        raise AssertionError("must never run")

    coro = second()
    with pytest.raises(TooManyTasks, match="1 tasks running, refusing second"):
        group.spawn(coro, "second")
    assert coro.cr_frame is None  # closed, so no "never awaited" warning
    gate.set()
    await group.settle()


async def test_settle_waits_for_tasks_spawned_meanwhile() -> None:
    group = TaskGroup("test")
    done: list[str] = []

    async def child() -> None:
        done.append("child")

    async def parent() -> None:
        group.spawn(child(), "child")
        done.append("parent")

    group.spawn(parent(), "parent")
    await group.settle()
    assert done == ["parent", "child"]
