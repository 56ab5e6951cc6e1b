"""The runner's promises at their edges (issue 19): budgets and the runaway window at their exact
limits, delays cancelled while their write is in flight, row ids after a restart, waits that end only
on their value and leave nothing behind. Real Hub, bus and SQLite store; a recording radio; a fake clock.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hub_agent.config import RulesSection
from hub_agent.store import STORE_FILE
from hub_core import ratelog
from hub_core.clock import ManualClock
from hub_core.errors import RuleError
from hub_core.model import ButtonPressed, DeviceId, HubEvent, Notification, Protocol, RuleFired, StateChanged
from hubtest.rules_world import World, build_world, device
from local_rules.runner import Resume

MOTION = "zigbee-00158d0001a2b3c4"
DOOR = "zigbee-00158d0001a2b3c5"
BUTTON = "zigbee-00158d0001a2b3c6"
LAMP = "zwave-2"
FAN = "zwave-3"
T0 = 1_790_000_000.0


def household() -> list[Any]:
    return [
        device(MOTION, "motion", motion="inactive"),
        device(DOOR, "contact", contact="closed"),
        device(BUTTON, "button"),
        device(LAMP, "switch", "level", switch="off", level=0),
        device(FAN, "switch", switch="off"),
    ]


def pending_rows(data_dir: Path) -> list[tuple[int, str, float]]:
    with sqlite3.connect(data_dir / STORE_FILE) as conn:
        return conn.execute("SELECT id, rule_id, due FROM pending_actions ORDER BY id").fetchall()


def names(world: World) -> list[str]:
    return [c.name for c in world.radios[Protocol.ZWAVE].commands]


def recorded(world: World) -> list[HubEvent]:
    seen: list[HubEvent] = []
    world.bus.add_handler(seen.append)
    return seen


async def until(check: Callable[[], bool]) -> None:
    """Loop turns (never wall time) until `check()` holds; a hang fails the test after 10 s."""
    async with asyncio.timeout(10):
        while not check():
            await asyncio.sleep(0)


def press(world: World, clock: ManualClock) -> None:
    world.hub.ingest(ButtonPressed(DeviceId(BUTTON), 1, "pressed", clock.now()))


def door(world: World, clock: ManualClock, value: str) -> None:
    world.hub.ingest(StateChanged(DeviceId(DOOR), "contact", value, clock.now()))


BUTTON_TOGGLES_LAMP = {
    "id": "button-lamp",
    "mode": "single",
    "triggers": [{"type": "button", "device": BUTTON}],
    "actions": [{"type": "command", "device": LAMP, "command": "toggle"}],
}

#: Turns the lamp off five minutes after the door opens: the run's first step is its delay.
DOOR_THEN_OFF = {
    "id": "door-off",
    "mode": "restart",
    "triggers": [{"type": "state", "device": DOOR, "attribute": "contact", "to": "open"}],
    "actions": [{"type": "delay", "seconds": 300}, {"type": "command", "device": LAMP, "command": "off"}],
}


# --- the command budget and the runaway window, at their limits --------------------------------


async def test_the_per_device_budget_counts_exactly_the_last_second(tmp_path: Path) -> None:
    """50 commands per second overall, so 10 per second to one device: commands sent exactly one
    second ago no longer count, commands sent half a second ago still do."""
    clock = ManualClock(T0)
    limits = RulesSection(max_fires_per_minute=1000, max_commands_per_second=50)
    world = build_world(tmp_path, household(), clock, rules=limits)
    await world.start()
    try:
        seen = recorded(world)
        await world.service.put_rule(BUTTON_TOGGLES_LAMP)
        radio = world.radios[Protocol.ZWAVE]
        runner = world.service.runner
        for sent, wait in ((5, 0.0), (10, 0.5), (15, 0.5)):  # 5 at 0 s, 5 at 0.5 s, 5 at 1.0 s
            await clock.advance(wait)
            while len(radio.commands) < sent:
                press(world, clock)
                await radio.wait_for(len(radio.commands) + 1)
        assert runner.over_budget == 0
        await until(lambda: runner.running("button-lamp") == 0)
        logged = ratelog.LIMITER.counts.get("rules.over_budget", 0)
        press(world, clock)  # the 11th within [0.5 s, 1.0 s]: over the device's share
        await until(lambda: any(isinstance(e, Notification) for e in seen))
        assert len(radio.commands) == 15 and runner.over_budget == 1
        assert ratelog.LIMITER.counts["rules.over_budget"] == logged + 1  # /metrics counts the log line
        assert runner.runs_started == 16
        rule = world.service.get_rule("button-lamp")
        assert rule is not None and rule["enabled"] is False
        assert "at most 10 commands per second to zwave-2" in rule["last_error"]
    finally:
        await world.stop()


async def test_the_runaway_limit_counts_exactly_the_last_minute(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    world = build_world(tmp_path, household(), clock, rules=RulesSection(max_fires_per_minute=3))
    await world.start()
    try:
        seen = recorded(world)
        await world.service.put_rule(BUTTON_TOGGLES_LAMP)
        radio = world.radios[Protocol.ZWAVE]
        for at in (0.0, 60.0):  # the limit itself is allowed, and again exactly a minute later
            await clock.advance(at)
            for _ in range(3):
                press(world, clock)
                await radio.wait_for(len(radio.commands) + 1)
            await until(lambda: world.service.runner.running("button-lamp") == 0)
        assert len(radio.commands) == 6 and not [e for e in seen if isinstance(e, Notification)]
        press(world, clock)  # the 4th fire within the minute that started at 60 s
        stopped = [e for e in seen if isinstance(e, Notification)]
        assert len(stopped) == 1 and "limit 3" in stopped[0].message
        assert len(radio.commands) == 6 and world.service.runner.running("button-lamp") == 0
    finally:
        await world.stop()


async def test_a_runaway_stop_ends_the_runs_under_way_and_re_enabling_starts_a_fresh_count(
    tmp_path: Path,
) -> None:
    clock = ManualClock(T0)
    world = build_world(tmp_path, household(), clock, rules=RulesSection(max_fires_per_minute=3))
    await world.start()
    try:
        seen = recorded(world)
        await world.service.put_rule({**DOOR_THEN_OFF, "mode": "parallel", "max": 5})
        for _ in range(3):
            door(world, clock, "open")
            door(world, clock, "closed")
        await clock.wait_for_sleepers(3)  # three runs sleep in their stored delays
        await world.runtime.db.read(lambda conn: None)
        assert len(pending_rows(tmp_path)) == 3
        door(world, clock, "open")  # the 4th fire within a minute stops the rule
        assert len([e for e in seen if isinstance(e, Notification)]) == 1
        assert world.service.runner.running("door-off") == 0
        for _ in range(2):  # the cancelled runs queue their rows' deletes, then a read sees them done
            await world.runtime.db.read(lambda conn: None)
        assert pending_rows(tmp_path) == []
        stored = world.service.get_rule("door-off")
        assert stored is not None and stored["enabled"] is False
        await world.service.put_rule({**stored, "enabled": True})  # fixed and enabled again
        door(world, clock, "closed")
        door(world, clock, "open")  # within the same minute as the four fires: a fresh count
        await clock.wait_for_sleepers(1)
        assert world.service.runner.running("door-off") == 1
        assert len([e for e in seen if isinstance(e, Notification)]) == 1
        await clock.advance(300)
        await world.radios[Protocol.ZWAVE].wait_for(1)
        await until(lambda: world.service.runner.running("door-off") == 0)
        assert names(world) == ["off"]  # the new run's; none of the stopped runs went on
    finally:
        await world.stop()


async def test_a_deleted_and_recreated_rule_starts_a_fresh_runaway_count(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    world = build_world(tmp_path, household(), clock, rules=RulesSection(max_fires_per_minute=3))
    await world.start()
    try:
        seen = recorded(world)
        radio = world.radios[Protocol.ZWAVE]
        for life in range(2):  # 3 fires, delete, re-create, 3 fires: all within one minute
            await world.service.put_rule(BUTTON_TOGGLES_LAMP)
            for _ in range(3):
                press(world, clock)
                await radio.wait_for(len(radio.commands) + 1)
            await until(lambda: world.service.runner.running("button-lamp") == 0)
            if life == 0:
                assert await world.service.delete_rule("button-lamp")
        assert len(radio.commands) == 6 and not [e for e in seen if isinstance(e, Notification)]
    finally:
        await world.stop()


@pytest.mark.parametrize(("mode", "logged"), [("single", 0), ("parallel", 1), ("queued", 1)])
async def test_a_dropped_trigger_is_logged_unless_the_rule_is_single(
    tmp_path: Path, mode: str, logged: int
) -> None:
    """Single mode drops by design; parallel and queued only at their `max`, which is worth a line."""
    clock = ManualClock(T0)
    world = build_world(tmp_path, household(), clock)
    await world.start()
    try:
        await world.service.put_rule({**DOOR_THEN_OFF, "mode": mode, "max": 1})
        before = ratelog.LIMITER.counts.get("rules.dropped", 0)
        for _ in range(3 if mode == "queued" else 2):  # queued: one runs, one waits, one is dropped
            door(world, clock, "open")
            door(world, clock, "closed")
        assert world.service.runner.dropped == 1
        assert ratelog.LIMITER.counts.get("rules.dropped", 0) == before + logged
    finally:
        await world.stop()


async def test_a_budget_under_five_per_second_still_gives_each_device_one(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    world = build_world(tmp_path, household(), clock, rules=RulesSection(max_commands_per_second=4))
    await world.start()
    try:
        seen = recorded(world)
        await world.service.put_rule(BUTTON_TOGGLES_LAMP)
        press(world, clock)
        await world.radios[Protocol.ZWAVE].wait_for(1)
        await until(lambda: world.service.runner.running("button-lamp") == 0)
        press(world, clock)  # a second command to the lamp within the second
        await until(lambda: any(isinstance(e, Notification) for e in seen))
        assert names(world) == ["toggle"]
        assert world.service.runner.max_device_commands_per_second == 1
    finally:
        await world.stop()


# --- pending delays: cancelled mid-write, row ids, bounds ---------------------------------------


async def _at_the_delays_write(world: World, clock: ManualClock) -> None:
    """Open the door and return when DOOR_THEN_OFF's run is awaiting the write of its delay."""
    announced = asyncio.Event()
    remove = world.bus.add_handler(lambda e: announced.set() if isinstance(e, RuleFired) else None)
    door(world, clock, "open")
    await announced.wait()  # published in the same step that queues the insert and awaits it
    remove()


