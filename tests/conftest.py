"""Hygiene for every test: no asyncio task or thread may outlive the test that started it.

A test that leaves work behind fails here, naming what it left, because leaked tasks and timers are
how flaky suites and "works on my machine" hubs begin.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import AsyncIterator, Iterator

import pytest

#: Threads that libraries start once per process and keep on purpose.
_ALLOWED_THREAD_PREFIXES = ("asyncio_", "ThreadPoolExecutor", "pydevd", "Dummy-", "zeroconf")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give every coroutine test the task check (sync tests have no loop to check)."""
    for item in items:
        if isinstance(item, pytest.Function) and inspect.iscoroutinefunction(item.obj):
            # First in line: set up before, and torn down after, the test's own async fixtures,
            # so a radio a fixture stops at teardown is not mistaken for a leak.
            item.fixturenames.insert(0, "_no_lingering_tasks")


@pytest.fixture
async def _no_lingering_tasks() -> AsyncIterator[None]:
    """Fail an async test that leaves asyncio tasks running when it ends."""
    before = asyncio.all_tasks()
    yield
    current = asyncio.current_task()
    lingering = [t for t in asyncio.all_tasks() - before if t is not current and not t.done()]
    if lingering:
        # Give tasks that are finishing their cancellation one loop turn before judging them.
        await asyncio.sleep(0)
        lingering = [t for t in lingering if not t.done()]
    for task in lingering:
        task.cancel()
    if lingering:
        names = ", ".join(sorted(repr(t.get_coro()) for t in lingering))
        pytest.fail(f"test left {len(lingering)} asyncio task(s) running: {names}")


@pytest.fixture(autouse=True)
def _no_lingering_threads() -> Iterator[None]:
    """Fail a test that leaves non-daemon threads (or our store threads) running."""
    before = set(threading.enumerate())
    yield
    left = [
        t
        for t in set(threading.enumerate()) - before
        if t.is_alive() and not t.name.startswith(_ALLOWED_THREAD_PREFIXES)
    ]
    for thread in left:
        thread.join(timeout=2)
    left = [t for t in left if t.is_alive()]
    if left:
        pytest.fail(f"test left thread(s) running: {', '.join(t.name for t in left)}")
