"""Restart tests: rules, runtime info and pending delays live in the SQLite store and come back."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from hub_agent.config import RulesSection
from hub_agent.store import STORE_FILE
from hub_core.clock import ManualClock
from hub_core.model import DeviceAdded, DeviceId, Protocol, StateChanged
from hubtest.rules_world import World, build_world, device

MOTION = "zigbee-00158d0001a2b3c4"
LAMP = "zwave-2"
T0 = 1_790_000_000.0


def household() -> list[Any]:
    return [device(MOTION, "motion", motion="inactive"), device(LAMP, "switch", switch="off")]


HALL = {
    "id": "hall-light",
    "mode": "restart",
    "triggers": [{"type": "state", "device": MOTION, "attribute": "motion", "to": "active"}],
    "actions": [
        {"type": "command", "device": LAMP, "command": "on"},
        {"type": "delay", "seconds": 300},
        {"type": "command", "device": LAMP, "command": "off"},
    ],
}


def pending_rows(data_dir: Path) -> list[tuple[str, float]]:
    with sqlite3.connect(data_dir / STORE_FILE) as conn:
        return conn.execute("SELECT rule_id, due FROM pending_actions ORDER BY id").fetchall()


def motion(world: World, clock: ManualClock, value: str) -> None:
    world.hub.ingest(StateChanged(DeviceId(MOTION), "motion", value, clock.now()))


def sent(world: World) -> list[str]:
    return [c.name for c in world.radios[Protocol.ZWAVE].commands]


async def start_delay(tmp_path: Path) -> None:
    """First life: the light went on and the 300 s delay is pending when the agent stops."""
    clock = ManualClock(T0)
    world = build_world(tmp_path, household(), clock)
    await world.start()
    try:
        await world.service.put_rule(HALL)
        motion(world, clock, "active")
        await clock.wait_for_sleepers(1)
        assert sent(world) == ["on"]
    finally:
        await world.stop()
    assert pending_rows(tmp_path) == [("hall-light", T0 + 300)]  # absolute due time, kept on stop


async def test_a_pending_delay_resumes_at_its_due_time_after_a_restart(tmp_path: Path) -> None:
    await start_delay(tmp_path)
    clock = ManualClock(T0 + 100)
    world = build_world(tmp_path, household(), clock)
    await world.start()
    try:
        await clock.wait_for_sleepers(1)
        await clock.advance(199)
        assert sent(world) == []
        await clock.advance(1)
        await world.radios[Protocol.ZWAVE].wait_for(1)
        assert sent(world) == ["off"]
        await world.runtime.db.read(lambda conn: None)  # the delete is queued before this read
        assert world.service.runner.running("hall-light") == 0
    finally:
        await world.stop()
    assert pending_rows(tmp_path) == []


async def test_a_delay_due_while_down_runs_once_at_start_and_is_logged_late(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await start_delay(tmp_path)
    clock = ManualClock(T0 + 3600)
    world = build_world(tmp_path, household(), clock)
    with caplog.at_level(logging.WARNING, logger="hub_agent.rules.service"):
        await world.start()
    try:
        await world.radios[Protocol.ZWAVE].wait_for(1)
        await world.runtime.db.read(lambda conn: None)
        assert sent(world) == ["off"]
        assert any("late" in r.getMessage() and "hall-light" in r.getMessage() for r in caplog.records)
    finally:
        await world.stop()
    assert pending_rows(tmp_path) == []
    # A third life has nothing left to run.
    world = build_world(tmp_path, household(), ManualClock(T0 + 7200))
    await world.start()
    await world.stop()
    assert sent(world) == []


async def test_a_delay_of_a_rule_changed_while_down_is_dropped(tmp_path: Path) -> None:
    await start_delay(tmp_path)
    clock = ManualClock(T0 + 3600)
    world = build_world(tmp_path, household(), clock)
    await world.service.put_rule(
        {**HALL, "actions": [{"type": "command", "device": LAMP, "command": "toggle"}]}
    )
    await world.start()
    try:
        await world.runtime.db.read(lambda conn: None)
    finally:
        await world.stop()
    assert sent(world) == []
    assert pending_rows(tmp_path) == []


async def test_restart_mode_and_delete_remove_pending_delays(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    world = build_world(tmp_path, household(), clock)
    await world.start()
    try:
        await world.service.put_rule(HALL)
        motion(world, clock, "active")
        await clock.wait_for_sleepers(1)
        await clock.advance(10)
        motion(world, clock, "inactive")
        motion(world, clock, "active")
        await world.radios[Protocol.ZWAVE].wait_for(2)
        await clock.wait_for_sleepers(1)
        await world.runtime.db.read(lambda conn: None)
        assert pending_rows(tmp_path) == [("hall-light", T0 + 310)]
        assert await world.service.delete_rule("hall-light")
        assert not await world.service.delete_rule("hall-light")
        await world.runtime.db.read(lambda conn: None)
        assert pending_rows(tmp_path) == []
        assert world.service.get_rule("hall-light") is None
    finally:
        await world.stop()


async def test_rules_and_runtime_info_survive_a_restart(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    world = build_world(tmp_path, household(), clock)
    await world.start()
    try:
        stored = await world.service.put_rule({**HALL, "actions": HALL["actions"][:1]})
        assert stored["last_fired"] is None and stored["last_error"] is None
        motion(world, clock, "active")
        await world.radios[Protocol.ZWAVE].wait_for(1)
    finally:
        await world.stop()
    world = build_world(tmp_path, household(), ManualClock(T0 + 5))
    try:
        [rule] = world.service.list_rules()
        assert rule["id"] == "hall-light" and rule["mode"] == "restart"
        assert rule["last_fired"] == "2026-09-21T14:13:20.000Z"
        assert rule["last_error"] is None
    finally:
        await world.stop()


async def test_seed_file_fills_only_missing_rules(tmp_path: Path) -> None:
    seed = tmp_path / "rules.json"
    other = {**HALL, "id": "other", "mode": "single"}
    seed.write_text(json.dumps({"rules": [{**HALL, "mode": "single"}, other]}))
    clock = ManualClock(T0)
    world = build_world(tmp_path, household(), clock)
    await world.service.put_rule(HALL)  # the store already has hall-light: the seed must not win
    await world.stop()
    world = build_world(tmp_path, household(), clock, rules=RulesSection(file=seed))
    try:
        rules = {r["id"]: r for r in world.service.list_rules()}
        assert rules["hall-light"]["mode"] == "restart" and rules["other"]["mode"] == "single"
    finally:
        await world.stop()


async def test_a_rule_naming_a_device_not_yet_known_runs_once_it_joins(tmp_path: Path) -> None:
    seed = tmp_path / "rules.json"
    seed.write_text(json.dumps([HALL, {"id": "broken", "triggers": [], "actions": []}]))
    clock = ManualClock(T0)
    world = build_world(
        tmp_path, [device(LAMP, "switch", switch="off")], clock, rules=RulesSection(file=seed)
    )
    await world.start()
    try:
        [rule] = world.service.list_rules()  # the invalid seed was refused, the early one kept
        assert rule["last_error"].startswith("not loaded: $.triggers[0].device: unknown device")
        world.hub.ingest(DeviceAdded(device(MOTION, "motion", motion="inactive"), clock.now()))
        for _ in range(3):
            await world.runtime.db.read(lambda conn: None)
        assert world.service.get_rule("hall-light")["last_error"] is None  # type: ignore[index]
        motion(world, clock, "active")
        await world.radios[Protocol.ZWAVE].wait_for(1)
    finally:
        await world.stop()


async def test_a_crashed_run_restarted_by_the_supervisor_picks_its_delays_up(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    world = build_world(tmp_path, household(), clock)
    await world.start()
    try:
        await world.service.put_rule(HALL)
        motion(world, clock, "active")
        await clock.wait_for_sleepers(1)
        assert world.task is not None
        world.task.cancel()  # what the supervisor sees as a crash of the part
        await asyncio.gather(world.task, return_exceptions=True)
        assert pending_rows(tmp_path) == [("hall-light", T0 + 300)]
        await world.start()
        await clock.wait_for_sleepers(1)
        await clock.advance(300)
        await world.radios[Protocol.ZWAVE].wait_for(2)
        assert sent(world) == ["on", "off"]
    finally:
        await world.stop()


async def test_get_edit_put_round_trips_with_runtime_fields(tmp_path: Path) -> None:
    world = build_world(tmp_path, household(), ManualClock(T0))
    try:
        await world.service.put_rule(HALL)
        got = world.service.get_rule("hall-light")
        assert got is not None and set(got) == {*HALL, "enabled", "last_fired", "last_error"}
        stored = await world.service.put_rule({**got, "mode": "single"})
        assert stored["mode"] == "single"
        with sqlite3.connect(tmp_path / STORE_FILE) as conn:
            (text,) = conn.execute("SELECT json FROM rules WHERE id = 'hall-light'").fetchone()
        assert "last_fired" not in json.loads(text)
    finally:
        await world.stop()


async def test_unreadable_stored_rules_and_delays_are_skipped_not_fatal(tmp_path: Path) -> None:
    world = build_world(tmp_path, household(), ManualClock(T0))
    await world.service.put_rule(HALL)
    await world.stop()
    with sqlite3.connect(tmp_path / STORE_FILE) as conn:
        conn.execute("INSERT INTO rules (id, json, updated) VALUES ('junk', '[1, 2', 0), ('list', '[]', 0)")
        conn.execute(
            "INSERT INTO pending_actions (id, rule_id, due, payload) VALUES (7, 'hall-light', 0, '{}')"
        )
    world = build_world(tmp_path, household(), ManualClock(T0))
    await world.start()
    try:
        await world.runtime.db.read(lambda conn: None)
        assert [r["id"] for r in world.service.list_rules()] == ["hall-light"]
    finally:
        await world.stop()
    assert pending_rows(tmp_path) == []
    assert sent(world) == []
