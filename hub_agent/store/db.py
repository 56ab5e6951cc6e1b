"""The SQLite store: one file in WAL mode, one writer thread that batches writes into transactions.

Rules of this file: the event loop never waits on the disk. `submit()` queues a write and returns at
once; the writer thread runs every queued write in one transaction (each in its own SAVEPOINT, so one
failing write does not undo the others), commits with `synchronous=FULL`, and only then resolves the
futures. So a write whose future has resolved is durable: that is what "acknowledged" means here.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from hub_agent.store.schema import migrate
from hub_core.errors import StoreError

log = logging.getLogger(__name__)
T = TypeVar("T")
Operation = Callable[[sqlite3.Connection], T]

#: How many queued writes one transaction takes at most; bounds the latency of the first.
MAX_BATCH = 500


@dataclass(slots=True)
class _Job:
    operation: Callable[[sqlite3.Connection], Any]
    future: asyncio.Future[Any] | None
    loop: asyncio.AbstractEventLoop | None
    write: bool


_STOP = object()


def connect(path: Path) -> sqlite3.Connection:
    """Open the store file with the pragmas every connection needs, migrated to the newest schema."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Tokens' hashes and device history live here: owner-only from the first byte. SQLite gives the
    # -wal and -shm files the same mode as the main file.
    path.touch(mode=0o600, exist_ok=True)
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")  # a commit survives power loss, not only a crash
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=5000")
        migrate(conn)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot open store {path}: {exc}") from exc
    return conn


class Database:
    """The store file and the thread that owns its connection."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = connect(path)
        self._jobs: queue.SimpleQueue[_Job | object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="hub-store", daemon=True)
        self._closed = False
        self.commits = 0
        self.failed_writes = 0
        self._thread.start()

    # --- API for the event loop ---------------------------------------------------------------

    def submit(self, operation: Operation[T]) -> asyncio.Future[T]:
        """Queue a write; the future resolves once it is committed (durable) or fails with its error."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._put(_Job(operation, future, loop, write=True))
        return future

    def submit_nowait(self, operation: Operation[Any]) -> None:
        """Queue a write nobody waits for (e.g. the last-known-state cache); failures are logged."""
        self._put(_Job(operation, None, None, write=True))

    async def write(self, operation: Operation[T]) -> T:
        """Run a write and wait until it is durable."""
        return await self.submit(operation)

    async def read(self, operation: Operation[T]) -> T:
        """Run a read on the store thread (after every write queued before it)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._put(_Job(operation, future, loop, write=False))
        return await future

    def read_now(self, operation: Operation[T]) -> T:
        """Run a read from the calling thread; only for start-up, before writes begin."""
        return operation(self._conn)

    async def close(self) -> None:
        """Finish every queued write, then close the file."""
        if self._closed:
            return
        self._closed = True
        self._jobs.put(_STOP)
        await asyncio.get_running_loop().run_in_executor(None, self._thread.join)
        self._conn.close()

    def close_now(self) -> None:
        """Synchronous `close` for code without an event loop."""
        if not self._closed:
            self._closed = True
            self._jobs.put(_STOP)
            self._thread.join()
            self._conn.close()

    def _put(self, job: _Job) -> None:
        if self._closed:
            raise StoreError("the store is closed")
        self._jobs.put(job)

    # --- the writer thread --------------------------------------------------------------------

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._jobs.get()
            if first is _STOP:
                break
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is _STOP:
                    stopping = True
                    break
                batch.append(job)
            self._run_batch([j for j in batch if isinstance(j, _Job)])

    def _run_batch(self, batch: list[_Job]) -> None:
        outcomes: list[tuple[_Job, bool, Any]] = []
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job in batch:
                if not job.write:
                    outcomes.append(_call(conn, job))
                    continue
                conn.execute("SAVEPOINT job")
                outcome = _call(conn, job)
                if not outcome[1]:
                    conn.execute("ROLLBACK TO job")  # undo this job's partial work only
                    self.failed_writes += 1
                conn.execute("RELEASE job")
                outcomes.append(outcome)
            conn.execute("COMMIT")
            self.commits += 1
        except sqlite3.Error as exc:
            # The whole transaction is lost (disk full, I/O error): every job in it failed.
            log.error("store commit failed: %s", exc)
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            error = StoreError(f"store write failed: {exc}")
            outcomes = [(job, False, error) for job in batch]
        for job, ok, value in outcomes:
            if job.future is None:
                if not ok:
                    log.error("store write %r failed: %s", job.operation, value)
                continue
            assert job.loop is not None
            job.loop.call_soon_threadsafe(_settle, job.future, ok, value)


def _call(conn: sqlite3.Connection, job: _Job) -> tuple[_Job, bool, Any]:
    try:
        return job, True, job.operation(conn)
    except Exception as exc:
        return job, False, exc if isinstance(exc, StoreError) else StoreError(str(exc))


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)
