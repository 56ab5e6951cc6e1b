"""The outbox on a real SQLite file: persisted seqs, acks, restarts, and the bounded cap."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub_agent.cloud.outbox import STATE_KEY, Outbox
from hub_agent.store import Database
from hub_agent.store.settings import get_setting
from hub_core.model import ButtonPressed, DeviceId, HubEvent, StateChanged

DEV = DeviceId("zwave-4")


def temperature(value: float) -> StateChanged:
    return StateChanged(DEV, "temperature", value, ts=1000.0)


def switch(value: str, device: str = "zwave-2") -> StateChanged:
    return StateChanged(DeviceId(device), "switch", value, ts=1000.0)


async def open_outbox(path: Path, limit: int = 1000) -> Outbox:
    outbox = Outbox(Database(path), limit)
    await outbox.load()
    return outbox


async def all_rows(outbox: Outbox) -> list[tuple[int, dict[str, object]]]:
    return [(r.seq, json.loads(r.event)) for r in await outbox.read_after(0, 1_000_000)]


async def test_seqs_are_persisted_and_strictly_increasing_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "hub.sqlite3"
    outbox = await open_outbox(path)
    await outbox.add([switch("on"), switch("off")])
    await outbox.add([ButtonPressed(DEV, 1, "pressed", ts=1000.0)])
    assert [seq for seq, _ in await all_rows(outbox)] == [1, 2, 3]
    outbox.ack(3)  # everything acknowledged and deleted: the table is empty now
    await outbox.db.close()

    outbox = await open_outbox(path)
    assert outbox.count == 0 and outbox.acked_seq == 3
    await outbox.add([switch("on")])
    rows = await all_rows(outbox)
    assert rows == [(4, switch("on").to_json())]  # never reuses an acknowledged seq
    await outbox.db.close()


async def test_ack_forgets_only_what_it_covers_and_never_beyond_what_was_stored(tmp_path: Path) -> None:
    outbox = await open_outbox(tmp_path / "hub.sqlite3")
    await outbox.add([switch("on"), switch("off"), switch("on")])
    outbox.ack(2)
    assert [seq for seq, _ in await all_rows(outbox)] == [3]
    outbox.ack(1)  # stale
    outbox.ack(99)  # beyond anything stored: clamped to what exists
    assert await all_rows(outbox) == []
    assert outbox.acked_seq == 3
    await outbox.add([switch("off")])
    assert [seq for seq, _ in await all_rows(outbox)] == [4]
    await outbox.db.close()


async def test_next_rows_waits_for_the_commit(tmp_path: Path) -> None:
    outbox = await open_outbox(tmp_path / "hub.sqlite3")
    await outbox.add([switch("on")])
    waiter = asyncio.create_task(outbox.next_rows(1))
    await asyncio.sleep(0)
    assert not waiter.done()
    await outbox.add([switch("off")])
    rows = await asyncio.wait_for(waiter, 5)
    assert [r.seq for r in rows] == [2]
    await outbox.db.close()


async def test_over_the_cap_telemetry_is_coalesced_first(tmp_path: Path) -> None:
    outbox = await open_outbox(tmp_path / "hub.sqlite3", limit=1000)
    events: list[HubEvent] = [switch("on" if i % 2 else "off", f"zwave-{10 + i}") for i in range(100)]
    events += [temperature(20 + i / 100) for i in range(950)]
    await outbox.add(events)
    rows = await all_rows(outbox)
    # Every state change survived; 949 readings of one sensor became its newest one.
    assert [e for _, e in rows if e["attribute"] == "switch"] == [e.to_json() for e in events[:100]]
    temps = [e for _, e in rows if e["attribute"] == "temperature"]
    assert temps == [temperature(20 + 949 / 100).to_json()]
    assert outbox.coalesced == 949 and outbox.dropped == 0 and not outbox.snapshot_needed
    assert [s for s, _ in rows] == sorted(s for s, _ in rows)
    await outbox.db.close()


async def test_over_the_cap_oldest_telemetry_is_dropped_before_any_state_change(tmp_path: Path) -> None:
    outbox = await open_outbox(tmp_path / "hub.sqlite3", limit=1000)
    # 600 distinct sensors (nothing to coalesce) and 500 state changes: 1100 rows > 1000.
    events: list[HubEvent] = [
        StateChanged(DeviceId(f"zigbee-{i:016x}"), "humidity", 50.0, ts=1.0) for i in range(600)
    ]
    events += [switch("on" if i % 2 else "off", f"zwave-{i}") for i in range(500)]
    await outbox.add(events)
    rows = await all_rows(outbox)
    assert len(rows) == 900  # shed down to 90 % of the limit
    assert sum(1 for _, e in rows if e["attribute"] == "switch") == 500
    humid = [e["device"] for _, e in rows if e["attribute"] == "humidity"]
    assert humid == [f"zigbee-{i:016x}" for i in range(200, 600)]  # the oldest 200 went
    assert outbox.dropped == 200 and not outbox.snapshot_needed
    await outbox.db.close()


async def test_when_only_state_changes_remain_a_snapshot_is_owed_durably(tmp_path: Path) -> None:
    path = tmp_path / "hub.sqlite3"
    outbox = await open_outbox(path, limit=1000)
    await outbox.add([switch("on" if i % 2 else "off", f"zwave-{i}") for i in range(1200)])
    rows = await all_rows(outbox)
    assert len(rows) == 900
    assert rows[0][0] == 301 and rows[-1][0] == 1200
    assert outbox.dropped == 300 and outbox.snapshot_needed
    await outbox.db.close()

    outbox = await open_outbox(path, limit=1000)
    assert outbox.snapshot_needed and outbox.dropped == 300 and outbox.count == 900
    assert outbox.next_seq == 1201
    outbox.snapshot_sent()
    saved = await outbox.db.read(lambda conn: get_setting(conn, STATE_KEY))
    assert saved["snapshot_needed"] is False
    await outbox.db.close()


async def test_seq_survives_shedding_everything_up_to_the_newest(tmp_path: Path) -> None:
    path = tmp_path / "hub.sqlite3"
    outbox = await open_outbox(path, limit=1000)
    await outbox.add([StateChanged(DeviceId(f"zwave-{i}"), "power", 1.0, ts=1.0) for i in range(1500)])
    top = outbox.next_seq - 1
    outbox.ack(top)
    await outbox.db.close()
    outbox = await open_outbox(path, limit=1000)
    assert outbox.next_seq == top + 1
    await outbox.db.close()


operations = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(1, 30)),
        st.tuples(st.just("ack"), st.integers(0, 200)),
        st.tuples(st.just("reopen"), st.just(0)),
    ),
    max_size=12,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
def test_property_seqs_never_repeat_and_exactly_the_unacked_rows_remain(
    tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[str, int]]
) -> None:
    path = tmp_path_factory.mktemp("outbox") / "hub.sqlite3"

    async def scenario() -> None:
        outbox = await open_outbox(path, limit=100_000)
        issued: list[int] = []
        acked = 0
        try:
            for op, n in ops:
                if op == "add":
                    before = outbox.next_seq
                    await outbox.add([switch("on") for _ in range(n)])
                    new = list(range(before, before + n))
                    assert not issued or new[0] > issued[-1]
                    issued += new
                elif op == "ack":
                    target = min(n, issued[-1] if issued else 0)
                    outbox.ack(n)
                    acked = max(acked, target)
                else:
                    await outbox.db.close()
                    outbox = await open_outbox(path, limit=100_000)
                rows = [r.seq for r in await outbox.read_after(0, 1_000_000)]
                assert rows == [s for s in issued if s > acked]
                assert outbox.next_seq > max(issued, default=0)
        finally:
            await outbox.db.close()

    asyncio.run(scenario())
