"""Runner tests: real Hub, EventBus, SQLite store and rules service; a recording radio; a fake clock."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import astral
import astral.sun
import pytest

from hub_agent.config import RulesSection
from hub_core.clock import ManualClock, SystemClock
from hub_core.model import (
    ButtonPressed,
    DeviceId,
    HubEvent,
    Notification,
    Protocol,
    RuleFired,
    StateChanged,
)
from hubtest.rules_world import GroupRadio, World, build_world, device

MOTION = "zigbee-00158d0001a2b3c4"
DOOR = "zigbee-00158d0001a2b3c5"
BUTTON = "zigbee-00158d0001a2b3c6"
LAMP = "zwave-2"
FAN = "zwave-3"
BULB = "zigbee-00158d0001a2b3c7"
T0 = 1_790_000_000.0


def household() -> list[Any]:
    return [
        device(MOTION, "motion", "battery", motion="inactive"),
        device(DOOR, "contact", contact="closed"),
        device(BUTTON, "button"),
        device(LAMP, "switch", "level", switch="off"),
        device(FAN, "switch", switch="off"),
        device(BULB, "switch", "level", switch="off"),
    ]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@contextlib.asynccontextmanager
async def running(
    tmp_path: Path, clock: ManualClock, rules: RulesSection | None = None
) -> AsyncIterator[World]:
    # A context manager, not a fixture: the world must stop before the task-hygiene check runs.
    w = build_world(tmp_path, household(), clock, rules=rules or RulesSection(max_fires_per_minute=30))
    await w.start()
    try:
        yield w
    finally:
        await w.stop()


def events(world: World) -> list[HubEvent]:
    seen: list[HubEvent] = []
    world.bus.add_handler(seen.append)
    return seen


def motion(world: World, clock: ManualClock, value: str) -> None:
    world.hub.ingest(StateChanged(DeviceId(MOTION), "motion", value, clock.now()))


def hall_light(mode: str = "restart", seconds: float = 300, **extra: Any) -> dict[str, Any]:
    return {
        "id": "hall-light",
        "mode": mode,
        "triggers": [{"type": "state", "device": MOTION, "attribute": "motion", "to": "active"}],
        "actions": [
            {"type": "command", "device": LAMP, "command": "on"},
            {"type": "delay", "seconds": seconds},
            {"type": "command", "device": LAMP, "command": "off"},
        ],
        **extra,
    }


def names(world: World, protocol: Protocol = Protocol.ZWAVE) -> list[str]:
    return [c.name for c in world.radios[protocol].commands]


async def test_motion_turns_light_on_then_off_after_the_delay(tmp_path: Path, clock: ManualClock) -> None:
    async with running(tmp_path, clock) as world:
        seen = events(world)
        await world.service.put_rule(hall_light())
        motion(world, clock, "active")
        await world.radios[Protocol.ZWAVE].wait_for(1)
        assert names(world) == ["on"]
        await clock.wait_for_sleepers(1)  # the delay (no time triggers: the scheduler does not sleep)
        fired = [e for e in seen if isinstance(e, RuleFired)]
        assert [(f.rule, f.trigger) for f in fired] == [("hall-light", f"{MOTION} motion to active")]
        assert fired[0].latency_ms >= 0
        await clock.advance(299)
        assert names(world) == ["on"]
        await clock.advance(1)
        await world.radios[Protocol.ZWAVE].wait_for(2)
        assert names(world) == ["on", "off"]
        rule = world.service.get_rule("hall-light")
        assert rule is not None and rule["last_fired"] is not None and rule["last_error"] is None


async def test_restart_mode_restarts_the_delay(tmp_path: Path, clock: ManualClock) -> None:
    async with running(tmp_path, clock) as world:
        await world.service.put_rule(hall_light("restart"))
        motion(world, clock, "active")
        await clock.wait_for_sleepers(1)
        await clock.advance(200)
        motion(world, clock, "inactive")
        motion(world, clock, "active")
        await world.radios[Protocol.ZWAVE].wait_for(2)
        await clock.wait_for_sleepers(1)
        await clock.advance(200)  # 400 s after the first motion, 200 s after the second
        assert names(world) == ["on", "on"]
        await clock.advance(100)
        await world.radios[Protocol.ZWAVE].wait_for(3)
        assert names(world) == ["on", "on", "off"]


async def test_single_mode_ignores_triggers_while_running(tmp_path: Path, clock: ManualClock) -> None:
    async with running(tmp_path, clock) as world:
        await world.service.put_rule(hall_light("single"))
        motion(world, clock, "active")
        await clock.wait_for_sleepers(1)
        motion(world, clock, "inactive")
        motion(world, clock, "active")
        await clock.advance(300)
        await world.radios[Protocol.ZWAVE].wait_for(2)
        assert names(world) == ["on", "off"]
        assert world.service.runner.dropped == 1


async def test_queued_mode_runs_in_order_and_is_bounded(tmp_path: Path, clock: ManualClock) -> None:
    async with running(tmp_path, clock) as world:
        await world.service.put_rule(hall_light("queued", seconds=10, max=2))
        for _ in range(4):  # one runs, two queue, one is dropped
            motion(world, clock, "active")
            motion(world, clock, "inactive")
        await clock.wait_for_sleepers(1)
        assert world.service.runner.dropped == 1
        for _ in range(3):
            await clock.wait_for_sleepers(1)
            await clock.advance(10)
        await world.radios[Protocol.ZWAVE].wait_for(6)
        assert names(world) == ["on", "off"] * 3


async def test_parallel_mode_is_bounded(tmp_path: Path, clock: ManualClock) -> None:
    async with running(tmp_path, clock) as world:
        await world.service.put_rule(hall_light("parallel", seconds=10, max=2))
        for _ in range(3):
            motion(world, clock, "active")
            motion(world, clock, "inactive")
        await clock.wait_for_sleepers(1)  # two delays at once
        assert world.service.runner.running("hall-light") == 2
        assert world.service.runner.dropped == 1
        await clock.advance(10)
        await world.radios[Protocol.ZWAVE].wait_for(4)
        assert names(world) == ["on", "on", "off", "off"]


async def test_wait_continues_when_the_state_arrives(tmp_path: Path, clock: ManualClock) -> None:
    async with running(tmp_path, clock) as world:
        rule = {
            "id": "door-wait",
            "triggers": [{"type": "state", "device": DOOR, "attribute": "contact", "to": "open"}],
            "actions": [
                {
                    "type": "wait",
                    "device": DOOR,
                    "attribute": "contact",
                    "to": "closed",
                    "timeout_seconds": 60,
                },
                {"type": "command", "device": LAMP, "command": "off"},
            ],
        }
        await world.service.put_rule(rule)
        world.hub.ingest(StateChanged(DeviceId(DOOR), "contact", "open", clock.now()))
        await clock.wait_for_sleepers(1)
        await clock.advance(30)
        world.hub.ingest(StateChanged(DeviceId(DOOR), "contact", "closed", clock.now()))
        await world.radios[Protocol.ZWAVE].wait_for(1)
        assert names(world) == ["off"]


async def test_wait_timeout_stops_or_continues(tmp_path: Path, clock: ManualClock) -> None:
    async with running(tmp_path, clock) as world:
        base = {
            "triggers": [{"type": "state", "device": DOOR, "attribute": "contact", "to": "open"}],
            "mode": "single",
        }
        wait = {"type": "wait", "device": DOOR, "attribute": "contact", "to": "closed", "timeout_seconds": 60}
        await world.service.put_rule(
            {**base, "id": "stops", "actions": [wait, {"type": "command", "device": LAMP, "command": "on"}]}
        )
        await world.service.put_rule(
            {
                **base,
                "id": "continues",
                "actions": [
                    {**wait, "on_timeout": "continue"},
                    {"type": "command", "device": FAN, "command": "on"},
                ],
            }
        )
        world.hub.ingest(StateChanged(DeviceId(DOOR), "contact", "open", clock.now()))
        await clock.wait_for_sleepers(1)
        await clock.advance(60)
        await world.radios[Protocol.ZWAVE].wait_for(1)
        assert [c.device for c in world.radios[Protocol.ZWAVE].commands] == [FAN]
        assert world.service.runner.running("stops") == 0


async def test_scene_sends_together_and_groups_per_radio(tmp_path: Path, clock: ManualClock) -> None:
    group = GroupRadio(Protocol.ZIGBEE)
    w = build_world(tmp_path, household(), clock, radios=[group])
    await w.start()
    try:
        zwave = w.radios[Protocol.ZWAVE]
        zwave.hold = True  # the Z-Wave confirmations wait: both must be in flight at once
        await w.service.put_rule(
            {
                "id": "evening",
                "triggers": [{"type": "button", "device": BUTTON, "button": 1, "action": "pressed"}],
                "actions": [
                    {
                        "type": "scene",
                        "commands": [
                            {"device": LAMP, "command": "set_level", "args": {"level": 30}},
                            {"device": FAN, "command": "off"},
                            {"device": BULB, "command": "on"},
                        ],
                    }
                ],
            }
        )
        seen = events(w)
        w.hub.ingest(ButtonPressed(DeviceId(BUTTON), 1, "pressed", clock.now()))
        await zwave.wait_for(2)
        assert [c.device for c in zwave.commands] == [LAMP, FAN]
        assert [[c.device for c in g] for g in group.groups] == [[BULB]]
        assert not [e for e in seen if isinstance(e, RuleFired)]  # not confirmed yet
        zwave.release()
        async with asyncio.timeout(5):
            while not [e for e in seen if isinstance(e, RuleFired)]:
                await asyncio.sleep(0)
    finally:
        await w.stop()


async def test_enable_disable_and_notify(tmp_path: Path, clock: ManualClock) -> None:
    async with running(tmp_path, clock) as world:
        seen = events(world)
        await world.service.put_rule(hall_light("single", seconds=5))
        await world.service.put_rule(
            {
                "id": "door",
                "triggers": [{"type": "state", "device": DOOR, "attribute": "contact"}],
                "actions": [
                    {"type": "notify", "message": "door moved"},
                    {"type": "disable_rule", "rule": "hall-light"},
                ],
            }
        )
        world.hub.ingest(StateChanged(DeviceId(DOOR), "contact", "open", clock.now()))
        for _ in range(5):
            await asyncio.sleep(0)
        assert [e.message for e in seen if isinstance(e, Notification)] == ["door moved"]
        assert world.service.get_rule("hall-light")["enabled"] is False  # type: ignore[index]
        motion(world, clock, "active")
        await asyncio.sleep(0)
        assert names(world) == []
        await world.service.put_rule(
            {
                "id": "door",
                "triggers": [{"type": "state", "device": DOOR, "attribute": "contact", "to": "closed"}],
                "actions": [{"type": "enable_rule", "rule": "hall-light"}],
            }
        )
        world.hub.ingest(StateChanged(DeviceId(DOOR), "contact", "closed", clock.now()))
        for _ in range(5):
            await asyncio.sleep(0)
        motion(world, clock, "inactive")
        motion(world, clock, "active")
        await world.radios[Protocol.ZWAVE].wait_for(1)
        assert world.service.get_rule("hall-light")["enabled"] is True  # type: ignore[index]


async def test_runaway_chain_is_stopped_and_reported(tmp_path: Path, clock: ManualClock) -> None:
    # A budget large enough that the per-rule limit is what stops the loop here.
    limits = RulesSection(max_fires_per_minute=30, max_commands_per_second=10_000)
    async with running(tmp_path, clock, limits) as world:
        seen = events(world)
        # Two rules that re-trigger each other through a light's switch state, forever.
        for rule_id, source, target in (("ping", "on", "off"), ("pong", "off", "on")):
            await world.service.put_rule(
                {
                    "id": rule_id,
                    "triggers": [{"type": "state", "device": LAMP, "attribute": "switch", "to": source}],
                    "actions": [{"type": "command", "device": LAMP, "command": target}],
                }
            )

        class Echo:
            """The lamp reports its new state after each command, as a real one does."""

            def __init__(self) -> None:
                self.sent = 0

            async def run(self) -> None:
                radio = world.radios[Protocol.ZWAVE]
                while True:
                    await radio.wait_for(self.sent + 1)
                    command = radio.commands[self.sent]
                    self.sent += 1
                    world.hub.ingest(StateChanged(DeviceId(LAMP), "switch", command.name, clock.now()))

        echo = asyncio.get_running_loop().create_task(Echo().run())
        try:
            world.hub.ingest(StateChanged(DeviceId(LAMP), "switch", "on", clock.now()))
            async with asyncio.timeout(10):
                while not [e for e in seen if isinstance(e, Notification)]:
                    await asyncio.sleep(0)
        finally:
            echo.cancel()
            await asyncio.gather(echo, return_exceptions=True)
        stopped = [e for e in seen if isinstance(e, Notification)]
        assert "stopped" in stopped[0].message and "limit 30" in stopped[0].message
        rule = world.service.get_rule(stopped[0].rule)
        assert rule is not None and rule["enabled"] is False and "stopped" in rule["last_error"]
        assert len(world.radios[Protocol.ZWAVE].commands) <= 2 * 31


async def test_fifty_rules_triggering_each_other_are_stopped_by_the_global_budget(
    tmp_path: Path, clock: ManualClock
) -> None:
    """The per-rule limit alone let 50 mutually triggering rules send 5,901 commands: the budget all
    rules share (per second, and per device) stops them after a handful, with no time passing at all."""
    limits = RulesSection(max_fires_per_minute=120, max_commands_per_second=50)
    async with running(tmp_path, clock, limits) as world:
        seen = events(world)
        for i in range(50):
            source, target = ("on", "off") if i % 2 else ("off", "on")
            await world.service.put_rule(
                {
                    "id": f"loop-{i:02d}",
                    "triggers": [{"type": "state", "device": LAMP, "attribute": "switch", "to": source}],
                    "actions": [{"type": "command", "device": LAMP, "command": target}],
                }
            )
        radio = world.radios[Protocol.ZWAVE]
        echoed = 0
        world.hub.ingest(StateChanged(DeviceId(LAMP), "switch", "on", clock.now()))
        runner = world.service.runner
        async with asyncio.timeout(10):
            # The lamp echoes each command as a state report, as a real one does, until the rules stop.
            while True:
                await asyncio.sleep(0)
                if echoed < len(radio.commands):
                    command = radio.commands[echoed]
                    echoed += 1
                    world.hub.ingest(StateChanged(DeviceId(LAMP), "switch", command.name, clock.now()))
                elif runner.over_budget and not any(runner.running(f"loop-{i:02d}") for i in range(50)):
                    break
        assert len(radio.commands) <= runner.max_device_commands_per_second == 10
        stopped = {e.rule for e in seen if isinstance(e, Notification)}
        assert stopped and all(
            "at most 10 commands per second to zwave-2" in e.message
            for e in seen
            if isinstance(e, Notification)
        )
        for rule_id in stopped:
            rule = world.service.get_rule(rule_id)
            assert rule is not None and rule["enabled"] is False


async def test_one_rules_failure_does_not_stop_another(tmp_path: Path, clock: ManualClock) -> None:
    async with running(tmp_path, clock) as world:
        world.radios[Protocol.ZWAVE].failing.add(FAN)
        trigger = [{"type": "state", "device": MOTION, "attribute": "motion", "to": "active"}]
        await world.service.put_rule(
            {
                "id": "broken",
                "triggers": trigger,
                "actions": [{"type": "command", "device": FAN, "command": "on"}],
            }
        )
        await world.service.put_rule(
            {
                "id": "works",
                "triggers": trigger,
                "actions": [{"type": "command", "device": LAMP, "command": "on"}],
            }
        )
        motion(world, clock, "active")
        await world.radios[Protocol.ZWAVE].wait_for(2)
        for _ in range(5):
            await asyncio.sleep(0)
        broken = world.service.get_rule("broken")
        works = world.service.get_rule("works")
        assert (
            broken is not None
            and "actions[0]" in broken["last_error"]
            and "did not answer" in broken["last_error"]
        )
        assert works is not None and works["last_error"] is None and works["last_fired"] is not None


async def test_time_triggers_fire_on_schedule(tmp_path: Path) -> None:
    # 2026-03-28 12:00 in Berlin, the day before spring-forward.
    clock = ManualClock(1_774_695_600.0)
    w = build_world(tmp_path, household(), clock, timezone="Europe/Berlin", latitude=52.52, longitude=13.40)
    await w.start()
    try:
        seen = events(w)
        await w.service.put_rule(
            {
                "id": "morning",
                "triggers": [{"type": "time", "at": "07:00"}],
                "actions": [{"type": "command", "device": LAMP, "command": "on"}],
            }
        )
        await clock.wait_for_sleepers(1)
        await clock.advance(86400 * 2)  # two mornings, one of them after the DST change
        await w.radios[Protocol.ZWAVE].wait_for(2)
        fired = [e for e in seen if isinstance(e, RuleFired)]
        local = [w.service.place.local(f.ts).strftime("%d %H:%M") for f in fired]
        assert local == ["29 07:00", "30 07:00"]
    finally:
        await w.stop()


async def test_hub_start_trigger(tmp_path: Path, clock: ManualClock) -> None:
    w = build_world(tmp_path, household(), clock)
    await w.service.put_rule(
        {
            "id": "boot",
            "triggers": [{"type": "hub_start"}],
            "actions": [{"type": "command", "device": FAN, "command": "off"}],
        }
    )
    await w.start()
    try:
        await w.radios[Protocol.ZWAVE].wait_for(1)
        assert names(w) == ["off"]
    finally:
        await w.stop()


async def test_wait_already_satisfied_goes_straight_on(tmp_path: Path, clock: ManualClock) -> None:
    async with running(tmp_path, clock) as world:
        await world.service.put_rule(
            {
                "id": "lamp-check",
                "triggers": [{"type": "state", "device": MOTION, "attribute": "motion", "to": "active"}],
                "actions": [
                    {
                        "type": "wait",
                        "device": LAMP,
                        "attribute": "switch",
                        "to": "off",
                        "timeout_seconds": 5,
                    },
                    {"type": "command", "device": LAMP, "command": "on"},
                ],
            }
        )
        motion(world, clock, "active")
        await world.radios[Protocol.ZWAVE].wait_for(1)
        assert clock.sleeping == 0


async def test_system_clock_does_not_sleep_for_the_past() -> None:
    clock = SystemClock()
    sleeper = asyncio.ensure_future(clock.sleep_until(clock.now() - 10))
    for _ in range(3):  # a few loop turns, no timer: a due time in the past returns at once
        await asyncio.sleep(0)
    assert sleeper.done()
    await sleeper


async def test_schedules_survive_a_restart_of_the_part(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    w = build_world(tmp_path, household(), clock)
    await w.service.put_rule(
        {
            "id": "every-minute",
            "triggers": [{"type": "time", "cron": "* * * * *"}],
            "actions": [{"type": "command", "device": FAN, "command": "toggle"}],
        }
    )
    await w.start()
    try:
        await clock.wait_for_sleepers(1)
        assert w.task is not None
        w.task.cancel()  # the supervisor restarts a part that crashed
        await asyncio.gather(w.task, return_exceptions=True)
        await w.start()
        await clock.wait_for_sleepers(1)
        await clock.advance(120)
        await w.radios[Protocol.ZWAVE].wait_for(2)
        assert names(w) == ["toggle", "toggle"]
    finally:
        await w.stop()


async def test_sun_trigger_fires_at_the_local_sunset_across_dst(tmp_path: Path) -> None:
    clock = ManualClock(1_774_695_600.0)  # 2026-03-28 12:00 Berlin, the day before spring-forward
    w = build_world(tmp_path, household(), clock, timezone="Europe/Berlin", latitude=52.52, longitude=13.40)
    await w.start()
    try:
        seen = events(w)
        await w.service.put_rule(
            {
                "id": "dusk",
                "triggers": [{"type": "time", "sun": "sunset", "offset_minutes": 30}],
                "actions": [{"type": "command", "device": LAMP, "command": "on"}],
            }
        )
        await clock.wait_for_sleepers(1)
        await clock.advance(86400 * 2)
        await w.radios[Protocol.ZWAVE].wait_for(2)
        observer = astral.Observer(52.52, 13.40)
        expected = [
            (
                astral.sun.sunset(observer, date(2026, 3, day), tzinfo=w.service.place.tz)
                + timedelta(minutes=30)
            )
            for day in (28, 29)
        ]
        fired = [e for e in seen if isinstance(e, RuleFired)]
        assert [f.ts for f in fired] == pytest.approx([e.timestamp() for e in expected])
        assert [f.trigger for f in fired] == ["sunset+30 min"] * 2
        # The local clock time moved by about an hour with the change, not by the usual minutes.
        first, second = (w.service.place.local(f.ts) for f in fired)
        assert 55 <= (second.hour * 60 + second.minute) - (first.hour * 60 + first.minute) <= 65
    finally:
        await w.stop()


async def test_changing_one_schedule_leaves_the_others_alone(tmp_path: Path) -> None:
    clock = ManualClock(T0)  # 2026-09-21 14:13:20 UTC
    w = build_world(tmp_path, household(), clock)
    await w.start()
    try:
        seen = events(w)

        def timed(rule_id: str, at: str, device: str) -> dict[str, Any]:
            return {
                "id": rule_id,
                "triggers": [{"type": "time", "at": at}],
                "actions": [{"type": "command", "device": device, "command": "toggle"}],
            }

        await w.service.put_rule(timed("a", "14:20", LAMP))
        await w.service.put_rule(timed("b", "14:30", FAN))
        await w.service.put_rule(timed("c", "14:25", LAMP))
        await clock.wait_for_sleepers(1)
        await w.service.put_rule(timed("a", "14:40", LAMP))  # moved later
        await w.service.delete_rule("c")
        await clock.wait_for_sleepers(1)
        await clock.advance(3600)
        await w.radios[Protocol.ZWAVE].wait_for(2)
        fired = [
            (e.rule, w.service.place.local(e.ts).strftime("%H:%M")) for e in seen if isinstance(e, RuleFired)
        ]
        assert fired == [("b", "14:30"), ("a", "14:40")]
    finally:
        await w.stop()
