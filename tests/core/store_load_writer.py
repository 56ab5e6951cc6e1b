"""A process that writes to the store under load and prints `ack N` once write N is durable.

Run by test_core_store_sigkill.py, which kills it with SIGKILL mid-stream and checks the file.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from pathlib import Path

from hub_agent.store import Database


def append(seq: int) -> object:
    def write(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO outbox (seq, kind, event, ts) VALUES (?, 'state', ?, 0)", (seq, "x" * 200))
        conn.execute(
            "INSERT INTO device_state (device, attribute, value, ts) VALUES ('zwave-2', 'level', ?, 0) "
            "ON CONFLICT (device, attribute) DO UPDATE SET value = excluded.value",
            (str(seq),),
        )

    return write


async def main(path: Path) -> None:
    db = Database(path)
    seq = db.read_now(lambda conn: conn.execute("SELECT coalesce(max(seq), 0) FROM outbox").fetchone()[0])
    writers = 32  # many writes in flight, so kills land mid-batch

    async def writer(start: int) -> None:
        n = start
        while True:
            await db.write(append(n))  # type: ignore[arg-type]
            sys.stdout.write(f"ack {n}\n")
            sys.stdout.flush()
            n += writers

    await asyncio.gather(*(writer(seq + 1 + i) for i in range(writers)))


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
