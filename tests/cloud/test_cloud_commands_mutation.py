"""The cloud command idempotency store at its edges (issue 19): once per id, restart, retention, caps.

The hub is real, with the simulated Z-Wave household behind it; only the radio's delivery is gated
(the outermost edge) so a twin can arrive while its command runs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hub_agent.cloud.commands import MAX_KEPT, RETENTION, CommandDesk
from hub_agent.cloud.protocol import CommandMessage, CommandResultMessage
from hub_agent.hub import Hub
from hub_agent.store import Database
from hub_core import ratelog
from hub_core.bus import EventBus
from hub_core.model import Command, Protocol
from radios.base import RadioContext
from radios.sim.household import SimRadio

SWITCH = "zwave-2"


class FakeClock:
    """Wall time set by hand."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)


class GatedRadio(SimRadio):
    """The simulated radio, held at delivery while `gate` is clear."""

    def __init__(self, ctx: RadioContext) -> None:
        super().__init__(Protocol.ZWAVE, ctx)
        self.gate = asyncio.Event()
        self.gate.set()
        self.entered = asyncio.Event()

    async def execute(self, command: Command) -> None:
        self.entered.set()
        await self.gate.wait()
        await super().execute(command)


class World:
    def __init__(self, tmp_path: Path, hub: Hub, radio: GatedRadio) -> None:
        self.path = tmp_path / "hub.sqlite3"
        self.hub = hub
        self.radio = radio
        self.clock = FakeClock()
        self.dbs: list[Database] = []

    async def desk(self, **limits: float) -> CommandDesk:
        """A desk on a fresh connection to the same file (a restart), loaded."""
        for db in self.dbs:
            await db.close()
        self.dbs = [Database(self.path)]
        desk = CommandDesk(self.hub, self.dbs[0], self.clock, **limits)  # type: ignore[arg-type]
        await desk.load()
        return desk


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    hub = Hub(EventBus())
    radio = GatedRadio(RadioContext(tmp_path, hub.ingest))
    hub.radios[Protocol.ZWAVE] = radio
    await radio.start()
    await radio.set_inclusion(5)
    while hub.device("zwave-8") is None:  # the household's last device has joined
        await asyncio.sleep(0)
    await radio.set_inclusion(0)
    created = World(tmp_path, hub, radio)
    yield created
    for db in created.dbs:
        await db.close()
    await radio.stop()


def _same(stored: CommandResultMessage | None, result: CommandResultMessage) -> bool:
    """The same result, read back from the store (which keeps ms to the microsecond)."""
    return (
        stored is not None
        and (stored.id, stored.status, stored.error, stored.message)
        == (result.id, result.status, result.error, result.message)
        and abs(stored.ms - result.ms) < 0.001
    )


def _on(command_id: str, expires_at: float | None = None) -> CommandMessage:
    return CommandMessage(command_id, SWITCH, "on", {}, expires_at)


async def test_a_command_runs_once_and_a_repeat_gets_the_stored_result(world: World) -> None:
    desk = await world.desk()
    assert (desk.executed, desk.duplicates, desk.expired, desk.last_command_id) == (0, 0, 0, None)
    before = ratelog.LIMITER.counts.get("cloud.duplicate", 0)
    first = await desk.handle(_on("c-1"))
    assert first.status == "ok" and first.ms > 0
    again = await desk.handle(_on("c-1"))
    assert again == first and desk.stored("c-1") == first and desk.stored("c-2") is None
    assert len(world.radio.commands) == 1
    assert (desk.executed, desk.duplicates, desk.expired, desk.last_command_id) == (1, 1, 0, "c-1")
    assert ratelog.LIMITER.counts["cloud.duplicate"] == before + 1


async def test_a_twin_while_it_runs_shares_the_one_outcome(world: World) -> None:
    desk = await world.desk()
    world.radio.gate.clear()
    original = asyncio.create_task(desk.handle(_on("c-7")))
    await world.radio.entered.wait()
    before = ratelog.LIMITER.counts.get("cloud.duplicate", 0)
    twin = asyncio.create_task(desk.handle(_on("c-7")))
    impatient = asyncio.create_task(desk.handle(_on("c-7")))
    while desk.duplicates < 2:  # both twins are waiting on the running command
        await asyncio.sleep(0)
    impatient.cancel()  # a twin that gives up does not cancel the command
    world.radio.gate.set()
    result = await original
    assert result.status == "ok" and await twin == result
    assert impatient.cancelled()
    assert len(world.radio.commands) == 1 and (desk.executed, desk.duplicates) == (1, 2)
    assert ratelog.LIMITER.counts["cloud.duplicate"] == before + 2
    assert await desk.handle(_on("c-7")) == result and len(world.radio.commands) == 1


async def test_results_survive_a_restart_and_are_not_run_again(world: World) -> None:
    desk = await world.desk()
    ok = await desk.handle(_on("c-1"))
    failed = await desk.handle(CommandMessage("c-2", "zwave-99", "on"))
    assert failed.status == "error" and failed.error == "unknown_device" and failed.message
    restarted = await world.desk()
    assert _same(restarted.stored("c-1"), ok) and _same(restarted.stored("c-2"), failed)
    assert restarted.last_command_id == "c-2"
    assert _same(await restarted.handle(_on("c-1")), ok)
    assert len(world.radio.commands) == 1 and restarted.executed == 0


