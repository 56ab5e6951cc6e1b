"""The outbox's promises at their edges (issue 19): restart read-back of every counter, the seq ceiling,
a failed write is never offered, waiters wake exactly when the store is durable, default page sizes."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import sqlite3
import threading
from pathlib import Path

import pytest

from hub_agent.cloud.outbox import MAX_SEQ, STATE_KEY, Outbox, OutboxRow, kind_of
from hub_agent.store import Database
from hub_agent.store.settings import get_setting, put_setting
from hub_core.errors import StoreError
from hub_core.model import ButtonPressed, DeviceId, StateChanged


def switch(n: int) -> StateChanged:
    return StateChanged(DeviceId(f"zwave-{n}"), "switch", "on", ts=1000.0)


def power(n: int, value: float = 1.0) -> StateChanged:
    return StateChanged(DeviceId(f"zwave-{n}"), "power", value, ts=1000.0)


async def open_outbox(path: Path, limit: int = 1000) -> Outbox:
    outbox = Outbox(Database(path), limit)
    await outbox.load()
    return outbox


def saved_state(path: Path) -> dict[str, object]:
    """The persisted counters, read on a separate connection (what a crash would leave)."""
    conn = sqlite3.connect(path)
    try:
        value = get_setting(conn, STATE_KEY)
    finally:
        conn.close()
    assert isinstance(value, dict)
    return value


class Gate:
    """A store write that holds the writer thread until released."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, conn: sqlite3.Connection) -> None:
        self.entered.set()
        self.release.wait(timeout=30)

    async def hold(self, db: Database) -> asyncio.Future[None]:
        held = db.submit(self)
        await asyncio.get_running_loop().run_in_executor(None, self.entered.wait, 30)
        return held


