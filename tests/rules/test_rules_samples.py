"""The demo's sample rules are valid for a household and run; the hot path stays quiet."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from hub_core.clock import ManualClock
from hub_core.model import ButtonPressed, DeviceId, Protocol, RuleFired, StateChanged
from hubtest.rules_world import build_world, device
from local_rules.parser import parse_rule
from local_rules.samples import sample_rules

HOUSEHOLD = [
    device("zwave-2", "switch", "power", "energy", switch="off"),
    device("zwave-3", "switch", "level", switch="off", level=0),
    device("zwave-4", "temperature", "humidity", "battery", temperature=20.0),
    device("zigbee-00158d0002000005", "contact", "battery", contact="closed"),
    device("zigbee-00158d0002000006", "motion", "illuminance", "battery", motion="inactive"),
    device("ble-a4c138000002", "button", "battery"),
]


def test_samples_cover_the_household_and_are_valid() -> None:
    devices = {d.id: d for d in HOUSEHOLD}
    rules = sample_rules(HOUSEHOLD)
    assert {r["id"] for r in rules} == {"motion-light", "door-open-notify", "button-toggle", "warm-switch-on"}
    for rule in rules:
        parse_rule(rule, devices.get)  # type: ignore[arg-type]


def test_samples_skip_rules_whose_devices_are_missing() -> None:
    assert sample_rules([]) == []
    only_contact = [d for d in HOUSEHOLD if "contact" in d.capabilities]
    assert [r["id"] for r in sample_rules(only_contact)] == ["door-open-notify"]


async def test_samples_fire_without_logging_on_the_hot_path(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = ManualClock()
    world = build_world(tmp_path, HOUSEHOLD, clock)
    await world.start()
    try:
        for rule in sample_rules(HOUSEHOLD):
            await world.service.put_rule(rule)
        fired: list[RuleFired] = []
        world.bus.add_handler(lambda e: fired.append(e) if isinstance(e, RuleFired) else None)
        with caplog.at_level(logging.DEBUG, logger="local_rules"):
            caplog.clear()
            world.hub.ingest(
                StateChanged(DeviceId("zigbee-00158d0002000006"), "motion", "active", clock.now())
            )
            world.hub.ingest(ButtonPressed(DeviceId("ble-a4c138000002"), 1, "pressed", clock.now()))
            world.hub.ingest(StateChanged(DeviceId("zwave-4"), "temperature", 25.0, clock.now()))
            await world.radios[Protocol.ZWAVE].wait_for(3)
            assert [r.name for r in caplog.records] == []
        assert sorted((c.device, c.name) for c in world.radios[Protocol.ZWAVE].commands) == [
            ("zwave-2", "on"),
            ("zwave-2", "toggle"),
            ("zwave-3", "on"),
        ]
        await clock.wait_for_sleepers(1)
        assert sorted(f.rule for f in fired) == ["button-toggle", "motion-light", "warm-switch-on"]
    finally:
        await world.stop()