async def test_results_are_kept_exactly_the_retention(world: World) -> None:
    assert RETENTION == 7 * 24 * 3600.0
    start = world.clock.now
    desk = await world.desk()
    await desk.handle(_on("old"))
    world.clock.now = start + 1000.0
    await desk.handle(_on("newer"))
    world.clock.now = start + RETENTION
    desk = await world.desk()
    assert desk.stored("old") is not None  # exactly the retention old: kept
    world.clock.now = start + RETENTION + 1.0
    desk = await world.desk()
    assert desk.stored("old") is None and desk.stored("newer") is not None
    world.clock.now = start + RETENTION + 0.5  # the clock stepping back does not revive it
    desk = await world.desk()
    assert desk.stored("old") is None
    await desk.handle(_on("old"))  # gone: a late repeat runs again
    assert len(world.radio.commands) == 3


async def test_a_custom_retention_applies_on_load(world: World) -> None:
    start = world.clock.now
    desk = await world.desk(retention=10.0)
    await desk.handle(_on("a"))
    world.clock.now = start + 10.5
    desk = await world.desk(retention=10.0)
    assert desk.stored("a") is None


async def test_the_oldest_result_is_evicted_in_memory_and_on_disk(world: World) -> None:
    desk = await world.desk(max_kept=2)
    for n, command_id in enumerate(("a", "b", "c")):
        world.clock.now += n
        await desk.handle(_on(command_id))
    assert (desk.stored("a"), desk.stored("b") is not None, desk.stored("c") is not None) == (
        None,
        True,
        True,
    )
    larger = await world.desk(max_kept=10)
    assert larger.stored("a") is None and larger.stored("b") is not None
    assert larger.stored("c") is not None and larger.last_command_id == "c"


async def test_a_restart_loads_only_the_newest_max_kept(world: World) -> None:
    desk = await world.desk(max_kept=10)
    for command_id in ("a", "b", "c"):
        world.clock.now += 1.0
        await desk.handle(_on(command_id))
    smaller = await world.desk(max_kept=2)
    assert smaller.stored("a") is None
    assert smaller.stored("b") is not None and smaller.stored("c") is not None
    assert smaller.last_command_id == "c"


async def test_the_default_cap_is_fifty_thousand(world: World) -> None:
    assert MAX_KEPT == 50_000
    rows = [(f"id-{n}", '{"status":"ok","ms":1.5}', 1_000_000.0 + n) for n in range(MAX_KEPT + 1)]
    db = Database(world.path)
    await db.write(
        lambda c: c.executemany("INSERT INTO command_results (id, result, ts) VALUES (?, ?, ?)", rows)
    )
    await db.close()
    world.clock.now = 1_000_000.0 + MAX_KEPT + 1
    desk = await world.desk()
    assert desk.stored("id-0") is None
    kept = desk.stored("id-1")
    assert kept is not None and (kept.status, kept.ms) == ("ok", 1.5)
    assert desk.last_command_id == f"id-{MAX_KEPT}"


async def test_unreadable_stored_results_are_skipped_with_a_warning(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    rows = [
        ("bad-json", "not json", 1_000_000.0),
        ("no-ms", '{"status":"ok"}', 1_000_001.0),
        ("fine", '{"status":"error","ms":2,"error":"x","message":"y"}', 1_000_002.0),
        ("unread-last", "[]", 1_000_003.0),
    ]
    db = Database(world.path)
    await db.write(
        lambda c: c.executemany("INSERT INTO command_results (id, result, ts) VALUES (?, ?, ?)", rows)
    )
    await db.close()
    with caplog.at_level(logging.WARNING, logger="hub_agent.cloud.commands"):
        desk = await world.desk()
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 3 and all("unreadable stored result" in w for w in warned)
    assert desk.stored("bad-json") is None and desk.stored("no-ms") is None
    fine = desk.stored("fine")
    assert fine is not None and (fine.status, fine.ms, fine.error, fine.message) == ("error", 2.0, "x", "y")
    assert desk.last_command_id == "unread-last"


async def test_a_command_expires_at_its_expiry_time(world: World) -> None:
    desk = await world.desk()
    before = ratelog.LIMITER.counts.get("cloud.expired", 0)
    now = world.clock.now
    late = await desk.handle(_on("late", expires_at=now))
    assert (late.status, late.error) == ("error", "expired")
    assert (desk.expired, desk.executed, len(world.radio.commands)) == (1, 0, 0)
    assert ratelog.LIMITER.counts["cloud.expired"] == before + 1
    assert await desk.handle(_on("late", expires_at=now + 100)) == late  # the id is spent
    in_time = await desk.handle(_on("in-time", expires_at=now + 0.5))
    assert in_time.status == "ok" and (desk.expired, desk.executed) == (1, 1)
    assert (await desk.handle(_on("no-expiry"))).status == "ok" and desk.executed == 2