async def test_a_restart_during_the_delays_write_removes_that_delay(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    world = build_world(tmp_path, household(), clock)
    await world.start()
    try:
        await world.service.put_rule(DOOR_THEN_OFF)
        await _at_the_delays_write(world, clock)
        door(world, clock, "closed")
        door(world, clock, "open")  # restart mode: the first run is cancelled in its write
        await clock.wait_for_sleepers(1)
        await world.runtime.db.read(lambda conn: None)
        assert [(rule, due) for _, rule, due in pending_rows(tmp_path)] == [("door-off", T0 + 300)]
        await clock.advance(300)
        await world.radios[Protocol.ZWAVE].wait_for(1)
        await world.runtime.db.read(lambda conn: None)
        assert pending_rows(tmp_path) == [] and names(world) == ["off"]
    finally:
        await world.stop()


async def test_a_shutdown_during_the_delays_write_keeps_it_for_the_next_start(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    world = build_world(tmp_path, household(), clock)
    await world.start()
    await world.service.put_rule(DOOR_THEN_OFF)
    await _at_the_delays_write(world, clock)
    await world.stop()
    assert [(rule, due) for _, rule, due in pending_rows(tmp_path)] == [("door-off", T0 + 300)]
    clock = ManualClock(T0 + 10)
    world = build_world(tmp_path, household(), clock)
    await world.start()
    try:
        await clock.wait_for_sleepers(1)
        await clock.advance(290)
        await world.radios[Protocol.ZWAVE].wait_for(1)
        assert names(world) == ["off"]
    finally:
        await world.stop()


async def test_a_shutdown_does_not_start_queued_runs(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    world = build_world(tmp_path, household(), clock)
    await world.start()
    await world.service.put_rule({**DOOR_THEN_OFF, "mode": "queued", "max": 2})
    for _ in range(3):  # one run sleeps in its delay, two wait in the queue
        door(world, clock, "open")
        door(world, clock, "closed")
    await clock.wait_for_sleepers(1)
    await world.stop()
    # Only the running run's delay was kept; the queue was dropped, not started on the way out.
    assert [(rule, due) for _, rule, due in pending_rows(tmp_path)] == [("door-off", T0 + 300)]
    assert world.service.runner.runs_started == 1


async def test_new_delays_after_a_restart_do_not_collide_with_stored_ones(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    world = build_world(tmp_path, household(), clock)
    await world.start()
    await world.service.put_rule({**DOOR_THEN_OFF, "mode": "parallel", "max": 3})
    for _ in range(3):
        door(world, clock, "open")
        door(world, clock, "closed")
    await clock.wait_for_sleepers(3)
    await world.stop()
    assert len(pending_rows(tmp_path)) == 3
    clock = ManualClock(T0 + 100)
    world = build_world(tmp_path, household(), clock)
    await world.start()
    try:
        await world.service.put_rule({**DOOR_THEN_OFF, "id": "door-off-2"})
        door(world, clock, "open")  # the three resumed delays are at the limit: no new run of door-off
        await clock.wait_for_sleepers(4)
        await world.runtime.db.read(lambda conn: None)
        rows = pending_rows(tmp_path)
        assert sorted(rule for _, rule, _ in rows) == ["door-off"] * 3 + ["door-off-2"]
        assert world.service.get_rule("door-off-2")["last_error"] is None  # type: ignore[index]
        await clock.advance(300)
        await world.radios[Protocol.ZWAVE].wait_for(4)
        await world.runtime.db.read(lambda conn: None)
        assert pending_rows(tmp_path) == [] and names(world) == ["off"] * 4
    finally:
        await world.stop()


async def test_changing_a_rules_actions_drops_its_pending_delay_but_a_rename_does_not(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    world = build_world(tmp_path, household(), clock)
    await world.start()
    try:
        await world.service.put_rule(DOOR_THEN_OFF)
        door(world, clock, "open")
        await clock.wait_for_sleepers(1)
        await world.service.put_rule({**DOOR_THEN_OFF, "name": "Door, then lamp off"})  # same actions
        await world.runtime.db.read(lambda conn: None)
        assert [(rule, due) for _, rule, due in pending_rows(tmp_path)] == [("door-off", T0 + 300)]
        assert world.service.runner.running("door-off") == 1
        changed = {**DOOR_THEN_OFF, "actions": [{"type": "delay", "seconds": 300}]}
        await world.service.put_rule(changed)  # other actions: the run under way is stopped
        assert world.service.runner.running("door-off") == 0
        # The cancelled run queues its row's delete in its next step, which is due before the first
        # read comes back: the second read finds it done.
        for _ in range(2):
            await world.runtime.db.read(lambda conn: None)
        assert pending_rows(tmp_path) == [] and world.service.runner.running("door-off") == 0
        await clock.advance(300)
        assert names(world) == []
    finally:
        await world.stop()


def _delay_then_off(seconds: float) -> dict[str, Any]:
    return {
        **DOOR_THEN_OFF,
        "actions": [{"type": "delay", "seconds": seconds}, *DOOR_THEN_OFF["actions"][1:]],
    }


async def test_a_zero_delay_goes_straight_on_and_leaves_no_row(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    world = build_world(tmp_path, household(), clock)
    await world.start()
    try:
        await world.service.put_rule(_delay_then_off(0))
        door(world, clock, "open")
        await world.radios[Protocol.ZWAVE].wait_for(1)
        await world.runtime.db.read(lambda conn: None)
        assert pending_rows(tmp_path) == []
    finally:
        await world.stop()


async def test_a_week_long_delay_the_longest_allowed_survives_a_restart(tmp_path: Path) -> None:
    week = 7 * 86400  # the parser's MAX_DELAY
    clock = ManualClock(T0)
    world = build_world(tmp_path, household(), clock)
    await world.start()
    await world.service.put_rule(_delay_then_off(week))
    door(world, clock, "open")
    await clock.wait_for_sleepers(1)
    await world.stop()
    assert [(r, due) for _, r, due in pending_rows(tmp_path)] == [("door-off", T0 + week)]
    clock = ManualClock(T0 + week - 1)
    world = build_world(tmp_path, household(), clock)
    await world.start()
    try:
        await clock.wait_for_sleepers(1)
        assert names(world) == []
        await clock.advance(1)
        await world.radios[Protocol.ZWAVE].wait_for(1)
    finally:
        await world.stop()


async def test_a_delay_beyond_a_week_is_refused(tmp_path: Path) -> None:
    world = build_world(tmp_path, household(), ManualClock(T0))
    try:
        with pytest.raises(RuleError) as caught:
            await world.service.put_rule(_delay_then_off(7 * 86400 + 1))
        assert [p.path for p in caught.value.problems] == ["$.actions[0].seconds"]
        assert world.service.get_rule("door-off") is None
    finally:
        await world.stop()


async def test_a_changed_rule_forgets_its_queue_and_runs_its_next_trigger_at_once(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    world = build_world(tmp_path, household(), clock)
    await world.start()
    try:
        await world.service.put_rule({**DOOR_THEN_OFF, "mode": "queued", "max": 2})
        for _ in range(3):  # one run sleeps in its delay, two wait in the queue
            door(world, clock, "open")
            door(world, clock, "closed")
        await clock.wait_for_sleepers(1)
        single = {
            **DOOR_THEN_OFF,
            "mode": "single",
            "actions": [{"type": "command", "device": FAN, "command": "on"}],
        }
        await world.service.put_rule(single)  # stops the run under way and drops the queue
        door(world, clock, "open")  # a single-mode rule with nothing running starts at once
        await world.radios[Protocol.ZWAVE].wait_for(1)
        await clock.advance(3 * 300)
        await world.runtime.db.read(lambda conn: None)
        assert names(world) == ["on"] and world.service.runner.runs_started == 2
        assert pending_rows(tmp_path) == []
    finally:
        await world.stop()


async def test_stopping_waits_for_every_run_to_end(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    world = build_world(tmp_path, household(), clock)
    await world.start()
    await world.service.put_rule({**DOOR_THEN_OFF, "mode": "parallel", "max": 3})
    await world.service.put_rule(WAIT_FOR_FULL_LEVEL)  # a wait takes a few loop turns to unwind
    for _ in range(3):
        door(world, clock, "open")
        door(world, clock, "closed")
    await clock.wait_for_sleepers(4)
    assert world.task is not None
    world.task.cancel()
    await asyncio.gather(world.task, return_exceptions=True)
    # The part's run() has returned: no run of a rule is left to finish after it.
    assert [t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("rule:")] == []
    await world.stop()
    assert len(pending_rows(tmp_path)) == 3


def test_a_resume_read_back_from_the_store_is_an_immutable_value() -> None:
    resume = Resume(row=7, due=T0 + 300, start=2, late=False)
    assert resume == Resume(7, T0 + 300, 2, False) and len({resume, Resume(7, T0 + 300, 2, False)}) == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        resume.due = T0  # type: ignore[misc]


async def test_a_run_is_announced_once_and_a_resumed_one_not_again(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    world = build_world(tmp_path, household(), clock)
    await world.start()
    steps = [
        {"type": "command", "device": FAN, "command": "on"},
        {"type": "delay", "seconds": 10},
        {"type": "command", "device": FAN, "command": "off"},
        {"type": "notify", "message": "fan cycled"},
    ]
    try:
        seen = recorded(world)
        await world.service.put_rule({**DOOR_THEN_OFF, "id": "fan", "actions": steps})
        await world.service.put_rule(DOOR_THEN_OFF)
        door(world, clock, "open")
        await clock.wait_for_sleepers(2)
        await clock.advance(10)
        await until(lambda: any(isinstance(e, Notification) for e in seen))
        assert sorted(e.rule for e in seen if isinstance(e, RuleFired)) == ["door-off", "fan"]
    finally:
        await world.stop()
    assert len(pending_rows(tmp_path)) == 1  # door-off's delay, due at T0 + 300
    clock = ManualClock(T0 + 100)
    world = build_world(tmp_path, household(), clock)
    seen = recorded(world)
    await world.start()
    try:
        await clock.wait_for_sleepers(1)
        await clock.advance(200)
        await world.radios[Protocol.ZWAVE].wait_for(1)
        await until(lambda: world.service.runner.running("door-off") == 0)
        assert names(world) == ["off"]
        assert [e for e in seen if isinstance(e, RuleFired)] == []  # announced in its first life
    finally:
        await world.stop()


# --- waits ------------------------------------------------------------------------------------

WAIT_FOR_FULL_LEVEL = {
    "id": "wait-level",
    "triggers": [{"type": "state", "device": DOOR, "attribute": "contact", "to": "open"}],
    "actions": [
        {"type": "wait", "device": LAMP, "attribute": "level", "to": 100, "timeout_seconds": 60},
        {"type": "command", "device": FAN, "command": "on"},
    ],
}


def level(world: World, clock: ManualClock, value: int) -> None:
    world.hub.ingest(StateChanged(DeviceId(LAMP), "level", value, clock.now()))


async def test_a_wait_ends_only_on_its_value(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    world = build_world(tmp_path, household(), clock)
    await world.start()
    try:
        await world.service.put_rule(WAIT_FOR_FULL_LEVEL)
        door(world, clock, "open")
        await clock.wait_for_sleepers(1)
        for value in (30, 60, 99):
            level(world, clock, value)
        await world.runtime.db.read(lambda conn: None)
        assert names(world) == [] and world.service.runner.running("wait-level") == 1
        level(world, clock, 100)
        await world.radios[Protocol.ZWAVE].wait_for(1)
        assert names(world) == ["on"]
    finally:
        await world.stop()


async def test_two_waits_on_one_attribute_each_end_on_their_own(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    world = build_world(tmp_path, household(), clock)
    await world.start()
    try:
        wait = {"type": "wait", "device": LAMP, "attribute": "level", "to": 100, "timeout_seconds": 10}
        short = {**WAIT_FOR_FULL_LEVEL, "id": "short", "actions": [wait]}
        await world.service.put_rule(short)
        await world.service.put_rule(WAIT_FOR_FULL_LEVEL)
        door(world, clock, "open")
        await clock.wait_for_sleepers(2)
        await clock.advance(10)  # the short wait times out; the other still waits for level 100
        await until(lambda: world.service.runner.running("short") == 0)
        level(world, clock, 100)
        await world.radios[Protocol.ZWAVE].wait_for(1)
        assert names(world) == ["on"]
    finally:
        await world.stop()


async def test_a_wait_that_times_out_is_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    clock = ManualClock(T0)
    world = build_world(tmp_path, household(), clock)
    await world.start()
    try:
        await world.service.put_rule(WAIT_FOR_FULL_LEVEL)
        door(world, clock, "open")
        await clock.wait_for_sleepers(1)
        with caplog.at_level(logging.INFO, logger="local_rules.runner"):
            await clock.advance(60)
            await until(lambda: world.service.runner.running("wait-level") == 0)
        assert names(world) == []
        assert [r.getMessage() for r in caplog.records if r.name == "local_rules.runner"] == [
            f"rule wait-level: wait for {LAMP} level timed out, stopping"
        ]
    finally:
        await world.stop()


async def test_finished_waits_leave_nothing_behind(tmp_path: Path) -> None:
    """A wait registers itself for its attribute; one that ended (either way) is forgotten, so a
    rule that waits on every door opening does not grow the runner's memory."""
    clock = ManualClock(T0)
    world = build_world(tmp_path, household(), clock, rules=RulesSection(max_fires_per_minute=100_000))
    await world.start()
    try:
        await world.service.put_rule(WAIT_FOR_FULL_LEVEL)
        radio = world.radios[Protocol.ZWAVE]

        async def cycles(count: int) -> None:
            for _ in range(count):
                door(world, clock, "open")
                await clock.wait_for_sleepers(1)
                level(world, clock, 100)
                await radio.wait_for(len(radio.commands) + 1)
                await until(lambda: world.service.runner.running("wait-level") == 0)
                door(world, clock, "closed")
                level(world, clock, 0)
                await clock.advance(1)  # stay inside the command budget

        await cycles(10)  # warm up: caches, first-time allocations
        before = _live_futures()
        await cycles(100)
        assert _live_futures() - before < 10, "finished waits are still referenced"
    finally:
        await world.stop()


def _live_futures() -> int:
    """Plain futures (each wait makes one) still alive after a full collection."""
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is asyncio.Future)


# --- rule_fired latency -----------------------------------------------------------------------


async def test_rule_fired_latency_is_the_time_to_the_first_confirmation(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    world = build_world(tmp_path, household(), clock)
    await world.start()
    try:
        seen = recorded(world)
        await world.service.put_rule(BUTTON_TOGGLES_LAMP)
        press(world, clock)
        await until(lambda: any(isinstance(e, RuleFired) for e in seen))
        radio = world.radios[Protocol.ZWAVE]
        radio.hold = True  # the next confirmation takes 2.5 s of the lamp's time
        press(world, clock)
        await radio.wait_for(2)
        await clock.advance(2.5)
        radio.release()
        await until(lambda: len([e for e in seen if isinstance(e, RuleFired)]) == 2)
        fired = [e for e in seen if isinstance(e, RuleFired)]
        assert [f.latency_ms for f in fired] == [0.0, 2500.0]
    finally:
        await world.stop()


async def test_the_global_budget_allows_exactly_its_limit(tmp_path: Path) -> None:
    """5 commands per second from all rules (one per device): a scene of 5 goes, the 6th waits a second."""
    lamps = [f"zwave-{n}" for n in range(10, 16)]
    clock = ManualClock(T0)
    limits = RulesSection(max_fires_per_minute=100, max_commands_per_second=5)
    world = build_world(tmp_path, [*household(), *(device(d, "switch") for d in lamps)], clock, rules=limits)
    await world.start()
    try:
        seen = recorded(world)
        radio = world.radios[Protocol.ZWAVE]
        await world.service.put_rule(
            {
                "id": "all-on",
                "triggers": [{"type": "button", "device": BUTTON}],
                "actions": [
                    {"type": "scene", "commands": [{"device": d, "command": "on"} for d in lamps[:5]]}
                ],
            }
        )
        await world.service.put_rule(
            {
                "id": "sixth",
                "triggers": [{"type": "state", "device": DOOR, "attribute": "contact", "to": "open"}],
                "actions": [{"type": "command", "device": lamps[5], "command": "on"}],
            }
        )
        press(world, clock)
        await radio.wait_for(5)
        await until(lambda: world.service.runner.running("all-on") == 0)
        await clock.advance(0.5)
        door(world, clock, "open")
        await until(lambda: any(isinstance(e, Notification) for e in seen))
        assert len(radio.commands) == 5 and world.service.runner.over_budget == 1
        [stopped] = [e for e in seen if isinstance(e, Notification)]
        assert stopped.rule == "sixth" and "at most 5 commands per second" in stopped.message
    finally:
        await world.stop()


async def test_rule_fired_comes_with_the_first_confirmation_not_the_last(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    world = build_world(tmp_path, household(), clock)
    await world.start()
    try:
        seen = recorded(world)
        radio = world.radios[Protocol.ZWAVE]
        radio.hold = True
        await world.service.put_rule(
            {
                **BUTTON_TOGGLES_LAMP,
                "actions": [
                    {"type": "command", "device": LAMP, "command": "on"},
                    {"type": "command", "device": FAN, "command": "on"},
                ],
            }
        )
        press(world, clock)
        await radio.wait_for(1)
        await clock.advance(1)
        radio.release()  # the lamp confirms after 1 s
        await radio.wait_for(2)
        assert [e.latency_ms for e in seen if isinstance(e, RuleFired)] == [1000.0]
        await clock.advance(2)
        radio.release()  # the fan confirms 2 s later: no second announcement
        await until(lambda: world.service.runner.running("button-lamp") == 0)
        assert [e.latency_ms for e in seen if isinstance(e, RuleFired)] == [1000.0]
    finally:
        await world.stop()
