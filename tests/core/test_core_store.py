"""The SQLite store: WAL, migrations, batched durable writes, failures isolated, SIGKILL-safe."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from hub_agent.store import Database
from hub_agent.store.devices import load_devices, remove_device, save_device, save_state
from hub_agent.store.schema import MIGRATIONS, migrate
from hub_agent.store.settings import get_setting, put_setting
from hub_core.errors import StoreError
from hub_core.model import Device, DeviceId, Protocol


async def test_a_new_store_is_wal_and_fully_migrated(tmp_path: Path) -> None:
    db = Database(tmp_path / "hub.sqlite3")
    try:
        mode = await db.read(lambda c: c.execute("PRAGMA journal_mode").fetchone()[0])
        version = await db.read(lambda c: c.execute("PRAGMA user_version").fetchone()[0])
        assert (mode, version) == ("wal", len(MIGRATIONS))
        await db.write(put_setting("k", 1))
        for name in ("hub.sqlite3", "hub.sqlite3-wal"):
            assert (tmp_path / name).stat().st_mode & 0o777 == 0o600, name
    finally:
        await db.close()


def test_a_store_from_a_newer_agent_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "hub.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer than this agent knows"):
        Database(path)


def test_migrating_twice_changes_nothing(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "x.sqlite3", isolation_level=None)
    assert migrate(conn) == migrate(conn) == len(MIGRATIONS)
    conn.close()


def test_a_corrupt_file_is_a_clear_store_error(tmp_path: Path) -> None:
    path = tmp_path / "hub.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match=f"cannot open store {path}"):
        Database(path)


async def test_devices_and_state_round_trip(tmp_path: Path) -> None:
    db = Database(tmp_path / "hub.sqlite3")
    device = Device(DeviceId("zwave-3"), Protocol.ZWAVE, "Dimmer", "Acme", "D1", True, ("switch", "level"))
    await db.write(save_device(device))
    await db.write(save_state(device.id, "level", 40, 1.0))
    await db.write(save_state(device.id, "switch", "on", 1.0))
    await db.write(put_setting("zwave.home_id", {"home": 0xCAFE}))
    assert await db.read(load_devices) == [
        Device(
            device.id,
            device.protocol,
            "Dimmer",
            "Acme",
            "D1",
            True,
            ("switch", "level"),
            {"level": 40, "switch": "on"},
        )
    ]
    assert await db.read(lambda c: get_setting(c, "zwave.home_id")) == {"home": 0xCAFE}
    await db.write(remove_device(device.id))
    assert await db.read(load_devices) == []
    await db.close()


async def test_many_writes_share_few_commits(tmp_path: Path) -> None:
    db = Database(tmp_path / "hub.sqlite3")
    await asyncio.gather(*(db.write(put_setting(f"k{n}", n)) for n in range(300)))
    assert db.commits < 300
    assert await db.read(lambda c: c.execute("SELECT count(*) FROM kv").fetchone()[0]) == 300
    await db.close()


async def test_a_failing_write_fails_alone(tmp_path: Path) -> None:
    db = Database(tmp_path / "hub.sqlite3")

    def bad(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO kv (key, value) VALUES ('half', '1')")
        conn.execute("INSERT INTO no_such_table VALUES (1)")

    results = await asyncio.gather(
        db.write(put_setting("before", 1)),
        db.write(bad),
        db.write(put_setting("after", 2)),
        return_exceptions=True,
    )
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], StoreError) and "no_such_table" in str(results[1])
    keys = await db.read(lambda c: [r[0] for r in c.execute("SELECT key FROM kv ORDER BY key")])
    assert keys == ["after", "before"]  # the failed write's first half was rolled back too
    assert db.failed_writes == 1
    await db.close()


async def test_close_flushes_fire_and_forget_writes(tmp_path: Path) -> None:
    path = tmp_path / "hub.sqlite3"
    db = Database(path)
    for n in range(100):
        db.submit_nowait(put_setting(f"k{n}", n))
    await db.close()
    with pytest.raises(StoreError, match="closed"):
        db.submit_nowait(put_setting("late", 1))
    reopened = Database(path)
    assert reopened.read_now(lambda c: c.execute("SELECT count(*) FROM kv").fetchone()[0]) == 100
    reopened.close_now()


@pytest.mark.slow
@pytest.mark.parametrize("round_", range(3))
def test_sigkill_under_write_load_loses_nothing_acknowledged(tmp_path: Path, round_: int) -> None:
    """Kill the writer with SIGKILL mid-stream: every acked write is there and the file is sound."""
    path = tmp_path / "hub.sqlite3"
    acked: set[int] = set()
    for kill in range(2):  # kill, restart on the same file, kill again
        writer = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("store_load_writer.py")), str(path)],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
        )
        assert writer.stdout is not None
        target = 400 + 300 * round_ + 200 * kill
        for count, line in enumerate(writer.stdout, start=1):
            acked.add(int(line.split()[1]))
            if count >= target:
                break
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(timeout=10)
        writer.stdout.close()
        assert writer.returncode == -signal.SIGKILL
        conn = sqlite3.connect(path)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {row[0] for row in conn.execute("SELECT seq FROM outbox")}
        conn.close()
        missing = acked - stored
        assert not missing, f"{len(missing)} acknowledged writes lost, e.g. {sorted(missing)[:5]}"
    assert len(acked) >= 1000
