"""The durable writer's promises at their edges (issue 19): pragmas, batch limit, whole-batch loss, close."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from hub_agent.store import Database
from hub_agent.store.db import MAX_BATCH
from hub_agent.store.settings import get_setting, put_setting
from hub_core.errors import StoreError


def _get(key: str) -> Callable[[sqlite3.Connection], object]:
    return lambda conn: get_setting(conn, key)


def _pragma(name: str) -> Callable[[sqlite3.Connection], object]:
    return lambda conn: conn.execute(f"PRAGMA {name}").fetchone()[0]


def _count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM kv").fetchone()[0])


class _Gate:
    """A write that holds the writer thread until released, so the next writes queue up behind it."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, conn: sqlite3.Connection) -> None:
        self.entered.set()
        self.release.wait(timeout=30)


async def _hold(db: Database) -> tuple[_Gate, asyncio.Future[None]]:
    gate = _Gate()
    held = db.submit(gate)
    await asyncio.get_running_loop().run_in_executor(None, gate.entered.wait, 30)
    return gate, held


def test_every_connection_is_durable_and_waits_for_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "hub.sqlite3"
    db = Database(path)
    try:
        pragmas = {
            name: db.read_now(_pragma(name))
            for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        }
    finally:
        db.close_now()
    assert pragmas == {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1, "busy_timeout": 5000}
    assert path.stat().st_mode & 0o777 == 0o600
    # WAL is a property of the file: a plain connection sees it too.
    plain = sqlite3.connect(path)
    assert plain.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    plain.close()


async def test_one_transaction_takes_at_most_max_batch_writes(tmp_path: Path) -> None:
    db = Database(tmp_path / "hub.sqlite3")
    try:
        gate, held = await _hold(db)
        before = db.commits
        assert MAX_BATCH == 500
        writes = [db.submit(put_setting(f"k{n}", n)) for n in range(1001)]
        gate.release.set()
        await asyncio.gather(held, *writes)
        # The gate's own transaction, then MAX_BATCH + MAX_BATCH + 1 writes.
        assert db.commits - before == 4
        assert await db.read(_count) == 1001
    finally:
        await db.close()


async def test_a_batch_whose_transaction_breaks_fails_every_write_in_it(tmp_path: Path) -> None:
    db = Database(tmp_path / "hub.sqlite3")
    try:
        gate, held = await _hold(db)

        def breaks_the_savepoint(conn: sqlite3.Connection) -> None:
            conn.execute("RELEASE job")  # the writer's own RELEASE then fails: the batch is lost

        first = db.submit(put_setting("first", 1))
        breaker = db.submit(breaks_the_savepoint)
        gate.release.set()
        await held
        results = await asyncio.gather(first, breaker, return_exceptions=True)
        for result in results:
            assert isinstance(result, StoreError) and "store write failed" in str(result), result
        # Nothing of the lost transaction is there, and the store still works.
        assert await db.read(_get("first")) is None
        await db.write(put_setting("later", 2))
        assert await db.read(_get("later")) == 2
    finally:
        await db.close()


async def test_a_failed_fire_and_forget_write_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = Database(tmp_path / "hub.sqlite3")

    def bad(conn: sqlite3.Connection) -> None:
        raise ValueError("no room for this")

    with caplog.at_level(logging.ERROR, logger="hub_agent.store.db"):
        db.submit_nowait(bad)
        db.submit_nowait(put_setting("fine", 1))
        await db.close()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "no room for this" in errors[0], errors
    reopened = Database(tmp_path / "hub.sqlite3")
    assert reopened.read_now(_get("fine")) == 1
    reopened.close_now()


async def test_a_write_keeps_a_store_error_and_wraps_any_other(tmp_path: Path) -> None:
    db = Database(tmp_path / "hub.sqlite3")
    mine = StoreError("the disk said no")

    def raises_store_error(conn: sqlite3.Connection) -> None:
        raise mine

    def raises_other(conn: sqlite3.Connection) -> None:
        raise KeyError("missing")

    try:
        with pytest.raises(StoreError) as kept:
            await db.write(raises_store_error)
        assert kept.value is mine
        with pytest.raises(StoreError, match="missing"):
            await db.write(raises_other)
        assert db.failed_writes == 2
        assert await db.write(lambda c: 41 + 1) == 42
    finally:
        await db.close()


async def test_a_cancelled_waiter_does_not_undo_or_break_the_write(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = Database(tmp_path / "hub.sqlite3")
    try:
        gate, held = await _hold(db)
        abandoned = db.submit(put_setting("kept", 7))
        abandoned.cancel()
        gate.release.set()
        await held
        with caplog.at_level(logging.ERROR):
            assert await db.read(_get("kept")) == 7
            await asyncio.sleep(0)  # let any callback scheduled with the result run
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    finally:
        await db.close()


async def test_closing_twice_is_harmless_and_writes_after_close_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "hub.sqlite3"
    db = Database(path)
    await db.write(put_setting("a", 1))
    await db.close()
    await db.close()
    db.close_now()
    with pytest.raises(StoreError, match="closed"):
        db.submit(put_setting("late", 1))
    with pytest.raises(StoreError, match="closed"):
        await db.read(_get("a"))
    sync = Database(path)
    sync.submit_nowait(put_setting("b", 2))
    sync.close_now()
    sync.close_now()
    with pytest.raises(StoreError, match="closed"):
        sync.submit_nowait(put_setting("late", 1))
    again = Database(path)
    assert (again.read_now(_get("a")), again.read_now(_get("b"))) == (1, 2)
    again.close_now()


async def test_a_stop_behind_queued_writes_still_commits_them(tmp_path: Path) -> None:
    path = tmp_path / "hub.sqlite3"
    db = Database(path)
    gate, held = await _hold(db)
    for n in range(10):
        db.submit_nowait(put_setting(f"k{n}", n))
    closing = asyncio.ensure_future(db.close())
    await asyncio.sleep(0)  # close() has queued its stop behind the ten writes
    gate.release.set()
    await held
    await closing
    reopened = Database(path)
    assert reopened.read_now(_count) == 10
    reopened.close_now()


async def test_a_store_in_a_new_folder_with_its_path_a_daemon_thread_and_reads_that_fail_alone(
    tmp_path: Path,
) -> None:
    path = tmp_path / "new" / "nested" / "hub.sqlite3"
    db = Database(path)
    try:
        assert db.path == path and path.exists()
        (thread,) = [t for t in threading.enumerate() if t.name == "hub-store"]
        assert thread.daemon  # a store left open never keeps the process from exiting

        def bad_read(conn: sqlite3.Connection) -> None:
            raise ValueError("no such thing")

        with pytest.raises(StoreError, match="no such thing"):
            await db.read(bad_read)
        assert db.failed_writes == 0  # a read is not a write
    finally:
        await db.close()
    with pytest.raises(sqlite3.ProgrammingError):
        db.read_now(_count)  # the file is closed


def test_close_now_closes_the_file(tmp_path: Path) -> None:
    db = Database(tmp_path / "hub.sqlite3")
    db.close_now()
    with pytest.raises(sqlite3.ProgrammingError):
        db.read_now(_count)