def test_telemetry_kinds_are_per_device_and_attribute() -> None:
    assert kind_of(power(3), power(3).to_json()) == "t:zwave-3/power"
    assert kind_of(switch(3), switch(3).to_json()) == "state"
    button = ButtonPressed(DeviceId("zwave-3"), 1, "pressed", ts=1.0)
    assert kind_of(button, button.to_json()) == button.to_json()["type"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        OutboxRow(1, "{}").seq = 2  # type: ignore[misc]


async def test_a_fresh_outbox_starts_at_seq_one_with_nothing_owed(tmp_path: Path) -> None:
    db = Database(tmp_path / "hub.sqlite3")
    outbox = Outbox(db, 100)
    assert outbox.last_seq == 0
    with pytest.raises(RuntimeError, match="load"):
        outbox.add([switch(1)])
    await outbox.load()
    assert (outbox.last_seq, outbox.acked_seq, outbox.count) == (0, 0, 0)
    assert (outbox.dropped, outbox.coalesced, outbox.snapshot_needed) == (0, 0, False)
    await outbox.add([switch(1)])
    assert (outbox.last_seq, outbox.count) == (1, 1)
    outbox.ack(1)
    await asyncio.wait_for(outbox.wait_acked(1), 10)
    assert outbox.count == 0 and await outbox.read_after(0) == []
    await db.close()


async def test_every_counter_survives_a_restart_after_shedding(tmp_path: Path) -> None:
    path = tmp_path / "hub.sqlite3"
    outbox = await open_outbox(path, limit=10)
    # 5 readings of one meter coalesce to 1; then 10 state changes push past the cap: drops follow.
    await outbox.add([power(1, float(v)) for v in range(5)])
    assert (outbox.count, outbox.coalesced) == (5, 0)
    await outbox.add([switch(n) for n in range(10)])
    assert outbox.coalesced == 4 and outbox.dropped == 2 and outbox.snapshot_needed
    assert outbox.count == 9 == len(await outbox.read_after(0))
    state = saved_state(path)
    assert state == {
        "floor": 6,
        "acked": 0,
        "dropped": 2,
        "coalesced": 4,
        "snapshot_needed": True,
    }
    await outbox.db.close()
    again = await open_outbox(path, limit=10)
    assert (again.count, again.coalesced, again.dropped, again.snapshot_needed) == (9, 4, 2, True)
    assert again.last_seq == 15
    await again.db.close()


async def test_acks_persist_and_a_welcome_is_an_ack(tmp_path: Path) -> None:
    path = tmp_path / "hub.sqlite3"
    outbox = await open_outbox(path)
    await outbox.add([switch(n) for n in range(4)])
    outbox.welcome(2)
    await asyncio.wait_for(outbox.wait_acked(2), 10)
    assert outbox.acked_seq == 2 and outbox.count == 2
    assert saved_state(path)["acked"] == 2 and saved_state(path)["floor"] == 2
    await outbox.db.close()
    again = await open_outbox(path)
    assert (again.acked_seq, again.count) == (2, 2)
    assert [r.seq for r in await again.read_after(0)] == [3, 4]
    await again.db.close()


async def test_an_acknowledgement_is_waited_for_until_durable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "hub.sqlite3"
    outbox = await open_outbox(path)
    await outbox.add([switch(1), switch(2)])
    gate = Gate()
    held = await gate.hold(outbox.db)
    with caplog.at_level(logging.ERROR):
        outbox.ack(2)
        waiter = asyncio.create_task(outbox.wait_acked(2))
        for _ in range(5):
            await asyncio.sleep(0)
        assert not waiter.done()  # the writer is held: the ack is not durable yet
        gate.release.set()
        await held
        await asyncio.wait_for(waiter, 10)
        assert saved_state(path)["acked"] == 2
        await asyncio.wait_for(outbox.wait_acked(2), 10)  # already covered: returns
        await asyncio.wait_for(outbox.wait_acked(1), 10)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    await outbox.db.close()


async def test_the_seq_ceiling_is_exact(tmp_path: Path) -> None:
    path = tmp_path / "hub.sqlite3"
    db = Database(path)
    await db.write(put_setting(STATE_KEY, {"floor": MAX_SEQ - 3}))
    await db.close()
    outbox = await open_outbox(path)
    assert outbox.last_seq == MAX_SEQ - 3
    await outbox.add([switch(1), switch(2)])  # seqs MAX_SEQ - 2 and MAX_SEQ - 1
    assert [r.seq for r in await outbox.read_after(0)] == [MAX_SEQ - 2, MAX_SEQ - 1]
    with pytest.raises(OverflowError, match="would pass"):
        outbox.add([switch(3)])
    assert outbox.last_seq == MAX_SEQ - 1
    await outbox.db.close()


async def test_a_write_that_fails_is_never_offered_and_later_events_flow(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    outbox = await open_outbox(tmp_path / "hub.sqlite3")
    await outbox.add([switch(1)])
    # Something else took seq 2's row: the next add's insert fails as a whole.
    await outbox.db.write(
        lambda c: c.execute("INSERT INTO outbox (seq, kind, event, ts) VALUES (2, 'x', '{}', 0)")
    )
    with caplog.at_level(logging.ERROR, logger="hub_agent.cloud.outbox"):
        with pytest.raises(StoreError):
            await outbox.add([switch(2), switch(3)])
        await asyncio.sleep(0)  # the done-callback runs
    assert any("could not be stored" in r.getMessage() for r in caplog.records)
    assert [r.seq for r in await outbox.read_after(0)] == [1]  # 2 exists on disk but was never committed
    assert outbox.count == 1
    await outbox.add([switch(4)])
    await asyncio.wait_for(outbox.wait_committed(4), 10)
    assert [r.seq for r in await outbox.read_after(0)] == [1, 2, 4]
    await outbox.db.close()


async def test_wait_committed_returns_once_the_rows_are_on_disk(tmp_path: Path) -> None:
    outbox = await open_outbox(tmp_path / "hub.sqlite3")
    gate = Gate()
    held = await gate.hold(outbox.db)
    adding = outbox.add([switch(1), switch(2)])
    waiter = asyncio.create_task(outbox.wait_committed(2))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not waiter.done()
    gate.release.set()
    await held
    await adding
    await asyncio.wait_for(waiter, 10)
    await asyncio.wait_for(outbox.wait_committed(1), 10)
    await outbox.db.close()


async def test_pages_default_to_five_hundred_rows(tmp_path: Path) -> None:
    outbox = await open_outbox(tmp_path / "hub.sqlite3", limit=10_000)
    await outbox.add([switch(n) for n in range(501)])
    page = await outbox.read_after(0)
    assert len(page) == 500 and page[0].seq == 1 and page[-1].seq == 500
    assert json.loads(page[0].event) == switch(0).to_json()
    waited = await outbox.next_rows(0)
    assert len(waited) == 500
    assert [r.seq for r in await outbox.next_rows(500)] == [501]
    await outbox.db.close()


async def test_an_idle_waiter_does_not_poll_the_store(tmp_path: Path) -> None:
    outbox = await open_outbox(tmp_path / "hub.sqlite3")
    await outbox.add([switch(1)])
    before = outbox.db.commits
    waiter = asyncio.create_task(outbox.next_rows(1))
    for _ in range(5):
        await asyncio.sleep(0)
    for _ in range(3):  # three round trips of our own through the writer thread
        await outbox.db.read(lambda c: None)
    assert outbox.db.commits - before == 3  # and no read of the waiter's
    assert not waiter.done()
    await outbox.add([switch(2)])
    assert [r.seq for r in await asyncio.wait_for(waiter, 10)] == [2]
    await outbox.db.close()


async def test_a_snapshot_debt_is_durable_at_once(tmp_path: Path) -> None:
    path = tmp_path / "hub.sqlite3"
    outbox = await open_outbox(path)
    outbox.need_snapshot()
    assert outbox.snapshot_needed
    await outbox.db.close()
    assert saved_state(path)["snapshot_needed"] is True
    again = await open_outbox(path)
    assert again.snapshot_needed
    again.snapshot_sent()
    assert not again.snapshot_needed
    await again.db.close()
    assert saved_state(path)["snapshot_needed"] is False


async def test_acks_arriving_while_one_is_written_are_merged_into_one_more_write(tmp_path: Path) -> None:
    path = tmp_path / "hub.sqlite3"
    outbox = await open_outbox(path)
    await outbox.add([switch(n) for n in range(5)])
    gate = Gate()
    held = await gate.hold(outbox.db)
    outbox.ack(1)  # its write queues behind the gate
    for seq in (2, 3, 4):
        outbox.ack(seq)  # merged: no write of their own
    outbox.ack(3)  # stale: nothing
    before = outbox.db.commits
    gate.release.set()
    await held
    await asyncio.wait_for(outbox.wait_acked(4), 10)
    await outbox.db.read(lambda c: None)  # one more round trip: nothing else was queued
    assert outbox.db.commits - before == 4  # the gate, ack 1, the merged ack 4, our read
    assert (outbox.acked_seq, outbox.count) == (4, 1) and saved_state(path)["acked"] == 4
    await outbox.db.close()


async def test_coalescing_alone_is_reported_to_the_installer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Over the cap with telemetry only: readings are coalesced, nothing is dropped, and the log says so."""
    outbox = await open_outbox(tmp_path / "hub.sqlite3", limit=10)
    with caplog.at_level(logging.WARNING, logger="hub_agent.cloud.outbox"):
        await outbox.add([power(1, float(v)) for v in range(12)])
    assert outbox.coalesced > 0 and (outbox.dropped, outbox.snapshot_needed) == (0, False)
    warned = [r.getMessage() for r in caplog.records if "over its limit" in r.getMessage()]
    assert warned and f"{outbox.coalesced} telemetry readings coalesced, 0 events dropped" in warned[-1]
    await outbox.db.close()
